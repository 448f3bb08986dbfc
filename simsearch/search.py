"""Query vectors in, ranked hits with texts out.

Reads are lock-free: the caller passes the vector index it holds now, and hits
whose rows have just been deleted by a concurrent writer are dropped rather
than returned without a text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from simsearch.backends.base import VectorIndex
from simsearch.errors import InvalidArgumentError
from simsearch.store import Store


@dataclass(frozen=True)
class Hit:
    """One search result. ``score`` is the cosine similarity in [-1, 1], higher is closer."""

    id: str
    text: str
    score: float
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_query(query: str) -> str:
    if not isinstance(query, str) or not query.strip():
        raise InvalidArgumentError("the query is empty; type some words to search for.")
    return query


def check_k(k: int) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise InvalidArgumentError(f"k must be a whole number of at least 1 (got {k!r}).")
    return int(k)


def ranked_hits(vectors: VectorIndex, store: Store, query_vectors: np.ndarray, k: int,
                allowed_ids: np.ndarray | None = None) -> list[list[Hit]]:
    """Search every query vector and join the ids to their stored texts, best first.

    ``allowed_ids`` (from a metadata filter) restricts the hits to those row ids.
    """
    scores, row_ids = vectors.search(query_vectors, k, allowed_ids)
    documents = store.fetch(np.unique(row_ids).tolist())
    return [_hits_of_one_query(row_scores, row_ids_, documents) for row_scores, row_ids_ in zip(scores, row_ids)]


def _hits_of_one_query(scores: Sequence[float], row_ids: Sequence[int], documents: dict) -> list[Hit]:
    hits = []
    for score, row_id in zip(scores, row_ids):
        doc = documents.get(int(row_id))
        if doc is not None:
            hits.append(Hit(id=doc.id, text=doc.text, score=float(score), metadata=doc.metadata))
    return hits
