"""The inverted-file kinds: k-means cells searched ``nprobe`` at a time, with the vectors stored whole
(``ivf``), 8-bit scalar-quantised (``ivfsq``) or product-quantised (``ivfpq``).

They need training: the cells are learnt from the vectors of the build. Their lists keep
ids but no id -> vector map, so ``reconstruct`` gives nothing back.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import faiss
import numpy as np

from simsearch.errors import InvalidArgumentError, fix
from simsearch.vectors.base import IndexKind
from simsearch.vectors.faiss_index import FaissIndex, as_inputs
from simsearch.vectors.settings import MAX_SETTING, check_range
from simsearch.vectors.tombstones import Tombstones

# (trained empty index serialised, [(vectors, ids) per part]) -> each part added to its own copy, serialised
PartsFiller = Callable[[np.ndarray, list[tuple[np.ndarray, np.ndarray]]], list[np.ndarray]]


class IVFIndex(FaissIndex):
    """Inverted lists over k-means cells: fast to build, recall set by nprobe."""

    kind: IndexKind = "ivf"
    search_knobs = ("nprobe",)
    needs_training = True

    def __init__(self, index: faiss.Index, params: dict[str, Any], tombstones: Tombstones | None = None) -> None:
        # The file's own cell count wins: a compaction that re-trains writes the new base and then the
        # manifest that records it, and a process may read the one without the other.
        super().__init__(index, {**params, "nlist": int(faiss.extract_index_ivf(index).nlist)}, tombstones)

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
        check_range(cls.kind, "nlist", params["nlist"], 1, MAX_SETTING)
        if n_vectors < int(params["nlist"]):
            raise InvalidArgumentError(
                f"kind {cls.kind} with nlist={params['nlist']} needs at least that many documents "
                f"(got {n_vectors}); lower nlist, or {fix('kind_flat')} for small corpora."
            )
        check_range(cls.kind, "nprobe", params["nprobe"], 1, int(params["nlist"]))

    @classmethod
    def make(cls, dimension: int, params: dict[str, Any]) -> faiss.Index:
        quantizer = faiss.IndexFlatIP(dimension)
        return faiss.IndexIVFFlat(quantizer, dimension, int(params["nlist"]), faiss.METRIC_INNER_PRODUCT)

    def _tune(self, index: faiss.Index) -> None:
        faiss.extract_index_ivf(index).nprobe = int(self._params["nprobe"])

    def _search_parameters(self, everything: bool = False) -> faiss.SearchParameters:
        nprobe = faiss.extract_index_ivf(self._cpu).nlist if everything else int(self._params["nprobe"])
        return faiss.SearchParametersIVF(nprobe=int(nprobe))

    def _stored_ids(self) -> np.ndarray:
        lists = faiss.extract_index_ivf(self._cpu).invlists
        return np.concatenate(
            [np.zeros(0, dtype=np.int64)]
            + [
                faiss.rev_swig_ptr(lists.get_ids(i), lists.list_size(i)).copy()
                for i in range(lists.nlist)
                if lists.list_size(i)
            ]
        )

    def _live_vectors(self) -> tuple[np.ndarray, np.ndarray]:
        """The live ids and their vectors decoded from the inverted lists: exact for ``ivf``, within the 8-bit
        step for ``ivfsq``, the product-quantised approximation for ``ivfpq``."""
        ivf = faiss.extract_index_ivf(self._cpu)
        lists, prefix_bytes = ivf.invlists, ivf.coarse_code_size()
        ids, codes = [np.zeros(0, dtype=np.int64)], [np.zeros((0, ivf.sa_code_size()), dtype=np.uint8)]
        for number in range(lists.nlist):
            size = lists.list_size(number)
            if size:  # a standalone code is the list's number (little-endian) followed by the vector's code
                ids.append(faiss.rev_swig_ptr(lists.get_ids(number), size).copy())
                own = faiss.rev_swig_ptr(lists.get_codes(number), size * lists.code_size).reshape(size, -1)
                prefix = np.frombuffer(number.to_bytes(prefix_bytes, "little"), dtype=np.uint8)
                codes.append(np.hstack([np.broadcast_to(prefix, (size, prefix_bytes)), own]))
        stored = np.concatenate(ids)
        live = ~np.isin(stored, self._tombstones.sorted_ids)
        return stored[live], ivf.sa_decode(np.ascontiguousarray(np.concatenate(codes)[live]))

    def build_from_parts(self, vectors: np.ndarray, ids: np.ndarray, parts: int, fill_parts: PartsFiller) -> None:
        """``build`` with the adding spread out: train once here, let ``fill_parts`` add each of ``parts``
        consecutive slices to its own copy (on other machines), merge the copies in order.

        The quantiser is trained on the same vectors as ``build`` (FAISS's k-means draws its own
        sample of at most 256 points a cell from them), and merging in order appends to each
        inverted list as one add would, so the index equals a one-machine build's.
        """
        vectors, ids = as_inputs(vectors, ids)
        self._cpu.train(vectors)
        bounds = np.linspace(0, len(ids), max(1, parts) + 1).astype(np.int64)
        slices = [(vectors[start:end], ids[start:end]) for start, end in zip(bounds, bounds[1:]) if end > start]
        for filled in fill_parts(faiss.serialize_index(self._cpu), slices):
            self._cpu.merge_from(faiss.deserialize_index(filled), 0)
        self._gpu = None


class IVFPQIndex(IVFIndex):
    """IVF with product-quantised codes: a few dozen bytes a document, approximate scores."""

    kind: IndexKind = "ivfpq"

    @classmethod
    def default_params(cls, dimension: int, n_vectors: int) -> dict[str, Any]:
        return {**super().default_params(dimension, n_vectors), "m": _pq_subquantizers(dimension), "nbits": 8}

    @classmethod
    def check_params(cls, params: dict[str, Any], dimension: int, n_vectors: int) -> None:
        check_range(cls.kind, "nbits", params["nbits"], 1, 16)
        needed = 2 ** int(params["nbits"])  # nbits-bit PQ trains 2**nbits centroids per sub-quantiser
        if n_vectors < needed:
            raise InvalidArgumentError(
                f"kind ivfpq needs at least {needed} documents to train (got {n_vectors}); "
                f"{fix('kind_flat')} for small corpora."
            )
        super().check_params(params, dimension, n_vectors)
        check_range(cls.kind, "m", params["m"], 1, dimension)
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


def _pq_subquantizers(dimension: int) -> int:
    """Four dimensions per byte-sized code, the largest such divisor of the dimension."""
    for m in range(max(1, dimension // 4), 0, -1):
        if dimension % m == 0:
            return m
    return 1


def _divisors(dimension: int) -> list[int]:
    return [m for m in range(1, dimension + 1) if dimension % m == 0]
