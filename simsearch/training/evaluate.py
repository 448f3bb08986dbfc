"""Measure a model (or an index) before trusting it: STS correlation and retrieval metrics.

Every function returns ``dict[str, float]`` with figures on a 0-100 scale (Spearman x100,
nDCG@10 x100, ...), so before/after tables read the same everywhere. Retrieval with a
model is exact brute-force search over unit vectors; with an index it is whatever the
index's kind returns, which is the point of evaluating an index.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from simsearch.errors import InputError, fix
from simsearch.ingest.corpus import decoded_lines, read_rows
from simsearch.query.checks import RERANK_DEPTH
from simsearch.training.pairs import PairSet, read_pairs

if TYPE_CHECKING:
    from simsearch.encoders import Encoder
    from simsearch.index.index import Index
    from simsearch.ingest.chunking import Chunking
    from simsearch.query.checks import SearchMode
    from simsearch.query.fusion import Fusion
    from simsearch.query.pair_scoring import Reranker

Qrels = Mapping[str, Mapping[str, int]]  # query id -> {document id: relevance > 0}
RETRIEVAL_DEPTH = 100  # deepest cut-off reported (Recall@100, MAP@100)
PARAPHRASE_MIN_SCORE = 4.0  # on the 0-5 STS scale: "mostly equivalent" and above


@dataclass(frozen=True)
class RetrievalSet:
    """Queries, the documents to search and which documents answer which query."""

    corpus: dict[str, str]  # document id -> text
    queries: dict[str, str]  # query id -> text
    qrels: dict[str, dict[str, int]]
    exclude: dict[str, str]  # query id -> a document id never to count as its answer (the query itself)


# --- STS and pair files ------------------------------------------------------------------
def sts_metrics(encoder: Encoder, pairs: PairSet, batch_size: int = 64) -> dict[str, float]:
    """Spearman and Pearson correlation (x100) between cosine similarity and the gold scores."""
    if pairs.format != "scored":
        raise InputError(f"{pairs.source} has no score column; STS evaluation needs sentence1,sentence2,score.")
    return correlation_metrics(pair_cosines(encoder, pairs, batch_size), pairs)


def correlation_metrics(scores: Sequence[float] | np.ndarray, pairs: PairSet) -> dict[str, float]:
    """Spearman and Pearson (x100) of any pair scores (cosines, a cross-encoder's) against the gold scores."""
    from scipy.stats import pearsonr, spearmanr

    gold = np.asarray(pairs.targets, dtype=np.float64)
    if np.ptp(gold) == 0:
        raise InputError(f"{pairs.source}: every score is the same, so no correlation can be measured.")
    return {
        "spearman": 100 * float(spearmanr(scores, gold).statistic),
        "pearson": 100 * float(pearsonr(scores, gold).statistic),
    }


def pair_metrics(encoder: Encoder, pairs: PairSet, batch_size: int = 64) -> dict[str, float]:
    """The natural figures for any pair file; the first key is the one training selects on.

    scored -> Spearman/Pearson; labelled -> average precision of ranking the similar
    pairs first by cosine; triplets -> MRR@10 of finding each anchor's positive.
    """
    if pairs.format in ("scored", "labelled"):
        return pair_score_metrics(pair_cosines(encoder, pairs, batch_size), pairs)
    return retrieval_metrics(encoder, anchor_retrieval_set(pairs), batch_size)


def pair_score_metrics(scores: Sequence[float] | np.ndarray, pairs: PairSet) -> dict[str, float]:
    """Any pair scores against the gold: correlations for scored pairs, average precision for labelled ones."""
    if pairs.format == "scored":
        return correlation_metrics(scores, pairs)
    return {"average_precision": 100 * average_precision(scores, pairs.targets)}


def average_precision(scores: Sequence[float] | np.ndarray, labels: Sequence[float]) -> float:
    """Mean precision at each similar (label 1) pair when pairs are sorted by score, best first (0-1)."""
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    relevant = np.asarray(labels, dtype=np.float64)[order] == 1
    if not relevant.any():
        raise InputError("no pair is labelled 1, so average precision is undefined; add similar pairs.")
    hits = np.cumsum(relevant)
    return float(np.mean(hits[relevant] / (np.flatnonzero(relevant) + 1)))


def pair_cosines(encoder: Encoder, pairs: PairSet, batch_size: int = 64) -> np.ndarray:
    """Cosine similarity of each sentence1 with its sentence2, in order."""
    first, second = (pairs.texts[c] for c in ("sentence1", "sentence2"))
    unique = list(dict.fromkeys(first + second))  # STS files repeat sentences; encode each once
    vectors = encoder.encode(unique, batch_size=batch_size)
    row = {text: i for i, text in enumerate(unique)}
    a = vectors[[row[t] for t in first]]
    b = vectors[[row[t] for t in second]]
    return (a * b).sum(axis=1, dtype=np.float64)


# --- retrieval ---------------------------------------------------------------------------
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
    from simsearch.store.store import Store

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


# --- building retrieval sets -------------------------------------------------------------
def read_beir(corpus: str | Path, queries: str | Path, qrels: str | Path) -> RetrievalSet:
    """BEIR files: corpus.jsonl (_id, title, text), queries.jsonl (_id, text), qrels .tsv with a header.

    A document's title, when present, is put before its text, as BEIR does.
    """
    documents = {
        str(row["_id"]): " ".join(filter(None, (row.get("title"), row.get("text")))) for row in _beir_rows(corpus)
    }
    questions = {str(row["_id"]): str(row.get("text") or "") for row in _beir_rows(queries)}
    judgements = _read_qrels(Path(qrels))
    unknown = {d for docs in judgements.values() for d in docs} - documents.keys()
    if unknown and len(unknown) == len({d for docs in judgements.values() for d in docs}):
        raise InputError(
            f"no document id in {Path(qrels).name} is in {Path(corpus).name}; "
            "the qrels and the corpus do not belong together."
        )
    return RetrievalSet(documents, questions, judgements, {})


def paraphrase_retrieval_set(files: Sequence[str | Path], min_score: float = PARAPHRASE_MIN_SCORE) -> RetrievalSet:
    """Retrieval built from STS-style pairs: find each sentence's paraphrase among all sentences.

    Queries are the sentence1 of pairs scored >= ``min_score`` (0-5 scale; label 1 for
    labelled files), relevant documents their sentence2, and the corpus every distinct
    sentence of the files. A query's own text never counts as its answer.
    """
    if not files:
        raise InputError("give at least one pair file to build paraphrase retrieval from.")
    all_pairs = [read_pairs(path) for path in files]
    texts: dict[str, str] = {}  # text -> id: identical sentences are one document
    for pairs in all_pairs:
        if pairs.format == "triplets":
            raise InputError(f"{pairs.source} is anchor/positive data; paraphrase retrieval needs sentence pairs.")
        for text in pairs.texts["sentence1"] + pairs.texts["sentence2"]:
            texts.setdefault(text, f"d{len(texts)}")
    qrels: dict[str, dict[str, int]] = {}
    for pairs in all_pairs:
        threshold = 1.0 if pairs.format == "labelled" else min_score / 5
        for first, second, target in zip(pairs.texts["sentence1"], pairs.texts["sentence2"], pairs.targets):
            if target >= threshold - 1e-9 and first != second:
                qrels.setdefault(texts[first], {})[texts[second]] = 1
    if not qrels:
        raise InputError(
            f"no pair scores {min_score:g} or more (or is labelled 1); paraphrase retrieval needs some close pairs."
        )
    corpus = {doc_id: text for text, doc_id in texts.items()}
    queries = {doc_id: corpus[doc_id] for doc_id in qrels}
    return RetrievalSet(corpus, queries, qrels, exclude={doc_id: doc_id for doc_id in qrels})


def anchor_retrieval_set(pairs: PairSet) -> RetrievalSet:
    """Anchor/positive rows as retrieval: each anchor must find its positive among all positives and negatives."""
    texts: dict[str, str] = {}
    for column in ("positive", "negative"):
        for text in pairs.texts.get(column, []):
            texts.setdefault(text, f"d{len(texts)}")
    queries: dict[str, str] = {}
    qrels: dict[str, dict[str, int]] = {}
    for number, (anchor, positive) in enumerate(zip(pairs.texts["anchor"], pairs.texts["positive"])):
        queries[f"q{number}"] = anchor
        qrels[f"q{number}"] = {texts[positive]: 1}
    exclude = {q: texts[anchor] for q, anchor in queries.items() if anchor in texts}
    return RetrievalSet({d: t for t, d in texts.items()}, queries, qrels, exclude)


def _beir_rows(path: str | Path) -> list[dict]:
    """The rows of a BEIR corpus or queries file (jsonl), each checked for its ``_id``."""
    path = Path(path)
    if path.suffix.lower() != ".jsonl":
        raise InputError(f"{path.name} is not .jsonl; BEIR corpus and queries files are JSON lines.")
    rows = read_rows(path)
    for number, row in enumerate(rows, start=1):
        if "_id" not in row:
            raise InputError(f"{path.name} row {number} has no _id; BEIR files need _id on every line.")
    if not rows:
        raise InputError(f"{path.name} is empty; give a BEIR jsonl file.")
    return rows


def _read_qrels(path: Path) -> dict[str, dict[str, int]]:
    if not path.is_file():
        raise InputError(f"qrels file {str(path)!r} does not exist; check the path.")
    qrels: dict[str, dict[str, int]] = {}
    for number, line in enumerate(decoded_lines(path), start=1):
        fields = line.rstrip("\n").split("\t")
        if number == 1 and not fields[-1].lstrip("-").isdigit():
            continue  # the header: query-id, corpus-id, score
        if not line.strip():
            continue
        if len(fields) != 3 or not fields[2].strip().lstrip("-").isdigit():
            raise InputError(f"{path.name} line {number} is not 'query-id<TAB>corpus-id<TAB>score'; fix that line.")
        qrels.setdefault(fields[0].strip(), {})[fields[1].strip()] = int(fields[2])
    if not qrels:
        raise InputError(f"{path.name} holds no judgements; give a BEIR qrels .tsv file.")
    return qrels
