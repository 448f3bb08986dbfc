"""The vectors of an index as a reader holds them: an immutable base, a delta searched exactly, dead ids.

Why segments: rewriting a 100k-vector HNSW file for a one-document add cost 367 ms and
182 MB (issue 20). Now a build, rebuild or compaction writes the base (``vectors-G.faiss``,
any kind) once; adds append rows to the generation's delta file; deletes and upserts mark
vector ids dead in the store. A search asks the base (dead ids hidden as tombstones of a
view that shares its FAISS data) and scores the delta's live rows exactly, then keeps the
best k of both.

``SegmentedVectors`` answers the read side of ``VectorIndex`` (search, ids, reconstruct,
count, search knobs), so the query path, dedup, clustering and checks use it unchanged.
Each object is a snapshot: catching up with newer commits (``extended``) returns a new
object and never changes one a search may be running on. The delta's row buffer is shared
between snapshots and only ever written past the rows an older snapshot can see, so
catching up with one new row costs that row, not a copy of the delta.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from simsearch.vectors import VectorIndex


@dataclass(frozen=True)
class Delta:
    """The first ``size`` rows of shared buffers: vectors, their ids, and which rows are live."""

    vectors: np.ndarray  # (capacity, dimension) float32; rows past ``size`` belong to later snapshots
    ids: np.ndarray  # (capacity,) int64
    live: np.ndarray  # (size,) bool, this snapshot's own
    size: int

    @classmethod
    def empty(cls, dimension: int) -> Delta:
        return cls(np.zeros((0, dimension), dtype=np.float32), np.zeros(0, dtype=np.int64), np.zeros(0, bool), 0)

    def appended(self, vectors: np.ndarray, ids: np.ndarray) -> Delta:
        """This delta with rows appended; the buffers grow by doubling, so n appends copy O(n) rows in all."""
        end = self.size + len(ids)
        buffer, id_buffer = self.vectors, self.ids
        if end > len(buffer):
            capacity = max(end, 2 * len(buffer), 1024)
            buffer = np.zeros((capacity, self.vectors.shape[1]), dtype=np.float32)
            id_buffer = np.zeros(capacity, dtype=np.int64)
            buffer[: self.size], id_buffer[: self.size] = self.vectors[: self.size], self.ids[: self.size]
        buffer[self.size : end], id_buffer[self.size : end] = vectors, ids
        return Delta(buffer, id_buffer, np.concatenate([self.live, np.ones(len(ids), bool)]), end)

    def killed(self, dead: np.ndarray) -> Delta:
        """This delta with the rows of ``dead`` ids (all rows of it) no longer live."""
        if not len(dead):
            return self
        live = self.live.copy()
        live[self.rows_of(np.asarray(dead, dtype=np.int64))] = False
        return Delta(self.vectors, self.ids, live, self.size)

    @property
    def live_ids(self) -> np.ndarray:
        return self.ids[: self.size][self.live]

    @cached_property
    def _sorted(self) -> tuple[np.ndarray, np.ndarray]:
        """The delta's ids sorted, and the row of each: built once per snapshot, when first needed."""
        order = np.argsort(self.ids[: self.size], kind="stable")
        return self.ids[: self.size][order], order

    def holds(self, ids: np.ndarray) -> np.ndarray:
        """Which of ``ids`` are rows of this delta (live or not)."""
        known = self._sorted[0]
        if not len(known):
            return np.zeros(len(ids), dtype=bool)
        places = np.minimum(np.searchsorted(known, ids), len(known) - 1)
        return known[places] == ids

    def rows_of(self, ids: np.ndarray) -> np.ndarray:
        """The row of each of ``ids``, which must all be rows of this delta."""
        known, order = self._sorted
        return order[np.searchsorted(known, ids)]

    def search(self, queries: np.ndarray, k: int, allowed_ids: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Exact top-k among the live rows (and ``allowed_ids``); (scores, ids) padded with -inf / -1."""
        usable = self.live if allowed_ids is None else self.live & np.isin(self.ids[: self.size], allowed_ids)
        rows = np.flatnonzero(usable)
        scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
        found = np.full((len(queries), k), -1, dtype=np.int64)
        if len(rows) == 0:
            return scores, found
        similarity = queries @ self.vectors[rows].T
        width = min(k, len(rows))
        best = (
            np.argpartition(-similarity, width - 1, axis=1)[:, :width]
            if width < len(rows)
            else np.tile(np.arange(len(rows)), (len(queries), 1))
        )
        best_scores = np.take_along_axis(similarity, best, axis=1)
        order = np.argsort(-best_scores, axis=1, kind="stable")
        scores[:, :width] = np.take_along_axis(best_scores, order, axis=1)
        found[:, :width] = self.ids[rows][np.take_along_axis(best, order, axis=1)]
        return scores, found


class SegmentedVectors:
    """Base (dead hidden) + delta, read as one vector index. Searches may run from any number of threads."""

    def __init__(self, base: VectorIndex, delta: Delta, dead_in_base: int) -> None:
        self.base, self.delta = base, delta
        self.dead_in_base = dead_in_base  # ids hidden in the base since it was written
        self.kind = base.kind
        self.search_knobs = base.search_knobs

    def extended(self, vectors: np.ndarray, ids: np.ndarray, dead: np.ndarray) -> SegmentedVectors:
        """A newer snapshot: ``vectors`` appended to the delta under ``ids``, then ``dead`` ids removed."""
        delta = self.delta.appended(vectors, ids) if len(ids) else self.delta
        if not len(dead):
            return SegmentedVectors(self.base, delta, self.dead_in_base)
        in_delta = delta.holds(dead)
        in_base = dead[~in_delta]
        base = self.base.without(in_base) if len(in_base) else self.base
        return SegmentedVectors(base, delta.killed(dead[in_delta]), self.dead_in_base + len(in_base))

    def figures(self) -> dict[str, int]:
        """Vectors in the base as written, rows in the delta, and vectors dead since the base was written."""
        return {
            "base_vectors": self.base.count + self.dead_in_base,
            "delta_vectors": self.delta.size,
            "dead_vectors": self.dead_in_base + int((~self.delta.live).sum()),
        }

    # --- the read side of VectorIndex ---------------------------------------------------------
    def search(
        self, queries: np.ndarray, k: int, allowed_ids: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        if allowed_ids is not None:
            allowed_ids = np.asarray(allowed_ids, dtype=np.int64)
        if self.delta.size == 0:
            return self.base.search(queries, k, allowed_ids)
        base_allowed = None if allowed_ids is None else allowed_ids[~self.delta.holds(allowed_ids)]
        width = max(1, min(int(k), self.count))
        scores, ids = self.delta.search(queries, width, allowed_ids)
        if base_allowed is None or len(base_allowed):
            base_scores, base_ids = self.base.search(queries, width, base_allowed)
            scores = np.concatenate([np.where(base_ids >= 0, base_scores, -np.inf), scores], axis=1)
            ids = np.concatenate([base_ids, ids], axis=1)
        order = np.argsort(-scores, axis=1, kind="stable")[:, :width]
        return np.take_along_axis(scores, order, axis=1), np.take_along_axis(ids, order, axis=1)

    def ids(self) -> np.ndarray | None:
        base = self.base.ids()
        return None if base is None else np.sort(np.concatenate([base, self.delta.live_ids]))

    def reconstruct(self, ids: np.ndarray) -> np.ndarray | None:
        ids = np.asarray(ids, dtype=np.int64)
        in_delta = self.delta.holds(ids)
        out = np.empty((len(ids), self.dimension), dtype=np.float32)
        if (~in_delta).any():
            from_base = self.base.reconstruct(ids[~in_delta])
            if from_base is None:
                return None
            out[~in_delta] = from_base
        if in_delta.any():
            out[in_delta] = self.delta.vectors[self.delta.rows_of(ids[in_delta])]
        return out

    def set_search_params(self, **params: int) -> None:
        self.base.set_search_params(**params)

    @property
    def count(self) -> int:
        return self.base.count + int(self.delta.live.sum())

    @property
    def dimension(self) -> int:
        return self.base.dimension

    @property
    def params(self) -> dict[str, Any]:
        return self.base.params
