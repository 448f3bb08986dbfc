"""Hybrid search's last step: merge a dense and a lexical ranked list into one.

Plain functions over id lists, so the fusion math is tested on hand-made lists and can be
swapped without touching the query pipeline (candidates.py calls them per query).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np

from simsearch.errors import InvalidArgumentError

FusionMethod = Literal["zscore", "score", "rrf"]
METHODS: tuple[str, ...] = get_args(FusionMethod)


@dataclass(frozen=True)
class Fusion:
    """How hybrid mode merges the dense and the lexical list of each query.

    ``zscore``: each list's scores standardised per query (mean 0, unit standard deviation
    over its candidates), weighted and summed; a document missing from a list gets that
    list's lowest z-score. ``score``: each list min-max scaled to [0, 1] instead (a missing
    document gets 0). ``rrf``: each list gives a document ``weight / (constant + rank)``
    (rank from 1), summed. ``depth`` candidates are taken from each list (never fewer than k).

    Z-scores let each list weigh by how far its best candidates stand out: a flat dense list
    (a sentence lost inside long windows) moves the fusion little, a lexical outlier a lot,
    where min-max stretches every list to the same [0, 1]. nDCG@10 on cisi / the STS-B dev
    paraphrase set / the long-text set (all-MiniLM-L6-v2; the sweep is in the README,
    "Search modes"): z-scores with the dense list weighted 1.5 gave 44.66 / 95.32 / 58.91,
    min-max with 1.5 44.18 / 95.39 / 46.67, RRF (constant 60, equal weights) 44.40 / 94.59 /
    32.97, dense alone 41.67 / 95.07 / 17.22.

    ``coverage``: the lexical list's weight is multiplied by the share of the query's informative
    words that any text holds (``candidates.lexical_weighed``), so on a small corpus a list resting on
    one word of three counts a third. On the held-out sets nearly every query word is in the corpus:
    44.70 / 95.32 with it, 44.66 / 95.32 without (cisi / STS-B dev paraphrase; `python
    benchmarks/fusion_sweep.py --sets cisi,stsb --query-words`). Scaling each text's BM25 by the share
    it holds instead (Lucene's classic ``coord``) cost 0.9 on cisi, whose long queries no text covers.
    """

    method: FusionMethod = "zscore"
    constant: float = 60.0
    dense_weight: float = 1.5
    lexical_weight: float = 1.0
    depth: int = 100
    coverage: bool = True  # the lexical weight times the share of the query's words the corpus holds

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise InvalidArgumentError(f"unknown fusion method {self.method!r}; valid: {', '.join(METHODS)}.")


def fuse(scored_lists: Sequence[tuple[Sequence[int], Sequence[float]]], fusion: Fusion) -> list[tuple[int, float]]:
    """The dense and the lexical list of one query, ``(row ids, scores)`` each, merged as ``fusion`` says."""
    weights = (fusion.dense_weight, fusion.lexical_weight)
    if fusion.method == "rrf":
        return reciprocal_rank_fusion([row_ids for row_ids, _ in scored_lists], weights, fusion.constant)
    if fusion.method == "score":
        return normalised_score_fusion(scored_lists, weights)
    return standardised_score_fusion(scored_lists, weights)


def reciprocal_rank_fusion(
    ranked_lists: Sequence[Sequence[int]], weights: Sequence[float], constant: float = 60.0
) -> list[tuple[int, float]]:
    """Fuse ranked id lists: an id scores ``sum(weight / (constant + rank))`` over the lists holding it
    (rank from 1). Best first; ties go to the smaller id, so the order is deterministic."""
    fused: dict[int, float] = {}
    for ranked, weight in zip(ranked_lists, weights):
        for rank, row_id in enumerate(ranked, start=1):
            fused[int(row_id)] = fused.get(int(row_id), 0.0) + weight / (constant + rank)
    return sorted(fused.items(), key=lambda item: (-item[1], item[0]))


def normalised_score_fusion(
    scored_lists: Sequence[tuple[Sequence[int], Sequence[float]]], weights: Sequence[float]
) -> list[tuple[int, float]]:
    """Fuse scored lists: each list's scores min-max scaled to [0, 1] (all 1 when they are equal),
    weighted and summed; an id absent from a list gets 0 from it. Best first, ties to the smaller id."""
    fused: dict[int, float] = {}
    for (row_ids, scores), weight in zip(scored_lists, weights):
        if len(row_ids) == 0:
            continue
        values = np.asarray(scores, dtype=np.float64)
        spread = values.max() - values.min()
        scaled = (values - values.min()) / spread if spread > 0 else np.ones_like(values)
        for row_id, value in zip(row_ids, scaled):
            fused[int(row_id)] = fused.get(int(row_id), 0.0) + weight * float(value)
    return sorted(fused.items(), key=lambda item: (-item[1], item[0]))


def standardised_score_fusion(
    scored_lists: Sequence[tuple[Sequence[int], Sequence[float]]], weights: Sequence[float]
) -> list[tuple[int, float]]:
    """Fuse scored lists by z-scores: each list's scores standardised over its candidates, weighted and
    summed; an id absent from a list gets that list's lowest z-score (it ranked below every candidate
    there). A list whose scores are all equal (one candidate, say a rare word's only match) gives its
    candidates 1 and the absent 0, as min-max scaling does. Best first, ties to the smaller id."""
    standardised: list[tuple[dict[int, float], float, float]] = []  # (z-score per id, absent's z-score, weight)
    for (row_ids, scores), weight in zip(scored_lists, weights):
        if len(row_ids) == 0:
            continue
        values = np.asarray(scores, dtype=np.float64)
        spread = values.std()
        if spread <= 1e-6 * max(1.0, abs(values.mean())):  # one candidate, or ties up to float noise
            z, absent = np.ones_like(values), 0.0  # being in the list is all it says: as min-max does
        else:
            z = (values - values.mean()) / spread
            absent = float(z.min())
        standardised.append((dict(zip((int(r) for r in row_ids), z.tolist())), absent, weight))
    everyone = set().union(*(found for found, _, _ in standardised))
    fused = {
        row_id: sum(weight * found.get(row_id, floor) for found, floor, weight in standardised) for row_id in everyone
    }
    return sorted(fused.items(), key=lambda item: (-item[1], item[0]))
