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
from simsearch.errors import IndexBusyError, StaleWriterError
from simsearch.index.layout import writer_lock

REPO = Path(__file__).resolve().parent.parent
QUERIES = ["a dog in the park", "share prices", "baking bread", "rain on the trail"]

ADD_FROM_CHILD = """
import sys
from simsearch import Index

Index.open(sys.argv[1], index_dir=sys.argv[2]).add(["Added by another process while the first one kept reading."])
"""

# The child dies by SIGKILL at the store commit: after the new vector file is saved, before the
# store names it. Nothing of FAISS or SQLite is replaced; the process simply stops at that point.
KILLED_AT_COMMIT = """
import os, signal, sys
from simsearch import Index
from simsearch.store.store import Store

Store.commit = lambda self: os.kill(os.getpid(), signal.SIGKILL)
Index.open(sys.argv[1], index_dir=sys.argv[2]).add(["Never committed."])
"""


@pytest.fixture
def built(tiny_model, index_dir, animals) -> Index:
    return Index.build("animals", animals, encoder=load_encoder(tiny_model), index_dir=index_dir)


def run_child(script: str, index_dir: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-c", script, "animals", str(index_dir)], env=env,
                          capture_output=True, text=True, timeout=300)


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


def test_second_writer_is_refused_at_once(built, index_dir, lock_held_elsewhere):
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
    assert built.is_stale()
    assert ranked(built) != before  # the open object follows the store's new generation at its next query
    assert len(built) == 9
    assert built.search("Added by another process while the first one kept reading.", k=1)[0].id == "9"
    reopened = Index.open("animals", index_dir=index_dir)
    assert len(reopened) == 9 and not reopened.is_stale()
    assert reopened.search("Added by another process while the first one kept reading.", k=1)[0].id == "9"
    built.add(["written through the old object, after the other process"])  # the writer reloads generation 2
    assert len(Index.open("animals", index_dir=index_dir)) == 10


@pytest.mark.slow  # spawns processes or a Ray session: left to `make test`, out of `make check`
def test_crash_between_vector_save_and_store_commit_keeps_old_generation(built, index_dir):
    before = ranked(built)
    child = run_child(KILLED_AT_COMMIT, index_dir)
    assert child.returncode == -9, child.stderr
    folder = index_dir / "animals"
    assert (folder / "vectors-2.faiss").exists()  # the crash came after the new vectors were saved
    reopened = Index.open("animals", index_dir=index_dir, encoder=built.encoder)  # same runtime: same scores
    assert len(reopened) == 8
    assert ranked(reopened) == before
    reopened.add(["after the crash"])  # the stray generation 2 is simply written again
    assert len(Index.open("animals", index_dir=index_dir)) == 9
    assert sorted(p.name for p in folder.glob("vectors-*")) == ["vectors-2.faiss"]


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
    writer = subprocess.Popen([sys.executable, "-c", CHURN, "animals", str(index_dir), "16"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
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
