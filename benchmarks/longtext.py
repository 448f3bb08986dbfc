"""Long texts read whole: search modes with and without chunking, beside the plain stack, on the long-text set.

The set (simsearch/training/longtext.py): long runs of Wikipedia sentences (300-1,100 words), one STS-B
pair sentence scored >= 4 planted in each of some of them, its partner as the query. In one
process: the plain stack (sentence-transformers encode, texts cut at 256 pieces, faiss
IndexFlatIP), then simsearch flat indexes built without chunking (``Chunking(0)``: texts cut at the
limit) and with each chunk overlap asked for, searched in dense, lexical and hybrid mode.
Figures x100; "past cut" repeats Recall@10 over the queries whose sentence lies past the first
~256 pieces. Prints a markdown table and writes JSON.

    python benchmarks/longtext.py                       # STS-B dev pairs, 600 documents (the README table)
    python benchmarks/longtext.py --windows 254/31,254/63,128/16     # other windows (pieces / overlap)
    python benchmarks/longtext.py --beir ../shared/data/cisi   # a set of mostly short texts: chunking off and on
    python benchmarks/longtext.py --smoke               # a tiny random BERT, 40 documents, seconds

Run it under `nice -n 10`: the full run encodes ~4,000 windows of 254 pieces on the CPU.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # this checkout's simsearch, not an installed one
DATA = REPO.parent / "shared" / "data"
MEASURES = ("ndcg@10", "mrr@10", "recall@1", "recall@10")
MODES = ("dense", "lexical", "hybrid")


def plain_stack(model, data, past_cut: list[str]) -> dict[str, float]:
    """sentence-transformers + faiss.IndexFlatIP, texts cut at the model's limit: what a user would wire by hand."""
    import faiss

    from simsearch.training.retrieval_metrics import RETRIEVAL_DEPTH, ranking_metrics

    doc_ids = list(data.corpus)
    vectors = model.encode([data.corpus[d] for d in doc_ids], batch_size=64, normalize_embeddings=True)
    flat = faiss.IndexFlatIP(vectors.shape[1])
    flat.add(vectors)
    query_ids = list(data.qrels)
    queries = model.encode([data.queries[q] for q in query_ids], batch_size=64, normalize_embeddings=True)
    _, found = flat.search(queries, min(RETRIEVAL_DEPTH, len(doc_ids)))
    rankings = {q: [doc_ids[i] for i in row if i >= 0] for q, row in zip(query_ids, found)}
    late = ranking_metrics(rankings, {q: data.qrels[q] for q in past_cut})
    return {**ranking_metrics(rankings, data.qrels), "past_cut_recall@10": late["recall@10"]}


def simsearch_rows(encoder, data, past_cut, chunking, home: Path) -> tuple[list[dict], dict]:
    """Build one flat index with ``chunking`` and measure each mode on all queries and on the past-cut ones."""
    from simsearch import Index
    from simsearch.query.fusion import Fusion
    from simsearch.training.retrieval_metrics import index_retrieval_metrics
    from simsearch.training.retrieval_sets import RetrievalSet

    started = time.perf_counter()
    index = Index.build(
        f"long-{chunking.tokens}-{chunking.overlap}",
        [{"id": d, "text": t} for d, t in data.corpus.items()],
        encoder=encoder,
        kind="flat",
        index_dir=home,
        chunking=chunking,
    )
    build = {
        "build_seconds": round(time.perf_counter() - started, 1),
        "vectors": index.check()["vectors"],
        "chunk_tokens": index.manifest.chunk_tokens,
        "chunk_overlap": index.manifest.chunk_overlap,
    }
    late = RetrievalSet(data.corpus, data.queries, {q: data.qrels[q] for q in past_cut}, {})
    rows = []
    for mode, fusion in [*((mode, None) for mode in MODES), ("hybrid", Fusion(method="rrf"))]:
        figures = index_retrieval_metrics(index, data, mode=mode, fusion=fusion)
        figures["past_cut_recall@10"] = index_retrieval_metrics(index, late, mode=mode, fusion=fusion)["recall@10"]
        name = f"simsearch {mode}" + (" (rrf)" if fusion else "")
        rows.append({"system": name, **build, **figures})
    index.close()
    return rows, build


def beir_chunking(folder: Path, windows: str) -> None:
    """Does chunking change a BEIR set of mostly short texts? Each mode with chunking off and on."""
    from simsearch import load_encoder
    from simsearch.ingest.chunking import Chunking
    from simsearch.training.retrieval_sets import read_beir

    data = read_beir(folder / "corpus.jsonl", folder / "queries.jsonl", folder / "qrels" / "test.tsv")
    encoder = load_encoder()
    counts = encoder.token_counts(list(data.corpus.values()))
    print(
        f"{folder.name}: {len(data.corpus)} documents, {sum(c > encoder.info.max_seq_length for c in counts)} "
        f"longer than {encoder.info.max_seq_length} pieces",
        flush=True,
    )
    rows = []
    with tempfile.TemporaryDirectory(prefix="simsearch-longtext-") as scratch:
        for chunking in [Chunking(0), *chunkings(windows)]:
            found, _ = simsearch_rows(encoder, data, list(data.qrels), chunking, Path(scratch) / "indexes")
            rows += found
            print(table(found), flush=True)
    print("\n" + table(rows))


