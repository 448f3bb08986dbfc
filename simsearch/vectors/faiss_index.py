"""The FAISS plumbing every kind shares: ids, tombstones, GPU placement, filtered and exhaustive search.

All kinds use inner product on unit vectors (= cosine similarity) and the caller's int64
ids. Each kind is a short subclass in its own file (flat.py, hnsw.py, ivf.py) saying how to
make its FAISS index, check its settings and tune its search. Ids an index cannot remove in
place, and the dead rows of an immutable base, are tombstones (tombstones.py) filtered out
with an ``IDSelector`` at search time; compaction or a rebuild drops them for good.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

import faiss
import numpy as np

from simsearch.atomic import replacing
from simsearch.errors import InvalidArgumentError
from simsearch.numbers import is_whole_number
from simsearch.vectors.base import VectorIndex
from simsearch.vectors.gpu import gpu_count, to_cpu, to_gpu
from simsearch.vectors.settings import whole_numbers
from simsearch.vectors.threads import threads_for
from simsearch.vectors.tombstones import Tombstones

# Filtered searches over at most this many documents score them exactly (see _exact_among).
EXACT_FILTER_LIMIT = 20_000


class FaissIndex(VectorIndex):
    """Shared FAISS plumbing; subclasses say how to make the index and tune its search."""

    gpu_capable: ClassVar[bool] = True

    def __init__(self, index: faiss.Index, params: dict[str, Any], tombstones: Tombstones | None = None) -> None:
        self._cpu, self._params, self._tombstones = index, params, tombstones or Tombstones()
        self._gpu: faiss.Index | None = None
        self._tune(index)

    # --- construction -------------------------------------------------------------------
    @classmethod
    def create(cls, dimension: int, n_vectors: int, params: Mapping[str, Any] | None = None) -> FaissIndex:
        defaults = cls.default_params(dimension, n_vectors)
        given = whole_numbers(cls.kind, defaults, params or {})
        settings = cls.fit_defaults({**defaults, **given}, given)
        cls.check_params(settings, dimension, n_vectors)
        return cls(cls.make(dimension, settings), settings)

    @classmethod
    def load(cls, path: Path, params: Mapping[str, Any]) -> FaissIndex:
        return cls(faiss.read_index(str(path)), dict(params), Tombstones.read(path))

    @classmethod
    def default_params(cls, dimension: int, n_vectors: int) -> dict[str, Any]:
        return {}

    @classmethod
    def fit_defaults(cls, settings: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
        """Adjust defaults that depend on a setting the caller gave (IVF's nprobe on nlist)."""
        return settings

    @classmethod
    def check_params(cls, params: dict[str, Any], dimension: int, n_vectors: int) -> None:
        """Raise InvalidArgumentError for settings FAISS would reject cryptically, or accept and fail at search."""

    @classmethod
    def make(cls, dimension: int, params: dict[str, Any]) -> faiss.Index:
        raise NotImplementedError

    def _tune(self, index: faiss.Index) -> None:
        """Apply search-time knobs (efSearch, nprobe) to a CPU or GPU index."""

    # --- VectorIndex --------------------------------------------------------------------
    def build(self, vectors: np.ndarray, ids: np.ndarray) -> None:
        vectors, ids = as_inputs(vectors, ids)
        target = to_gpu(self._cpu) if self._uses_gpu() else self._cpu
        if not target.is_trained:
            target.train(vectors)
        target.add_with_ids(vectors, ids)
        if target is not self._cpu:
            self._cpu, self._gpu = to_cpu(target), target
            self._tune(self._gpu)

    def add(self, vectors: np.ndarray, ids: np.ndarray) -> None:
        vectors, ids = as_inputs(vectors, ids)
        self._cpu.add_with_ids(vectors, ids)
        self._gpu = None  # re-cloned on the next search

    def remove(self, ids: np.ndarray) -> None:
        self._cpu.remove_ids(faiss.IDSelectorBatch(np.ascontiguousarray(ids, dtype=np.int64)))
        self._gpu = None

    def without(self, ids: np.ndarray) -> FaissIndex:
        """A view sharing this index's FAISS data in which ``ids`` (stored here) are tombstones too.

        Cheap (no vector is copied) and leaves this object untouched, so searches running on it
        are undisturbed: the segmented vectors hide deleted rows of an immutable base this way.
        """
        view = type(self)(self._cpu, dict(self._params), self._tombstones.plus(ids))
        view._gpu = self._gpu
        return view

    def search(
        self, queries: np.ndarray, k: int, allowed_ids: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        with threads_for(len(queries)):  # one query: one OpenMP thread (threads.py)
            return self._search(queries, k, allowed_ids)

    def _search(self, queries: np.ndarray, k: int, allowed_ids: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        k = min(int(k), max(1, int(self._cpu.ntotal)))  # FAISS allocates k slots per query: never more than exist
        if allowed_ids is not None:
            return self._search_among(queries, k, allowed_ids)
        if k >= self.count:  # every document asked for: an approximate walk could miss some
            return self._search_all(queries, k)
        index = self._search_index()
        if self._tombstones:
            parameters = self._search_parameters()
            parameters.sel = self._tombstones.excluded
            return index.search(queries, k, params=parameters)
        return index.search(queries, k)

    def ids(self) -> np.ndarray:
        stored = self._stored_ids()
        if self._tombstones:
            stored = stored[~np.isin(stored, self._tombstones.sorted_ids)]
        return np.sort(stored.astype(np.int64))

    def reconstruct(self, ids: np.ndarray) -> np.ndarray | None:
        if not isinstance(self._cpu, faiss.IndexIDMap2):  # IVF kinds keep no id -> vector map
            return None
        return self._cpu.reconstruct_batch(np.ascontiguousarray(ids, dtype=np.int64))

    def set_search_params(self, **params: int) -> None:
        for name, value in params.items():
            if name not in self.search_knobs:
                valid = ", ".join(self.search_knobs) or "none"
                raise InvalidArgumentError(f"kind {self.kind} has no search setting {name!r}; valid: {valid}.")
            if not is_whole_number(value) or value < 1:
                raise InvalidArgumentError(f"search setting {name} must be a positive integer (got {value!r}).")
        self._params.update(params)
        self._tune(self._cpu)
        if self._gpu is not None:
            self._tune(self._gpu)

    def compacted_parts(
        self, vectors: np.ndarray, ids: np.ndarray, retrain_from: int | None = None
    ) -> Iterator[FaissIndex]:
        if retrain_from is None:
            yield self.compacted(vectors, ids)
        else:
            yield self.retrained(vectors, ids, self.regrown_settings(retrain_from, self.count + len(ids)))

    def compacted(self, vectors: np.ndarray, ids: np.ndarray) -> FaissIndex:
        """A new index: this one less its tombstones, plus ``vectors`` under ``ids``, appended to a clone
        (IVF kinds: into the cells they were trained on)."""
        fresh = type(self)(faiss.clone_index(self._cpu), dict(self._params))
        if self._tombstones:
            fresh._cpu.remove_ids(faiss.IDSelectorBatch(self._tombstones.sorted_ids))
        if len(ids):
            fresh.add(vectors, ids)
        return fresh

    def retrained(self, vectors: np.ndarray, ids: np.ndarray, settings: dict[str, Any]) -> FaissIndex:
        """A new index of this kind with ``settings``, built (trained, where the kind needs it) from this one's
        live vectors plus ``vectors`` under ``ids``, as a build from those vectors would be."""
        live_ids, live_vectors = self._live_vectors()
        all_ids = np.concatenate([live_ids, np.asarray(ids, dtype=np.int64)])
        all_vectors = np.concatenate([live_vectors, np.asarray(vectors, dtype=np.float32)])
        fresh = type(self).create(self.dimension, len(all_ids), settings)
        fresh.build(all_vectors, all_ids)
        return fresh

    def can_retrain(self, retrain_from: int, ids: np.ndarray) -> bool:
        return self.needs_training and self.trains_with(
            self.regrown_settings(retrain_from, self.count + len(ids)), len(ids)
        )

    def trains_with(self, settings: dict[str, Any], new: int) -> bool:
        """Whether this index's live vectors plus ``new`` more are enough to train a copy with ``settings``."""
        try:
            type(self).check_params(dict(settings), self.dimension, self.count + new)
        except InvalidArgumentError:
            return False
        return True

    def regrown_settings(self, built_for: int, count: int) -> dict[str, Any]:
        """The settings a build of ``count`` vectors would choose, keeping the caller's own choices.

        A setting that equals what ``default_params`` derives for the ``built_for`` vectors this index
        was built from is taken as derived (an IVF's nlist and nprobe, HNSW's ef_search), and derived
        again for ``count`` by the same formula; any other setting was the caller's, and stays.
        """
        chosen = self._chosen_settings(built_for)
        return type(self).fit_defaults({**self.default_params(self.dimension, count), **chosen}, chosen)

    def _chosen_settings(self, built_for: int) -> dict[str, Any]:
        """The settings a build of ``built_for`` vectors would not have derived by itself."""
        defaults = self.default_params(self.dimension, built_for)
        differing = {name: value for name, value in self._params.items() if defaults.get(name) != value}
        chosen = {}
        for name, value in differing.items():
            others = {other: given for other, given in differing.items() if other != name}
            if type(self).fit_defaults({**defaults, **others}, others).get(name) != value:  # not fitted to another
                chosen[name] = value
        return chosen

    def copy(self) -> FaissIndex:
        return type(self)(faiss.clone_index(self._cpu), dict(self._params), self._tombstones)

    def save(self, path: Path) -> None:
        with replacing(path) as temporary:
            faiss.write_index(self._cpu, str(temporary))
        self._tombstones.save(path)

    @property
    def count(self) -> int:
        return int(self._cpu.ntotal) - len(self._tombstones)

    @property
    def dimension(self) -> int:
        return int(self._cpu.d)

    @property
    def params(self) -> dict[str, Any]:
        return dict(self._params)

    # --- helpers ------------------------------------------------------------------------
    def _live_vectors(self) -> tuple[np.ndarray, np.ndarray]:
        """Every live id and its vector as the index holds it (IVF kinds decode their codes)."""
        live = self.ids()
        return live, self._cpu.reconstruct_batch(live)

    def _stored_ids(self) -> np.ndarray:
        """Every id in the FAISS index, tombstones included, in no particular order."""
        return faiss.vector_to_array(self._cpu.id_map)

    def _uses_gpu(self) -> bool:
        return self.gpu_capable and gpu_count() > 0

    def _search_index(self) -> faiss.Index:
        if not self._uses_gpu():
            return self._cpu
        if self._gpu is None:
            self._gpu = to_gpu(self._cpu)
            self._tune(self._gpu)
        return self._gpu

    def _search_among(self, queries: np.ndarray, k: int, allowed_ids: np.ndarray):
        """Search only ``allowed_ids`` (a metadata filter); on CPU, as FAISS GPU indexes take no IDSelector."""
        allowed = np.asarray(allowed_ids, dtype=np.int64)
        if self._tombstones:
            allowed = np.setdiff1d(allowed, self._tombstones.sorted_ids)
        if len(allowed) <= EXACT_FILTER_LIMIT:
            stored = self.reconstruct(allowed)
            if stored is not None:
                return _exact_among(queries, k, allowed, stored)
        parameters = self._search_parameters(everything=k >= len(allowed))
        parameters.sel = faiss.IDSelectorBatch(np.ascontiguousarray(allowed))
        return self._cpu.search(queries, k, params=parameters)

    def _search_all(self, queries: np.ndarray, k: int):
        """Every live document, ranked: scored exactly where the vectors can be read back, else every cell probed."""
        live = faiss.vector_to_array(self._cpu.id_map) if isinstance(self._cpu, faiss.IndexIDMap2) else None
        if live is not None:
            if self._tombstones:
                live = np.setdiff1d(live, self._tombstones.sorted_ids)
            stored = self.reconstruct(live)
            if stored is not None:  # always, as the ids came from the id map reconstruct reads
                return _exact_among(queries, k, live, stored)
        parameters = self._search_parameters(everything=True)
        if self._tombstones:
            parameters.sel = self._tombstones.excluded
        return self._cpu.search(queries, k, params=parameters)

    def _search_parameters(self, everything: bool = False) -> faiss.SearchParameters:
        """Search settings for one query; ``everything`` widens an approximate search to every document."""
        return faiss.SearchParameters()


def as_inputs(vectors: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vectors and ids as FAISS takes them: contiguous float32 and int64."""
    return np.ascontiguousarray(vectors, dtype=np.float32), np.ascontiguousarray(ids, dtype=np.int64)


def _exact_among(queries: np.ndarray, k: int, ids: np.ndarray, vectors: np.ndarray):
    """Exact top-k over a filtered subset.

    A graph walk with a selector visits the same nodes as an unfiltered search, so a
    selective filter on HNSW found few or none of the matching texts; scoring a small
    subset directly is both exact and fast.
    """
    subset = faiss.IndexFlatIP(vectors.shape[1])
    subset.add(np.ascontiguousarray(vectors, dtype=np.float32))
    scores, positions = subset.search(queries, k)
    if len(ids) == 0:
        return scores, positions  # all -1: nothing matched the filter
    return scores, np.where(positions >= 0, ids[np.maximum(positions, 0)], -1)
