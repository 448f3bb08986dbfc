"""Writers killed at known points (SIMSEARCH_FAILPOINT), a full disk, and writers and readers in separate processes.

Each case: no acknowledged write lost, no half-written document visible, the next write cleans
what the crash left, and `check` is clean.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from simsearch import Index, load_encoder
from simsearch.errors import IndexFolderError

REPO = Path(__file__).resolve().parent.parent
QUERIES = ["a dog in the park", "share prices", "baking bread", "rain on the trail"]

WRITE = """
import sys
from simsearch import Index

index = Index.open(sys.argv[1], index_dir=sys.argv[2])
action = sys.argv[3]
if action == "add":
    index.add([{"id": "lost", "text": "Never acknowledged."}])
elif action == "upsert":
    index.add([{"id": "a1", "text": "Never acknowledged either."}], upsert=True)
elif action == "delete":
    index.delete(["a1", "a2"])
elif action == "sync":
    index.sync([{"id": d.id, "text": d.text + " (edited)"} for d in index.documents() if d.id != "a3"])
elif action == "compact":
    index.compact()
print("acknowledged", flush=True)
"""


@pytest.fixture
def encoder(tiny_model):
    return load_encoder(tiny_model)


@pytest.fixture
def written(encoder, index_dir, animals) -> Index:
    """An index with a delta row and dead ids already committed (acknowledged writes a crash must keep)."""
    index = Index.build("animals", animals, encoder=encoder, index_dir=index_dir, kind="hnsw")
    index.add([{"id": "kept", "text": "An acknowledged add survives any crash after it."}])
    index.delete(["a8"])
    return index


def ranked(index: Index) -> list[list[tuple[str, float]]]:
    return [[(h.id, round(h.score, 4)) for h in hits] for hits in index.search_batch(QUERIES, k=8, mode="dense")]


def run_child(index_dir: Path, action: str, failpoint: str = "") -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1", "SIMSEARCH_FAILPOINT": failpoint}
    return subprocess.run(
        [sys.executable, "-c", WRITE, "animals", str(index_dir), action],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def segment_files(index: Index) -> list[str]:
    return sorted(p.name for p in index.folder.iterdir() if not p.name.startswith(("manifest", "store.sqlite")))


@pytest.mark.parametrize(
    "action, failpoint",
    [
        ("add", "delta-append"),
        ("add", "after-delta-append"),
        ("add", "before-commit"),
        ("upsert", "before-commit"),
        ("delete", "before-commit"),
        ("sync", "before-commit"),
        ("compact", "before-compaction-commit"),
        ("compact", "after-compaction-commit"),
    ],
)
def test_a_write_killed_at_a_known_point_leaves_the_index_whole(written, encoder, index_dir, action, failpoint):
    killed_and_reopened_whole(written, encoder, index_dir, action, failpoint)


@pytest.mark.parametrize(
    "params, failpoint",
    [
        ({"nlist": 2}, "before-compaction-save"),  # grown past twice its training: killed once re-trained
        ({"nlist": 2, "shards": 2}, "after-compaction-save"),  # shard 0's new file written, shard 1's not
        ({"nlist": 2, "shards": 2}, "before-compaction-commit"),  # every shard written, nothing committed
    ],
)
def test_a_compaction_killed_while_retraining_or_between_shards_leaves_the_index_whole(
    encoder, index_dir, animals, params, failpoint
):
    index = Index.build("animals", animals, encoder=encoder, index_dir=index_dir, kind="ivf", params=params)
    index.add([{"id": "kept", "text": "An acknowledged add survives any crash after it."}])
    index.add([{"id": f"n{i}", "text": f"Note {i}: the ferry leaves at {i} o'clock."} for i in range(9)])
    index.delete(["a8"])  # 17 live vectors: past twice the 8 the cells were trained on
    killed_and_reopened_whole(index, encoder, index_dir, "compact", failpoint)
    reopened = Index.open("animals", index_dir=index_dir, encoder=encoder)
    assert reopened.compact()["retrained"] and reopened.check()["ok"] and len(reopened) == 18  # and "after"


def test_a_retrain_killed_after_its_commit_leaves_settings_that_match_its_new_cells(encoder, index_dir):
    import faiss

    texts = [
        {"id": f"d{i}", "text": f"note {i} on the {['ferry', 'bread', 'comet'][i % 3]} number {i}"} for i in range(210)
    ]
    index = Index.build("animals", texts[:100], encoder=encoder, index_dir=index_dir, kind="ivf")
    assert index.manifest.params == {"nlist": 2, "nprobe": 2}  # derived for 100: re-derived when re-trained
    index.add(texts[100:])
    child = run_child(index_dir, "compact", "after-compaction-commit")  # the re-trained base is committed
    assert child.returncode == -9, child.stderr
    reopened = Index.open("animals", index_dir=index_dir, encoder=encoder)
    base = max(name for name in segment_files(reopened) if name.endswith(".faiss"))  # G+1; G's is left to clean
    cells = faiss.read_index(str(reopened.folder / base)).nlist
    assert cells > 2 and reopened.manifest.params == {"nlist": cells, "nprobe": cells}  # not the old nprobe 2
    assert reopened.check()["ok"] and len(reopened) == 210


def killed_and_reopened_whole(index: Index, encoder, index_dir: Path, action: str, failpoint: str) -> None:
    """Kill a child process doing ``action`` at ``failpoint``; the index must read as before, keep every
    acknowledged write, and take the next write, which cleans what the crash left."""
    before = ranked(index)
    child = run_child(index_dir, action, failpoint)
    assert child.returncode == -9 and "acknowledged" not in child.stdout, child.stderr
    reopened = Index.open("animals", index_dir=index_dir, encoder=encoder)
    assert ranked(reopened) == before and ranked(index) == before  # new readers and the open one alike
    assert reopened.get("kept") is not None and reopened.get("a8") is None and reopened.get("lost") is None
    assert reopened.check()["ok"]
    reopened.add([{"id": "after", "text": "Written after the crash."}])  # cleans what the crash left
    files = segment_files(reopened)
    assert not [name for name in files if name.startswith(".")], files  # no temporary or probe file
    assert len({name.split(".")[0].split("-")[1] for name in files}) == 1, files  # one generation
    assert reopened.search("Written after the crash.", k=1, mode="dense")[0].id == "after"
    assert reopened.check()["ok"] and Index.open("animals", index_dir=index_dir).check()["ok"]


def test_an_unkilled_write_is_acknowledged_and_kept(written, encoder, index_dir):
    child = run_child(index_dir, "sync")
    assert child.returncode == 0 and "acknowledged" in child.stdout, child.stderr
    reopened = Index.open("animals", index_dir=index_dir, encoder=encoder)
    assert reopened.get("a3") is None and reopened.get("a1").text.endswith("(edited)") and len(reopened) == 7
    assert written.get("a1").text.endswith("(edited)") and reopened.check()["ok"]


def test_leftovers_of_a_killed_compaction_are_removed_by_the_next_write(written):
    stray = [
        written.folder / ".vectors-2.faiss.4242.tmp",
        written.folder / "vectors-2.faiss",
        written.folder / "delta-2.f32",
    ]
    for path in stray:
        path.write_bytes(b"half a file")
    written.add([{"id": "next", "text": "The next write."}])
    assert not any(path.exists() for path in stray) and written.check()["ok"]


def test_a_full_disk_while_appending_is_one_clear_line_and_loses_nothing(written, encoder, index_dir, monkeypatch):
    before = ranked(written)
    monkeypatch.setenv("SIMSEARCH_FAILPOINT", "delta-append:enospc")
    with pytest.raises(
        IndexFolderError,
        match="disk holding index folder .* is full; free some space and try again. Nothing was changed.",
    ) as error:
        written.add([{"id": "no-room", "text": "There is no room for this one."}])
    assert "\n" not in str(error.value)
    delta = written.folder / "delta-1.f32"
    assert delta.stat().st_size == 2 * 32 * 4  # part of the row reached the file, past the committed one
    assert ranked(written) == before and written.get("no-room") is None
    monkeypatch.delenv("SIMSEARCH_FAILPOINT")
    reopened = Index.open("animals", index_dir=index_dir, encoder=encoder)
    assert ranked(reopened) == before and reopened.check()["ok"]
    reopened.add([{"id": "room", "text": "Space was freed."}])
    assert delta.stat().st_size == 2 * 32 * 4 and reopened.get("room") is not None and reopened.check()["ok"]


WRITER = """
import sys
from simsearch import Index

