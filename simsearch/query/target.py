"""What one search reads (``SearchTarget``) and how the caller may have it re-ranked (``RerankOptions``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

from simsearch.query.pair_scoring import Reranker

if TYPE_CHECKING:
    from simsearch.encoders import Encoder
    from simsearch.store import Store
    from simsearch.vectors import VectorIndex


@dataclass(frozen=True)
class SearchTarget:
    """The parts of one index a query reads: its encoder, the vectors of one generation, its store."""

    encoder: Encoder
    vectors: VectorIndex
    store: Store
    default_reranker: str | None = None  # the index's own re-ranker (manifest), used unless the caller says False
    exact_vectors: bool = False  # stored and query vectors are fp32 (not int8): a re-ranker's blend may reuse them


class RerankOptions(TypedDict, total=False):
    """The re-ranking arguments of every search call (``Index.search(..., rerank=DIR)``).

    ``rerank``: a cross-encoder folder or a loaded Reranker; None uses the index's default
    re-ranker if it records one; False never re-ranks. ``rerank_depth``: first-stage hits
    re-scored per query, at least k (default: the larger of k and 50).
    """

    rerank: str | Path | Reranker | bool | None
    rerank_depth: int | None
