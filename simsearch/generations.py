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

from simsearch.backends import VectorIndex, load_vector_index
from simsearch.errors import CorruptIndexError, StaleWriterError
from simsearch.layout import current_folder, writer_lock
from simsearch.manifest import Manifest, write_manifest
from simsearch.store import Store


@dataclass(frozen=True)
class Generation:
    """The vectors of one generation of a build folder, and its number."""

    vectors: VectorIndex
    number: int


def vectors_file(number: int) -> str:
    return f"vectors-{number}.faiss"


def load_generation(folder: Path, manifest: Manifest, store: Store) -> Generation:
    """Load the vector file whose generation the store names (re-read once if a writer just moved it on).

    Vectors and texts out of step (a file copied in by hand, a damaged store) are reported, not served.
    """
    for _attempt in range(2):
        number = int(store.meta("generation", "0"))
        path = folder / vectors_file(number)
        if path.exists():
            break
    else:
        raise CorruptIndexError(f"index {manifest.name!r} has no vector file {path.name}; rebuild it.")
    try:
        vectors = load_vector_index(path, manifest.kind, manifest.params)
    except RuntimeError as exc:
        raise CorruptIndexError(
            f"vector file {path.name} of index {manifest.name!r} is damaged ({str(exc).splitlines()[0]}); "
            f"rebuild it with `simsearch rebuild {manifest.name}`."
        ) from None
    if vectors.dimension != manifest.dimension:
        raise CorruptIndexError(f"vector file {path.name} has dimension {vectors.dimension}, manifest says "
                                f"{manifest.dimension}; rebuild the index.")
    if vectors.count != store.count():
        raise CorruptIndexError(
            f"index {manifest.name!r} holds {vectors.count} vectors but {store.count()} texts; "
            f"rebuild it with `simsearch rebuild {manifest.name}`."
        )
    return Generation(vectors, number)


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
        manifest.count = draft.vectors.count
        manifest.updated_at = time.time()
        write_manifest(folder, manifest)
