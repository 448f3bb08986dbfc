"""Vector indexes, one per FAISS kind, and the factory that picks one by kind name.

"Backend" in simsearch means the encoder runtime (torch, onnx, onnx-int8), as in sentence-transformers;
the FAISS index types are "kinds" (flat, hnsw, ivf, ivfpq, ivfsq, auto) and live here."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, get_args

from simsearch.errors import InvalidArgumentError
from simsearch.vectors.base import IndexKind, VectorIndex
from simsearch.vectors.faiss_index import FaissIndex
from simsearch.vectors.flat import FlatIndex
from simsearch.vectors.hnsw import HNSWIndex
from simsearch.vectors.ivf import IVFIndex, IVFPQIndex, IVFSQIndex
from simsearch.vectors.sharded import SHARDS, ShardedIndex, shard_count, shard_path

KINDS: tuple[IndexKind, ...] = get_args(IndexKind)
CLASSES: dict[IndexKind, type[FaissIndex]] = {
    cls.kind: cls for cls in (FlatIndex, HNSWIndex, IVFIndex, IVFPQIndex, IVFSQIndex)
}

# Exact search scans every vector: about 1.5 MB per 1,000 documents at 384 dimensions, a few
# milliseconds per query up to this size on 2 CPU cores. Above it HNSW answers in about a
# millisecond with recall@10 near 0.99.
EXACT_SEARCH_LIMIT = 20_000


def check_kind(kind: str) -> IndexKind:
    """``kind`` itself when it names an index kind (``auto`` included); else a one-line error listing them."""
    if kind not in KINDS:
        raise InvalidArgumentError(f"unknown index kind {kind!r}; valid: {', '.join(KINDS)}.")
    return kind


def choose_kind(kind: IndexKind, n_vectors: int) -> IndexKind:
    """Resolve ``auto`` by corpus size; validate any other kind name (callers may pass user text)."""
    kind = check_kind(kind)
    if kind != "auto":
        return kind
    return "flat" if n_vectors <= EXACT_SEARCH_LIMIT else "hnsw"


def create_vector_index(
    kind: IndexKind, dimension: int, n_vectors: int, params: Mapping[str, Any] | None = None
) -> VectorIndex:
    """An empty index of ``kind`` sized for ``n_vectors``; ``params`` override the kind's defaults, and
    ``shards`` (default 1) splits it over that many files (vectors.sharded)."""
    cls = CLASSES[choose_kind(kind, n_vectors)]
    shards, own = shard_count(params or {}), _without_shards(params)
    return (
        cls.create(dimension, n_vectors, own)
        if shards == 1
        else ShardedIndex.create(cls, dimension, n_vectors, own, shards)
    )


def load_vector_index(path: Path, kind: IndexKind, params: Mapping[str, Any]) -> VectorIndex:
    """Read an index saved by ``VectorIndex.save``; ``kind`` and ``params`` come from the manifest."""
    if kind not in CLASSES:
        raise InvalidArgumentError(f"unknown index kind {kind!r}; valid: {', '.join(CLASSES)}.")
    shards = shard_count(params)
    if shards == 1:
        return CLASSES[kind].load(path, _without_shards(params))
    return ShardedIndex.load(CLASSES[kind], path, _without_shards(params), shards)


def _without_shards(params: Mapping[str, Any] | None) -> dict[str, Any]:
    return {name: value for name, value in (params or {}).items() if name != SHARDS}


__all__ = [
    "KINDS",
    "IndexKind",
    "VectorIndex",
    "check_kind",
    "choose_kind",
    "create_vector_index",
    "load_vector_index",
    "shard_count",
    "shard_path",
]
