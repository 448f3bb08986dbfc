"""Bi-encoder recipes tried against the default (CoSENT) on STS-B train/dev: dev Spearman per epoch.

Each variant fine-tunes the default model with `simsearch.training.bi_encoder.train_model`
(6 epochs unless said, lr 5e-5,
batch 16, length-grouped batches, best epoch kept on dev) and prints its history:

    python benchmarks/bi_encoder_recipes.py cosent          # the default recipe
    python benchmarks/bi_encoder_recipes.py angle           # AnglELoss instead of CoSENT
    python benchmarks/bi_encoder_recipes.py cosent-sick     # CoSENT on STS-B train + SICK's TRAIN pairs
    CROSS=DIR python benchmarks/bi_encoder_recipes.py augmented   # + silver pairs (`simsearch train --augment`)

augmented is augmented SBERT as `simsearch train --augment DIR|auto` does it: silver pairs of nearest training
sentences scored by the cross-encoder DIR (default: one trained on the pairs first), CoSENT on gold + silver
for EPOCHS (default 4) epochs. The other variants train on the gold pairs alone.

THREADS=1 runs torch on one thread (two variants side by side on 2 cores); SEED=N changes the seed (42).
Models go to the temp folder.
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
    from simsearch.training.pairs import PairSet

    firsts, seconds, scores = [], [], []
    with open(DATA / "sick" / "SICK.tsv", encoding="utf-8") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            if row["SemEval_set"] == "TRAIN":
                firsts.append(row["sentence_A"])
                seconds.append(row["sentence_B"])
                scores.append((float(row["relatedness_score"]) - 1) / 4)
    texts = {"sentence1": pairs.texts["sentence1"] + firsts, "sentence2": pairs.texts["sentence2"] + seconds}
    return PairSet("scored", texts, pairs.targets + scores, "stsb+sick", 5.0)


def main() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    from simsearch import train
    from simsearch.training.pairs import read_pairs

    variant = sys.argv[1] if len(sys.argv) > 1 else "cosent"
    torch.set_num_threads(int(os.environ.get("THREADS", "2")))
    pairs = read_pairs(DATA / "stsb" / "train.csv")
    if variant == "cosent-sick":
        pairs = with_sick(pairs)
    epochs, augment = 6, "none"
    if variant == "augmented":
        epochs, augment = int(os.environ.get("EPOCHS", "4")), os.environ.get("CROSS", "auto")
    if variant == "angle":
        from sentence_transformers.sentence_transformer import losses

        train._loss_module = lambda name, model: losses.AnglELoss(model)  # the one change under test
    output = Path(tempfile.gettempdir()) / "simsearch-bench" / f"bi-encoder-{variant}"
    result = train.train_model(
        pairs,
        output,
        eval_pairs=DATA / "stsb" / "dev.csv",
        epochs=epochs,
        learning_rate=5e-5,
        augment=augment,
        seed=int(os.environ.get("SEED", "42")),
        overwrite=True,
        say=print,
    )
    print(
        json.dumps(
            {
                "variant": variant,
                "best_epoch": result.best_epoch,
                "spearman_by_epoch": [record.metrics.get("spearman") for record in result.history],
            }
        )
    )


if __name__ == "__main__":
    main()
