"""Retrieval metrics of a model, an index or BM25 alone on a retrieval set (simsearch.training.retrieval_sets).

Every function returns ``dict[str, float]`` with figures on a 0-100 scale (nDCG@10 x100, ...), like the
pair metrics (simsearch.training.pair_metrics), so before/after tables read the same everywhere. Retrieval
with a model is exact brute-force search over unit vectors; with an index it is whatever the index's kind
returns, which is the point of evaluating an index.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from simsearch.errors import InputError, fix
from simsearch.query.checks import RERANK_DEPTH
from simsearch.training.retrieval_sets import RetrievalSet

if TYPE_CHECKING:
    from simsearch.encoders import Encoder
    from simsearch.index.index import Index
    from simsearch.ingest.chunking import Chunking
    from simsearch.query.checks import SearchMode
    from simsearch.query.fusion import Fusion
    from simsearch.query.pair_scoring import Reranker

Qrels = Mapping[str, Mapping[str, int]]  # query id -> {document id: relevance > 0}
RETRIEVAL_DEPTH = 100  # deepest cut-off reported (Recall@100, MAP@100)


def retrieval_metrics(encoder: Encoder, data: RetrievalSet, batch_size: int = 64) -> dict[str, float]:
    """nDCG@10, MRR@10, Recall@1/10/100 and MAP@100 (x100) by exact search with ``encoder``."""
    doc_ids = list(data.corpus)
    query_ids = [q for q in data.queries if q in data.qrels]
    doc_vectors = encoder.encode([data.corpus[d] for d in doc_ids], batch_size=batch_size)
    query_vectors = encoder.encode([data.queries[q] for q in query_ids], batch_size=batch_size)
    depth = min(RETRIEVAL_DEPTH + 1, len(doc_ids))  # one spare for the excluded self-match
    rankings: dict[str, list[str]] = {}
    for start in range(0, len(query_ids), 256):  # blocks keep the score matrix small
        scores = query_vectors[start : start + 256] @ doc_vectors.T
        top = np.argpartition(-scores, depth - 1, axis=1)[:, :depth]
        for row, candidates in enumerate(top):
            ordered = candidates[np.argsort(-scores[row, candidates], kind="stable")]
            rankings[query_ids[start + row]] = [doc_ids[i] for i in ordered]
    return ranking_metrics(rankings, {q: data.qrels[q] for q in query_ids}, data.exclude)


def index_retrieval_metrics(
    index: Index,
    data: RetrievalSet,
    batch_size: int = 64,
    mode: SearchMode = "dense",
    fusion: Fusion | None = None,
    rerank: str | Path | Reranker | None = None,
    rerank_depth: int | None = None,
) -> dict[str, float]:
    """The same figures, searching an existing index (its documents and its own model) in ``mode``.

    With ``rerank`` (a cross-encoder) the ranking is the re-ranked first ``rerank_depth`` hits
    (default 50), so Recall@100 and MAP@100 see at most that many.
    """
    query_ids = [q for q in data.queries if q in data.qrels]
    answers = sorted({doc for q in query_ids for doc in data.qrels[q]})
    missing = len(answers) - len(index.known_ids(answers))
    if missing:  # an answer the index cannot return would silently lower every figure
        raise InputError(
            f"index {index.name!r} lacks {missing} of the {len(answers)} documents the qrels name; "
            f"build it from the BEIR corpus with {fix('id_column_named', '_id')}."
        )
    k = min(RETRIEVAL_DEPTH + 1 if rerank is None else rerank_depth or RERANK_DEPTH, len(index))
    texts = [data.queries[q] for q in query_ids]
    if mode == "dense" and rerank is None:
        hits = index.search_vectors(index.encoder.encode(texts, batch_size=batch_size), k)
    else:
        hits = [
            found
            for start in range(0, len(texts), batch_size)
            for found in index.query(
                texts[start : start + batch_size],
                k,
                mode=mode,
                fusion=fusion,
                rerank=rerank or False,
                rerank_depth=rerank_depth,
            ).hits
        ]
    rankings = {q: [hit.id for hit in found] for q, found in zip(query_ids, hits)}
    return ranking_metrics(rankings, {q: data.qrels[q] for q in query_ids}, data.exclude)


def lexical_retrieval_metrics(data: RetrievalSet) -> dict[str, float]:
    """The same figures for BM25 alone, as lexical mode searches an index, with no model: the corpus goes
    into a temporary store for its FTS5 index, and nothing is encoded."""
    from simsearch.ingest.corpus import Document
    from simsearch.query.candidates import fetch_hits, lexical_candidates
    from simsearch.query.terms import query_words
    from simsearch.store import Store

    query_ids = [q for q in data.queries if q in data.qrels]
    with tempfile.TemporaryDirectory(prefix="simsearch-eval-") as home:
        store = Store(Path(home) / "store.sqlite")
        try:
            store.begin()
            store.insert([Document(text, doc_id) for doc_id, text in data.corpus.items()])
            store.commit()
            k = min(RETRIEVAL_DEPTH + 1, store.count())
            rankings = {
                q: [
                    hit.id for hit in fetch_hits(store, lexical_candidates(store, [query_words(data.queries[q])], k))[0]
                ]
                for q in query_ids
            }
        finally:
            store.close()
    return ranking_metrics(rankings, {q: data.qrels[q] for q in query_ids}, data.exclude)


def mode_retrieval_metrics(
    encoder: Encoder,
    data: RetrievalSet,
    mode: SearchMode = "dense",
    batch_size: int = 64,
    chunking: Chunking | None = None,
    rerank: str | Path | Reranker | None = None,
    rerank_depth: int | None = None,
) -> dict[str, float]:
    """``retrieval_metrics`` in any search mode, re-ranked or not, as an index would search: the corpus
    is built into a temporary flat (exact) index first, for the store's FTS5 index, for the windows of
    texts longer than the model reads (``chunking``: simsearch.ingest.chunking, on by default) and for the
    re-ranking stage."""
    from simsearch.index.index import Index

    with tempfile.TemporaryDirectory(prefix="simsearch-eval-") as home:
        rows = [{"id": doc_id, "text": text} for doc_id, text in data.corpus.items()]
        index = Index.build(
            "eval", rows, encoder=encoder, kind="flat", batch_size=batch_size, index_dir=home, chunking=chunking
        )
        try:
            return index_retrieval_metrics(index, data, batch_size, mode, rerank=rerank, rerank_depth=rerank_depth)
        finally:
            index.close()


def ranking_metrics(
    rankings: Mapping[str, Sequence[str]], qrels: Qrels, exclude: Mapping[str, str] | None = None
) -> dict[str, float]:
    """Average the per-query metrics over every query that has at least one relevant document.

    Gains are the qrels relevance values (linear, as in BEIR's nDCG); a query missing
    from ``rankings`` scores 0. Documents in ``exclude`` are dropped before cutting.
    """
    exclude = exclude or {}
    totals = dict.fromkeys(("ndcg@10", "mrr@10", "recall@1", "recall@10", "recall@100", "map@100"), 0.0)
    judged = [q for q, docs in qrels.items() if any(r > 0 for r in docs.values())]
    if not judged:
        raise InputError("no query has a relevant document in the qrels; check the qrels file and its ids.")
    for query in judged:
        relevance = {d: r for d, r in qrels[query].items() if r > 0}
        ranked = [d for d in rankings.get(query, []) if d != exclude.get(query)][:RETRIEVAL_DEPTH]
        for name, value in _query_metrics(ranked, relevance).items():
            totals[name] += value
    return {name: 100 * total / len(judged) for name, total in totals.items()}


def _query_metrics(ranked: Sequence[str], relevance: Mapping[str, int]) -> dict[str, float]:
    gains = [relevance.get(d, 0) for d in ranked]
    dcg = sum(g / math.log2(i + 2) for i, g in enumerate(gains[:10]))
    ideal = sum(g / math.log2(i + 2) for i, g in enumerate(sorted(relevance.values(), reverse=True)[:10]))
    first = next((i for i, g in enumerate(gains[:10]) if g > 0), None)
    hit_ranks = [i for i, g in enumerate(gains) if g > 0]
    precision_sum = sum((n + 1) / (i + 1) for n, i in enumerate(hit_ranks))
    return {
        "ndcg@10": dcg / ideal,
        "mrr@10": 0.0 if first is None else 1 / (first + 1),
        "recall@1": sum(g > 0 for g in gains[:1]) / len(relevance),
        "recall@10": sum(g > 0 for g in gains[:10]) / len(relevance),
        "recall@100": len(hit_ranks) / len(relevance),
        "map@100": precision_sum / len(relevance),
    }
