"""The candidates stage: row ids and scores per query, best first, from the vectors, the lexical index or both.

Hits are documents. A long document has one vector per window (simsearch.ingest.chunking), so
dense candidates are windows, collapsed to their documents (each scored by its best window,
whose text becomes ``Hit.passage``) before anything else sees them.

Reads are lock-free: the caller passes the vector index of the generation it holds now, and
a row a concurrent writer (another process) deleted after these vectors were loaded has a
vector but no text. Such rows are dropped rather than returned without a text, and the dense
search goes deeper until each query has k live documents (``nearest_documents``).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np

from simsearch.query.fusion import Fusion, fuse
from simsearch.query.results import Hit
from simsearch.query.target import SearchTarget
from simsearch.query.terms import QueryWords
from simsearch.store import Filters

if TYPE_CHECKING:
    from simsearch.store import Store, StoredDocument
    from simsearch.vectors import VectorIndex


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


@dataclass(frozen=True)
class Found:
    """Candidates, the stored rows already read for them (a deleted row is absent), and the milliseconds
    that reading took, so the pipeline neither reads a row twice nor counts the read as candidate time."""

    candidates: Candidates
    rows: dict[int, StoredDocument] = field(default_factory=dict)
    fetch_ms: float = 0.0


def nearest_documents(
    vectors: VectorIndex, store: Store, query_vectors: np.ndarray, k: int, filters: Filters | None = None
) -> Found:
    """The best documents per query by their nearest vector (a long document's best window), at least k live
    ones where the index holds them, with their stored rows.

    One loop, one stop rule: search ``depth`` vectors (k at first), collapse windows to documents, read
    their rows; when a query has fewer than k live documents (several windows of one document, or rows
    deleted since these vectors were loaded) and its vector list came back full, so more may lie deeper,
    search twice as deep, up to every vector. Documents past the first k live ones are kept: hybrid
    fusion reads the first k whether live or not, and the hits skip the deleted ones.
    """
    total = vectors.count  # read once: a segmented index sums its delta's live rows each time
    allowed = store.matching_vector_ids(filters) if filters else None
    depth, fetch_ms = k, 0.0
    while True:
        windows = vector_candidates(vectors, query_vectors, depth, allowed)
        documents = best_window_per_document(store, windows)
        fetching = time.perf_counter()
        rows = store.fetch(_row_ids(documents))
        fetch_ms += (time.perf_counter() - fetching) * 1000
        if depth >= total or not _short(documents, rows, windows, depth, k).any():
            return Found(documents, rows, fetch_ms)
        depth = min(2 * depth, total)


def _short(documents: Candidates, rows: Mapping[int, object], windows: Candidates, depth: int, k: int) -> np.ndarray:
    """Per query: fewer than k live documents, though its ``depth`` vectors all came back (the index may hold more)."""
    full = (windows.row_ids >= 0).sum(axis=1) >= depth
    live = np.array([sum(row_id in rows for row_id in row_ids) for row_ids in documents.row_ids.tolist()])
    return full & (live < k)


def vector_candidates(
    vectors: VectorIndex, query_vectors: np.ndarray, k: int, allowed: np.ndarray | None = None
) -> Candidates:
    """The ``k`` nearest vectors per query vector (their vector ids), restricted to the ``allowed`` vector ids.

    The store turns the filters into that allow list, so a flat index returns exactly the best
    k among the matching documents (approximate kinds may return fewer than k when very few
    documents match).
    """
    scores, vector_ids = vectors.search(query_vectors, k, allowed)
    return Candidates(scores, vector_ids)


def best_window_per_document(store: Store, windows: Candidates) -> Candidates:
    """Vector candidates as documents: each window's vector id becomes its row id, and a document
    found through several windows keeps only its best (first), with that window's span."""
    passages = store.passages_of(np.unique(windows.row_ids).tolist())
    if not passages:
        return windows  # no window of a long document among them: vector ids are row ids
    scores, row_ids, spans = [], [], []
    for query_scores, vector_ids in zip(windows.scores.tolist(), windows.row_ids.tolist()):
        best: dict[int, tuple[float, tuple[int, int]]] = {}
        for score, vector_id in zip(query_scores, vector_ids):
            row_id, start, end = passages.get(vector_id, (vector_id, -1, -1))
            if vector_id >= 0 and row_id not in best:
                best[row_id] = (score, (start, end))
        row_ids.append(np.array(list(best), dtype=np.int64))
        scores.append(np.array([score for score, _ in best.values()], dtype=np.float32))
        spans.append(np.array([span for _, span in best.values()], dtype=np.int64).reshape(-1, 2))
    return _padded(scores, row_ids, spans)


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
) -> Found:
    """Dense and lexical candidates, ``fusion.depth`` (at least k) of each, fused into one list per query.

    A query without lexical terms fuses its dense list alone, so it ranks as in dense mode.
    Rows a concurrent writer deleted drop out when fetched; the fused lists run deeper than k.
    """
    depth = max(k, fusion.depth)
    dense_depth = min(depth, max(target.vectors.count, 1))
    nearest = nearest_documents(target.vectors, target.store, query_vectors, dense_depth, filters)
    dense = nearest.candidates.first(dense_depth)
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
    return Found(_padded(fused_scores, fused_rows, fused_spans or None), nearest.rows, nearest.fetch_ms)


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


def fetch_hits(
    store: Store, candidates: Candidates, fetched: Mapping[int, StoredDocument] | None = None, limit: int | None = None
) -> list[list[Hit]]:
    """Join candidate row ids to their stored texts and metadata, keeping the candidates' order, at most
    ``limit`` hits per query; rows already in ``fetched`` are not read again, rows no longer stored are skipped."""
    rows: Mapping[int, StoredDocument] = fetched or {}
    missing = [row_id for row_id in _row_ids(candidates) if row_id not in rows]
    if missing:
        rows = {**rows, **store.fetch(missing)}
    spans = candidates.spans.tolist() if candidates.spans is not None else None
    results = []
    for query, (scores, row_ids) in enumerate(zip(candidates.scores.tolist(), candidates.row_ids.tolist())):
        hits: list[Hit] = []
        for slot, (score, row_id) in enumerate(zip(scores, row_ids)):
            if len(hits) == limit:
                break
            document = rows.get(row_id)
            if document is None:
                continue  # an empty slot (-1), or a row deleted since these vectors were loaded
            start, end = spans[query][slot] if spans is not None else (-1, -1)
            passage = document.text[start:end] if start >= 0 else None
            hits.append(Hit(document.id, document.text, score, document.metadata, passage))
        results.append(hits)
    return results


def _row_ids(candidates: Candidates) -> list[int]:
    """The distinct row ids among the candidates, empty slots left out."""
    unique = np.unique(candidates.row_ids)
    return unique[unique >= 0].tolist()


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
