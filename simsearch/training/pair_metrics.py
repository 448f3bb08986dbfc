"""How well a model scores a pair file: STS correlation, average precision of labelled pairs, and the figure
training selects its best epoch by.

Every function returns ``dict[str, float]`` on a 0-100 scale (Spearman x100, average precision x100, ...),
like the retrieval metrics (simsearch.training.retrieval_metrics), so before/after tables read the same
everywhere. Anchor/positive rows are measured as retrieval, since they have no score to correlate with.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from simsearch.errors import InputError
from simsearch.training.pairs import PairSet
from simsearch.training.retrieval_metrics import retrieval_metrics
from simsearch.training.retrieval_sets import anchor_retrieval_set

if TYPE_CHECKING:
    from simsearch.encoders import Encoder


def sts_metrics(encoder: Encoder, pairs: PairSet, batch_size: int = 64) -> dict[str, float]:
    """Spearman and Pearson correlation (x100) between cosine similarity and the gold scores."""
    if pairs.format != "scored":
        raise InputError(f"{pairs.source} has no score column; STS evaluation needs sentence1,sentence2,score.")
    return correlation_metrics(pair_cosines(encoder, pairs, batch_size), pairs)


def correlation_metrics(scores: Sequence[float] | np.ndarray, pairs: PairSet) -> dict[str, float]:
    """Spearman and Pearson (x100) of any pair scores (cosines, a cross-encoder's) against the gold scores."""
    from scipy.stats import pearsonr, spearmanr

    gold = np.asarray(pairs.targets, dtype=np.float64)
    if np.ptp(gold) == 0:
        raise InputError(f"{pairs.source}: every score is the same, so no correlation can be measured.")
    return {
        "spearman": 100 * float(spearmanr(scores, gold).statistic),
        "pearson": 100 * float(pearsonr(scores, gold).statistic),
    }


def pair_metrics(encoder: Encoder, pairs: PairSet, batch_size: int = 64) -> dict[str, float]:
    """The natural figures for any pair file; the first key is the one training selects on.

    scored -> Spearman/Pearson; labelled -> average precision of ranking the similar
    pairs first by cosine; triplets -> MRR@10 of finding each anchor's positive.
    """
    if pairs.format in ("scored", "labelled"):
        return pair_score_metrics(pair_cosines(encoder, pairs, batch_size), pairs)
    return retrieval_metrics(encoder, anchor_retrieval_set(pairs), batch_size)


def pair_score_metrics(scores: Sequence[float] | np.ndarray, pairs: PairSet) -> dict[str, float]:
    """Any pair scores against the gold: correlations for scored pairs, average precision for labelled ones."""
    if pairs.format == "scored":
        return correlation_metrics(scores, pairs)
    return {"average_precision": 100 * average_precision(scores, pairs.targets)}


def average_precision(scores: Sequence[float] | np.ndarray, labels: Sequence[float]) -> float:
    """Mean precision at each similar (label 1) pair when pairs are sorted by score, best first (0-1)."""
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    relevant = np.asarray(labels, dtype=np.float64)[order] == 1
    if not relevant.any():
        raise InputError("no pair is labelled 1, so average precision is undefined; add similar pairs.")
    hits = np.cumsum(relevant)
    return float(np.mean(hits[relevant] / (np.flatnonzero(relevant) + 1)))


def pair_cosines(encoder: Encoder, pairs: PairSet, batch_size: int = 64) -> np.ndarray:
    """Cosine similarity of each sentence1 with its sentence2, in order."""
    first, second = (pairs.texts[c] for c in ("sentence1", "sentence2"))
    unique = list(dict.fromkeys(first + second))  # STS files repeat sentences; encode each once
    vectors = encoder.encode(unique, batch_size=batch_size)
    row = {text: i for i, text in enumerate(unique)}
    a = vectors[[row[t] for t in first]]
    b = vectors[[row[t] for t in second]]
    return (a * b).sum(axis=1, dtype=np.float64)
