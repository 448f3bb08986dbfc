"""The blend of a trained re-ranker: its cross-encoder's probability mixed with a bi-encoder's cosine.

Training (simsearch.training.cross_encoder) chooses the weight on the evaluation pairs and records it
in ``simsearch-cross-encoder.json`` beside the weights; ``eval sts``, ``--rerank`` and the server all
score through the one formula here (``blended``), so they agree.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from simsearch.errors import InvalidArgumentError

SETTINGS_FILE = "simsearch-cross-encoder.json"


@dataclass(frozen=True)
class Blend:
    """How the cross-encoder's probability p is mixed with a bi-encoder's cosine: ``(1 - weight) * p + weight * cos``.

    ``model`` names the bi-encoder (as ``load_encoder`` takes it); weight 0 or no model: p alone.
    """

    model: str | None = None
    weight: float = 0.0

    @property
    def active(self) -> bool:
        return self.model is not None and self.weight > 0


def blended(probabilities: np.ndarray, cosines: np.ndarray | None, blend: Blend) -> np.ndarray:
    """The final pair score; the one formula training's weight search and every scorer use."""
    if cosines is None or not blend.active:
        return probabilities
    return (1 - blend.weight) * probabilities + blend.weight * cosines


def write_settings(folder: Path, blend: Blend, details: dict[str, Any]) -> None:
    """Record the blend (and how it was chosen, in ``details``) beside the trained weights."""
    (folder / SETTINGS_FILE).write_text(json.dumps({"blend": asdict(blend), **details}, indent=2), encoding="utf-8")


def read_blend(folder: Path) -> Blend:
    """The recorded blend; a cross-encoder trained elsewhere has none (its probability alone)."""
    path = folder / SETTINGS_FILE
    if not path.is_file():
        return Blend()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))["blend"]
        return Blend(data.get("model"), float(data.get("weight", 0.0)))
    except (ValueError, KeyError, TypeError, AttributeError):
        raise InvalidArgumentError(
            f"{path} is not a valid re-ranker settings file; "
            "train the cross-encoder again, or delete the file to use it unblended."
        ) from None
