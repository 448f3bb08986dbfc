"""One writer at a time, across processes: refusals, reopening after another process wrote, crash safety."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from simsearch import Index, drop_index, load_encoder
from simsearch.errors import IndexBusyError, InvalidArgumentError, StaleWriterError
from simsearch.index.layout import writer_lock

REPO = Path(__file__).resolve().parent.parent
QUERIES = ["a dog in the park", "share prices", "baking bread", "rain on the trail"]

ADD_FROM_CHILD = """
import sys
from simsearch import Index

Index.open(sys.argv[1], index_dir=sys.argv[2]).add(["Added by another process while the first one kept reading."])
"""

# The child dies by SIGKILL (SIMSEARCH_FAILPOINT) just before the store commit: after its vector
# was appended to the delta file and synced, before the store counts it.
KILLED_AT_COMMIT = """
import sys
from simsearch import Index

Index.open(sys.argv[1], index_dir=sys.argv[2]).add(["Never committed."])
"""


@pytest.fixture
def built(tiny_model, index_dir, animals) -> Index:
    return Index.build("animals", animals, encoder=load_encoder(tiny_model), index_dir=index_dir)


def run_child(script: str, index_dir: Path, failpoint: str = "") -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1", "SIMSEARCH_FAILPOINT": failpoint}
    return subprocess.run(
        [sys.executable, "-c", script, "animals", str(index_dir)], env=env, capture_output=True, text=True, timeout=300
    )


def ranked(index: Index) -> list[list[tuple[str, float]]]:
    return [[(h.id, round(h.score, 5)) for h in hits] for hits in index.search_batch(QUERIES, k=8)]


@pytest.fixture
def lock_held_elsewhere(index_dir):
    """The writer lock of 'animals' held by another thread until the test ends."""
    taken, release = threading.Event(), threading.Event()

    def hold() -> None:
        with writer_lock(index_dir, "animals"):
            taken.set()
            release.wait(timeout=60)

    holder = threading.Thread(target=hold)
    holder.start()
    taken.wait(timeout=10)
    yield
    release.set()
    holder.join()


def test_second_writer_is_refused_at_once_with_no_lock_timeout(built, index_dir, lock_held_elsewhere, monkeypatch):
    monkeypatch.setenv("SIMSEARCH_LOCK_TIMEOUT", "0")
    started = time.perf_counter()
    with pytest.raises(IndexBusyError, match="being changed by another process; try again"):
        built.add(["waits for nobody"])
    assert time.perf_counter() - started < 1.0
    with pytest.raises(IndexBusyError):
        built.delete(["a1"])
    with pytest.raises(IndexBusyError):
        built.rebuild()
    with pytest.raises(IndexBusyError):
        drop_index("animals", index_dir)
    assert len(Index.open("animals", index_dir=index_dir)) == 8


@pytest.mark.slow  # spawns processes or a Ray session: left to `make test`, out of `make check`
def test_open_and_reopened_objects_see_what_another_process_added(built, index_dir):
    before = ranked(built)
    assert not built.is_stale()
    child = run_child(ADD_FROM_CHILD, index_dir)
    assert child.returncode == 0, child.stderr
    assert not built.is_stale()  # an add is followed by the tail: nothing to reopen
    assert ranked(built) != before  # the open object reads the new delta row at its next query
    assert len(built) == 9
    assert built.search("Added by another process while the first one kept reading.", k=1)[0].id == "9"
    reopened = Index.open("animals", index_dir=index_dir)
    assert len(reopened) == 9 and not reopened.is_stale()
    assert reopened.search("Added by another process while the first one kept reading.", k=1)[0].id == "9"
    built.add(["written through the old object, after the other process"])  # the writer reloads generation 2
    assert len(Index.open("animals", index_dir=index_dir)) == 10


@pytest.mark.slow  # spawns processes or a Ray session: left to `make test`, out of `make check`
def test_crash_between_delta_append_and_store_commit_keeps_the_index_as_it_was(built, index_dir):
    before = ranked(built)
    child = run_child(KILLED_AT_COMMIT, index_dir, failpoint="before-commit")
    assert child.returncode == -9, child.stderr
    folder = index_dir / "animals"
    row_bytes = 32 * 4
    assert (folder / "delta-1.f32").stat().st_size == row_bytes  # the crash came after the vector was synced
    assert ranked(built) == before  # the open object ignores the uncommitted row
    reopened = Index.open("animals", index_dir=index_dir, encoder=built.encoder)  # same runtime: same scores
    assert len(reopened) == 8
    assert ranked(reopened) == before
    reopened.add(["after the crash"])  # the uncommitted row is cut, the new one written in its place
    assert len(Index.open("animals", index_dir=index_dir)) == 9
    assert (folder / "delta-1.f32").stat().st_size == row_bytes
    assert reopened.search("after the crash", k=1)[0].text == "after the crash"
    assert reopened.check()["ok"]


def test_a_second_writer_queues_for_the_lock_and_then_succeeds(built, index_dir, monkeypatch):
    monkeypatch.setenv("SIMSEARCH_LOCK_TIMEOUT", "20")
    taken, done = threading.Event(), threading.Event()

    def hold_briefly() -> None:
        with writer_lock(index_dir, "animals"):
            taken.set()
            time.sleep(0.5)
        done.set()

    holder = threading.Thread(target=hold_briefly)
    holder.start()
    taken.wait(timeout=10)
    built.add([{"id": "queued", "text": "written once the other writer let go"}])
    assert done.is_set()  # it waited for the holder, then wrote
    holder.join()
    assert built.get("queued") is not None and len(built) == 9


def test_a_bad_lock_timeout_is_one_clear_error(built, monkeypatch):
    monkeypatch.setenv("SIMSEARCH_LOCK_TIMEOUT", "soon")
    with pytest.raises(InvalidArgumentError, match="SIMSEARCH_LOCK_TIMEOUT='soon' is not a number of seconds"):
        built.add(["never written"])
    assert len(built) == 8


def test_writing_through_an_object_opened_before_a_rebuild_is_refused(built, index_dir):
    built.rebuild()
    with pytest.raises(StaleWriterError, match="rebuilt since it was opened; open it again"):
        built.delete(["a1"])
    assert len(Index.open("animals", index_dir=index_dir)) == 8


CHURN = """
import sys
from simsearch import Index

