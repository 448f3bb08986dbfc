"""The query pipeline: validate -> encode -> candidates -> fetch -> rerank -> result, each stage timed.

Three modes choose the candidates stage. ``dense``: nearest vectors, scored by cosine
similarity in [-1, 1]. ``lexical``: BM25 over the store's FTS5 index, scored by BM25
(0 or more, unbounded, comparable only within one query); no encoding. ``hybrid``: both
lists, fused (z-scores by default, min-max scores or reciprocal rank; see ``Fusion``), scored by the fused score,
which only orders hits within one query.

The optional rerank stage re-scores the first ``rerank_depth`` hits (50, never fewer than k)
with a cross-encoder (simsearch.query.reranking) and keeps its k best: ``score`` becomes the
re-ranker's, comparable across queries, and ``first_score`` keeps the first stage's.

Every search goes through here (Index.search, search_batch and query, hence the
CLI, the UI and the benchmarks). Each stage is one small function with plain
inputs and outputs, so a new stage (lexical candidates, fusion, re-ranking) slots
in between two others without touching them.

Reads are lock-free: the caller passes the vector index of the generation it holds
now, and hits whose rows a concurrent writer has just deleted are dropped rather
than returned without a text.

Hits are documents. A long document has one vector per window (simsearch.ingest.chunking), so
dense candidates are windows, collapsed to their documents (each scored by its best
window, whose text becomes ``Hit.passage``) before anything else sees them.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypedDict, get_args

import numpy as np

from simsearch.errors import InvalidArgumentError, fix
from simsearch.numbers import is_whole_number
from simsearch.query.fusion import Fusion, fuse
from simsearch.query.reranking import RERANK_DEPTH, Reranker, choose_reranker
from simsearch.query.terms import QueryWords, query_words
from simsearch.store import Filters

if TYPE_CHECKING:
    from simsearch.encoders import Encoder
    from simsearch.store import Store
    from simsearch.vectors import VectorIndex


SearchMode = Literal["dense", "lexical", "hybrid"]
MODES: tuple[str, ...] = get_args(SearchMode)
# Chosen on cisi and the STS-B dev paraphrase set (README, "Search modes"): hybrid with score fusion wins both.
DEFAULT_MODE: SearchMode = "hybrid"


@dataclass(frozen=True)
class Hit:
    """One search result, best first. ``score`` depends on the mode: cosine similarity in [-1, 1]
    (dense), BM25 >= 0 (lexical) or the fused score (hybrid); higher is closer in each. Re-ranked,
    ``score`` is the re-ranker's and ``first_score`` the mode's (None when not re-ranked).

    ``passage``: for a document split into windows, the window that matched (an exact
    substring of ``text``, the part a re-ranker or a reader should look at first); None
    when the whole text was one vector or only the lexical list found the document."""

    id: str
    text: str
    score: float
    metadata: dict[str, Any] = field(default_factory=dict)
    passage: str | None = None
    first_score: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """The hit as JSON-ready data; ``passage`` and ``first_score`` only when set, so plain hits read as before."""
        data = asdict(self)
        for optional in ("passage", "first_score"):
            if data[optional] is None:
                del data[optional]
        return data


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
    rerank_ms: float = 0.0  # the cross-encoder's share; 0 when not re-ranked


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
    default_reranker: str | None = None  # the index's own re-ranker (manifest), used unless the caller says False
    exact_vectors: bool = False  # stored and query vectors are fp32 (not int8): a re-ranker's blend may reuse them


@dataclass(frozen=True)
class Candidates:
    """Row ids and scores per query, best first; -1 marks an empty slot (fewer than k found).

    ``spans`` (queries, slots, 2): the character span of the window that matched, -1 for a
    whole text; None when no candidate is a window.
    """

    scores: np.ndarray
    row_ids: np.ndarray
    spans: np.ndarray | None = None

    def first(self, k: int) -> Candidates:
        """The k best of each query."""
        return Candidates(self.scores[:, :k], self.row_ids[:, :k], None if self.spans is None else self.spans[:, :k])


class RerankOptions(TypedDict, total=False):
    """The re-ranking arguments of every search call (``Index.search(..., rerank=DIR)``).

    ``rerank``: a cross-encoder folder or a loaded Reranker; None uses the index's default
    re-ranker if it records one; False never re-ranks. ``rerank_depth``: first-stage hits
    re-scored per query, at least k (default: the larger of k and 50).
    """

    rerank: str | Path | Reranker | bool | None
    rerank_depth: int | None


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
    encode_ms = (time.perf_counter() - encoding) * 1000
    if query_vectors is not None and mode == "dense":
        hits, candidates_ms, fetch_ms = search_encoded(target.vectors, target.store, query_vectors, depth, filters)
    else:
        searching = time.perf_counter()
        if query_vectors is None:
            candidates = lexical_candidates(target.store, terms, depth, filters)
        else:
            candidates = hybrid_candidates(target, query_vectors, terms, depth, filters, fusion or Fusion())
        fetching = time.perf_counter()
        hits = [found[:depth] for found in fetch_hits(target.store, candidates)]
        candidates_ms, fetch_ms = (fetching - searching) * 1000, (time.perf_counter() - fetching) * 1000
    reranking = time.perf_counter()
    if reranker is not None:
        share_known_vectors(reranker, target, queries, query_vectors, hits)
        hits = rerank_hits(reranker, queries, hits, k)
    rerank_ms = (time.perf_counter() - reranking) * 1000
    if min_score is not None:
        hits = [[hit for hit in found if hit.score >= min_score] for found in hits]
    return SearchResult(
        hits, StageTimings(encode_ms, candidates_ms, fetch_ms, (time.perf_counter() - started) * 1000, rerank_ms)
    )


def rerank_hits(reranker: Reranker, queries: list[str], hits: list[list[Hit]], k: int) -> list[list[Hit]]:
    """Each query's candidates re-scored by the cross-encoder (one batched pass), the k best by its score.

    ``first_score`` keeps the first stage's score; ties keep the first stage's order.
    """
    firsts = [query for query, found in zip(queries, hits) for _ in found]
    # a long document is judged by the window that matched: the cross-encoder reads as few pieces as the encoder
    texts = [hit.passage or hit.text for found in hits for hit in found]
    scores = iter(reranker.pair_scores(firsts, texts).tolist())
    rescored = [[replace(hit, score=next(scores), first_score=hit.score) for hit in found] for found in hits]
    return [sorted(found, key=lambda hit: -hit.score)[:k] for found in rescored]


def share_known_vectors(
    reranker: Reranker,
    target: SearchTarget,
    queries: list[str],
    query_vectors: np.ndarray | None,
    hits: list[list[Hit]],
) -> None:
    """Give the re-ranker's blend the vectors this search already holds, when the blend's bi-encoder is the
    index's model: the queries' and the stored vectors of hits read whole, so none is encoded again.

    A document split into windows is read by its matched window and has no vector of its whole text,
    so it is left to the blend to encode; so are the hits of kinds that keep no vectors (IVF).
    """
    if (
        reranker.blend_fingerprint is None
        or target.encoder is None
        or not target.exact_vectors
        or reranker.blend_fingerprint != target.encoder.info.fingerprint
    ):
        return  # lexical mode on a fresh index has no model loaded; int8 vectors are not the blend's
    fingerprint = reranker.blend_fingerprint
    if query_vectors is not None:
        reranker.remember(queries, query_vectors, fingerprint)
    texts = {hit.id: hit.text for found in hits for hit in found if hit.passage is None}
    row_ids = target.store.row_ids_for(list(texts))
    split = {row_id for row_id, _, _ in target.store.passages_of(list(row_ids.values())).values()}
    whole = {id: row_id for id, row_id in row_ids.items() if row_id not in split}
    try:  # a row another process added after these vectors were loaded is not among them: encode instead
        vectors = target.vectors.reconstruct(np.array(list(whole.values()), dtype=np.int64)) if whole else None
    except RuntimeError:
        vectors = None
    if vectors is not None:
        reranker.remember([texts[id] for id in whole], vectors, fingerprint)


def check_rerank_depth(depth: int | None, k: int) -> int:
    """First-stage hits to re-rank: ``depth`` when it is a whole number >= k; by default the larger of k and 50."""
    if depth is None:
        return max(k, RERANK_DEPTH)
    if not is_whole_number(depth) or depth < k:
        raise InvalidArgumentError(
            f"the re-rank depth ({depth!r}) is below the number of hits asked for ({k}); {fix('rerank_depth')}."
        )
    return int(depth)


def search_encoded(
    vectors: VectorIndex, store: Store, query_vectors: np.ndarray, k: int, filters: Filters | None = None
) -> tuple[list[list[Hit]], float, float]:
    """Candidates, then their stored rows: k hits per query, plus the milliseconds of each stage.

    A row that a concurrent writer (another process) deleted after these vectors were
    loaded has a vector but no text; it is skipped, and the search goes deeper until k
    live hits are found or the index has no more, so a stale view never returns fewer.
    """
    candidates_ms = fetch_ms = 0.0
    depth: int | None = k
    while depth is not None:
        started = time.perf_counter()
        candidates = dense_candidates(vectors, store, query_vectors, depth, filters)
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


def check_mode(mode: str) -> SearchMode:
    if mode not in MODES:
        raise InvalidArgumentError(f"unknown search mode {mode!r}; valid: {', '.join(MODES)}.")
    return mode  # type: ignore[return-value]


def check_lexical(queries: list[str], terms: list[QueryWords]) -> None:
    """Refuse a lexical query with no words in it (only punctuation): nothing could match."""
    for query, words in zip(queries, terms):
        if not words.words:
            shown = query if len(query) <= 40 else query[:37] + "..."
            raise InvalidArgumentError(
                f"the query {shown!r} has no words to match lexically; type some words, or {fix('mode', 'dense')}."
            )


MAX_K = 2**63 - 1  # ids and counts are int64 throughout; a k above every document count returns them all


def check_min_score(min_score: float | None) -> float | None:
    if min_score is None:
        return None
    if isinstance(min_score, bool) or not isinstance(min_score, (int, float, np.number)) or math.isnan(min_score):
        raise InvalidArgumentError(f"the minimum score must be a number, not {min_score!r}.")
    return float(min_score)


def check_k(k: int) -> int:
    """``k`` as an int when it is a whole number from 1 to 2**63 - 1; larger than the index is fine (all hits)."""
    if not is_whole_number(k) or not 1 <= k <= MAX_K:
        shown = repr(k) if len(repr(k)) <= 40 else repr(k)[:37] + "..."
        raise InvalidArgumentError(
            f"k must be a whole number from 1 to 2**63 - 1 (got {shown}); "
            "a k above the number of documents returns them all."
        )
    return int(k)


def encode_queries(encoder: Encoder, queries: list[str]) -> np.ndarray:
    """Unit query vectors, one row per query, in the index's own vector space."""
    return encoder.encode(queries)


