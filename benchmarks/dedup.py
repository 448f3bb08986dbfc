"""Dedup time at growing corpus sizes beside sentence_transformers.util.paraphrase_mining_embeddings
(the all-pairs baseline, given the same vectors so only the pairing is timed), in the same process.

    PYTHONPATH=. python benchmarks/dedup.py                 # 10k and 100k, 15-20 min on 2 busy cores
    PYTHONPATH=. nice -n 10 python benchmarks/dedup.py --sizes 1000000   # 1M: hnsw build (~4 min) + dedup
    python benchmarks/dedup.py --smoke                      # seconds; what the test suite runs

Vectors: ``--real`` wiki sentences (../shared/data/wikipedia_sentences, evenly sampled) encoded with the
default model (onnx-int8, cached like benchmarks/performance.py), then grown to each size with
simsearch.testing.noisy_copies (each copy cosine ~0.89 to its source), as the performance benchmark does.
Texts in the store are made unique, so every group comes from the vectors, not from exact duplicates.
The index kind is what `simsearch build` would choose (flat up to 20k, hnsw above). "pair recall" is
the share of paraphrase_mining's pairs at or above the threshold that dedup's kNN search also found
(mining runs up to --mining-max documents); "exact pair recall sample" the same against an exact
brute-force kNN of 2,000 random documents, at every size. Index build and store filling are not part
of dedup_s (an index exists before dedup runs); the build time is printed beside it. *_cpu_s are CPU
seconds of the process (all threads): on a shared machine they compare the two more fairly than wall time.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from simsearch.ingest.corpus import Document  # noqa: E402
from simsearch.neighbours.dedup import (  # noqa: E402
    DEDUP_EF_SEARCH,
    DEFAULT_THRESHOLD,
    duplicate_groups,
    narrow_search,
)
from simsearch.neighbours.knn import DEFAULT_NEIGHBOURS, neighbour_pairs  # noqa: E402
from simsearch.store import Store  # noqa: E402
from simsearch.testing import noisy_copies, unit_vectors  # noqa: E402
from simsearch.vectors import create_vector_index  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
NOISE = 0.5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--real", type=int, default=10_000, help="wiki sentences actually encoded")
    parser.add_argument("--mining-max", type=int, default=100_000, help="largest size paraphrase_mining runs at")
    parser.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD)
    parser.add_argument("--smoke", action="store_true", help="random vectors, 500 and 2,000 rows; seconds")
    args = parser.parse_args()
    if args.smoke:
        args.sizes, args.mining_max = "500,2000", 2000
    base, texts = real_vectors(args.real, args.smoke)
    for size in (int(s) for s in args.sizes.split(",")):
        print(
            json.dumps(
                measure(noisy_copies(base, size, noise=NOISE), texts, args.threshold, mining=size <= args.mining_max)
            ),
            flush=True,
        )


def real_vectors(count: int, smoke: bool) -> tuple[np.ndarray, list[str]]:
    """``count`` wiki sentences and their default-model vectors (onnx-int8, cached); ``smoke``: 500 random ones."""
    if smoke:
        return unit_vectors(500, 32), [f"text {i}" for i in range(500)]
    from performance import cached_vectors, wiki_sentences

    from simsearch.encoders import load_encoder

    texts = wiki_sentences(count, spread=True)
    return cached_vectors(texts, load_encoder(backend="onnx-int8")), texts


def unique_texts_store(path: Path, texts: list[str], size: int) -> Store:
    """A store of ``size`` documents (row id = position) whose texts cycle ``texts`` made unique by a suffix
    " #row", so no group comes from exact duplicates; the suffix also maps a text back to its vector row."""
    store = Store(path)
    store.begin()
    store.insert([Document(text=f"{texts[i % len(texts)]} #{i}", id=str(i)) for i in range(size)], first_row_id=0)
    store.commit()
    return store


def measure(vectors: np.ndarray, texts: list[str], threshold: float, mining: bool) -> dict:
    size = len(vectors)
    row_ids = np.arange(size, dtype=np.int64)
    started = time.perf_counter()
    index = create_vector_index("auto", vectors.shape[1], size)
    index.build(vectors, row_ids)
    build_s = time.perf_counter() - started
    row: dict = {"documents": size, "kind": index.kind, "threshold": threshold, "index_build_s": round(build_s, 1)}
    with tempfile.TemporaryDirectory() as tmp:
        store = unique_texts_store(Path(tmp) / "store.sqlite", texts, size)
        started, cpu = time.perf_counter(), time.process_time()
        groups = duplicate_groups(
            index, store, lambda batch: vectors[[int(t.rsplit("#", 1)[1]) for t in batch]], threshold
        )
        row.update(
            dedup_s=round(time.perf_counter() - started, 1),
            dedup_cpu_s=round(time.process_time() - cpu, 1),
            groups=len(groups),
            grouped_documents=sum(len(g.ids) for g in groups),
        )
        store.close()
    row["exact_pair_recall_sample"] = sample_pair_recall(index, vectors, threshold)
    if mining:
        import torch
        from sentence_transformers.util import paraphrase_mining_embeddings

        started, cpu = time.perf_counter(), time.process_time()
        mined = paraphrase_mining_embeddings(torch.from_numpy(vectors), top_k=DEFAULT_NEIGHBOURS, max_pairs=10**9)
        row["paraphrase_mining_s"] = round(time.perf_counter() - started, 1)
        row["paraphrase_mining_cpu_s"] = round(time.process_time() - cpu, 1)
        wanted = {(min(a, b), max(a, b)) for score, a, b in mined if score >= threshold}
        with narrow_search(index, DEDUP_EF_SEARCH):  # as dedup searched
            first, second = neighbour_pairs(index, row_ids, lambda ids: vectors[ids], threshold, DEFAULT_NEIGHBOURS)
        found = {(min(a, b), max(a, b)) for a, b in zip(first.tolist(), second.tolist())}
        row["pair_recall"] = round(len(wanted & found) / len(wanted), 4) if wanted else None
        row["speedup"] = round(row["paraphrase_mining_s"] / max(row["dedup_s"], 1e-3), 2)
        row["cpu_ratio"] = round(row["paraphrase_mining_cpu_s"] / max(row["dedup_cpu_s"], 1e-3), 2)
    return row


def sample_pair_recall(index, vectors: np.ndarray, threshold: float, sample: int = 2000) -> float | None:
    """Of the pairs an exact search finds at or above ``threshold`` among the k nearest neighbours of
    ``sample`` random documents, the share dedup's search (as narrow as dedup makes it) finds too."""
    import faiss

    chosen = np.random.default_rng(0).choice(len(vectors), min(sample, len(vectors)), replace=False)
    queries = vectors[chosen]
    depth = DEFAULT_NEIGHBOURS + 1
    exact_scores, exact_ids = faiss.knn(queries, vectors, depth, metric=faiss.METRIC_INNER_PRODUCT)
    with narrow_search(index, DEDUP_EF_SEARCH):
        scores, ids = index.search(queries, depth)

    def pairs(scores: np.ndarray, ids: np.ndarray) -> set[tuple[int, int]]:
        keep = (scores >= threshold) & (ids != chosen[:, None]) & (ids >= 0)
        return {(int(chosen[r]), int(ids[r, c])) for r, c in zip(*np.nonzero(keep))}

    wanted = pairs(exact_scores, exact_ids)
    return round(len(wanted & pairs(scores, ids)) / len(wanted), 4) if wanted else None


if __name__ == "__main__":
    main()
