"""Compaction: fold the delta and the dead ids into a new base, without stopping readers or writers.

When: ``compaction_due`` says so once the delta holds more than 5% of the base's vectors
(or ``MAX_DELTA_ROWS``: the delta is scanned exactly by every query), or dead ids pass 10%
of all vectors, and at least ``MIN_ROWS`` rows or ids are waiting. It never runs inside a
one-document add: the CLI's add, delete and sync compact at their end when it is due, the
server compacts in a background thread after a write that made it due, and
``Index.compact()`` / ``simsearch compact`` / ``POST /indexes/NAME/compact`` run it on demand.
A long-lived Python program calls ``compaction_due()`` and ``compact()`` when it likes.

How, under the compaction lock (one per index; writers do not wait for it):
1. Snapshot: load generation G as of one store position (base, delta rows 0..n, dead up to s).
2. Outside the writer lock, build the new base from the snapshot (``VectorIndex.compacted``:
   flat and IVF kinds drop the dead and append the live delta rows to a clone, IVF into the
   cells it was trained on; HNSW adds to a clone of its graph and keeps the dead as tombstones
   until they pass 10% of it, then builds a fresh graph from its stored vectors; the sharded
   kind does this shard by shard) and save it as ``vectors-(G+1).faiss`` (temporary + rename).
3. Under the writer lock, a moment: the delta rows and dead ids committed since the snapshot
   are carried into ``delta-(G+1).f32`` and the new dead list, and one store transaction names
   G+1. Then G's files are deleted; readers holding them keep their copies in memory and load
   G+1 at their next search.

Crash safety: until the commit in step 3 the store names G, whose files are untouched, so a
SIGKILL at any point leaves the index whole; the half-written G+1 files are leftovers that the
next write or compaction deletes (they are never read: only the store names a generation).
IVF kinds are not re-trained here: their codes cannot give back exact vectors. When the live
count has passed twice the count the cells were trained on, ``compact`` says so in its figures
(``retrain_advised``); ``simsearch rebuild`` re-trains them from the texts.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from simsearch.index.delta_file import append_rows, delta_file, read_rows
from simsearch.index.failpoints import failpoint
from simsearch.index.generations import (
    STORE_FILE,
    Generation,
    load_generation,
    remove_leftovers,
    vectors_file,
)
from simsearch.index.layout import compaction_lock, current_folder, writer_lock
from simsearch.index.manifest import Manifest, read_manifest, write_manifest
from simsearch.index.segments import Delta, SegmentedVectors
from simsearch.store import Store
from simsearch.vectors import VectorIndex

log = logging.getLogger(__name__)

NEW_SHARE = 0.05  # delta rows over base vectors
DEAD_SHARE = 0.10  # dead ids over all vectors
MIN_ROWS = 1_000  # below this many delta rows or dead ids nothing is due: scanning or skipping them costs ~0.1 ms
MAX_DELTA_ROWS = 50_000  # every query scores the delta exactly: 50k x 384 floats is ~5 ms on 2 cores
RETRAIN_GROWTH = 2.0  # IVF kinds: advise a rebuild once the live count passed this multiple of the trained count


def compaction_due(held: Generation) -> bool:
    """Whether the delta or the dead ids have grown past the thresholds (see the module docstring)."""
    vectors = held.vectors
    base = vectors.base.count + vectors.dead_in_base
    delta = vectors.delta.size
    dead = vectors.dead_in_base + int((~vectors.delta.live).sum())
    if max(delta, dead) < MIN_ROWS:
        return False
    return delta > NEW_SHARE * base or delta >= MAX_DELTA_ROWS or dead > DEAD_SHARE * max(1, base + delta)


def compact(
    home: Path, folder: Path, manifest: Manifest, held: Generation | None = None
) -> tuple[dict[str, Any], Generation | None]:
    """Fold the delta and the dead ids into a new base; the figures of what was done, and the new generation
    as loaded (None when nothing changed) so the caller need not read back the base it just wrote.

    ``held``: the caller's vectors, used as the snapshot when they are of the store's position now (a
    1M-vector base is not read from disk again); otherwise the snapshot is loaded.
    """
    started = time.perf_counter()
    with compaction_lock(home, manifest.name):
        store = Store(folder / STORE_FILE)
        try:
            fresh = held is not None and held.position == store.write_position()
            snapshot = held if held is not None and fresh else load_generation(folder, manifest, store)
            if snapshot.vectors.delta.size == 0 and snapshot.position.dead_seq == 0:
                return _figures(started, snapshot, 0, 0, snapshot.vectors.count, store, manifest, False), None
            folded, dropped, new_base = _fold(folder, snapshot)
            failpoint("before-compaction-commit")
            swapped = _swap_in(home, folder, manifest, snapshot, new_base)
            return _figures(started, snapshot, folded, dropped, snapshot.vectors.count, store, manifest), swapped
        finally:
            store.close()


def _fold(folder: Path, snapshot: Generation) -> tuple[int, int, VectorIndex]:
    """Build and save the next base from ``snapshot``: (delta rows folded in, dead vectors dropped, the base)."""
    vectors = snapshot.vectors
    delta = vectors.delta
    live = delta.live
    rows = delta.vectors[: delta.size][live]
    ids = delta.ids[: delta.size][live]
    new_base = vectors.base.compacted(np.zeros(0, dtype=np.int64), rows, ids)  # the view's dead go with its tombstones
    new_base.save(folder / vectors_file(snapshot.number + 1))
    return int(live.sum()), vectors.dead_in_base + int((~live).sum()), new_base


def _swap_in(
    home: Path, folder: Path, manifest: Manifest, snapshot: Generation, new_base: VectorIndex
) -> Generation | None:
    """Under the writer lock: carry what arrived since the snapshot into G+1 and commit G+1; delete G's files.
    Returns generation G+1 as committed (None when the index was rebuilt meanwhile)."""
    number, seen = snapshot.number, snapshot.position
    with writer_lock(home, manifest.name):
        if current_folder(home, manifest.name) != folder:
            return None  # rebuilt meanwhile: this folder is retired, and its files go with it
        store = Store(folder / STORE_FILE)
        try:
            store.begin()
            now = store.write_position()
            later_rows = read_rows(folder / delta_file(number), seen.delta_rows, now.delta_rows, manifest.dimension)
            later_ids = store.delta_ids(seen.delta_rows, now.delta_rows)
            later_dead = store.dead_ids(seen.dead_seq, now.dead_seq)
            keep = ~np.isin(later_ids, later_dead)  # added and deleted since the snapshot: dropped outright
            dead = later_dead[~np.isin(later_dead, later_ids)]
            append_rows(folder / delta_file(number + 1), 0, later_rows[keep])
            store.replace_write_log(number + 1, later_ids[keep], dead)
            store.set_meta("compacted_at", str(time.time()))
            position = store.write_position()
            store.commit()
            failpoint("after-compaction-commit")
        except BaseException:
            store.rollback()
            raise
        finally:
            store.close()
        # G's files go; readers holding them keep their copies in memory
        remove_leftovers(home, manifest.name, folder, number + 1, compacting=True)
        _record_count(folder, manifest, store_count=Store(folder / STORE_FILE))
    segments = SegmentedVectors(new_base, Delta.empty(new_base.dimension), 0)
    return Generation(segments.extended(later_rows[keep], later_ids[keep], dead), position)


def _record_count(folder: Path, manifest: Manifest, store_count: Store) -> None:
    """The manifest's document count as of this compaction (``simsearch list`` reads it without the store);
    its update time stays, so open servers and UIs follow by the tail instead of reopening."""
    try:
        current = read_manifest(folder)
        current.count = store_count.count()
        write_manifest(folder, current)
        manifest.count = current.count
    finally:
        store_count.close()


def _figures(
    started: float,
    snapshot: Generation,
    folded: int,
    dropped: int,
    base_vectors: int,
    store: Store,
    manifest: Manifest,
    compacted: bool = True,
) -> dict[str, Any]:
    trained = int(store.meta("trained_count", "0") or 0)
    retrain = manifest.kind.startswith("ivf") and trained > 0 and base_vectors > RETRAIN_GROWTH * trained
    if retrain:
        log.warning(
            "index %r has grown past %sx the vectors its IVF cells were trained on; rebuild it to re-train",
            manifest.name,
            RETRAIN_GROWTH,
        )
    return {
        "compacted": compacted,
        "seconds": round(time.perf_counter() - started, 3),
        "folded_in": folded,
        "dropped": dropped,
        "base_vectors": base_vectors,
        "generation": snapshot.number + 1 if compacted else snapshot.number,
        "retrain_advised": retrain,
    }
