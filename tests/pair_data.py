"""Small synthetic pair files whose notion of "similar" a tiny random BERT can learn in seconds.

Sentences name one word from a topic; two sentences are similar when their topics match.
Training and evaluation pairs use different sentence pairings, so a rising evaluation
figure means the model learnt the topics rather than the pairs.
"""

from __future__ import annotations

import random
from pathlib import Path

import pandas as pd

TOPICS = {
    "animals": ["cat", "dog", "horse"],
    "food": ["bread", "cheese", "soup"],
    "weather": ["rain", "snow", "wind"],
    "music": ["guitar", "piano", "violin"],
}
TEMPLATES = ["{}", "the {}", "a {}"]


def sentence_pairs(count: int, seed: int) -> list[tuple[str, str, bool]]:
    """``count`` (sentence1, sentence2, same_topic) rows, half of them the same topic."""
    rng = random.Random(seed)
    names = sorted(TOPICS)
    rows = []
    for i in range(count):
        first = rng.choice(names)
        second = first if i % 2 == 0 else rng.choice([n for n in names if n != first])
        rows.append((rng.choice(TEMPLATES).format(rng.choice(TOPICS[first])),
                     rng.choice(TEMPLATES).format(rng.choice(TOPICS[second])), first == second))
    return rows


def write_scored(path: Path, count: int, seed: int) -> Path:
    """sentence1,sentence2,score on the 0-5 scale (4-5 same topic, 0-1 different)."""
    rng = random.Random(seed + 1)
    rows = [{"sentence1": a, "sentence2": b, "score": round(rng.uniform(4, 5) if same else rng.uniform(0, 1), 1)}
            for a, b, same in sentence_pairs(count, seed)]
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def write_labelled(path: Path, count: int, seed: int) -> Path:
    rows = [{"sentence1": a, "sentence2": b, "label": int(same)} for a, b, same in sentence_pairs(count, seed)]
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def write_anchors(path: Path, count: int, seed: int) -> Path:
    rows = [{"anchor": a, "positive": b} for a, b, same in sentence_pairs(2 * count, seed) if same]
    pd.DataFrame(rows).to_json(path, orient="records", lines=True)
    return path
