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
2. Outside the writer lock, build the new base from the snapshot (``VectorIndex.compacted_parts``:
   flat and IVF kinds drop the dead and append the live delta rows to a clone, IVF into the
   cells it was trained on; HNSW adds to a clone of its graph and keeps the dead as tombstones
   until they pass 10% of it, then builds a fresh graph from its stored vectors) and save it as
   ``vectors-(G+1).faiss`` (temporary + rename). A sharded base is made and saved one shard at
   a time, each dropped once its file is written, so the fold holds one new shard in memory
   beside the snapshot, not a second copy of the whole index (the caller loads G+1 at its next
   search, as readers in other processes do; ``simsearch compact`` exits without loading it).
3. Under the writer lock, a moment: the delta rows and dead ids committed since the snapshot
   are carried into ``delta-(G+1).f32`` and the new dead list, and one store transaction names
   G+1. Then G's files are deleted; readers holding them keep their copies in memory and load
   G+1 at their next search.

Re-training: IVF cells are learnt from the vectors of the build; as adds pile into them, the
lists grow long and the cells fit the corpus less. Once the live count has passed
``RETRAIN_GROWTH`` (2x) the count the cells were trained on (the store's ``trained_count``),
step 2 trains a fresh index of the same kind instead, on the live vectors (decoded from the
lists: exact for ivf, to the 8-bit step for ivfsq, the PQ approximation for ivfpq) and the delta
rows, with nlist and nprobe derived for the new count by the build's own formula unless the
caller chose them. The commit records the new trained count; the manifest then records the new
settings with a new update time, so other processes reopen with them. ``simsearch rebuild``
re-trains from the texts instead, with no quantisation in between.

Crash safety: until the commit in step 3 the store names G, whose files are untouched, so a
SIGKILL at any point leaves the index whole; the half-written G+1 files are leftovers that the
next write or compaction deletes (they are never read: only the store names a generation).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from simsearch.index.delta_file import append_rows, delta_file, read_rows
from simsearch.index.failpoints import failpoint
from simsearch.index.generations import STORE_FILE, Generation, load_generation, vectors_file
from simsearch.index.layout import compaction_lock, current_folder, writer_lock
from simsearch.index.manifest import Manifest, read_manifest, write_manifest
from simsearch.index.segments import Delta, SegmentedVectors
from simsearch.index.writer import remove_leftovers
from simsearch.store import Store
from simsearch.vectors import VectorIndex, shard_count, shard_path

log = logging.getLogger(__name__)

NEW_SHARE = 0.05  # delta rows over base vectors
DEAD_SHARE = 0.10  # dead ids over all vectors
MIN_ROWS = 1_000  # below this many delta rows or dead ids nothing is due: scanning or skipping them costs ~0.1 ms
MAX_DELTA_ROWS = 50_000  # every query scores the delta exactly: 50k x 384 floats is ~5 ms on 2 cores
RETRAIN_GROWTH = 2.0  # IVF kinds: re-train once the live count passed this multiple of the trained count


def compaction_due(held: Generation) -> bool:
    """Whether the delta or the dead ids have grown past the thresholds (see the module docstring)."""
    vectors = held.vectors
    base = vectors.base.count + vectors.dead_in_base
    delta = vectors.delta.size
    dead = vectors.dead_in_base + int((~vectors.delta.live).sum())
    if max(delta, dead) < MIN_ROWS:
        return False
    return delta > NEW_SHARE * base or delta >= MAX_DELTA_ROWS or dead > DEAD_SHARE * max(1, base + delta)


def retrain_from(snapshot: Generation, trained_count: int) -> int | None:
    """``trained_count`` when the snapshot's base needs training, its live vectors have passed
    ``RETRAIN_GROWTH`` times that count, and every part keeps enough vectors to train (a shard emptied
    by deletes keeps its cells instead of failing the compaction); else None (no re-training)."""
    vectors = snapshot.vectors
    grown = trained_count > 0 and vectors.count > RETRAIN_GROWTH * trained_count
    if not (grown and vectors.base.needs_training):
        return None
    new_ids = vectors.delta.ids[: vectors.delta.size][vectors.delta.live]
    return trained_count if vectors.base.can_retrain(trained_count, new_ids) else None


def compact(
    home: Path, folder: Path, manifest: Manifest, held: Generation | None = None
) -> tuple[dict[str, Any], Generation | None]:
    """Fold the delta and the dead ids into a new base; the figures of what was done, and the new generation
    as loaded so the caller need not read back the base it just wrote (None when nothing changed, and for a
    sharded base, whose shards went one by one once written: the caller's next search loads it).

    ``held``: the caller's vectors, used as the snapshot when they are of the store's position now (a
    1M-vector base is not read from disk again); otherwise the snapshot is loaded.
    """
    started = time.perf_counter()
    with compaction_lock(home, manifest.name):
        store = Store(folder / STORE_FILE)
        try:
            fresh = held is not None and held.position == store.write_position()
            snapshot = held if held is not None and fresh else load_generation(folder, manifest, store)
            trained = int(store.meta("trained_count", "0") or 0)
        finally:
            store.close()
        if snapshot.vectors.delta.size == 0 and snapshot.position.dead_seq == 0:
            return _figures(started, snapshot, 0, 0, trained, None, compacted=False), None
        retrain = retrain_from(snapshot, trained)
        new_base = _fold(folder, snapshot, retrain)
        failpoint("before-compaction-commit")
        swapped = _swap_in(home, folder, manifest, snapshot, new_base, retrain is not None)
        if retrain is not None and swapped is not None:
            log.info(
                "index %r re-trained its %s cells on %d vectors (trained on %d before); settings now %s",
                manifest.name,
                manifest.kind,
                snapshot.vectors.count,
                trained,
                manifest.params,
            )
        return _figures(started, snapshot, new_base.folded, new_base.dropped, trained, retrain), swapped


@dataclass(frozen=True)
class NewBase:
    """What step 2 wrote: the delta rows folded in, the dead vectors dropped, the base's settings, and the
    base itself when it is one file (a sharded one is not kept: each shard went once written)."""

    folded: int
    dropped: int
    params: dict[str, Any]
    index: VectorIndex | None


def _fold(folder: Path, snapshot: Generation, retrain: int | None) -> NewBase:
    """Build and save the next base from ``snapshot``, part by part (re-trained when ``retrain`` is a count)."""
    vectors = snapshot.vectors
    delta = vectors.delta
    live = delta.live
    rows = delta.vectors[: delta.size][live]
    ids = delta.ids[: delta.size][live]
    path = folder / vectors_file(snapshot.number + 1)
    whole = shard_count(vectors.base.params) == 1
    params, kept = vectors.base.params, None
    for number, part in enumerate(vectors.base.compacted_parts(rows, ids, retrain)):  # the view's dead go too
        failpoint("before-compaction-save")
        part.save(shard_path(path, number))
        failpoint("after-compaction-save")
        params = {**params, **part.params}  # a sharded base's parts share their settings; it adds "shards"
        kept = part if whole else None
        del part  # before the next part is made: one new shard in memory at a time
    return NewBase(int(live.sum()), vectors.dead_in_base + int((~live).sum()), params, kept)


def _swap_in(
    home: Path,
    folder: Path,
    manifest: Manifest,
    snapshot: Generation,
    new_base: NewBase,
    retrained: bool = False,
) -> Generation | None:
    """Under the writer lock: carry what arrived since the snapshot into G+1 and commit G+1; delete G's files.
    Returns generation G+1 as committed, or None for the caller to load it at its next search, as readers in
    other processes do (a sharded base, not kept; or the index was rebuilt meanwhile). ``retrained``: the new
    base was trained afresh on the snapshot's vectors."""
    number, seen = snapshot.number, snapshot.position
    with writer_lock(home, manifest.name):
        if current_folder(home, manifest.name) != folder:
            return None  # rebuilt meanwhile: this folder is retired, and its files go with it
        if retrained:  # before the commit: killed after it, the new cells must not be searched with the old nprobe;
            _record_settings(folder, new_base.params)  # killed before it, FAISS caps a larger nprobe at the old nlist
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
            if retrained:
                store.set_meta("trained_count", str(snapshot.vectors.count))
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
        store = Store(folder / STORE_FILE)
        try:
            _record_figures(folder, manifest, store, new_base.params if retrained else None)
        finally:
            store.close()
    if new_base.index is None:
        return None
    segments = SegmentedVectors(new_base.index, Delta.empty(new_base.index.dimension), 0)
    return Generation(segments.extended(later_rows[keep], later_ids[keep], dead), position)


def _record_settings(folder: Path, params: dict[str, Any]) -> None:
    """A re-trained base's settings in the manifest, with a new update time so other processes reopen."""
    current = read_manifest(folder)
    current.params, current.updated_at = params, time.time()
    write_manifest(folder, current)


def _record_figures(folder: Path, manifest: Manifest, store: Store, new_params: dict[str, Any] | None) -> None:
    """The manifest's document count as of this compaction (``simsearch list`` reads it without the store);
    its update time stays, so open servers and UIs follow by the tail instead of reopening. A re-trained
    base has new settings (nlist, nprobe): they are recorded, with a new update time, so other processes
    reopen with them (``new_params``). ``manifest`` (the caller's) is updated to match."""
    current = read_manifest(folder)
    current.count = store.count()
    if new_params is not None:
        current.params, current.updated_at = new_params, time.time()
    write_manifest(folder, current)
    manifest.count, manifest.params, manifest.updated_at = current.count, current.params, current.updated_at


def _figures(
    started: float,
    snapshot: Generation,
    folded: int,
    dropped: int,
    trained: int,
    retrain: int | None,
    compacted: bool = True,
) -> dict[str, Any]:
    return {
        "compacted": compacted,
        "seconds": round(time.perf_counter() - started, 3),
        "folded_in": folded,
        "dropped": dropped,
        "base_vectors": snapshot.vectors.count,
        "generation": snapshot.number + 1 if compacted else snapshot.number,
        "retrained": retrain is not None,
        "trained_count": snapshot.vectors.count if retrain is not None else trained,
    }
