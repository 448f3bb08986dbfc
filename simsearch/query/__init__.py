"""A query to hits: the checks, the candidate stages, fusion of dense and lexical lists, re-ranking.

The data flows through the modules in this order: ``checks`` (the arguments), ``candidates``
(dense, lexical or fused by ``fusion``; ``terms`` gives the query's words), ``rerank_stage``
(a cross-encoder from ``rerankers``, scoring pairs in ``pair_scoring`` and mixing in ``blend``),
all run by ``search.run_query``; ``results`` holds what comes back. The names below are the
ones the rest of simsearch uses; the modules import each other directly, never this package.
"""

from __future__ import annotations

from simsearch.query.checks import DEFAULT_MODE, MAX_K, MODES, SearchMode
from simsearch.query.fusion import Fusion
from simsearch.query.pair_scoring import Reranker
from simsearch.query.rerankers import check_cross_encoder, choose_reranker, is_cross_encoder, load_reranker
from simsearch.query.results import Hit, SearchResult, StageTimings
from simsearch.query.search import run_query, search_encoded
from simsearch.query.target import RerankOptions, SearchTarget

__all__ = [
    "DEFAULT_MODE",
    "MAX_K",
    "MODES",
    "Fusion",
    "Hit",
    "RerankOptions",
    "Reranker",
    "SearchMode",
    "SearchResult",
    "SearchTarget",
    "StageTimings",
    "check_cross_encoder",
    "choose_reranker",
    "is_cross_encoder",
    "load_reranker",
    "run_query",
    "search_encoded",
]