index = Index.open(sys.argv[1], index_dir=sys.argv[2])
index.encoder
for i in range(int(sys.argv[4])):
    index.add([{"id": f"{sys.argv[3]}-{i}", "text": f"writer {sys.argv[3]} sentence number {i}"}])
    if i % 5 == 4:
        index.delete([f"{sys.argv[3]}-{i - 1}"])
print("done", flush=True)
"""

READER = """
import sys, time
from simsearch import Index

index = Index.open(sys.argv[1], index_dir=sys.argv[2])
seen, searches = 0, 0
deadline = time.monotonic() + 240
while time.monotonic() < deadline:
    hits = index.search("writer sentence number", k=5, mode="dense")
    assert len(hits) == 5 and all(h.text for h in hits), hits
    count = len(index)
    assert count >= seen - 10, (count, seen)
    seen, searches = max(seen, count), searches + 1
    if open(sys.argv[3]).read() == "stop":
        break
print(searches, flush=True)
"""


def test_two_writers_and_three_readers_in_separate_processes(written, encoder, index_dir, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1"}
    stop = tmp_path / "stop"
    stop.write_text("")
    readers = [
        subprocess.Popen(
            [sys.executable, "-c", READER, "animals", str(index_dir), str(stop)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, "animals", str(index_dir), name, "20"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("w1", "w2")
    ]
    outcomes = [writer.communicate(timeout=300) for writer in writers]
    stop.write_text("stop")
    searched = [reader.communicate(timeout=300) for reader in readers]
    assert [w.returncode for w in writers] == [0, 0], outcomes
    assert [r.returncode for r in readers] == [0, 0, 0], searched
    assert all(int(out) > 0 for out, _ in searched)
    index = Index.open("animals", index_dir=index_dir, encoder=encoder)
    expected = {f"{w}-{i}" for w in ("w1", "w2") for i in range(20) if i % 5 != 3}
    assert index.known_ids(sorted(expected | {f"{w}-{i}" for w in ("w1", "w2") for i in range(20)})) == expected
    assert len(index) == 8 + len(expected) and index.check()["ok"]
    assert written.search("writer w2 sentence number 19", k=1, mode="dense")[0].id == "w2-19"  # followed by the tail
