"""A search that reports where its time went: encoding the query, and searching the vectors.

The split tells a user what to change: a slow encode wants a smaller model or the
ONNX backend; a slow search wants another index kind.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from simsearch.filters import Filters
from simsearch.search import Hit, check_k, check_query

if TYPE_CHECKING:
    from simsearch.index import Index


@dataclass(frozen=True)
class TimedHits:
    """Hits plus wall-clock milliseconds for the query's encoding and for the vector search + text lookup."""

    hits: list[Hit]
    encode_ms: float
    search_ms: float

    @property
    def total_ms(self) -> float:
        return self.encode_ms + self.search_ms


def timed_search(index: Index, query: str, k: int = 10, filters: Filters | None = None) -> TimedHits:
    """``index.search(query, k, filters)``, timed in two parts."""
    query, k = check_query(query), check_k(k)
    started = time.perf_counter()
    vectors = index.encoder.encode([query])
    encoded = time.perf_counter()
    hits = index.search_vectors(vectors, k, filters)[0]
    finished = time.perf_counter()
    return TimedHits(hits, (encoded - started) * 1000, (finished - encoded) * 1000)
