"""`simsearch cluster` time at growing corpus sizes beside sentence_transformers.util.community_detection
(the all-pairs baseline, given the same vectors), in the same process.

    python benchmarks/cluster.py                            # 10k and 100k; community_detection at 10k only
    python benchmarks/cluster.py --smoke                    # seconds

The corpus is benchmarks/dedup.py's: ``--real`` wiki sentences encoded with the default model, grown with
noisy copies, texts made unique, the index kind `simsearch build` would choose. Clustering is timed from
the built index (the kNN lists, the grouping and the labels' word counts over the store); the index
build is printed beside it. "same clusters" compares the two partitions of the documents both put in a
cluster (adjusted Rand index, 1 = identical).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dedup import NOISE, real_vectors, unique_texts_store  # noqa: E402

from simsearch.neighbours.clustering import (  # noqa: E402
    DEFAULT_CLUSTER_THRESHOLD,
    DEFAULT_MIN_SIZE,
    cluster_documents,
    corpus_words,
)
from simsearch.testing import noisy_copies  # noqa: E402
from simsearch.vectors import create_vector_index  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--real", type=int, default=10_000, help="wiki sentences actually encoded")
    parser.add_argument(
        "--detection-max",
        type=int,
        default=10_000,
        help="largest size community_detection runs at (it compares every pair)",
    )
    parser.add_argument("--smoke", action="store_true", help="random vectors, 2,000 rows; seconds")
    args = parser.parse_args()
    if args.smoke:
        args.sizes, args.detection_max = "2000", 2000
    base, texts = real_vectors(args.real, args.smoke)
    corpus_words("warm up")  # its first call imports scikit-learn (seconds): once a process, like torch
    for size in (int(s) for s in args.sizes.split(",")):
        print(json.dumps(measure(noisy_copies(base, size, noise=NOISE), texts, size <= args.detection_max)), flush=True)


def measure(vectors: np.ndarray, texts: list[str], detection: bool) -> dict:
    size = len(vectors)
    started = time.perf_counter()
    index = create_vector_index("auto", vectors.shape[1], size)
    index.build(vectors, np.arange(size, dtype=np.int64))
    row: dict = {
        "documents": size,
        "kind": index.kind,
        "threshold": DEFAULT_CLUSTER_THRESHOLD,
        "index_build_s": round(time.perf_counter() - started, 1),
    }
    with tempfile.TemporaryDirectory() as tmp:
        store = unique_texts_store(Path(tmp) / "store.sqlite", texts, size)
        started = time.perf_counter()
        clusters, _ = cluster_documents(index, store, lambda batch: vectors[[int(t.rsplit("#", 1)[1]) for t in batch]])
        row.update(
            cluster_s=round(time.perf_counter() - started, 1),
            clusters=len(clusters),
            clustered_documents=sum(found.size for found in clusters),
        )
        store.close()
    if detection:
        import torch
        from sentence_transformers.util import community_detection
        from sklearn.metrics import adjusted_rand_score

        started = time.perf_counter()
        communities = community_detection(
            torch.from_numpy(vectors), threshold=DEFAULT_CLUSTER_THRESHOLD, min_community_size=DEFAULT_MIN_SIZE
        )
        row["community_detection_s"] = round(time.perf_counter() - started, 1)
        row["communities"] = len(communities)
        ours = {int(i): number for number, found in enumerate(clusters) for i in found.ids}
        theirs = {int(i): number for number, members in enumerate(communities) for i in members}
        both = sorted(ours.keys() & theirs.keys())
        row["same_clusters_ari"] = round(adjusted_rand_score([ours[i] for i in both], [theirs[i] for i in both]), 3)
        row["speedup"] = round(row["community_detection_s"] / max(row["cluster_s"], 1e-3), 2)
    return row


if __name__ == "__main__":
    main()
