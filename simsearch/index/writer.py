"""Every change to an index's build folder, under the writer lock: a write batch, or an update that moves no vectors.

Writing: under the writer lock, a writer appends its vectors past the committed delta
rows and fsyncs them, then commits its rows, their delta positions, the new delta length
and any dead ids in ONE store transaction, on a connection of its own (so the process's
readers never see it open). A crash before the commit leaves only uncounted bytes, cut by
the next writer; nothing is rewritten, so a one-document add writes about one row of floats
plus a few SQLite pages, whatever the size of the index. A change that moves no vectors
(metadata, the default re-ranker) takes the same lock and one transaction, and writes the
manifest with a new update time. Readers follow both (generations.py).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from simsearch.errors import StaleWriterError
from simsearch.index.delta_file import append_rows, delta_file
from simsearch.index.failpoints import failpoint
from simsearch.index.layout import compaction_lock, current_folder, remove_unused_builds, writer_lock
from simsearch.index.manifest import Manifest, read_manifest, write_manifest
from simsearch.ingest.chunking import Passages
from simsearch.ingest.corpus import Document
from simsearch.store import Store, WritePosition


@dataclass
class WriteBatch:
    """One write in progress: the writer's own store connection (in a transaction) and the rows to append."""

    store: Store
    folder: Path
    position: WritePosition
    vectors: list[np.ndarray] = field(default_factory=list)
    ids: list[np.ndarray] = field(default_factory=list)

    def append(self, vectors: np.ndarray, ids: np.ndarray) -> None:
        self.vectors.append(np.asarray(vectors, dtype=np.float32))
        self.ids.append(np.asarray(ids, dtype=np.int64))

    def kill(self, vector_ids: np.ndarray) -> None:
        self.store.mark_dead(vector_ids.tolist())

    def flush(self) -> None:
        """Append the rows to the delta file (synced), then record them in the transaction."""
        if not self.ids:
            return
        vectors, ids = np.concatenate(self.vectors), np.concatenate(self.ids)
        append_rows(self.folder / delta_file(self.position.generation), self.position.delta_rows, vectors)
        failpoint("after-delta-append")
        self.store.append_delta(self.position.delta_rows, ids)


