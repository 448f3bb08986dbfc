"""The kNN self-join: for every stored document, its ``k`` nearest neighbours at or above a threshold.

Comparing every pair costs n² similarities; here each document asks the vector index for its
neighbours, in batches, so the cost is that of n searches: exact for flat indexes, approximate
(and much faster at 1M) for hnsw and the IVF kinds. Dedup joins the pairs into groups and
clustering grows clusters from the lists; both read them from here, in the shape each needs.

Neighbours are positions into the sorted ``row_ids`` the join was given, not row ids, so the
callers can index arrays of per-document values with them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import numpy as np

from simsearch.errors import InvalidArgumentError
from simsearch.numbers import is_whole_number

if TYPE_CHECKING:
    from simsearch.store import Store
    from simsearch.vectors import VectorIndex

DEFAULT_NEIGHBOURS = 10
_BATCH = 4096  # documents per batch of searches: large enough for BLAS, small enough for memory at 1M


def documents_to_join(store: Store, k: int, wanted: str) -> np.ndarray:
    """The sorted row ids of the stored documents, once ``k`` and their number allow a join.

    ``wanted`` names what the caller looks for (``duplicates``, ``clusters``) in the error.
    """
    if not is_whole_number(k) or k < 1:
        raise InvalidArgumentError(f"k must be a whole number of at least 1 (got {k!r}).")
    row_ids = store.ids()
    if len(row_ids) < 2:
        raise InvalidArgumentError(f"the index holds {len(row_ids)} document(s); {wanted} need at least two.")
    return row_ids


def stored_vectors(
    vectors: VectorIndex, store: Store, encode: Callable[[list[str]], np.ndarray]
) -> Callable[[np.ndarray], np.ndarray]:
    """A reader of unit vectors by row id: read back where the kind keeps them (flat, hnsw), else re-encoded."""

    def vectors_of(row_ids: np.ndarray) -> np.ndarray:
        stored = vectors.reconstruct(row_ids)
        if stored is not None:
            return np.asarray(stored, dtype=np.float32)
        documents = store.fetch(row_ids.tolist())
        return encode([documents[int(i)].text for i in row_ids])

    return vectors_of


def neighbour_batches(
    vectors: VectorIndex,
    row_ids: np.ndarray,
    vectors_of: Callable[[np.ndarray], np.ndarray],
    threshold: float,
    k: int,
    batch_size: int = _BATCH,
) -> Iterator[tuple[int, np.ndarray]]:
    """For each batch of documents, its first position and its (batch, k + 1) neighbour positions.

    A row lists the document's neighbours at or above ``threshold``, best first, then -1s;
    never the document itself.
    """
    depth = min(k + 1, len(row_ids))  # + 1: a document finds itself first
    for start in range(0, len(row_ids), batch_size):
        batch = row_ids[start : start + batch_size]
        scores, found = vectors.search(vectors_of(batch), depth)
        # a document is its first vector (its row id); later windows of long texts are not documents
        keep = (found >= 0) & (scores >= threshold) & (found != batch[:, None]) & np.isin(found, row_ids)
        positions = np.where(keep, np.searchsorted(row_ids, np.where(keep, found, row_ids[0])), -1)
        order = np.argsort(~keep, axis=1, kind="stable")  # kept neighbours first, still in score order
        yield start, np.take_along_axis(positions, order, axis=1)


def neighbour_lists(
    vectors: VectorIndex, row_ids: np.ndarray, vectors_of: Callable[[np.ndarray], np.ndarray], threshold: float, k: int
) -> np.ndarray:
    """(n, k + 1) positions into ``row_ids`` of neighbours at or above ``threshold``, best first; -1 pads."""
    lists = np.full((len(row_ids), min(k + 1, len(row_ids))), -1, dtype=np.int64)
    for start, positions in neighbour_batches(vectors, row_ids, vectors_of, threshold, k):
        lists[start : start + len(positions)] = positions
    return lists


def neighbour_pairs(
    vectors: VectorIndex,
    row_ids: np.ndarray,
    vectors_of: Callable[[np.ndarray], np.ndarray],
    threshold: float,
    k: int,
    batch_size: int = _BATCH,
) -> tuple[np.ndarray, np.ndarray]:
    """Positions (into the sorted ``row_ids``) of every pair a kNN search finds at or above ``threshold``."""
    firsts, seconds = [], []
    for start, positions in neighbour_batches(vectors, row_ids, vectors_of, threshold, k, batch_size):
        rows, columns = np.nonzero(positions >= 0)
        firsts.append(start + rows)
        seconds.append(positions[rows, columns])
    return np.concatenate(firsts).astype(np.int64), np.concatenate(seconds).astype(np.int64)
