"""Read training and evaluation pairs, and work out from the columns what kind of pairs they are.

Three layouts are understood (csv, jsonl or parquet):

- ``sentence1, sentence2, label``: label 1 = similar, 0 = not (contrastive losses);
- ``sentence1, sentence2, score``: graded similarity, 0-1 or 0-5 (CoSENT); 0-5 is divided by 5;
- ``anchor, positive[, negative]``: each anchor's match, other rows' texts act as negatives (MNRL).

Everything is checked before any training starts, so a bad file costs seconds, not an epoch.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from simsearch.errors import InputError, fix
from simsearch.ingest.readers import read_rows

if TYPE_CHECKING:
    from datasets import Dataset

log = logging.getLogger(__name__)

PairFormat = Literal["labelled", "scored", "triplets"]
_LAYOUTS = "sentence1,sentence2,label (0/1) | sentence1,sentence2,score (0-1 or 0-5) | anchor,positive[,negative]"


@dataclass(frozen=True)
class PairSet:
    """Pairs (or triplets) read from one file; ``targets`` are 0/1 labels or 0-1 scores, empty for triplets."""

    format: PairFormat
    texts: dict[str, list[str]]  # column name -> texts, in the order the loss wants them
    targets: list[float]
    source: str
    score_scale: float = 1.0  # what raw scores were divided by (5 for a 0-5 file)

    def __len__(self) -> int:
        return len(next(iter(self.texts.values())))

    @property
    def target_column(self) -> str | None:
        return {"labelled": "label", "scored": "score"}.get(self.format)

    def positives(self) -> PairSet:
        """Only the similar pairs, as anchor/positive rows (labelled data used with MNRL)."""
        if self.format != "labelled":
            raise InputError(f"{self.source}: only labelled pairs can be reduced to their positives.")
        keep = [i for i, label in enumerate(self.targets) if label == 1]
        if len(keep) < 2:
            raise InputError(
                f"{self.source} has {len(keep)} pair(s) labelled 1 and mnrl needs at least 2; "
                f"add similar pairs, or {fix('loss', 'online-contrastive')}."
            )
        texts = {
            "anchor": [self.texts["sentence1"][i] for i in keep],
            "positive": [self.texts["sentence2"][i] for i in keep],
        }
        return PairSet("triplets", texts, [], self.source)

    def to_dataset(self) -> Dataset:
        """A datasets.Dataset with the text columns first and the target (if any) last, as losses expect."""
        from datasets import Dataset

        columns: dict[str, list[Any]] = dict(self.texts)
        if self.target_column is not None:
            columns[self.target_column] = list(self.targets)
        return Dataset.from_dict(columns)


def read_pairs(path: str | Path) -> PairSet:
    """Read a pair file and check it: columns, labels or scores in range, at least 2 rows, no blank text."""
    path = Path(path)
    rows = read_rows(path)
    return pairs_from_rows(rows, source=path.name)


def pairs_from_rows(rows: list[dict[str, Any]], source: str = "input") -> PairSet:
    """Detect the layout from the columns present, then validate every row."""
    columns = set().union(*(row.keys() for row in rows)) if rows else set()
    if {"anchor", "positive"} <= columns:
        text_columns = ["anchor", "positive"] + (["negative"] if "negative" in columns else [])
        pair_format: PairFormat = "triplets"
    elif {"sentence1", "sentence2"} <= columns:
        text_columns = ["sentence1", "sentence2"]
        pair_format = _pair_format(columns, source)
    else:
        found = ", ".join(sorted(map(str, columns))) or "none"
        raise InputError(f"{source} lacks the columns of a pair file (found: {found}); use one of: {_LAYOUTS}.")
    if len(rows) < 2:
        raise InputError(f"{source} has {len(rows)} pair(s); training and evaluation need at least 2.")
    texts = {
        column: [_text(row, column, number, source) for number, row in enumerate(rows, start=1)]
        for column in text_columns
    }
    if pair_format == "triplets":
        return PairSet(pair_format, texts, [], source)
    if pair_format == "labelled":
        return PairSet(pair_format, texts, _labels(rows, source), source)
    scores, scale = _scores(rows, source)
    return PairSet(pair_format, texts, scores, source, scale)


def _pair_format(columns: set[str], source: str) -> PairFormat:
    if "label" in columns and "score" in columns:
        raise InputError(f"{source} has both a label and a score column; keep label (0/1) or score (graded).")
    if "label" in columns:
        return "labelled"
    if "score" in columns:
        return "scored"
    raise InputError(
        f"{source} has sentence1 and sentence2 but no label or score column; add label (0/1) or score (0-1 or 0-5)."
    )


def _text(row: dict[str, Any], column: str, number: int, source: str) -> str:
    value = row.get(column)
    text = "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)
    if not text.strip():
        raise InputError(f"{source} row {number} has an empty {column}; fill it in or drop the row.")
    return text


def _number(row: dict[str, Any], column: str, number: int, source: str) -> float:
    try:
        value = float(row.get(column, ""))  # CSV values arrive as strings; a missing one is not a number
    except (TypeError, ValueError):
        raise InputError(f"{source} row {number}: {column} {row.get(column)!r} is not a number.") from None
    if math.isnan(value):
        raise InputError(f"{source} row {number} has no {column}; fill it in or drop the row.")
    return value


def _labels(rows: list[dict[str, Any]], source: str) -> list[float]:
    labels = [_number(row, "label", number, source) for number, row in enumerate(rows, start=1)]
    for number, label in enumerate(labels, start=1):
        if label not in (0.0, 1.0):
            raise InputError(
                f"{source} row {number}: label {label:g} is not 0 or 1; "
                "use 1 for similar and 0 for dissimilar, or name a graded column 'score'."
            )
    if len(set(labels)) < 2:
        log.warning("%s has only label %g; contrastive training learns most from both kinds", source, labels[0])
    return labels


def _scores(rows: list[dict[str, Any]], source: str) -> tuple[list[float], float]:
    """Scores on 0-1 stay as they are; scores on 0-5 (STS-B, SICK) are divided by 5."""
    scores = [_number(row, "score", number, source) for number, row in enumerate(rows, start=1)]
    low, high = min(scores), max(scores)
    if low < 0 or high > 5:
        worst = next(n for n, s in enumerate(scores, start=1) if s < 0 or s > 5)
        raise InputError(
            f"{source} row {worst}: score {scores[worst - 1]:g} is outside 0-5; give scores on a 0-1 or 0-5 scale."
        )
    scale = 5.0 if high > 1 else 1.0
    if scale != 1.0:
        log.info("%s: scores range %g-%g, read as a 0-5 scale and divided by 5", source, low, high)
    return [score / scale for score in scores], scale