def dense_candidates(
    vectors: VectorIndex, store: Store, query_vectors: np.ndarray, k: int, filters: Filters | None = None
) -> Candidates:
    """The ``k`` best documents per query by their nearest vector (a long document's best window).

    Several windows of one document can fill the k nearest vectors; then the search goes
    deeper until k distinct documents are found or the index has no more vectors.
    """
    depth = k
    while True:
        windows = vector_candidates(vectors, store, query_vectors, depth, filters)
        documents = best_window_per_document(store, windows)
        found, full = (documents.row_ids >= 0).sum(axis=1), (windows.row_ids >= 0).sum(axis=1) >= depth
        if depth >= vectors.count or not np.any((found < k) & full):
            return documents.first(k)
        depth = min(2 * depth, vectors.count)


def vector_candidates(
    vectors: VectorIndex, store: Store, query_vectors: np.ndarray, k: int, filters: Filters | None = None
) -> Candidates:
    """The ``k`` nearest vectors per query vector (their vector ids), restricted to documents matching ``filters``.

    The store turns the filters into an allow list of vector ids, so a flat index returns
    exactly the best k among the matching documents (approximate kinds may return
    fewer than k when very few documents match).
    """
    allowed = store.matching_vector_ids(filters) if filters else None
    scores, vector_ids = vectors.search(query_vectors, k, allowed)
    return Candidates(scores, vector_ids)


