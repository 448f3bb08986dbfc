"""What a search gives back: hits, best first, and where the time went."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Hit:
    """One search result, best first. ``score`` depends on the mode: cosine similarity in [-1, 1]
    (dense), BM25 >= 0 (lexical) or the fused score (hybrid); higher is closer in each. Re-ranked,
    ``score`` is the re-ranker's and ``first_score`` the mode's (None when not re-ranked).

    ``passage``: for a document split into windows, the window that matched (an exact
    substring of ``text``, the part a re-ranker or a reader should look at first); None
    when the whole text was one vector or only the lexical list found the document."""

    id: str
    text: str
    score: float
    metadata: dict[str, Any] = field(default_factory=dict)
    passage: str | None = None
    first_score: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """The hit as JSON-ready data; ``passage`` and ``first_score`` only when set, so plain hits read as before."""
        data = asdict(self)
        for optional in ("passage", "first_score"):
            if data[optional] is None:
                del data[optional]
        return data


@dataclass(frozen=True)
class StageTimings:
    """Wall-clock milliseconds per stage; ``total_ms`` spans the whole query, validation included.

    The split tells a user what to change: a slow encode wants a smaller model or the
    ONNX backend; slow candidates want another index kind (or a narrower filter).
    """

    encode_ms: float
    candidates_ms: float
    fetch_ms: float
    total_ms: float
    rerank_ms: float = 0.0  # the cross-encoder's share; 0 when not re-ranked


@dataclass(frozen=True)
class SearchResult:
    """One list of hits per query, best first, and where the time went."""

    hits: list[list[Hit]]
    timings: StageTimings
