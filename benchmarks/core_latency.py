"""Build time and end-to-end query latency on the demo corpus and on the STS-B sentences.

End to end means what a user waits for: encode the query, search FAISS, fetch
texts from SQLite. The baseline, measured in the same run, is the hand-wired
plain stack: SentenceTransformer.encode + a faiss.IndexFlatIP, texts in a list.

    python benchmarks/core_latency.py [--queries 300] [--smoke]
"""

from __future__ import annotations

import argparse
import csv
import json
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
from measure import time_queries  # benchmarks/measure.py, beside this script

from simsearch import Index, read_corpus

REPO = Path(__file__).resolve().parent.parent
STSB = REPO.parent / "shared" / "data" / "stsb"


def stsb_sentences() -> list[str]:
    seen: dict[str, None] = {}
    for split in ("train", "dev"):
        with open(STSB / f"{split}.csv", newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                seen.setdefault(row["sentence1"], None)
                seen.setdefault(row["sentence2"], None)
    return list(seen)


def plain_stack(texts: list[str], model):
    import faiss

    started = time.perf_counter()
    vectors = model.encode(texts, batch_size=32, normalize_embeddings=True, convert_to_numpy=True)
    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(vectors)
    build_seconds = time.perf_counter() - started

    def search(query: str):
        q = model.encode([query], normalize_embeddings=True, convert_to_numpy=True)
        _, ids = index.search(q, 10)
        return [texts[i] for i in ids[0]]

    return build_seconds, search


def measure(name: str, records, texts: list[str], queries: list[str], home: Path, kinds: list[str]) -> list[dict]:
    rows = []
    for kind in kinds:
        started = time.perf_counter()
        index = Index.build(f"{name}-{kind}", records, kind=kind, index_dir=home)
        build_seconds = time.perf_counter() - started
        latency = time_queries(index.search, queries)
        rows.append(
            {
                "corpus": name,
                "system": f"simsearch {index.manifest.kind}",
                "documents": len(index),
                "build_s": round(build_seconds, 2),
                **latency,
            }
        )
    from sentence_transformers import SentenceTransformer

    from simsearch.encoders.models import default_model_path

    model = SentenceTransformer(str(default_model_path()), device="cpu")
    build_seconds, search = plain_stack(texts, model)
    rows.append(
        {
            "corpus": name,
            "system": "plain ST + IndexFlatIP",
            "documents": len(texts),
            "build_s": round(build_seconds, 2),
            **time_queries(search, queries),
        }
    )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--smoke", action="store_true", help="tiny run that only checks the script works")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args()
    demo = read_corpus(REPO / "simsearch" / "data" / "demo.csv")
    demo_texts = [d.text for d in demo.documents]
    sts = stsb_sentences() if STSB.exists() else []
    n_queries = 20 if args.smoke else args.queries
    rng = np.random.default_rng(0)
    rows = []
    with tempfile.TemporaryDirectory() as home:
        rows += measure("demo", demo, demo_texts, list(rng.choice(demo_texts, n_queries)), Path(home), ["auto"])
        if sts and not args.smoke:
            queries = list(rng.choice(sts, n_queries))
            rows += measure("stsb", sts, sts, queries, Path(home), ["flat", "hnsw"])
    print(
        f"# {platform.processor() or platform.machine()}, {len(__import__('os').sched_getaffinity(0))} cores, "
        f"{time.strftime('%Y-%m-%d')}"
    )
    print("| corpus | system | documents | build s | p50 ms | p99 ms |\n|---|---|---:|---:|---:|---:|")
    for row in rows:
        print(
            f"| {row['corpus']} | {row['system']} | {row['documents']} | {row['build_s']} | {row['p50_ms']} "
            f"| {row['p99_ms']} |"
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
