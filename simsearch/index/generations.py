"""A build folder's vectors by generation, as readers hold them and follow them.

A build folder holds the base ``vectors-G.faiss`` (G: the store's ``generation`` meta row),
immutable once written by a build, rebuild or compaction, and ``delta-G.f32``, the rows
added since (delta_file.py). The store, in WAL mode, is the commit log: it names G, the
committed delta rows (and each row's vector id) and the dead vector ids (segments.py);
writers commit to it under the writer lock (writer.py).

Reading: a reader holds (G, delta rows seen, last dead seq seen). Before each search it reads
the store's position (one query); when only the delta and the dead ids moved it reads just
the new rows and ids (catching up by the tail), and it loads a base only when a compaction
moved G on. Old indexes (schema 3: generation G, no delta) read as a base and an empty delta.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from simsearch.errors import CorruptIndexError, SimsearchError, fix
from simsearch.index.delta_file import delta_file, read_rows
from simsearch.index.layout import current_folder
from simsearch.index.manifest import Manifest, read_manifest
from simsearch.index.segments import Delta, SegmentedVectors
from simsearch.store import Store, WritePosition
from simsearch.vectors import load_vector_index

STORE_FILE = "store.sqlite"
_ATTEMPTS = 20  # a concurrent writer moving on between our reads; each retry is one more commit to catch up with


@dataclass(frozen=True)
class Generation:
    """The vectors a reader holds and the write position they are up to."""

    vectors: SegmentedVectors
    position: WritePosition

    @property
    def number(self) -> int:
        return self.position.generation


def vectors_file(number: int) -> str:
    return f"vectors-{number}.faiss"


def open_build(home: Path, name: str, folder: Path | None = None) -> tuple[Path, Manifest, Store, Generation]:
    """Open the current build of ``name`` (or ``folder``): its manifest, store and vectors.

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


def document_count(folder: Path) -> int:
    """Documents in a build folder now, from its store (the manifest's count is as of the last compaction)."""
    store = Store(folder / STORE_FILE)
    try:
        return store.count()
    finally:
        store.close()


def load_generation(folder: Path, manifest: Manifest, store: Store) -> Generation:
    """Load the base, delta and dead ids of the position the store names now, checked against its row count.

    A compaction in another process may commit G+1 and delete G's files between our reads;
    that is retried, never reported. Vectors and texts out of step (a file copied in by hand,
    a delta cut short, a damaged store) are reported with the fix, not served.
    """
    for _attempt in range(_ATTEMPTS):
        position, _dead, expected = store.write_log_figures()
        try:
            vectors = _read_segments(folder, manifest, store, position)
        except (RuntimeError, OSError, ValueError, CorruptIndexError) as exc:
            if store.write_position().generation != position.generation:
                continue  # a compaction moved on and cleaned the files we were reading
            raise _damage(folder, manifest, position, exc) from None
        if store.write_position().generation == position.generation:
            break
    else:
        raise CorruptIndexError(f"index {manifest.name!r} kept changing while it was read; open it again.")
    if vectors.dimension != manifest.dimension:
        raise CorruptIndexError(
            f"vector file {vectors_file(position.generation)} has dimension {vectors.dimension}, "
            f"manifest says {manifest.dimension}; rebuild the index."
        )
    if vectors.count != expected:
        raise CorruptIndexError(
            f"index {manifest.name!r} holds {vectors.count} vectors but {expected} texts "
            f"(windows of long texts counted); {fix('rebuild', manifest.name)}."
        )
    return Generation(vectors, position)


def catch_up(folder: Path, manifest: Manifest, store: Store, held: Generation) -> Generation:
    """The vectors as of the store's position now: ``held`` extended by the new delta rows and dead ids,
    or a freshly loaded generation when a compaction moved G on.

    When the folder was retired by a rebuild (its files gone), ``held`` is kept and served as
    it was until the caller reopens (``Index.is_stale``).
    """
    now = store.write_position()
    if now == held.position:
        return held
    if now.generation == held.number:
        try:
            rows = read_rows(
                folder / delta_file(now.generation), held.position.delta_rows, now.delta_rows, held.vectors.dimension
            )
            ids = store.delta_ids(held.position.delta_rows, now.delta_rows)
            dead = store.dead_ids(held.position.dead_seq, now.dead_seq)
            if store.write_position().generation == now.generation and len(ids) == len(rows):
                return Generation(held.vectors.extended(rows, ids, dead), now)
        except (OSError, CorruptIndexError):
            pass  # the files moved on under us: load the generation named now
    try:
        return load_generation(folder, manifest, store)
    except SimsearchError:
        return held


def _read_segments(folder: Path, manifest: Manifest, store: Store, position: WritePosition) -> SegmentedVectors:
    base = load_vector_index(folder / vectors_file(position.generation), manifest.kind, manifest.params)
    rows = read_rows(folder / delta_file(position.generation), 0, position.delta_rows, base.dimension)
    ids = store.delta_ids(0, position.delta_rows)
    if len(ids) != len(rows):
        raise CorruptIndexError(f"the store names {len(ids)} delta rows but {len(rows)} were committed")
    dead = store.dead_ids(0, position.dead_seq)
    return SegmentedVectors(base, Delta.empty(base.dimension), 0).extended(rows, ids, dead)


def _damage(folder: Path, manifest: Manifest, position: WritePosition, exc: Exception) -> CorruptIndexError:
    if isinstance(exc, CorruptIndexError):
        return exc
    path = folder / vectors_file(position.generation)
    if not path.exists():
        return CorruptIndexError(f"index {manifest.name!r} has no vector file {path.name}; rebuild it.")
    if isinstance(exc, FileNotFoundError):
        return CorruptIndexError(
            f"index {manifest.name!r} has no delta file {delta_file(position.generation)} but "
            f"{position.delta_rows} rows were committed to it; {fix('rebuild', manifest.name)}."
        )
    return CorruptIndexError(
        f"vector file {path.name} of index {manifest.name!r} is damaged "
        f"({str(exc).splitlines()[0]}); {fix('rebuild', manifest.name)}."
    )
