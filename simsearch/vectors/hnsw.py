"""The graph kind (HNSW): sub-linear queries with high recall; deletes are tombstones, as FAISS's graph
cannot remove a node."""

from __future__ import annotations

from typing import Any

import faiss
import numpy as np

from simsearch.vectors.faiss_index import FaissIndex
from simsearch.vectors.settings import MAX_SETTING, check_range

# Compaction rebuilds an HNSW graph from its stored vectors once this share of it is tombstones (10%):
# below it, dead nodes only lengthen walks a little; above it, searches waste their breadth on them.
HNSW_REBUILD_DEAD = 0.10


class HNSWIndex(FaissIndex):
    """Graph search: sub-linear queries, high recall, 4 bytes a dimension plus the graph."""

    kind = "hnsw"
    search_knobs = ("ef_search",)
    gpu_capable = False  # faiss-gpu has no HNSW; the graph stays on CPU

    @classmethod
    def default_params(cls, dimension: int, n_vectors: int) -> dict[str, Any]:
        return {"m": 32, "ef_construction": 80, "ef_search": _hnsw_ef_search(n_vectors)}

    @classmethod
    def make(cls, dimension: int, params: dict[str, Any]) -> faiss.Index:
        hnsw = faiss.IndexHNSWFlat(dimension, int(params["m"]), faiss.METRIC_INNER_PRODUCT)
        hnsw.hnsw.efConstruction = int(params["ef_construction"])
        return faiss.IndexIDMap2(hnsw)

    @classmethod
    def check_params(cls, params: dict[str, Any], dimension: int, n_vectors: int) -> None:
        check_range(cls.kind, "m", params["m"], 2, 256)  # the graph's links per node; FAISS's usual 16-64
        check_range(cls.kind, "ef_construction", params["ef_construction"], 1, MAX_SETTING)
        check_range(cls.kind, "ef_search", params["ef_search"], 1, MAX_SETTING)

    def _tune(self, index: faiss.Index) -> None:
        faiss.downcast_index(index.index).hnsw.efSearch = int(self._params["ef_search"])

    def _search_parameters(self, everything: bool = False) -> faiss.SearchParameters:
        return faiss.SearchParametersHNSW(efSearch=int(self._params["ef_search"]))

    def remove(self, ids: np.ndarray) -> None:
        """FAISS HNSW cannot ``remove_ids``: the ids stored here become tombstones."""
        ids = np.asarray(ids, dtype=np.int64)
        self._tombstones = self._tombstones.plus(ids[np.isin(ids, self._stored_ids())])
        self._gpu = None

    def compacted(self, vectors: np.ndarray, ids: np.ndarray) -> FaissIndex:
        """The new vectors join a clone of the graph and the tombstones stay, until they pass
        ``HNSW_REBUILD_DEAD`` of the graph: then a fresh graph is built from the live stored vectors."""
        if len(self._tombstones) > HNSW_REBUILD_DEAD * max(1, self._cpu.ntotal):
            return self.retrained(vectors, ids, self._params)
        fresh = HNSWIndex(faiss.clone_index(self._cpu), dict(self._params), self._tombstones)
        if len(ids):
            fresh.add(vectors, ids)
        return fresh


def _hnsw_ef_search(n_vectors: int) -> int:
    """The search breadth that keeps recall@10 near 0.95 or better as the graph grows.

    Measured on wikipedia sentence embeddings (benchmarks/performance.py): efSearch 64
    gives 0.97 at 100k documents but 0.88 at 1M, where 256 gives 0.975.
    """
    if n_vectors <= 200_000:
        return 64
    return 128 if n_vectors <= 500_000 else 256
