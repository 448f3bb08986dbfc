"""Two sentences in: their cosine similarity, a plain-words reading of it, and the token view.

The reading follows the STS-B rating scale (people rated sentence pairs 0-5, from
"different topics" to "completely equivalent"). Its bands sit halfway between the
median cosines all-MiniLM-L6-v2 gives the dev-set pairs of neighbouring ratings,
measured once: 0 -> 0.13, 1 -> 0.37, 2 -> 0.58, 3 -> 0.69, 4 -> 0.81, 5 -> 0.93
(1,500 pairs; spread within a rating is about +-0.13). Other models spread scores
differently, so the words are a guide, not a threshold to build on.
"""

from __future__ import annotations

from dataclasses import dataclass

from simsearch.encoders import Encoder, load_encoder
from simsearch.errors import InvalidArgumentError
from simsearch.tools.tokens import TokenSimilarity, token_similarity

# (lowest score, reading), highest band first; see the module docstring for where the numbers come from
_BANDS: tuple[tuple[float, str], ...] = (
    (0.87, "the same meaning"),
    (0.75, "nearly the same meaning; small details differ"),
    (0.635, "roughly the same meaning, but an important detail differs"),
    (0.475, "related: they share some details but mean different things"),
    (0.25, "same topic, different meaning"),
    (-1.0, "different topics"),
)


@dataclass(frozen=True)
class Comparison:
    """The sentence-level score (cosine of the pooled vectors) and the token-level view behind it."""

    score: float
    reading: str
    tokens: TokenSimilarity


def describe_similarity(score: float) -> str:
    """A plain-words reading of a cosine similarity between two sentence vectors."""
    return next(reading for lowest, reading in _BANDS if score >= lowest)


def compare_texts(a: str, b: str, encoder: Encoder | None = None) -> Comparison:
    """Cosine similarity of ``a`` and ``b`` with ``encoder`` (default model), explained token by token."""
    for label, text in (("first", a), ("second", b)):
        if not isinstance(text, str) or not text.strip():
            raise InvalidArgumentError(f"the {label} sentence is empty; type a sentence in both boxes.")
    encoder = encoder or load_encoder()
    score = encoder.similarity(a, b)
    return Comparison(score, describe_similarity(score), token_similarity(a, b, encoder))