def best_window_per_document(store: Store, windows: Candidates) -> Candidates:
    """Vector candidates as documents: each window's vector id becomes its row id, and a document
    found through several windows keeps only its best (first), with that window's span."""
    passages = store.passages_of(np.unique(windows.row_ids).tolist())
    if not passages:
        return windows  # no window of a long document among them: vector ids are row ids
    scores, row_ids, spans = [], [], []
    for query_scores, vector_ids in zip(windows.scores, windows.row_ids):
        best: dict[int, tuple[float, tuple[int, int]]] = {}
        for score, vector_id in zip(query_scores, vector_ids):
            row_id, start, end = passages.get(int(vector_id), (int(vector_id), -1, -1))
            if vector_id >= 0 and row_id not in best:
                best[row_id] = (float(score), (start, end))
        row_ids.append(np.array(list(best), dtype=np.int64))
        scores.append(np.array([score for score, _ in best.values()], dtype=np.float32))
        spans.append(np.array([span for _, span in best.values()], dtype=np.int64).reshape(-1, 2))
    return _padded(scores, row_ids, spans)


def fetch_hits(store: Store, candidates: Candidates) -> list[list[Hit]]:
    """Join candidate row ids to their stored texts and metadata, keeping the candidates' order."""
    documents = store.fetch([int(r) for r in np.unique(candidates.row_ids) if r >= 0])
    spans = candidates.spans if candidates.spans is not None else np.full((*candidates.row_ids.shape, 2), -1)
    results = []
    for scores, row_ids, query_spans in zip(candidates.scores, candidates.row_ids, spans):
        hits = [
            Hit(
                id=documents[int(r)].id,
                text=documents[int(r)].text,
                score=float(score),
                metadata=documents[int(r)].metadata,
                passage=documents[int(r)].text[start:end] if start >= 0 else None,
            )
            for score, r, (start, end) in zip(scores, row_ids, query_spans)
            if int(r) in documents
        ]
        results.append(hits)
    return results