class WriterStore:
    """A store connection of the writers' own, opened on the first write (under the lock, after the check that
    the folder is still current) and kept: opening a store counts its rows, a cost that grows with the index."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._store: Store | None = None
        self._opening = threading.Lock()

    def __call__(self) -> Store:
        with self._opening:
            if self._store is None:
                self._store = Store(self.path)
            return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()


@contextmanager
def writing(home: Path, folder: Path, manifest: Manifest, writer_store: Callable[[], Store]) -> Iterator[WriteBatch]:
    """Under the writer lock, a WriteBatch on ``writer_store()`` (the writer's own connection, not the one
    searches read through, so they never see its open transaction) in one transaction.

    When the block succeeds the batch's vectors are appended and synced and the store commits;
    when anything fails the store rolls back and the appended bytes (if any) stay uncounted.
    Waits up to ``$SIMSEARCH_LOCK_TIMEOUT`` for another writer, then raises IndexBusyError;
    raises StaleWriterError when the index was rebuilt since ``folder`` was opened.
    """
    with writer_lock(home, manifest.name):
        _check_current(home, folder, manifest)
        store = writer_store()
        store.begin()
        try:
            batch = WriteBatch(store, folder, store.write_position())
            remove_leftovers(home, manifest.name, folder, batch.position.generation)
            yield batch
            batch.flush()
            failpoint("before-commit")
            store.commit()
        except BaseException:
            store.rollback()
            raise


def insert_rows(
    batch: WriteBatch, documents: list[Document], passages: Passages, vectors: np.ndarray, replaced: list[int]
) -> list[int]:
    """Inside ``writing``: drop the rows ``replaced`` (an upsert's old versions), then insert ``documents``
    with their vectors (one per passage): texts, windows and vectors in one commit. Returns the new row ids."""
    if replaced:
        remove_rows(batch, replaced)
    row_ids = batch.store.insert(documents)
    batch.append(vectors, vector_ids_for(batch.store, row_ids, passages))
    return row_ids


def vector_ids_for(store: Store, row_ids: list[int], passages: Passages) -> np.ndarray:
    """Inside a store transaction: the vector id of each passage of the documents stored as ``row_ids``.

    A whole text's vector id is its row id; the windows of a long text are recorded in the
    store, which hands out their ids (the first window keeps the row id).
    """
    vector_ids = np.array([row_ids[owner] for owner in passages.owners], dtype=np.int64)
    positions = [position for position, span in enumerate(passages.spans) if span is not None]
    windows = [(row_ids[owner], *span) for owner, span in zip(passages.owners, passages.spans) if span is not None]
    if windows:
        vector_ids[positions] = store.insert_passages(windows)
    return vector_ids


def remove_rows(batch: WriteBatch, row_ids: list[int]) -> None:
    """Inside ``writing``: delete these rows' texts and windows, and mark their vectors dead, together."""
    vector_ids = batch.store.vector_ids_of(row_ids)  # read before the rows (and, by trigger, their windows) go
    batch.store.delete(row_ids)
    batch.kill(vector_ids)


def remove_leftovers(home: Path, name: str, folder: Path, generation: int, compacting: bool = False) -> None:
    """Under the writer lock: delete files of other generations and temporaries a killed write left behind.

    A compaction builds generation G+1 outside the writer lock, under its own lock; while one
    runs, its files are not leftovers, so they are kept (``compacting``: the caller is that
    compaction). A folder that cannot be written fails here, before anything is committed
    (in WAL mode SQLite itself might still write its log).
    """
    probe = folder / f".write-probe-{os.getpid()}"
    os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0), 0o644))
    probe.unlink()
    keep = (f"vectors-{generation}.", f"delta-{generation}.")
    stray = [
        path
        for path in folder.iterdir()
        if path.name.startswith((".vectors-", ".delta-", "vectors-", "delta-")) and not path.name.startswith(keep)
    ]
    if not stray:
        return
    if compacting:
        _unlink(stray)
        return
    with compaction_lock(home, name, wait=False) as free:
        if free:
            _unlink(stray)


def _unlink(paths: list[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


def _check_current(home: Path, folder: Path, manifest: Manifest) -> None:
    remove_unused_builds(home, manifest.name)  # leftovers of killed rebuilds; the lock rules out a live one
    if current_folder(home, manifest.name) != folder:
        raise StaleWriterError(f"index {manifest.name!r} was rebuilt since it was opened; open it again.")


@contextmanager
def updating_store(home: Path, folder: Path, manifest: Manifest, store: Store) -> Iterator[Manifest]:
    """Under the writer lock, a change that moves no vectors (metadata, the default re-ranker): no new generation.

    Yields ``manifest`` with the fields another process may have changed meanwhile read
    again, for the block to change in memory; the block's store writes run in one
    transaction. After the commit the manifest is written with a new update time, so open
    UIs and servers (which compare it, see ``layout.changed_since``) reopen the index and
    see the change. Raises IndexBusyError while another process writes, and StaleWriterError
    when the index was rebuilt since ``folder`` was opened; when the block fails the store
    rolls back and the manifest on disk stays as it was.
    """
    with writer_lock(home, manifest.name):
        if current_folder(home, manifest.name) != folder:
            raise StaleWriterError(f"index {manifest.name!r} was rebuilt since it was opened; open it again.")
        on_disk = read_manifest(folder)  # another process may have set a re-ranker or re-trained IVF settings
        manifest.reranker, manifest.params = on_disk.reranker, on_disk.params
        store.begin()
        try:
            yield manifest
            store.commit()
        except BaseException:
            store.rollback()
            raise
        manifest.count = store.count()
        manifest.updated_at = time.time()
        write_manifest(folder, manifest)
