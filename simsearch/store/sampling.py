"""Seeded random samples of the stored documents (the UI's browse page, clustering, evaluation sets)."""

from __future__ import annotations

import numpy as np

from simsearch.errors import InvalidArgumentError
from simsearch.store.rows import StoredDocument, fetch
from simsearch.store.statements import Query


def sample_row_ids(query: Query, size: int, seed: int) -> np.ndarray:
    """A seeded random sample of ``size`` row ids, sorted; every row id when the store holds no more."""
    if size < 0:
        raise InvalidArgumentError(f"a sample size cannot be negative (got {size}).")
    row_ids = np.array([row[0] for row in query("SELECT id FROM documents ORDER BY id")], dtype=np.int64)
    if len(row_ids) <= size:
        return row_ids
    return np.sort(np.random.default_rng(seed).choice(row_ids, size=size, replace=False))


def sample_documents(query: Query, size: int, seed: int) -> list[StoredDocument]:
    """Up to ``size`` documents chosen at random (all of them when there are fewer), in row-id order."""
    row_ids = sample_row_ids(query, size, seed)
    documents = fetch(query, row_ids.tolist())
    return [documents[int(r)] for r in row_ids if int(r) in documents]
