"""The query pipeline: check -> encode -> candidates -> fetch -> rerank -> result, each stage timed.

Three modes choose the candidates stage. ``dense``: nearest vectors, scored by cosine
similarity in [-1, 1]. ``lexical``: BM25 over the store's FTS5 index, scored by BM25
(0 or more, unbounded, comparable only within one query); no encoding. ``hybrid``: both
lists, fused (z-scores by default, min-max scores or reciprocal rank; see ``Fusion``), scored by the fused score,
which only orders hits within one query.

The optional rerank stage re-scores the first ``rerank_depth`` hits (50, never fewer than k)
with a cross-encoder (simsearch.query.rerank_stage) and keeps its k best: ``score`` becomes the
re-ranker's, comparable across queries, and ``first_score`` keeps the first stage's.

Every search goes through here (Index.search, search_batch and query, hence the
CLI, the UI and the benchmarks). Each stage is one small function with plain inputs and
outputs in a module of its own (checks, candidates, fusion, rerank_stage), so a new stage
slots in between two others without touching them.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from simsearch.query.candidates import Found, fetch_hits, hybrid_candidates, lexical_candidates, nearest_documents
from simsearch.query.checks import (
    DEFAULT_MODE,
    SearchMode,
    check_k,
    check_lexical,
    check_min_score,
    check_mode,
    check_rerank_depth,
    validate_queries,
)
from simsearch.query.fusion import Fusion
from simsearch.query.pair_scoring import Reranker
from simsearch.query.rerank_stage import reranked_hits
from simsearch.query.rerankers import choose_reranker
from simsearch.query.results import Hit, SearchResult, StageTimings
from simsearch.query.target import SearchTarget
from simsearch.query.terms import query_words
from simsearch.store import Filters

if TYPE_CHECKING:
    from simsearch.encoders import Encoder
    from simsearch.store import Store
    from simsearch.vectors import VectorIndex


def run_query(
    target: SearchTarget,
    queries: Sequence[str],
    k: int = 10,
    filters: Filters | None = None,
    mode: SearchMode = DEFAULT_MODE,
    fusion: Fusion | None = None,
    min_score: float | None = None,
    rerank: str | Path | Reranker | bool | None = None,
    rerank_depth: int | None = None,
) -> SearchResult:
    """Run every stage for a batch of queries and time each one.

    ``min_score`` drops hits scoring below it after ranking, so a query may get fewer
    than k; it compares with the final score (the re-ranker's when re-ranked, the fused score in hybrid mode).
    ``rerank``/``rerank_depth``: see RerankOptions.
    """
    started = time.perf_counter()
    queries, k, mode = validate_queries(queries), check_k(k), check_mode(mode)
    min_score = check_min_score(min_score)
    reranker = choose_reranker(rerank, target.default_reranker)
    depth = check_rerank_depth(rerank_depth, k) if reranker is not None else k
    terms = [query_words(query) for query in queries] if mode != "dense" else []
    if mode == "lexical":
        check_lexical(queries, terms)
    encoding = time.perf_counter()
    query_vectors = encode_queries(target.encoder, queries) if mode != "lexical" else None
    searching = time.perf_counter()
    if query_vectors is None:
        found = Found(lexical_candidates(target.store, terms, depth, filters))
    elif mode == "dense":
        found = nearest_documents(target.vectors, target.store, query_vectors, depth, filters)
    else:
        found = hybrid_candidates(target, query_vectors, terms, depth, filters, fusion or Fusion())
    fetching = time.perf_counter()
    hits = fetch_hits(target.store, found.candidates, found.rows, depth)
    reranking = time.perf_counter()
    if reranker is not None:
        hits = reranked_hits(reranker, target, queries, query_vectors, hits, k)
    done = time.perf_counter()
    if min_score is not None:
        hits = [[hit for hit in found if hit.score >= min_score] for found in hits]
    timings = StageTimings(
        encode_ms=(searching - encoding) * 1000,
        candidates_ms=(fetching - searching) * 1000 - found.fetch_ms,
        fetch_ms=(reranking - fetching) * 1000 + found.fetch_ms,
        total_ms=(time.perf_counter() - started) * 1000,
        rerank_ms=(done - reranking) * 1000,
    )
    return SearchResult(hits, timings)


def search_encoded(
    vectors: VectorIndex, store: Store, query_vectors: np.ndarray, k: int, filters: Filters | None = None
) -> tuple[list[list[Hit]], float, float]:
    """The dense path for vectors already encoded: k hits per query, plus the milliseconds of the candidates
    and the fetch stages.

    A row that a concurrent writer (another process) deleted after these vectors were
    loaded is skipped, and the search goes deeper until k live hits are found or the index
    has no more (``nearest_documents``), so a stale view never returns fewer.
    """
    searching = time.perf_counter()
    found = nearest_documents(vectors, store, query_vectors, k, filters)
    fetching = time.perf_counter()
    hits = fetch_hits(store, found.candidates, found.rows, k)
    fetch_ms = (time.perf_counter() - fetching) * 1000 + found.fetch_ms
    return hits, (fetching - searching) * 1000 - found.fetch_ms, fetch_ms


def encode_queries(encoder: Encoder, queries: list[str]) -> np.ndarray:
    """Unit query vectors, one row per query, in the index's own vector space."""
    return encoder.encode(queries)