def lexical_candidates(store: Store, terms: list[QueryWords], k: int, filters: Filters | None = None) -> Candidates:
    """The ``k`` best rows by BM25 over each query's words among those holding an informative one
    (none for a query without words)."""
    found = [store.lexical_candidates(words.words, k, filters, words.informative) for words in terms]
    return _padded([scores for scores, _ in found], [row_ids for _, row_ids in found])


def hybrid_candidates(
    target: SearchTarget,
    query_vectors: np.ndarray,
    terms: list[QueryWords],
    k: int,
    filters: Filters | None,
    fusion: Fusion,
) -> Candidates:
    """Dense and lexical candidates, ``fusion.depth`` (at least k) of each, fused into one list per query.

    A query without lexical terms fuses its dense list alone, so it ranks as in dense mode.
    Rows a concurrent writer deleted drop out when fetched; the fused lists run deeper than k.
    """
    depth = max(k, fusion.depth)
    dense = dense_candidates(
        target.vectors, target.store, query_vectors, min(depth, max(target.vectors.count, 1)), filters
    )
    lexical = lexical_candidates(target.store, terms, depth, filters)
    fused_scores, fused_rows, fused_spans = [], [], []
    for row in range(len(terms)):
        lists = [(c.row_ids[row][c.row_ids[row] >= 0], c.scores[row][c.row_ids[row] >= 0]) for c in (dense, lexical)]
        fused = fuse(lists, lexical_weighed(target.store, terms[row].informative, fusion))
        fused_rows.append(np.array([r for r, _ in fused], dtype=np.int64))
        fused_scores.append(np.array([score for _, score in fused], dtype=np.float32))
        if dense.spans is not None:  # a document keeps the window its dense candidate matched with
            matched = {int(r): tuple(span) for r, span in zip(dense.row_ids[row], dense.spans[row]) if r >= 0}
            fused_spans.append(np.array([matched.get(r, (-1, -1)) for r, _ in fused], dtype=np.int64).reshape(-1, 2))
    return _padded(fused_scores, fused_rows, fused_spans or None)


def lexical_weighed(store: Store, words: list[str], fusion: Fusion) -> Fusion:
    """``fusion`` with the lexical list weighed by the share of the query's words the corpus holds at all.

    On a small corpus most words of a query may be in no text; the lexical list then rests on
    the one or two that are, and (z-scored) would weigh as much as a list matching every word.
    A query of three words, one of them in the corpus, lets the lexical list count a third.
    """
    if not fusion.coverage or not words:
        return fusion
    share = len(store.known_terms(words)) / len(words)
    return replace(fusion, lexical_weight=fusion.lexical_weight * share)


def _padded(scores: list[np.ndarray], row_ids: list[np.ndarray], spans: list[np.ndarray] | None = None) -> Candidates:
    """Per-query lists of any lengths as Candidates (row id -1 and span -1 fill the short ones)."""
    width = max((len(ids) for ids in row_ids), default=0)
    all_scores = np.zeros((len(row_ids), width), dtype=np.float32)
    all_ids = np.full((len(row_ids), width), -1, dtype=np.int64)
    all_spans = np.full((len(row_ids), width, 2), -1, dtype=np.int64) if spans is not None else None
    for row, (values, ids) in enumerate(zip(scores, row_ids)):
        all_scores[row, : len(ids)], all_ids[row, : len(ids)] = values, ids
        if all_spans is not None:
            all_spans[row, : len(ids)] = spans[row]  # type: ignore[index]
    return Candidates(all_scores, all_ids, all_spans)
