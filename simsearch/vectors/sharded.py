"""One index over several FAISS files: any kind, split into ``shards`` by id.

Sharding is a parameter (``params={"shards": N}``, ``--shards N``) rather than a kind of
its own, because it is independent of how each part searches: a billion documents need
sharded ivfpq, a few million sharded flat or hnsw. A document lives in shard
``id % shards``, so an add or a delete goes straight to its shard with no lookup table,
and row ids (which only grow) spread evenly. Every shard is a whole index of the kind
with the same settings; a search asks every shard for its own top k (in threads: FAISS
releases the GIL) and merges them with FAISS's ``merge_knn_results``. Here the shards
share a process; on several machines each would serve one file and the merge is the same.

Files: shard 0 is the generation's own file (``vectors-G.faiss``), shard i beside it as
``vectors-G.shard-i.faiss``, so the generation writer's clean-up keeps or drops them together.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from simsearch.errors import InvalidArgumentError
from simsearch.numbers import is_whole_number
from simsearch.vectors.base import VectorIndex
from simsearch.vectors.faiss_index import FaissIndex

SHARDS = "shards"
MAX_SHARDS = 1024


class ShardedIndex(VectorIndex):
    """``shards`` indexes of one kind searched as one; thread-safety as VectorIndex's."""

    def __init__(self, shards: list[FaissIndex]) -> None:
        self._shards = shards
        self.kind = shards[0].kind  # the manifest records the kind of the parts, and shards in params
        self.search_knobs = shards[0].search_knobs
        self.needs_training = shards[0].needs_training

    # --- construction -------------------------------------------------------------------
    @classmethod
    def create(
        cls, per_shard: type[FaissIndex], dimension: int, n_vectors: int, params: Mapping[str, Any], shards: int
    ) -> ShardedIndex:
        """``shards`` empty indexes of ``per_shard``, each sized for its share of ``n_vectors``."""
        if n_vectors < shards:
            raise InvalidArgumentError(
                f"kind {per_shard.kind} with shards={shards} needs at least {shards} "
                f"documents (got {n_vectors}); use fewer shards."
            )
        return cls([per_shard.create(dimension, n_vectors // shards, params) for _ in range(shards)])

    @classmethod
    def load(cls, per_shard: type[FaissIndex], path: Path, params: Mapping[str, Any], shards: int) -> ShardedIndex:
        return cls([per_shard.load(shard_path(path, number), params) for number in range(shards)])

    # --- VectorIndex --------------------------------------------------------------------
    def build(self, vectors: np.ndarray, ids: np.ndarray) -> None:
        for shard, (part_vectors, part_ids) in zip(self._shards, self._split(vectors, ids)):
            shard.build(part_vectors, part_ids)

    def add(self, vectors: np.ndarray, ids: np.ndarray) -> None:
        for shard, (part_vectors, part_ids) in zip(self._shards, self._split(vectors, ids)):
            if len(part_ids):
                shard.add(part_vectors, part_ids)

    def remove(self, ids: np.ndarray) -> None:
        ids = np.asarray(ids, dtype=np.int64)
        for number, shard in enumerate(self._shards):
            mine = ids[ids % len(self._shards) == number]
            if len(mine):
                shard.remove(mine)

    def search(
        self, queries: np.ndarray, k: int, allowed_ids: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        asks = []
        for number, shard in enumerate(self._shards):
            allowed = None if allowed_ids is None else self._own(np.asarray(allowed_ids, dtype=np.int64), number)
            if allowed is None or len(allowed):
                asks.append((shard, allowed))
        answers = (
            list(_pool().map(lambda ask: ask[0].search(queries, k, ask[1]), asks))
            if len(asks) > 1
            else [shard.search(queries, k, allowed) for shard, allowed in asks]
        )
        width = min(int(k), max(1, sum(found.shape[1] for _, found in answers) if answers else self.count))
        return _merged(answers, len(queries), width)

    def ids(self) -> np.ndarray | None:
        parts = [shard.ids() for shard in self._shards]
        return None if any(part is None for part in parts) else np.sort(np.concatenate(parts))

    def reconstruct(self, ids: np.ndarray) -> np.ndarray | None:
        ids = np.asarray(ids, dtype=np.int64)
        out = np.empty((len(ids), self.dimension), dtype=np.float32)
        for number, shard in enumerate(self._shards):
            mine = ids % len(self._shards) == number
            if mine.any():
                part = shard.reconstruct(ids[mine])
                if part is None:
                    return None
                out[mine] = part
        return out

    def set_search_params(self, **params: int) -> None:
        for shard in self._shards:
            shard.set_search_params(**params)

    def without(self, ids: np.ndarray) -> ShardedIndex:
        """A view in which ``ids`` are tombstones too, each in its own shard (see FaissIndex.without)."""
        ids = np.asarray(ids, dtype=np.int64)
        return ShardedIndex([shard.without(self._own(ids, number)) for number, shard in enumerate(self._shards)])

    def compacted_parts(
        self, vectors: np.ndarray, ids: np.ndarray, retrain_from: int | None = None
    ) -> Iterator[FaissIndex]:
        """Shard by shard, in order: each folds in only its own new vectors, and is made only when the caller
        asks for it, so compaction holds one new shard at a time. Re-trained shards share one set of settings
        (the manifest records one), derived for an even share of the vectors as ``create`` sizes them."""
        parts = self._split(np.asarray(vectors, dtype=np.float32).reshape(-1, self.dimension), ids)
        settings = None if retrain_from is None else self._shared_settings(retrain_from, ids)
        for shard, (own_vectors, own_ids) in zip(self._shards, parts):
            if settings is None:
                yield shard.compacted(own_vectors, own_ids)
            else:
                yield shard.retrained(own_vectors, own_ids, settings)

    def can_retrain(self, retrain_from: int, ids: np.ndarray) -> bool:
        if not self.needs_training:
            return False
        settings = self._shared_settings(retrain_from, ids)
        return all(
            shard.trains_with(settings, len(self._own(ids, number))) for number, shard in enumerate(self._shards)
        )

    def _shared_settings(self, retrain_from: int, ids: np.ndarray) -> dict[str, Any]:
        """One set of settings for every re-trained shard (the manifest records one), derived for an even share."""
        shards = len(self._shards)
        return self._shards[0].regrown_settings(retrain_from // shards, (self.count + len(ids)) // shards)

    def copy(self) -> ShardedIndex:
        return ShardedIndex([shard.copy() for shard in self._shards])

    def save(self, path: Path) -> None:
        for number, shard in enumerate(self._shards):
            shard.save(shard_path(path, number))

    @property
    def count(self) -> int:
        return sum(shard.count for shard in self._shards)

    @property
    def dimension(self) -> int:
        return self._shards[0].dimension

    @property
    def params(self) -> dict[str, Any]:
        return {**self._shards[0].params, SHARDS: len(self._shards)}

    # --- helpers ------------------------------------------------------------------------
    def _split(self, vectors: np.ndarray, ids: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        ids = np.asarray(ids, dtype=np.int64)
        owner = ids % len(self._shards)
        return [(vectors[owner == number], ids[owner == number]) for number in range(len(self._shards))]

    def _own(self, ids: np.ndarray, number: int) -> np.ndarray:
        return ids[ids % len(self._shards) == number]


def shard_count(params: Mapping[str, Any]) -> int:
    """The ``shards`` parameter, checked (1, the default, is an ordinary one-file index)."""
    shards = params.get(SHARDS, 1)
    if not is_whole_number(shards) or not 1 <= shards <= MAX_SHARDS:
        raise InvalidArgumentError(f"shards must be a whole number from 1 to {MAX_SHARDS} (got {shards!r}).")
    return int(shards)


def shard_path(path: Path, number: int) -> Path:
    """Shard 0 is ``path`` itself (so one shard is an ordinary index file); shard i sits beside it."""
    return path if number == 0 else path.with_name(f"{path.stem}.shard-{number}{path.suffix}")


def _merged(answers: list[tuple[np.ndarray, np.ndarray]], n_queries: int, width: int):
    """The best ``width`` of the shards' sorted answers per query; empty slots have id -1."""
    scores = np.full((max(1, len(answers)), n_queries, width), -np.inf, dtype=np.float32)
    ids = np.full(scores.shape, -1, dtype=np.int64)
    for number, (shard_scores, shard_ids) in enumerate(answers):
        columns = min(width, shard_ids.shape[1])
        scores[number, :, :columns] = np.where(shard_ids[:, :columns] >= 0, shard_scores[:, :columns], -np.inf)
        ids[number, :, :columns] = shard_ids[:, :columns]
    return faiss.merge_knn_results(scores, ids, keep_max=True)


@lru_cache(maxsize=1)
def _pool() -> ThreadPoolExecutor:
    """One pool for every sharded index in the process: FAISS searches release the GIL, so shards run at once."""
    return ThreadPoolExecutor(max_workers=os.cpu_count() or 1, thread_name_prefix="simsearch-shard")
