"""Search modes compared: dense, lexical (BM25 over FTS5) and hybrid, beside the plain stack, in one run.

Quality on cisi (BEIR), the STS-B dev paraphrase set and the long-text set (simsearch/training/longtext.py:
STS-B dev sentences planted in long Wikipedia documents) (nDCG@10, MRR@10, Recall@1/10, x100),
each mode searching one flat index of the corpus (long texts split into windows, the default);
the plain stack is sentence-transformers'
``encode`` + a ``faiss.IndexFlatIP`` over the same vectors. Query latency p50/p99 per mode on
an index of 10k wikipedia sentences, the plain stack beside it. ``--tokenizers`` adds BM25
alone under each FTS5 tokenizer (what chose the store's ``LEXICAL_TOKENIZER``). ``--rerank DIR``
adds "hybrid + re-rank" rows (quality and latency, first 50 hybrid hits re-scored by that
cross-encoder) and the re-rank stage alone: p50/p99 of re-scoring 50 candidates.

    python benchmarks/ranking.py [--tokenizers] [--rerank DIR] [--sets cisi,stsb,long] [--no-latency] [--json-out F]
    python benchmarks/ranking.py --smoke    # a tiny random BERT on synthetic data, in seconds

Run the full benchmark under `flock /tmp/simsearch-heavy.lock` (it encodes ~15k texts on CPU).
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import os
import platform
import sqlite3
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # this checkout's simsearch, not an installed one
sys.path.insert(0, str(REPO / "benchmarks"))
DATA = REPO.parent / "shared" / "data"
METRICS = ("ndcg@10", "mrr@10", "recall@1", "recall@10")
MODES = ("dense", "lexical", "hybrid")
TOKENIZERS = ("unicode61", "unicode61 remove_diacritics 2", "trigram", "porter unicode61 remove_diacritics 2")


def quality_rows(name: str, data, encoder, plain_model, home: Path, rerank: str | None = None) -> list[dict]:
    """One row per mode (and hybrid + re-rank with ``rerank``) plus the plain stack, over one corpus and its vectors."""
    from simsearch import Index
    from simsearch.training.retrieval_metrics import RETRIEVAL_DEPTH, index_retrieval_metrics, ranking_metrics

    index = Index.build(
        name, [{"id": d, "text": t} for d, t in data.corpus.items()], encoder=encoder, kind="flat", index_dir=home
    )
    rows = [
        {"set": name, "system": f"simsearch {mode}", **pick(index_retrieval_metrics(index, data, 64, mode))}
        for mode in MODES
    ]
    if rerank is not None:
        metrics = index_retrieval_metrics(index, data, 16, "hybrid", rerank=rerank)
        rows.append({"set": name, "system": "simsearch hybrid + re-rank", **pick(metrics)})
    import faiss

    doc_ids = list(data.corpus)
    flat = faiss.IndexFlatIP(encoder.dimension)  # the plain stack encodes texts itself, cut at the model's limit
    flat.add(
        plain_model.encode(
            [data.corpus[d] for d in doc_ids], normalize_embeddings=True, convert_to_numpy=True, batch_size=32
        )
    )
    query_ids = [q for q in data.queries if q in data.qrels]
    vectors = plain_model.encode(
        [data.queries[q] for q in query_ids], normalize_embeddings=True, convert_to_numpy=True, batch_size=32
    )
    _, found = flat.search(vectors, min(RETRIEVAL_DEPTH + 1, len(doc_ids)))
    rankings = {q: [doc_ids[i] for i in row if i >= 0] for q, row in zip(query_ids, found)}
    plain = ranking_metrics(rankings, {q: data.qrels[q] for q in query_ids}, data.exclude)
    index.close()
    return [{"set": name, "system": "plain stack (ST + IndexFlatIP)", **pick(plain)}, *rows]


def latency_rows(
    texts: list[str], queries: list[str], encoder, plain_model, home: Path, rerank: str | None = None
) -> list[dict]:
    """p50/p99 of one query at a time, k=10, per mode (and hybrid + re-rank) and for the plain stack."""
    import faiss
    from measure import time_queries

    from simsearch import Index

    index = Index.build("latency", texts, encoder=encoder, kind="flat", index_dir=home)
    flat = faiss.IndexFlatIP(encoder.dimension)
    flat.add(index.vectors([str(i) for i in range(1, len(texts) + 1)]))

    def plain(query: str) -> list[str]:
        vector = plain_model.encode([query], normalize_embeddings=True, convert_to_numpy=True)
        return [texts[i] for i in flat.search(vector, 10)[1][0]]

    rows = [{"system": "plain stack (ST + IndexFlatIP)", **time_queries(plain, queries)}]
    for mode in MODES:
        rows.append(
            {"system": f"simsearch {mode}", **time_queries(lambda q, m=mode: index.search(q, 10, mode=m), queries)}
        )
    if rerank is not None:
        from measure import latency_summary

        stage: list[float] = []

        def reranked(query: str) -> None:
            stage.append(index.query([query], 10, mode="hybrid", rerank=rerank).timings.rerank_ms / 1000)

        rows.append({"system": "simsearch hybrid + re-rank", **time_queries(reranked, queries)})
        rows.append({"system": "re-rank stage alone (50 candidates)", **latency_summary(stage[1:])})
    index.close()
    return [{"documents": len(texts), **row} for row in rows]


def tokenizer_rows(name: str, data) -> list[dict]:
    """BM25 alone under each FTS5 tokenizer, every query word quoted and OR-ed as the store scores them."""
    from simsearch.query.terms import query_words
    from simsearch.training.retrieval_metrics import ranking_metrics

    rows = []
    doc_ids = list(data.corpus)
    for tokenizer in TOKENIZERS:
        db = sqlite3.connect(":memory:")
        db.execute(f"CREATE VIRTUAL TABLE f USING fts5(text, tokenize='{tokenizer}')")
        db.executemany(
            "INSERT INTO f (rowid, text) VALUES (?, ?)", [(i, data.corpus[d]) for i, d in enumerate(doc_ids)]
        )
        rankings = {}
        for q in (q for q in data.queries if q in data.qrels):
            match = " OR ".join(f'"{t}"' for t in query_words(data.queries[q]).words)
            found = db.execute("SELECT rowid FROM f WHERE f MATCH ? ORDER BY bm25(f) LIMIT 101", (match,)).fetchall()
            rankings[q] = [doc_ids[r[0]] for r in found]
        rows.append({"set": name, "tokenizer": tokenizer, **pick(ranking_metrics(rankings, data.qrels, data.exclude))})
        db.close()
    return rows


def pick(metrics: dict[str, float]) -> dict[str, float]:
    return {name: round(metrics[name], 2) for name in METRICS}


def wiki_sentences(count: int, skip: int = 0) -> list[str]:
    """``count`` sentences spread evenly over the file, starting ``skip`` rows into each step (queries: skip 1)."""
    with gzip.open(DATA / "wikipedia_sentences" / "sentences.tsv.gz", "rt", encoding="utf-8") as handle:
        rows = [line.rstrip("\n").split("\t", 3)[3] for line in list(handle)[1:]]
    step = max(1, len(rows) // count)
    return rows[skip::step][:count]


def smoke_data(folder: Path):
    """Synthetic topic pairs (paraphrase set) and sentences for the latency rows."""
    from simsearch.testing import write_scored
    from simsearch.training.retrieval_sets import paraphrase_retrieval_set

    pairs = paraphrase_retrieval_set([write_scored(folder / "dev.csv", 40, seed=2)])
    texts = [f"sentence {n} about topic {n % 9} and word{n % 13}" for n in range(300)]
    return {"synthetic-pairs": pairs}, texts, [f"topic {n} word{n}" for n in range(30)]


def table(report: dict) -> str:
    lines = ["| set | system | nDCG@10 | MRR@10 | R@1 | R@10 |", "|---|---|---:|---:|---:|---:|"]
    lines += [
        f"| {r['set']} | {r['system']} | " + " | ".join(f"{r[m]:.2f}" for m in METRICS) + " |"
        for r in report["quality"]
    ]
    lines += ["", "| system | documents | p50 ms | p99 ms |", "|---|---:|---:|---:|"]
    lines += [
        f"| {r['system']} | {r['documents']:,} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} |" for r in report["latency"]
    ]
    if report.get("tokenizers"):
        lines += ["", "| set | BM25 tokenizer | nDCG@10 | MRR@10 | R@1 | R@10 |", "|---|---|---:|---:|---:|---:|"]
        lines += [
            f"| {r['set']} | {r['tokenizer']} | " + " | ".join(f"{r[m]:.2f}" for m in METRICS) + " |"
            for r in report["tokenizers"]
        ]
    lines.append(f"\n{report['date']}, {report['machine']}, model {report['model']}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny model and synthetic data, for CI")
    parser.add_argument("--tokenizers", action="store_true", help="also BM25 alone under each FTS5 tokenizer")
    parser.add_argument("--documents", type=int, default=10_000, help="latency index size")
    parser.add_argument("--queries", type=int, default=200, help="latency queries")
    parser.add_argument("--json-out", type=Path, default=None)
    parser.add_argument("--rerank", default=None, help="cross-encoder folder: adds hybrid + re-rank rows")
    parser.add_argument(
        "--sets",
        default="cisi,stsb,long",
        help="quality sets to run, any of cisi, stsb, long (the long-text set), or none",
    )
    parser.add_argument("--no-latency", action="store_true", help="quality rows only (they do not depend on load)")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (the target is 2 cores)")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    logging.basicConfig(level=logging.ERROR, format="%(message)s")
    import torch
    from sentence_transformers import SentenceTransformer

    from simsearch import load_encoder
    from simsearch.encoders.models import default_model_path
    from simsearch.testing import write_tiny_bert
    from simsearch.training.longtext import longtext_retrieval_set
    from simsearch.training.retrieval_sets import paraphrase_retrieval_set, read_beir

    torch.set_num_threads(args.threads)
    scratch = tempfile.TemporaryDirectory()
    home = Path(scratch.name) / "indexes"
    if args.smoke:
        model = str(write_tiny_bert(Path(scratch.name) / "tiny-bert", initializer_range=0.2))
        encoder = load_encoder(model, "mean")
        if args.rerank is None:  # the smoke run checks the re-rank rows too, with the tiny BERT as a cross-encoder
            from sentence_transformers import CrossEncoder

            args.rerank = str(Path(scratch.name) / "tiny-ce")
            CrossEncoder(model, num_labels=1, max_length=128).save_pretrained(args.rerank)
        sets, texts, queries = smoke_data(Path(scratch.name))
        plain_model = encoder.model
    else:
        cisi = DATA / "cisi"
        wanted = set(args.sets.split(","))
        sets = (
            {"cisi": read_beir(cisi / "corpus.jsonl", cisi / "queries.jsonl", cisi / "qrels" / "test.tsv")}
            if "cisi" in wanted
            else {}
        )
        if "stsb" in wanted:
            sets["stsb-dev paraphrase"] = paraphrase_retrieval_set([DATA / "stsb" / "dev.csv"])
        if "long" in wanted:
            sets["long-text"] = longtext_retrieval_set(
                DATA / "stsb" / "dev.csv", DATA / "wikipedia_sentences" / "sentences.tsv.gz"
            ).data
        texts, queries = wiki_sentences(args.documents), wiki_sentences(args.queries, skip=1)
        encoder = load_encoder()
        model = encoder.name
        plain_model = SentenceTransformer(str(default_model_path()), device="cpu")
    quality = []
    for number, (name, data) in enumerate(sets.items()):
        quality += [
            {**row, "set": name} for row in quality_rows(f"set{number}", data, encoder, plain_model, home, args.rerank)
        ]
    report = {
        "mode": "smoke" if args.smoke else "full",
        "model": model,
        "quality": quality,
        "latency": [] if args.no_latency else latency_rows(texts, queries, encoder, plain_model, home, args.rerank),
        "reranker": args.rerank,
        "tokenizers": [row for name, data in sets.items() for row in tokenizer_rows(name, data)]
        if args.tokenizers or args.smoke
        else [],
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
        "machine": f"{os.cpu_count()}-core CPU ({platform.processor() or platform.machine()}), "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads",
    }
    json_out = args.json_out or (
        Path(scratch.name) / "ranking.json" if args.smoke else REPO / "benchmarks" / "results" / "ranking.json"
    )
    json_out.parent.mkdir(parents=True, exist_ok=True)
    json_out.write_text(json.dumps(report, indent=2))
    print(table(report))


if __name__ == "__main__":
    main()
