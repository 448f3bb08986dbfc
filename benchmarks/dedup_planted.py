"""Planted paraphrases in a Wikipedia corpus: does `simsearch dedup` at its default threshold find them, and
only them?

    python benchmarks/dedup_planted.py                      # STS-B train and dev, 3,000 sentences each, ~1 min
    python benchmarks/dedup_planted.py --split dev --size 1500 --pairs 60 --json

Corpus: ``--pairs`` STS-B pairs scored >= 4.6 (each text in one pair only, pairs whose two texts are the
same once case and spacing are folded left out: those are exact duplicates, not paraphrases), drawn with
``--seed``, mixed among Wikipedia sentences (../shared/data/wikipedia_sentences) up to ``--size`` texts
in a seeded order. The default model builds a flat (exact) index and dedup runs at its default threshold.

- found: the share of planted pairs whose two texts end up in one group;
- partner precision: of the reported pairs that involve a planted text (every pair of members of a group
  holding one), the share that is a planted text with its own partner.

The default threshold was calibrated on STS-B train (benchmarks/dedup_threshold.py); the issue's
held-out check is on STS-B test, which ../shared/data does not hold, so train and dev are both shown.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import os
import random
import tempfile
from dataclasses import asdict, dataclass
from itertools import combinations
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
PLANTED_SCORE = 4.6
_WIKI_LINES = 200_000  # read the first lines only: enough sentences to draw from, and a few seconds, not ~10


@dataclass(frozen=True)
class PlantedResult:
    split: str
    documents: int
    planted_pairs: int
    threshold: float
    found: float
    partner_precision: float
    reported_planted_pairs: int
    groups: int


def paraphrase_pairs(split: str, count: int, seed: int) -> list[tuple[str, str]]:
    """Up to ``count`` STS-B pairs of ``split`` scored >= 4.6 in a seeded order, no text in two pairs, no
    identical pair (dev holds 115 such pairs, train several hundred)."""
    with open(DATA / "stsb" / f"{split}.csv", newline="", encoding="utf-8") as handle:
        rows = [(r["sentence1"], r["sentence2"]) for r in csv.DictReader(handle) if float(r["score"]) >= PLANTED_SCORE]
    random.Random(seed).shuffle(rows)
    pairs, used = [], set()
    for first, second in rows:
        folded = (" ".join(first.lower().split()), " ".join(second.lower().split()))
        if folded[0] == folded[1] or used & set(folded):
            continue
        used.update(folded)
        pairs.append((first, second))
    return pairs[:count]


def wiki_sentences(count: int, seed: int) -> list[str]:
    """``count`` distinct Wikipedia sentences drawn at random (seeded) from the file's first lines."""
    with gzip.open(DATA / "wikipedia_sentences" / "sentences.tsv.gz", "rt", encoding="utf-8") as handle:
        next(handle)  # header
        sentences = sorted({line.rstrip("\n").split("\t", 3)[3] for _, line in zip(range(_WIKI_LINES), handle)})
    return random.Random(seed).sample(sentences, count)


def planted_corpus(split: str, size: int, pairs: int, seed: int) -> tuple[list[dict], dict[str, str]]:
    """Records (id, text) in a seeded order, and each planted text's id -> its partner's id."""
    planted = paraphrase_pairs(split, pairs, seed)
    rows = [(f"{split}-{n}{side}", text) for n, pair in enumerate(planted) for side, text in zip("ab", pair)]
    rows += [(f"wiki-{n}", text) for n, text in enumerate(wiki_sentences(size - len(rows), seed))]
    random.Random(seed).shuffle(rows)
    partner = {}
    for n in range(len(planted)):
        partner[f"{split}-{n}a"], partner[f"{split}-{n}b"] = f"{split}-{n}b", f"{split}-{n}a"
    return [{"id": id_, "text": text} for id_, text in rows], partner


def planted_scores(groups: list[list[str]], partner: dict[str, str]) -> tuple[float, float, int]:
    """(share of planted pairs found in one group, partner precision, reported pairs involving a planted text)."""
    group_of = {id_: number for number, ids in enumerate(groups) for id_ in ids}
    # ``partner`` names each pair twice (a -> b, b -> a), so the share over its entries is the share of pairs
    found = sum(1 for id_, other in partner.items() if id_ in group_of and group_of[id_] == group_of.get(other))
    involving = [(a, b) for ids in groups for a, b in combinations(ids, 2) if a in partner or b in partner]
    right = sum(1 for a, b in involving if partner.get(a) == b)
    return found / len(partner), right / max(len(involving), 1), len(involving)


def measure(
    split: str, size: int, pairs: int, seed: int, encoder=None, threshold: float | None = None
) -> PlantedResult:
    """Build the planted corpus's index in a temporary folder and score dedup's groups on it."""
    from simsearch import Index
    from simsearch.neighbours.dedup import DEFAULT_THRESHOLD

    records, partner = planted_corpus(split, size, pairs, seed)
    with tempfile.TemporaryDirectory() as home:
        index = Index.build("planted", records, encoder=encoder, index_dir=home)
        groups = index.duplicates(threshold)
        index.close()
    found, precision, involving = planted_scores([group.ids for group in groups], partner)
    return PlantedResult(
        split,
        size,
        len(partner) // 2,
        DEFAULT_THRESHOLD if threshold is None else threshold,
        round(found, 3),
        round(precision, 3),
        involving,
        len(groups),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", choices=("train", "dev", "both"), default="both")
    parser.add_argument("--size", type=int, default=3000, help="texts in the corpus, planted ones included")
    parser.add_argument("--pairs", type=int, default=120)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--threshold", type=float, help="[default: simsearch.neighbours.dedup.DEFAULT_THRESHOLD]")
    parser.add_argument("--json", action="store_true", help="one JSON object a line")
    args = parser.parse_args()
    from simsearch import load_encoder

    encoder = load_encoder()
    for split in ("train", "dev") if args.split == "both" else (args.split,):
        result = measure(split, args.size, args.pairs, args.seed, encoder, args.threshold)
        if args.json:
            print(json.dumps(asdict(result)), flush=True)
            continue
        print(
            f"STS-B {split}: {result.planted_pairs} pairs planted among {result.documents:,} texts, threshold "
            f"{result.threshold}: found {result.found:.1%} (target >= 80%), partner precision "
            f"{result.partner_precision:.1%} over {result.reported_planted_pairs} reported pairs (target >= 90%), "
            f"{result.groups} groups in all",
            flush=True,
        )


if __name__ == "__main__":
    main()
