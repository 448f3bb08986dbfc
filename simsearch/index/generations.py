"""Vector files by generation, and the copy-on-write writer that moves an index to the next one.

A build folder holds ``vectors-G.faiss``, where G is the generation the store's
``generation`` meta row names. An in-place change (add, delete) copies the
vectors, changes the copy and the store together, saves the copy as G+1 and only
then commits the store with G+1. A crash before the commit leaves the store
naming G, whose file is untouched, so readers and the next writer see the old
index whole; a stray G+1 file is overwritten by the next change.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from simsearch.backends import VectorIndex, load_vector_index
from simsearch.errors import CorruptIndexError, SimsearchError, StaleWriterError, fix
from simsearch.index.layout import current_folder, remove_unused_builds, writer_lock
from simsearch.index.manifest import Manifest, read_manifest, write_manifest
from simsearch.ingest.chunking import Passages
from simsearch.ingest.corpus import Document
from simsearch.store.store import Store

STORE_FILE = "store.sqlite"
_ATTEMPTS = 20  # a concurrent writer moving on between our reads; each retry is one more commit to catch up with


@dataclass(frozen=True)
class Generation:
    """The vectors of one generation of a build folder, and its number."""

    vectors: VectorIndex
    number: int


def vectors_file(number: int) -> str:
    return f"vectors-{number}.faiss"


def open_build(home: Path, name: str, folder: Path | None = None) -> tuple[Path, Manifest, Store, Generation]:
    """Open the current build of ``name`` (or ``folder``): its manifest, store and vectors of one generation.

    A rebuild may swap the link and delete the folder while we read it; then the
    failure is not damage, and the new build is opened instead.
    """
    for _attempt in range(_ATTEMPTS):
        chosen = folder or current_folder(home, name)
        try:
            manifest = read_manifest(chosen)
            if not (chosen / STORE_FILE).exists():
                raise CorruptIndexError(f"index {name!r} has no {STORE_FILE}; rebuild it from its source file.")
            store = Store(chosen / STORE_FILE)
        except SimsearchError:
            if folder is not None or current_folder(home, name) == chosen:
                raise
            continue
        try:
            return chosen, manifest, store, load_generation(chosen, manifest, store)
        except SimsearchError:
            store.close()
            if folder is not None or current_folder(home, name) == chosen:
                raise
    raise CorruptIndexError(f"index {name!r} kept changing while it was opened; open it again.")


def load_generation(folder: Path, manifest: Manifest, store: Store) -> Generation:
    """Load the vector file of the generation the store names, with the row count of that same commit.

    A writer in another process may commit generation G+1 and delete G's file between
    our reads; that is retried, never reported. Vectors and texts out of step within
    one generation (a file copied in by hand, a damaged store) are reported, not served.
    """
    for _attempt in range(_ATTEMPTS):
        number, count = store.generation_and_count()
        path = folder / vectors_file(number)
        try:
            vectors = load_vector_index(path, manifest.kind, manifest.params)
        except (RuntimeError, OSError, ValueError, CorruptIndexError) as exc:
            if store.generation_and_count()[0] != number:
                continue  # a writer moved on and cleaned the file we were reading
            if not path.exists():
                raise CorruptIndexError(f"index {manifest.name!r} has no vector file {path.name}; "
                                        "rebuild it.") from None
            raise CorruptIndexError(
                f"vector file {path.name} of index {manifest.name!r} is damaged ({str(exc).splitlines()[0]}); "
                f"{fix('rebuild', manifest.name)}."
            ) from None
        # A side file (HNSW tombstones) removed by a writer that moved on also shows as a count off.
        if vectors.count == count or store.generation_and_count()[0] == number:
            break
    else:
        raise CorruptIndexError(f"index {manifest.name!r} kept changing while it was read; open it again.")
    if vectors.dimension != manifest.dimension:
        raise CorruptIndexError(f"vector file {path.name} has dimension {vectors.dimension}, manifest says "
                                f"{manifest.dimension}; rebuild the index.")
    if vectors.count != count:
        raise CorruptIndexError(
            f"index {manifest.name!r} holds {vectors.count} vectors but {count} texts "
            f"(windows of long texts counted); {fix('rebuild', manifest.name)}."
        )
    return Generation(vectors, number)


def is_current(store: Store, held: Generation) -> bool:
    """Whether ``held`` is still the generation the store names (one indexed read: cheap per query)."""
    return int(store.meta("generation", "0")) == held.number


def catch_up(folder: Path, manifest: Manifest, store: Store, held: Generation) -> Generation:
    """The generation the store names now: ``held``, or the one another process's add or delete committed.

    When the folder was retired by a rebuild (its files gone), ``held`` is kept and
    served as it was until the caller reopens (``Index.is_stale``).
    """
    if is_current(store, held):
        return held
    try:
        return load_generation(folder, manifest, store)
    except SimsearchError:
        return held


def remove_old_generations(folder: Path, keep: int) -> None:
    """Delete every vector file (and its side files) but generation ``keep``'s."""
    for path in folder.glob("vectors-*"):
        if not path.name.startswith(f"vectors-{keep}."):
            path.unlink(missing_ok=True)


@contextmanager
def writing(home: Path, folder: Path, manifest: Manifest, store: Store, current: Generation) -> Iterator[Generation]:
    """Under the writer lock, yield the next generation: a copy of the vectors, with the store in a transaction.

    The block changes ``draft.vectors`` and the store together. When it succeeds the
    copy is saved, the store commits, and the manifest's count and time are updated;
    the caller then serves the yielded draft. When anything fails the store rolls back
    and the old generation stays in force. Raises IndexBusyError while another process
    writes, and StaleWriterError when the index was rebuilt since ``folder`` was opened.
    """
    with writer_lock(home, manifest.name):
        remove_unused_builds(home, manifest.name)  # leftovers of killed rebuilds; the lock rules out a live one
        if current_folder(home, manifest.name) != folder:
            raise StaleWriterError(f"index {manifest.name!r} was rebuilt since it was opened; open it again.")
        if int(store.meta("generation", "0")) != current.number:  # another process changed it
            current = load_generation(folder, manifest, store)
        draft = Generation(current.vectors.copy(), current.number + 1)
        store.begin()
        try:
            yield draft
            draft.vectors.save(folder / vectors_file(draft.number))
            store.set_meta("generation", str(draft.number))
            store.commit()
        except BaseException:
            store.rollback()
            raise
        remove_old_generations(folder, draft.number)
        manifest.count = store.count()
        manifest.updated_at = time.time()
        manifest.reranker = read_manifest(folder).reranker  # set meanwhile by another process (simsearch reranker)
        write_manifest(folder, manifest)


def insert_rows(store: Store, draft: Generation, documents: list[Document], passages: Passages, vectors: np.ndarray,
                replaced: list[int]) -> list[int]:
    """Inside ``writing``: drop the rows ``replaced`` (an upsert's old versions), then insert ``documents``
    with their vectors (one per passage), texts, windows and vectors in step. Returns the new rows' ids."""
    if replaced:
        remove_rows(store, draft, replaced)
    row_ids = store.insert(documents)
    draft.vectors.add(vectors, vector_ids_for(store, row_ids, passages))
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


def remove_rows(store: Store, draft: Generation, row_ids: list[int]) -> None:
    """Inside ``writing``: delete these rows' texts, windows and vectors together."""
    vector_ids = store.vector_ids_of(row_ids)  # read before the rows (and, by trigger, their windows) go
    store.delete(row_ids)
    draft.vectors.remove(vector_ids)


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
        manifest.reranker = read_manifest(folder).reranker  # set meanwhile by another process (simsearch reranker)
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
