"""FAISS vector indexes, one small class per index kind.

All kinds use inner product on unit vectors (= cosine similarity) and the
caller's int64 ids. Kinds whose FAISS index cannot ``remove_ids`` (HNSW) keep
deleted ids as tombstones and filter them out with an ``IDSelector`` at search
time; a rebuild drops them for good.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar

import faiss
import numpy as np

from simsearch.atomic import replacing
from simsearch.errors import CorruptIndexError, InvalidArgumentError, fix
from simsearch.numbers import is_whole_number
from simsearch.vectors.base import IndexKind, VectorIndex
from simsearch.vectors.gpu import gpu_count, to_cpu, to_gpu

# Filtered searches over at most this many documents score them exactly (see _exact_among).
EXACT_FILTER_LIMIT = 20_000
# Compaction rebuilds an HNSW graph from its stored vectors once this share of it is tombstones (10%):
# below it, dead nodes only lengthen walks a little; above it, searches waste their breadth on them.
HNSW_REBUILD_DEAD = 0.10
# FAISS keeps its size settings (M, efSearch, nlist, nprobe) in C ints.
MAX_SETTING = 2**31 - 1
# (trained empty index serialised, [(vectors, ids) per part]) -> each part added to its own copy, serialised
PartsFiller = Callable[[np.ndarray, list[tuple[np.ndarray, np.ndarray]]], list[np.ndarray]]


class FaissIndex(VectorIndex):
    """Shared FAISS plumbing; subclasses say how to make the index and tune its search."""

    gpu_capable: ClassVar[bool] = True
    removes_in_place: ClassVar[bool] = True

    def __init__(self, index: faiss.Index, params: dict[str, Any], deleted: np.ndarray | None = None) -> None:
        self._cpu = index
        self._params = params
        self._deleted: set[int] = set() if deleted is None else {int(i) for i in deleted}
        self._deleted_sorted: np.ndarray | None = None  # cached: a search must not sort 100k ids each time
        self._selector: tuple[np.ndarray, Any, Any] | None = None  # (those ids, their batch, its negation)
        self._gpu: faiss.Index | None = None
        self._tune(index)

    # --- construction -------------------------------------------------------------------
    @classmethod
    def create(cls, dimension: int, n_vectors: int, params: Mapping[str, Any] | None = None) -> FaissIndex:
        defaults = cls.default_params(dimension, n_vectors)
        given = _whole_numbers(cls.kind, defaults, params or {})
        settings = cls.fit_defaults({**defaults, **given}, given)
        cls.check_params(settings, dimension, n_vectors)
        return cls(cls.make(dimension, settings), settings)

    @classmethod
    def load(cls, path: Path, params: Mapping[str, Any]) -> FaissIndex:
        index = faiss.read_index(str(path))
        return cls(index, dict(params), _read_tombstones(_tombstone_path(path)))

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
        vectors, ids = _as_inputs(vectors, ids)
        target = to_gpu(self._cpu) if self._uses_gpu() else self._cpu
        if not target.is_trained:
            target.train(vectors)
        target.add_with_ids(vectors, ids)
        if target is not self._cpu:
            self._cpu, self._gpu = to_cpu(target), target
            self._tune(self._gpu)

    def add(self, vectors: np.ndarray, ids: np.ndarray) -> None:
        vectors, ids = _as_inputs(vectors, ids)
        self._cpu.add_with_ids(vectors, ids)
        self._gpu = None  # re-cloned on the next search

    def remove(self, ids: np.ndarray) -> None:
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        if self.removes_in_place:
            self._cpu.remove_ids(faiss.IDSelectorBatch(ids))
        else:
            stored = set(faiss.vector_to_array(self._cpu.id_map).tolist())
            self._deleted.update(int(i) for i in ids if int(i) in stored)
            self._deleted_sorted = None
        self._gpu = None

    def without(self, ids: np.ndarray) -> FaissIndex:
        """A view sharing this index's FAISS data in which ``ids`` (stored here) are tombstones too.

        Cheap (no vector is copied) and leaves this object untouched, so searches running on it
        are undisturbed: the segmented vectors hide deleted rows of an immutable base this way.
        """
        view = type(self)(self._cpu, dict(self._params), None)
        view._deleted = self._deleted | {int(i) for i in ids}
        view._gpu = self._gpu
        return view

    def physical_copy(self) -> tuple[FaissIndex, np.ndarray]:
        """A clone of the FAISS data without the tombstones, and the tombstoned ids (for compaction)."""
        return type(self)(faiss.clone_index(self._cpu), dict(self._params), None), self._deleted_ids()

    def search(
        self, queries: np.ndarray, k: int, allowed_ids: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        k = min(int(k), max(1, int(self._cpu.ntotal)))  # FAISS allocates k slots per query: never more than exist
        if allowed_ids is not None:
            return self._search_among(queries, k, allowed_ids)
        if k >= self.count:  # every document asked for: an approximate walk could miss some
            return self._search_all(queries, k)
        index = self._search_index()
        if self._deleted:
            return self._search_without_deleted(index, queries, k)
        return index.search(queries, k)

    def ids(self) -> np.ndarray:
        if hasattr(self._cpu, "id_map"):
            stored = faiss.vector_to_array(self._cpu.id_map)
        else:  # IVF kinds keep the ids in their inverted lists
            lists = faiss.extract_index_ivf(self._cpu).invlists
            stored = np.concatenate(
                [np.zeros(0, dtype=np.int64)]
                + [
                    faiss.rev_swig_ptr(lists.get_ids(i), lists.list_size(i)).copy()
                    for i in range(lists.nlist)
                    if lists.list_size(i)
                ]
            )
        if self._deleted:
            stored = stored[~np.isin(stored, self._deleted_ids())]
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

    def compacted(self, dead: np.ndarray, vectors: np.ndarray, ids: np.ndarray) -> FaissIndex:
        """A new index: this one less ``dead`` (ids stored here), plus ``vectors`` under ``ids``.

        Flat and IVF kinds drop the dead vectors and append the new ones to a clone (IVF kinds
        into the cells they were trained on). HNSW cannot remove from its graph: the new vectors
        join a clone of the graph and the dead stay tombstones, until tombstones pass
        ``HNSW_REBUILD_DEAD`` of the graph, when a fresh graph is built from its own stored vectors.
        """
        fresh, tombstones = self.physical_copy()
        gone = np.union1d(tombstones, np.asarray(dead, dtype=np.int64))
        if self.removes_in_place:
            if len(gone):
                fresh._cpu.remove_ids(faiss.IDSelectorBatch(gone))
        elif len(gone) > HNSW_REBUILD_DEAD * max(1, fresh._cpu.ntotal):
            live = np.setdiff1d(faiss.vector_to_array(fresh._cpu.id_map), gone)
            vectors = np.concatenate([fresh.reconstruct(live), np.asarray(vectors, dtype=np.float32)])
            ids = np.concatenate([live, np.asarray(ids, dtype=np.int64)])
            fresh = type(self).create(self.dimension, len(ids), self._params)
            fresh.build(vectors, ids)
            return fresh
        else:
            fresh._deleted = {int(i) for i in gone}
        if len(ids):
            fresh.add(vectors, ids)
        return fresh

    def _deleted_ids(self) -> np.ndarray:
        if self._deleted_sorted is None or len(self._deleted_sorted) != len(self._deleted):
            self._deleted_sorted = np.array(sorted(self._deleted), dtype=np.int64)
        return self._deleted_sorted

    def copy(self) -> FaissIndex:
        return type(self)(faiss.clone_index(self._cpu), dict(self._params), np.array(sorted(self._deleted)))

    def save(self, path: Path) -> None:
        with replacing(path) as temporary:
            faiss.write_index(self._cpu, str(temporary))
        if self._deleted:
            with replacing(_tombstone_path(path)) as temporary:
                _save_npy(temporary, self._deleted_ids())

    @property
    def count(self) -> int:
        return int(self._cpu.ntotal) - len(self._deleted)

    @property
    def dimension(self) -> int:
        return int(self._cpu.d)

    @property
    def params(self) -> dict[str, Any]:
        return dict(self._params)

    # --- helpers ------------------------------------------------------------------------
    def _uses_gpu(self) -> bool:
        return self.gpu_capable and gpu_count() > 0

    def _search_index(self) -> faiss.Index:
        if not self._uses_gpu():
            return self._cpu
        if self._gpu is None:
            self._gpu = to_gpu(self._cpu)
            self._tune(self._gpu)
        return self._gpu

    def _search_without_deleted(self, index: faiss.Index, queries: np.ndarray, k: int):
        parameters = self._search_parameters()
        parameters.sel = self._excluding_deleted()
        return index.search(queries, k, params=parameters)

    def _excluding_deleted(self) -> faiss.IDSelector:
        """A selector of every id but the tombstones, built once per set of tombstones (a hash of 100k ids
        takes milliseconds; a query should not pay that)."""
        cached = self._selector
        if cached is None or cached[0] is not self._deleted_ids():
            batch = faiss.IDSelectorBatch(self._deleted_ids())
            cached = self._selector = (self._deleted_ids(), batch, faiss.IDSelectorNot(batch))
        return cached[2]

    def _search_among(self, queries: np.ndarray, k: int, allowed_ids: np.ndarray):
        """Search only ``allowed_ids`` (a metadata filter); on CPU, as FAISS GPU indexes take no IDSelector."""
        allowed = np.asarray(allowed_ids, dtype=np.int64)
        if self._deleted:
            allowed = np.setdiff1d(allowed, self._deleted_ids())
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
            if self._deleted:
                live = np.setdiff1d(live, self._deleted_ids())
            stored = self.reconstruct(live)
            if stored is not None:  # always, as the ids came from the id map reconstruct reads
                return _exact_among(queries, k, live, stored)
        parameters = self._search_parameters(everything=True)
        if self._deleted:
            parameters.sel = self._excluding_deleted()
        return self._cpu.search(queries, k, params=parameters)

    def _search_parameters(self, everything: bool = False) -> faiss.SearchParameters:
        """Search settings for one query; ``everything`` widens an approximate search to every document."""
        return faiss.SearchParameters()


class FlatIndex(FaissIndex):
    """Exact search: every vector scored. Best below a few tens of thousands of documents."""

    kind = "flat"

    @classmethod
    def make(cls, dimension: int, params: dict[str, Any]) -> faiss.Index:
        return faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))


class HNSWIndex(FaissIndex):
    """Graph search: sub-linear queries, high recall, 4 bytes a dimension plus the graph."""

    kind = "hnsw"
    search_knobs = ("ef_search",)
    gpu_capable = False  # faiss-gpu has no HNSW; the graph stays on CPU
    removes_in_place = False  # FAISS HNSW cannot remove_ids: tombstones instead

    @classmethod
    def default_params(cls, dimension: int, n_vectors: int) -> dict[str, Any]:
        return {"m": 32, "ef_construction": 80, "ef_search": _hnsw_ef_search(n_vectors)}

    @classmethod
    def make(cls, dimension: int, params: dict[str, Any]) -> faiss.Index:
        hnsw = faiss.IndexHNSWFlat(dimension, int(params["m"]), faiss.METRIC_INNER_PRODUCT)
        hnsw.hnsw.efConstruction = int(params["ef_construction"])
        return faiss.IndexIDMap2(hnsw)

    def _tune(self, index: faiss.Index) -> None:
        faiss.downcast_index(index.index).hnsw.efSearch = int(self._params["ef_search"])

    def _search_parameters(self, everything: bool = False) -> faiss.SearchParameters:
        return faiss.SearchParametersHNSW(efSearch=int(self._params["ef_search"]))

    @classmethod
    def check_params(cls, params: dict[str, Any], dimension: int, n_vectors: int) -> None:
        _check_range(cls.kind, "m", params["m"], 2, 256)  # the graph's links per node; FAISS's usual 16-64
        _check_range(cls.kind, "ef_construction", params["ef_construction"], 1, MAX_SETTING)
        _check_range(cls.kind, "ef_search", params["ef_search"], 1, MAX_SETTING)


class IVFIndex(FaissIndex):
    """Inverted lists over k-means cells: fast to build, recall set by nprobe."""

    kind: IndexKind = "ivf"
    search_knobs = ("nprobe",)

    @classmethod
    def default_params(cls, dimension: int, n_vectors: int) -> dict[str, Any]:
        # ~4*sqrt(n) cells is FAISS's usual guidance; 39 points a cell keeps k-means stable.
        nlist = max(1, min(int(4 * math.sqrt(n_vectors)), n_vectors // 39))
        # At least 32 probes: with fewer, recall@10 fell to 0.86 on 10k real sentence embeddings.
        return {"nlist": nlist, "nprobe": min(nlist, max(32, nlist // 16))}

    @classmethod
    def fit_defaults(cls, settings: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
        if "nprobe" not in given:
            settings["nprobe"] = max(1, min(settings["nprobe"], settings["nlist"]))
        return settings

    @classmethod
    def check_params(cls, params: dict[str, Any], dimension: int, n_vectors: int) -> None:
        _check_range(cls.kind, "nlist", params["nlist"], 1, MAX_SETTING)
        if n_vectors < int(params["nlist"]):
            raise InvalidArgumentError(
                f"kind {cls.kind} with nlist={params['nlist']} needs at least that many documents "
                f"(got {n_vectors}); lower nlist, or {fix('kind_flat')} for small corpora."
            )
        _check_range(cls.kind, "nprobe", params["nprobe"], 1, int(params["nlist"]))

    @classmethod
    def make(cls, dimension: int, params: dict[str, Any]) -> faiss.Index:
        quantizer = faiss.IndexFlatIP(dimension)
        return faiss.IndexIVFFlat(quantizer, dimension, int(params["nlist"]), faiss.METRIC_INNER_PRODUCT)

    def _tune(self, index: faiss.Index) -> None:
        faiss.extract_index_ivf(index).nprobe = int(self._params["nprobe"])

    def build_from_parts(self, vectors: np.ndarray, ids: np.ndarray, parts: int, fill_parts: PartsFiller) -> None:
        """``build`` with the adding spread out: train once here, let ``fill_parts`` add each of ``parts``
        consecutive slices to its own copy (on other machines), merge the copies in order.

        The quantiser is trained on the same vectors as ``build`` (FAISS's k-means draws its own
        sample of at most 256 points a cell from them), and merging in order appends to each
        inverted list as one add would, so the index equals a one-machine build's.
        """
        vectors, ids = _as_inputs(vectors, ids)
        self._cpu.train(vectors)
        bounds = np.linspace(0, len(ids), max(1, parts) + 1).astype(np.int64)
        slices = [(vectors[start:end], ids[start:end]) for start, end in zip(bounds, bounds[1:]) if end > start]
        for filled in fill_parts(faiss.serialize_index(self._cpu), slices):
            self._cpu.merge_from(faiss.deserialize_index(filled), 0)
        self._gpu = None

    def _search_parameters(self, everything: bool = False) -> faiss.SearchParameters:
        nprobe = faiss.extract_index_ivf(self._cpu).nlist if everything else int(self._params["nprobe"])
        return faiss.SearchParametersIVF(nprobe=int(nprobe))


class IVFPQIndex(IVFIndex):
    """IVF with product-quantised codes: a few dozen bytes a document, approximate scores."""

    kind: IndexKind = "ivfpq"

    @classmethod
    def default_params(cls, dimension: int, n_vectors: int) -> dict[str, Any]:
        return {**super().default_params(dimension, n_vectors), "m": _pq_subquantizers(dimension), "nbits": 8}

    @classmethod
    def check_params(cls, params: dict[str, Any], dimension: int, n_vectors: int) -> None:
        _check_range(cls.kind, "nbits", params["nbits"], 1, 16)
        needed = 2 ** int(params["nbits"])  # nbits-bit PQ trains 2**nbits centroids per sub-quantiser
        if n_vectors < needed:
            raise InvalidArgumentError(
                f"kind ivfpq needs at least {needed} documents to train (got {n_vectors}); "
                f"{fix('kind_flat')} for small corpora."
            )
        super().check_params(params, dimension, n_vectors)
        _check_range(cls.kind, "m", params["m"], 1, dimension)
        if dimension % int(params["m"]):
            raise InvalidArgumentError(
                f"ivfpq m={params['m']} must divide the dimension {dimension}; "
                f"valid: {', '.join(str(m) for m in _divisors(dimension))}."
            )

    @classmethod
    def make(cls, dimension: int, params: dict[str, Any]) -> faiss.Index:
        quantizer = faiss.IndexFlatIP(dimension)
        return faiss.IndexIVFPQ(
            quantizer,
            dimension,
            int(params["nlist"]),
            int(params["m"]),
            int(params["nbits"]),
            faiss.METRIC_INNER_PRODUCT,
        )


class IVFSQIndex(IVFIndex):
    """IVF with 8-bit scalar-quantised vectors: one byte a dimension (~0.4 KB a document at 384),
    recall within a point or two of ``ivf`` at the same nprobe."""

    kind: IndexKind = "ivfsq"

    @classmethod
    def make(cls, dimension: int, params: dict[str, Any]) -> faiss.Index:
        quantizer = faiss.IndexFlatIP(dimension)
        return faiss.IndexIVFScalarQuantizer(
            quantizer, dimension, int(params["nlist"]), faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
        )


def _hnsw_ef_search(n_vectors: int) -> int:
    """The search breadth that keeps recall@10 near 0.95 or better as the graph grows.

    Measured on wikipedia sentence embeddings (benchmarks/performance.py): efSearch 64
    gives 0.97 at 100k documents but 0.88 at 1M, where 256 gives 0.975.
    """
    if n_vectors <= 200_000:
        return 64
    return 128 if n_vectors <= 500_000 else 256


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


def _pq_subquantizers(dimension: int) -> int:
    """Four dimensions per byte-sized code, the largest such divisor of the dimension."""
    for m in range(max(1, dimension // 4), 0, -1):
        if dimension % m == 0:
            return m
    return 1


def _divisors(dimension: int) -> list[int]:
    return [m for m in range(1, dimension + 1) if dimension % m == 0]


def _whole_numbers(kind: str, known: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, int]:
    """The caller's parameters as ints, refusing a name the kind does not have or a value that is not a whole number."""
    checked = {}
    for name, value in params.items():
        if name not in known:
            raise InvalidArgumentError(f"kind {kind} has no parameter {name!r}; valid: {', '.join(known) or 'none'}.")
        if not is_whole_number(value):
            raise InvalidArgumentError(f"kind {kind} parameter {name} must be a whole number (got {value!r}).")
        checked[name] = int(value)
    return checked


