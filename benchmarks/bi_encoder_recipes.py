"""Bi-encoder recipes tried against the default (CoSENT) on STS-B train/dev: dev Spearman per epoch.

Each variant fine-tunes the default model with `simsearch.train.train_model` (6 epochs, lr 5e-5,
batch 16, length-grouped batches, best epoch kept on dev) and prints its history:

    python benchmarks/bi_encoder_recipes.py cosent          # today's default recipe
    python benchmarks/bi_encoder_recipes.py angle           # AnglELoss instead of CoSENT
    python benchmarks/bi_encoder_recipes.py cosent-sick     # CoSENT on STS-B train + SICK's TRAIN pairs
    CROSS=DIR python benchmarks/bi_encoder_recipes.py augmented   # + pairs of train sentences scored by DIR

augmented is augmented SBERT (Thakur et al., 2021): every training sentence is paired with its NEIGHBOURS
(default 2) nearest other training sentences by the default model, the cross-encoder DIR (its blend
included) scores those new pairs, and CoSENT trains on gold + silver for EPOCHS (default 3) epochs.

THREADS=1 runs torch on one thread (two variants side by side on 2 cores). Models go to the temp folder.
"""

from __future__ import annotations

import csv
import json
import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # this checkout's simsearch, not an installed one
DATA = REPO.parent / "shared" / "data"


def with_sick(pairs):
    """STS-B train plus SICK's training pairs, relatedness 1-5 mapped onto 0-1 like STS-B's 0-5."""
    from simsearch.pairs import PairSet

    firsts, seconds, scores = [], [], []
    with open(DATA / "sick" / "SICK.tsv", encoding="utf-8") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            if row["SemEval_set"] == "TRAIN":
                firsts.append(row["sentence_A"])
                seconds.append(row["sentence_B"])
                scores.append((float(row["relatedness_score"]) - 1) / 4)
    texts = {"sentence1": pairs.texts["sentence1"] + firsts, "sentence2": pairs.texts["sentence2"] + seconds}
    return PairSet("scored", texts, pairs.targets + scores, "stsb+sick", 5.0)


def with_silver(pairs, cross_encoder: str, neighbours: int):
    """Gold pairs plus each training sentence's nearest other sentences, scored by the cross-encoder."""
    import numpy as np

    from simsearch.encoders import load_encoder
    from simsearch.pairs import PairSet
    from simsearch.reranking import load_reranker

    firsts, seconds = pairs.texts["sentence1"], pairs.texts["sentence2"]
    sentences = sorted(set(firsts) | set(seconds))
    vectors = load_encoder(None).encode(sentences)
    similarities = vectors @ vectors.T
    np.fill_diagonal(similarities, -2)
    seen = {frozenset(pair) for pair in zip(firsts, seconds)}
    silver = []
    for row, nearest in enumerate(np.argsort(-similarities, axis=1)[:, :neighbours]):
        for column in nearest:
            pair = frozenset((sentences[row], sentences[column]))
            if len(pair) == 2 and pair not in seen:
                seen.add(pair)
                silver.append((sentences[row], sentences[column]))
    scores = load_reranker(cross_encoder, quantized=False).pair_scores([a for a, _ in silver], [b for _, b in silver])
    print(f"silver pairs: {len(silver)}, mean score {float(np.mean(scores)):.3f}", flush=True)
    texts = {"sentence1": firsts + [a for a, _ in silver], "sentence2": seconds + [b for _, b in silver]}
    return PairSet("scored", texts, pairs.targets + [float(s) for s in np.clip(scores, 0, 1)], "stsb+silver", 5.0)


def main() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    from simsearch import train
    from simsearch.pairs import read_pairs

    variant = sys.argv[1] if len(sys.argv) > 1 else "cosent"
    torch.set_num_threads(int(os.environ.get("THREADS", "2")))
    pairs = read_pairs(DATA / "stsb" / "train.csv")
    if variant == "cosent-sick":
        pairs = with_sick(pairs)
    epochs = 6
    if variant == "augmented":
        pairs = with_silver(pairs, os.environ["CROSS"], int(os.environ.get("NEIGHBOURS", "2")))
        epochs = int(os.environ.get("EPOCHS", "3"))
    if variant == "angle":
        from sentence_transformers.sentence_transformer import losses

        train._loss_module = lambda name, model: losses.AnglELoss(model)  # the one change under test
    output = Path(tempfile.gettempdir()) / "simsearch-bench" / f"bi-encoder-{variant}"
    result = train.train_model(pairs, output, eval_pairs=DATA / "stsb" / "dev.csv", epochs=epochs, learning_rate=5e-5,
                               overwrite=True, say=print)
    print(json.dumps({"variant": variant, "best_epoch": result.best_epoch,
                      "spearman_by_epoch": [record.metrics.get("spearman") for record in result.history]}))


if __name__ == "__main__":
    main()
