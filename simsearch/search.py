"""The query pipeline: validate -> encode -> candidates -> fetch -> result, each stage timed.

Every search goes through here (Index.search, search_batch and query, hence the
CLI, the UI and the benchmarks). Each stage is one small function with plain
inputs and outputs, so a new stage (lexical candidates, fusion, re-ranking) slots
in between two others without touching them.

Reads are lock-free: the caller passes the vector index of the generation it holds
now, and hits whose rows a concurrent writer has just deleted are dropped rather
than returned without a text.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from simsearch.errors import InvalidArgumentError
from simsearch.filters import Filters

if TYPE_CHECKING:
    from simsearch.backends import VectorIndex
    from simsearch.encoders import Encoder
    from simsearch.store import Store


@dataclass(frozen=True)
class Hit:
    """One search result. ``score`` is the cosine similarity in [-1, 1], higher is closer."""

    id: str
    text: str
    score: float
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class StageTimings:
    """Wall-clock milliseconds per stage; ``total_ms`` spans the whole query, validation included.

    The split tells a user what to change: a slow encode wants a smaller model or the
    ONNX backend; slow candidates want another index kind (or a narrower filter).
    """

    encode_ms: float
    candidates_ms: float
    fetch_ms: float
    total_ms: float


@dataclass(frozen=True)
class SearchResult:
    """One list of hits per query, best first, and where the time went."""

    hits: list[list[Hit]]
    timings: StageTimings


@dataclass(frozen=True)
class SearchTarget:
    """The parts of one index a query reads: its encoder, the vectors of one generation, its store."""

    encoder: Encoder
    vectors: VectorIndex
    store: Store


@dataclass(frozen=True)
class Candidates:
    """Row ids and scores per query, best first; -1 marks an empty slot (fewer than k found)."""

    scores: np.ndarray
    row_ids: np.ndarray


def run_query(target: SearchTarget, queries: Sequence[str], k: int = 10,
              filters: Filters | None = None) -> SearchResult:
    """Run every stage for a batch of queries and time each one."""
    started = time.perf_counter()
    queries, k = validate_queries(queries), check_k(k)
    encoding = time.perf_counter()
    query_vectors = encode_queries(target.encoder, queries)
    encode_ms = (time.perf_counter() - encoding) * 1000
    hits, candidates_ms, fetch_ms = search_encoded(target.vectors, target.store, query_vectors, k, filters)
    return SearchResult(hits, StageTimings(encode_ms, candidates_ms, fetch_ms, (time.perf_counter() - started) * 1000))


def search_encoded(vectors: VectorIndex, store: Store, query_vectors: np.ndarray, k: int,
                   filters: Filters | None = None) -> tuple[list[list[Hit]], float, float]:
    """Candidates, then their stored rows: k hits per query, plus the milliseconds of each stage.

    A row that a concurrent writer (another process) deleted after these vectors were
    loaded has a vector but no text; it is skipped, and the search goes deeper until k
    live hits are found or the index has no more, so a stale view never returns fewer.
    """
    candidates_ms = fetch_ms = 0.0
    depth: int | None = k
    while depth is not None:
        started = time.perf_counter()
        candidates = vector_candidates(vectors, store, query_vectors, depth, filters)
        fetching = time.perf_counter()
        hits = fetch_hits(store, candidates)
        candidates_ms += (fetching - started) * 1000
        fetch_ms += (time.perf_counter() - fetching) * 1000
        depth = _deeper(candidates, hits, k, depth, vectors.count)
    return [query_hits[:k] for query_hits in hits], candidates_ms, fetch_ms


def _deeper(candidates: Candidates, hits: list[list[Hit]], k: int, depth: int, total: int) -> int | None:
    """The next search depth when a query came back short of k only because rows had vanished, else None."""
    filled = (candidates.row_ids >= 0).sum(axis=1) >= depth  # a full list: the index may hold more
    if depth >= total or not any(len(found) < k and full for found, full in zip(hits, filled)):
        return None
    return min(2 * depth, total)


def validate_queries(queries: Sequence[str]) -> list[str]:
    """Refuse a bare string (it would search each character) and any empty query."""
    if isinstance(queries, str):
        raise InvalidArgumentError("queries must be a list of strings; wrap a single query in a list.")
    return [check_query(query) for query in queries]


def check_query(query: str) -> str:
    if not isinstance(query, str) or not query.strip():
        raise InvalidArgumentError("the query is empty; type some words to search for.")
    return query


MAX_K = 2**63 - 1  # ids and counts are int64 throughout; a k above every document count returns them all


def check_k(k: int) -> int:
    """``k`` as an int when it is a whole number from 1 to 2**63 - 1; larger than the index is fine (all hits)."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= MAX_K:
        shown = repr(k) if len(repr(k)) <= 40 else repr(k)[:37] + "..."
        raise InvalidArgumentError(f"k must be a whole number from 1 to 2**63 - 1 (got {shown}); "
                                   "a k above the number of documents returns them all.")
    return int(k)


def encode_queries(encoder: Encoder, queries: list[str]) -> np.ndarray:
    """Unit query vectors, one row per query, in the index's own vector space."""
    return encoder.encode(queries)


def vector_candidates(vectors: VectorIndex, store: Store, query_vectors: np.ndarray, k: int,
                      filters: Filters | None = None) -> Candidates:
    """The ``k`` nearest rows per query vector, restricted to the rows matching ``filters``.

    The store turns the filters into an allow list of row ids, so a flat index returns
    exactly the best k among the matching documents (approximate kinds may return
    fewer than k when very few documents match).
    """
    allowed = store.matching_row_ids(filters) if filters else None
    scores, row_ids = vectors.search(query_vectors, k, allowed)
    return Candidates(scores, row_ids)


def fetch_hits(store: Store, candidates: Candidates) -> list[list[Hit]]:
    """Join candidate row ids to their stored texts and metadata, keeping the candidates' order."""
    documents = store.fetch([int(r) for r in np.unique(candidates.row_ids) if r >= 0])
    results = []
    for scores, row_ids in zip(candidates.scores, candidates.row_ids):
        hits = [Hit(id=documents[int(r)].id, text=documents[int(r)].text, score=float(score),
                    metadata=documents[int(r)].metadata)
                for score, r in zip(scores, row_ids) if int(r) in documents]
        results.append(hits)
    return results