def _check_range(kind: str, name: str, value: int, low: int, high: int) -> None:
    if not low <= int(value) <= high:
        raise InvalidArgumentError(f"kind {kind} parameter {name}={value} is out of range; valid: {low} to {high}.")


def _read_tombstones(path: Path) -> np.ndarray | None:
    """The deleted ids of an HNSW index, or None when nothing was deleted; a damaged file is one clear error."""
    if not path.exists():
        return None
    try:
        deleted = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise CorruptIndexError(
            f"the deleted-ids file {path.name} is damaged ({_first_line(exc)}); {fix('rebuild', _index_name(path))}."
        ) from None
    if deleted.ndim != 1 or not np.issubdtype(deleted.dtype, np.integer):
        raise CorruptIndexError(
            f"the deleted-ids file {path.name} holds {deleted.dtype} {deleted.shape}, "
            f"not a list of ids; {fix('rebuild', _index_name(path))}."
        )
    return deleted


def _index_name(path: Path) -> str:
    """The index name from a vector file's path (<home>/.builds/NAME@stamp/...), for the rebuild hint."""
    for part in reversed(path.parts):
        if "@" in part:
            return part.split("@", 1)[0]
    return path.parent.name


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _as_inputs(vectors: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.ascontiguousarray(vectors, dtype=np.float32), np.ascontiguousarray(ids, dtype=np.int64)


def _tombstone_path(path: Path) -> Path:
    return path.with_name(path.stem + ".deleted.npy")


def _save_npy(path: Path, array: np.ndarray) -> None:
    with open(path, "wb") as handle:  # a handle, so numpy does not append ".npy" to the temporary name
        np.save(handle, array, allow_pickle=False)