index = Index.open(sys.argv[1], index_dir=sys.argv[2])
index.encoder  # loaded before the churn starts
print("ready", flush=True)
for i in range(int(sys.argv[3])):  # a fixed amount of churn, however fast or busy the machine is
    index.add([{"id": f"x{i}", "text": f"churn text number {i}"}])
    index.delete([f"x{i}"])
    if i % 8 == 7:
        index = index.rebuild()
print(int(sys.argv[3]))
"""

DELETE_THREE = """
import sys
from simsearch import Index

Index.open(sys.argv[1], index_dir=sys.argv[2]).delete(["a1", "a2", "a3"])
"""


@pytest.mark.slow  # spawns processes or a Ray session: left to `make test`, out of `make check`
def test_opening_while_another_process_writes_never_raises_a_false_alarm(built, index_dir):
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1"}
    writer = subprocess.Popen(
        [sys.executable, "-c", CHURN, "animals", str(index_dir), "16"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    opened = 0
    try:
        assert writer.stdout.readline().strip() == "ready"  # the child's imports are done
        while writer.poll() is None:
            index = Index.open("animals", index_dir=index_dir)
            assert len(index) in (8, 9)
            assert len(index.search("a dog in the park", k=8)) == 8
            index.close()
            opened += 1
    finally:
        out, err = writer.communicate(timeout=60)
    assert writer.returncode == 0, err
    assert opened > 10 and int(out) == 16


def test_an_open_index_returns_k_hits_after_another_process_deletes(built, index_dir):
    assert len(built.search("a dog in the park", k=5)) == 5
    child = run_child(DELETE_THREE, index_dir)
    assert child.returncode == 0, child.stderr
    found = built.search("a dog in the park", k=5)
    assert len(found) == 5 and not {"a1", "a2", "a3"} & {h.id for h in found}
    assert len(built) == 5
