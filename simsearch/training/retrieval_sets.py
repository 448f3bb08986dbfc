"""Retrieval test sets: queries, the documents to search and which documents answer which query.

Read from BEIR files (``read_beir``), or built from pair files: paraphrases found among all sentences
(``paraphrase_retrieval_set``), anchors finding their positives (``anchor_retrieval_set``). The long-text
set, planted in Wikipedia pages, is simsearch.training.longtext's. The metrics over a set are
simsearch.training.retrieval_metrics'.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from simsearch.errors import InputError
from simsearch.ingest.lines import decoded_lines
from simsearch.ingest.readers import read_rows
from simsearch.training.pairs import PairSet, read_pairs

PARAPHRASE_MIN_SCORE = 4.0  # on the 0-5 STS scale: "mostly equivalent" and above


@dataclass(frozen=True)
class RetrievalSet:
    """Queries, the documents to search and which documents answer which query."""

    corpus: dict[str, str]  # document id -> text
    queries: dict[str, str]  # query id -> text
    qrels: dict[str, dict[str, int]]
    exclude: dict[str, str]  # query id -> a document id never to count as its answer (the query itself)


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
