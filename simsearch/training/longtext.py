"""A long-text retrieval set made from shared data: paraphrases planted in runs of Wikipedia sentences.

Each document is a run of consecutive sentences from the start of one Wikipedia article,
of 300 to 1,100 words drawn at random (about 400 to 1,500 word pieces for all-MiniLM-L6-v2,
whose model reads 256). Into one document per query, at a random sentence boundary, goes the
first sentence of an STS-B pair scored 4 or more; the query is the pair's other sentence, and
that document is its only relevant one. The other documents are left as they are, so every
query searches past many long texts about other things. A sentence planted past the first
256 pieces is invisible to a model that cuts texts there, which is what this set measures;
``LongTextSet.past_cut`` lists them. Everything is drawn from ``seed``, so the set is the
same on every run.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import heapq
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from simsearch.errors import InputError
from simsearch.training.pairs import read_pairs
from simsearch.training.retrieval_sets import PARAPHRASE_MIN_SCORE, RetrievalSet

MIN_WORDS, MAX_WORDS = 300, 1100
CUT_WORDS = 190  # words before the 256-piece cut of all-MiniLM-L6-v2 (about 1.3 pieces per word here)


@dataclass(frozen=True)
class LongTextSet:
    """The retrieval set, and for each query how many words of its document come before the planted sentence."""

    data: RetrievalSet
    words_before: dict[str, int]

    @property
    def past_cut(self) -> list[str]:
        """Queries whose planted sentence starts after about the first 256 word pieces of its document."""
        return [query for query, words in self.words_before.items() if words > CUT_WORDS]


def longtext_retrieval_set(
    pairs: str | Path,
    sentences: str | Path,
    documents: int = 600,
    queries: int | None = None,
    seed: int = 0,
    min_score: float = PARAPHRASE_MIN_SCORE,
) -> LongTextSet:
    """Plant one sentence of each close pair (score >= ``min_score``, at most ``queries`` of them) in a document
    of its own among ``documents`` long ones made from ``sentences`` (the shared Wikipedia sentences file)."""
    rng = np.random.default_rng(seed)
    planted = _close_pairs(pairs, min_score, rng)[:queries]
    if documents < len(planted):
        raise InputError(
            f"{documents} documents cannot hold {len(planted)} planted sentences; "
            f"ask for at least {len(planted)} documents or fewer queries."
        )
    articles = _articles(Path(sentences), documents, seed)
    corpus: dict[str, str] = {}
    questions: dict[str, str] = {}
    qrels: dict[str, dict[str, int]] = {}
    words_before: dict[str, int] = {}
    for number, (page_id, article) in enumerate(articles):
        body = _leading_sentences(article, int(rng.integers(MIN_WORDS, MAX_WORDS + 1)))
        doc_id = f"w{page_id}"
        if number < len(planted):
            first, second = planted[number]
            where = int(rng.integers(0, len(body) + 1))
            query_id = f"q{number}"
            questions[query_id], qrels[query_id] = second, {doc_id: 1}
            words_before[query_id] = sum(len(sentence.split()) for sentence in body[:where])
            body = [*body[:where], first, *body[where:]]
        corpus[doc_id] = " ".join(body)
    return LongTextSet(RetrievalSet(corpus, questions, qrels, {}), words_before)


def write_beir(data: RetrievalSet, folder: str | Path) -> Path:
    """Write ``data`` as BEIR files (corpus.jsonl, queries.jsonl, qrels/test.tsv) into ``folder`` (new or empty)."""
    import json

    folder = Path(folder)
    if folder.exists() and any(folder.iterdir()):
        raise InputError(f"folder {str(folder)!r} is not empty; write the set into a new folder.")
    (folder / "qrels").mkdir(parents=True, exist_ok=True)
    with open(folder / "corpus.jsonl", "w", encoding="utf-8") as out:
        out.writelines(
            json.dumps({"_id": d, "title": "", "text": t}, ensure_ascii=False) + "\n" for d, t in data.corpus.items()
        )
    with open(folder / "queries.jsonl", "w", encoding="utf-8") as out:
        out.writelines(json.dumps({"_id": q, "text": t}, ensure_ascii=False) + "\n" for q, t in data.queries.items())
    with open(folder / "qrels" / "test.tsv", "w", encoding="utf-8") as out:
        out.write("query-id\tcorpus-id\tscore\n")
        out.writelines(f"{q}\t{d}\t{r}\n" for q, docs in data.qrels.items() for d, r in docs.items())
    return folder


def _close_pairs(path: str | Path, min_score: float, rng: np.random.Generator) -> list[tuple[str, str]]:
    """Pairs scored >= ``min_score`` (0-5), each sentence used once, in a seeded random order."""
    pairs = read_pairs(path)
    if pairs.format != "scored":
        raise InputError(f"{pairs.source} has no score column; the long-text set plants pairs scored 0-5.")
    seen: set[str] = set()
    close = []
    for first, second, target in zip(pairs.texts["sentence1"], pairs.texts["sentence2"], pairs.targets):
        if target >= min_score / 5 - 1e-9 and first != second and not {first, second} & seen:
            seen |= {first, second}
            close.append((first, second))
    if not close:
        raise InputError(f"no pair in {pairs.source} scores {min_score:g} or more; give STS-style scored pairs.")
    return [close[i] for i in rng.permutation(len(close))]


def _articles(path: Path, count: int, seed: int) -> list[tuple[str, list[str]]]:
    """``count`` articles of at least MIN_WORDS words, chosen by a seeded hash of their page id (so from the
    whole file, in one streaming pass), as (page id, sentences in text order), in that hash order."""
    if not path.is_file():
        raise InputError(
            f"sentences file {str(path)!r} does not exist; give ../shared/data/wikipedia_sentences/"
            "sentences.tsv.gz or a file like it (id, page_id, title, sentence; tab-separated)."
        )
    chosen: list[tuple[float, str, list[str]]] = []  # a heap of the smallest keys, negated

    def offer(page_id: str, sentences: list[str]) -> None:
        if sum(len(s.split()) for s in sentences) < MIN_WORDS:
            return
        key = int.from_bytes(hashlib.blake2b(f"{seed}:{page_id}".encode(), digest_size=8).digest(), "big")
        if len(chosen) < count:
            heapq.heappush(chosen, (-key, page_id, sentences))
        elif -key > chosen[0][0]:
            heapq.heapreplace(chosen, (-key, page_id, sentences))

    with gzip.open(path, "rt", encoding="utf-8", newline="") as handle:
        rows = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        next(rows, None)  # the header
        page: str | None = None
        sentences: list[str] = []
        for row in rows:
            if row[1] != page:
                if page is not None:
                    offer(page, sentences)
                page, sentences = row[1], []
            sentences.append(row[3])
        if page is not None:
            offer(page, sentences)
    if len(chosen) < count:
        raise InputError(f"{path.name} has only {len(chosen)} articles of {MIN_WORDS}+ words; ask for fewer documents.")
    return [(page_id, sentences) for _, page_id, sentences in sorted(chosen, reverse=True)]


def _leading_sentences(sentences: list[str], words: int) -> list[str]:
    """The article's first sentences, up to the one that brings the run to ``words`` words."""
    taken, total = [], 0
    for sentence in sentences:
        taken.append(sentence)
        total += len(sentence.split())
        if total >= words:
            break
    return taken
