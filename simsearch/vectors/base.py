"""The interface every vector index kind provides, so index.py never sees FAISS types.

Ids are int64 and chosen by the caller (the store's row ids): one id space for
vectors and texts, so nothing is renumbered by an add or a delete.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import numpy as np

# "auto" picks one of the others by corpus size (vectors.choose_kind).
IndexKind = Literal["auto", "flat", "hnsw", "ivf", "ivfpq", "ivfsq"]


class VectorIndex(ABC):
    """Inner-product search over unit vectors with caller-chosen int64 ids.

    Thread-safety: ``search`` may run from many threads at once; ``build``,
    ``add`` and ``remove`` need a single writer and no concurrent searches.
    """

    kind: IndexKind  # a class attribute of each kind; a sharded index takes its parts'
    needs_training: bool = False  # cells learnt from the vectors (IVF): compaction re-trains them as the index grows
    search_knobs: tuple[str, ...] = ()  # params that change search only, settable on a built index

    @abstractmethod
    def build(self, vectors: np.ndarray, ids: np.ndarray) -> None:
        """Train (where the kind needs it) and fill a new index."""

    @abstractmethod
    def add(self, vectors: np.ndarray, ids: np.ndarray) -> None:
        """Add vectors to a built index under the given ids."""

    @abstractmethod
    def remove(self, ids: np.ndarray) -> None:
        """Make these ids unfindable; their ids are never reused."""

    @abstractmethod
    def search(
        self, queries: np.ndarray, k: int, allowed_ids: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Return (scores, ids), each (n_queries, min(k, vectors stored)), best first; missing slots have id -1.

        With ``allowed_ids`` only those ids can be returned (exact for flat: the best k among them).
        When k reaches the number of searchable vectors every one is returned, whatever the kind.
        """

    def ids(self) -> np.ndarray | None:
        """Every searchable id, sorted int64 (for consistency checks), or None where the kind cannot list them."""
        return None

    def reconstruct(self, ids: np.ndarray) -> np.ndarray | None:
        """The stored vectors of these ids, or None where the kind cannot give them back."""
        return None

    @property
    @abstractmethod
    def dimension(self) -> int:
        """The length of every stored vector (the encoder's output size)."""

    @abstractmethod
    def set_search_params(self, **params: int) -> None:
        """Change search-time settings (names from ``search_knobs``) in place, without rebuilding.

        For measuring recall against speed; like ``add``, not while searches run. ``params``
        reports the new values.
        """

    @abstractmethod
    def without(self, ids: np.ndarray) -> VectorIndex:
        """A view sharing this index's data in which ``ids`` (stored here) are unfindable; this object is
        untouched, so searches running on it go on undisturbed (deleted rows of an immutable base)."""

    @abstractmethod
    def compacted_parts(
        self, vectors: np.ndarray, ids: np.ndarray, retrain_from: int | None = None
    ) -> Iterator[VectorIndex]:
        """The index compaction writes: this one's live vectors (tombstones dropped) plus ``vectors`` under
        ``ids``, as one new index per file ``save`` would write (one; a sharded index: one per shard, in order).

        Each part is made only when the caller asks for the next, so a caller that saves a part and
        lets it go holds one part's memory at a time. ``retrain_from``: the count a kind that needs
        training learnt its cells from; given, the parts are trained afresh, with the settings a build
        derived from that count derived again for the new one.
        """

    def can_retrain(self, retrain_from: int, ids: np.ndarray) -> bool:
        """Whether ``compacted_parts(vectors, ids, retrain_from)`` can train every part: each part must keep
        at least as many vectors as its new settings need (a shard emptied by deletes cannot be trained)."""
        return False

    @abstractmethod
    def copy(self) -> VectorIndex:
        """An independent copy: writers change a copy and swap it in, so readers never wait."""

    @abstractmethod
    def save(self, path: Path) -> None:
        """Write the index to ``path`` (CPU form, FAISS's own format, never pickle)."""

    @property
    @abstractmethod
    def count(self) -> int:
        """Number of searchable vectors."""

    @property
    @abstractmethod
    def params(self) -> dict[str, Any]:
        """Settings that reproduce this index (recorded in the manifest)."""