def chunkings(windows: str) -> list:
    """``--windows`` as Chunking values: 'default' or TOKENS/OVERLAP."""
    from simsearch.ingest.chunking import Chunking

    return [Chunking() if spec == "default" else Chunking(*map(int, spec.split("/"))) for spec in windows.split(",")]


def table(rows: list[dict]) -> str:
    lines = [
        "| system | chunking | vectors | nDCG@10 | MRR@10 | R@1 | R@10 | R@10 past cut |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        chunking = (
            f"{row['chunk_tokens']} / {row['chunk_overlap']}" if row.get("chunk_tokens") else "off (cut at the limit)"
        )
        figures = " | ".join(f"{row[m]:.2f}" for m in (*MEASURES, "past_cut_recall@10"))
        lines.append(f"| {row['system']} | {chunking} | {row.get('vectors', '')} | {figures} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", type=Path, default=DATA / "stsb" / "dev.csv")
    parser.add_argument("--sentences", type=Path, default=DATA / "wikipedia_sentences" / "sentences.tsv.gz")
    parser.add_argument("--documents", type=int, default=600)
    parser.add_argument("--queries", type=int, default=None, help="At most this many planted pairs (all by default).")
    parser.add_argument(
        "--windows",
        default="default",
        help="Comma-separated windows to build with, TOKENS/OVERLAP in pieces, or 'default'.",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--output",
        type=Path,
        default=None,
        help="JSON report.  [default: benchmarks/results/longtext.json; --windows-only: not written]",
    )
    parser.add_argument("--smoke", action="store_true", help="A tiny random BERT and 40 documents, in seconds.")
    parser.add_argument(
        "--windows-only",
        action="store_true",
        help="Skip the plain stack and the build without chunking (to compare windows only).",
    )
    parser.add_argument(
        "--beir",
        type=Path,
        default=None,
        help="Instead: a BEIR folder (e.g. ../shared/data/cisi), with chunking off and on.",
    )
    args = parser.parse_args()
    if args.beir is not None:
        return beir_chunking(args.beir, args.windows)

    from simsearch import load_encoder
    from simsearch.ingest.chunking import Chunking
    from simsearch.training.longtext import longtext_retrieval_set

    with tempfile.TemporaryDirectory(prefix="simsearch-longtext-") as scratch:
        if args.smoke:
            from simsearch.testing import write_tiny_bert

            encoder = load_encoder(write_tiny_bert(Path(scratch) / "tiny", initializer_range=0.2), "mean")
            args.documents, args.queries = 40, 10
        else:
            encoder = load_encoder()
        made = longtext_retrieval_set(args.pairs, args.sentences, args.documents, args.queries, args.seed)
        data = made.data
        past_cut = made.past_cut
        print(
            f"{len(data.corpus)} documents, {len(data.qrels)} queries ({len(past_cut)} planted past the cut); "
            f"pieces per document: {_piece_spread(encoder, data)}",
            flush=True,
        )
        rows = (
            []
            if args.windows_only
            else [{"system": "plain stack (ST + IndexFlatIP)", **plain_stack(encoder.model, data, past_cut)}]
        )
        print(table(rows), flush=True)
        for chunking in [*([] if args.windows_only else [Chunking(0)]), *chunkings(args.windows)]:
            found, _ = simsearch_rows(encoder, data, past_cut, chunking, Path(scratch) / "indexes")
            rows += found
            print(table(found), flush=True)
    report = {
        "date": datetime.now(timezone.utc).isoformat(timespec="minutes"),
        "machine": platform.processor() or platform.machine(),
        "pairs": str(args.pairs),
        "documents": len(data.corpus),
        "queries": len(data.qrels),
        "past_cut": len(past_cut),
        "seed": args.seed,
        "rows": rows,
    }
    print("\n" + table(rows))
    output = args.output or (None if args.smoke or args.windows_only else REPO / "benchmarks/results/longtext.json")
    if output is not None:
        output.write_text(json.dumps(report, indent=2))


def _piece_spread(encoder, data) -> str:
    import numpy as np

    counts = np.array(encoder.token_counts(list(data.corpus.values())))
    return f"median {int(np.median(counts))}, 5-95% {int(np.percentile(counts, 5))}-{int(np.percentile(counts, 95))}"


if __name__ == "__main__":
    main()
