"""Why an int8 re-ranker runs each pair alone, and why the runs go side by side (README, "Re-ranking", "Cost").

1. Batching: every STS-B dev pair scored alone and in batches of 16 pairs of similar length, both with the
   int8 model; how far the probabilities move (int8 scales activations per run) and each Spearman.
2. Timing: 50 (query, wikipedia sentence) pairs scored alone, one after another on a session using every
   core, against the same runs side by side on one-thread sessions (what `Reranker` does).

    python benchmarks/rerank_int8.py --rerank DIR
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # this checkout's simsearch, not an installed one
DATA = REPO.parent / "shared" / "data"


def batching(reranker, dev) -> None:
    from scipy.stats import spearmanr

    encoded = reranker._tokenizer.encode_batch(list(zip(dev.texts["sentence1"], dev.texts["sentence2"])))
    alone, batched = reranker._each_alone(encoded), reranker._batched(encoded, 16)
    shift = np.abs(1 / (1 + np.exp(-alone)) - 1 / (1 + np.exp(-batched)))
    print(
        f"STS-B dev, {len(encoded)} pairs: probability moved by batching max {shift.max():.3f}, "
        f"mean {shift.mean():.3f}; Spearman alone {spearmanr(alone, dev.targets)[0] * 100:.2f}, "
        f"in batches of 16 {spearmanr(batched, dev.targets)[0] * 100:.2f}"
    )


def timing(reranker, export: Path, rounds: int = 20) -> None:
    from simsearch.encoders.onnx_encoder import load_session
    from simsearch.encoders.onnx_export import INT8_FILE

    with gzip.open(DATA / "wikipedia_sentences" / "sentences.tsv.gz", "rt", encoding="utf-8") as handle:
        texts = [line.rstrip("\n").split("\t")[3] for line in itertools.islice(handle, 1, 51 * rounds + 1)]
    side_by_side = reranker._session
    every_core = load_session(export / INT8_FILE, threads=0)
    figures = {"one after another, every core a run": [], "side by side, one thread a run": []}
    for round_ in range(rounds):
        query, candidates = texts[round_ * 51], texts[round_ * 51 + 1 : (round_ + 1) * 51]
        encoded = reranker._tokenizer.encode_batch([(query, text) for text in candidates])
        reranker._session = every_core
        started = time.perf_counter()
        [reranker._run([item]) for item in encoded]
        figures["one after another, every core a run"].append(time.perf_counter() - started)
        reranker._session = side_by_side
        started = time.perf_counter()
        reranker._each_alone(encoded)
        figures["side by side, one thread a run"].append(time.perf_counter() - started)
    for name, seconds in figures.items():
        print(f"50 pairs, {name}: p50 {np.median(seconds[2:]) * 1000:.1f} ms ({os.cpu_count()} cores)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rerank", required=True, help="cross-encoder folder")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from simsearch.encoders.onnx_export import export_key, find_export
    from simsearch.query.rerankers import _CROSS_EXPORT, load_reranker
    from simsearch.training.pairs import read_pairs

    reranker = load_reranker(args.rerank)
    folder = reranker.folder
    batching(reranker, read_pairs(DATA / "stsb" / "dev.csv"))
    timing(reranker, find_export(folder, export_key(folder, _CROSS_EXPORT)))


if __name__ == "__main__":
    main()
