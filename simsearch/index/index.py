"""A named index on disk, opened: search it, change it in place, describe it.

Folder contents (``indexes/NAME`` links to the current build folder): ``manifest.json``,
``store.sqlite`` and ``vectors-G.faiss``. Building and rebuilding live in building.py, the
generation writer in generations.py, paths, listing and dropping in layout.py, the query
stages in search.py, dedup.py and clustering.py; this class hands them one opened build.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import astuple
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from simsearch.encoders import check_backend
from simsearch.errors import InputError
from simsearch.index import building, compaction, generations, syncing, writer
from simsearch.index.building import BuildOptions, ProgressCallback, Records
from simsearch.index.checking import check_consistency
from simsearch.index.generations import Generation
from simsearch.index.layout import changed_since, folder_size, index_home
from simsearch.index.manifest import Manifest, check_encoder, load_own_encoder
from simsearch.index.syncing import SyncReport
from simsearch.ingest.corpus import Corpus
from simsearch.neighbours.clustering import CLUSTER_COLUMN, DEFAULT_MIN_SIZE, cluster_documents
from simsearch.neighbours.dedup import DEFAULT_NEIGHBOURS, duplicate_groups, stored_vectors
from simsearch.query.reranking import check_cross_encoder
from simsearch.query.search import (
    DEFAULT_MODE,
    Filters,
    Hit,
    SearchResult,
    SearchTarget,
    check_k,
    run_query,
    search_encoded,
)
from simsearch.store.store import Store

if TYPE_CHECKING:
    from typing_extensions import Unpack  # typing.Unpack is 3.11+; annotations here are never evaluated

    from simsearch.encoders import Backend, Encoder
    from simsearch.index.engines import BuildEngine
    from simsearch.ingest.chunking import Chunking
    from simsearch.neighbours.clustering import Cluster
    from simsearch.neighbours.dedup import DuplicateGroup
    from simsearch.query.fusion import Fusion
    from simsearch.query.search import RerankOptions, SearchMode
    from simsearch.store.store import Facet, StoredDocument
    from simsearch.vectors import IndexKind, VectorIndex


class Index:
    """A searchable index. Search from any number of threads; change it from one writer."""

    def __init__(self, home: Path, folder: Path, manifest: Manifest, store: Store, generation: Generation) -> None:
        self.home, self.folder, self.manifest = home, folder, manifest
        self._store, self._generation = store, generation
        self._writer = writer.WriterStore(store.path)  # the writers' own connection, opened on first write
        self._refreshing = threading.Lock()
        self._encoder: Encoder | None = None
        self._backend: Backend | None = None  # query runtime; None: the one that built the index

    # --- opening and building -----------------------------------------------------------
    @classmethod
    def open(
        cls,
        name: str,
        *,
        index_dir: str | Path | None = None,
        encoder: Encoder | None = None,
        backend: Backend | None = None,
    ) -> Index:
        """Open an existing index. An ``encoder`` other than the one it was built with is refused.

        ``backend`` (torch, onnx, onnx-int8) runs the queries when the index loads its own
        encoder; by default the fp32 ONNX export of its model (torch when it cannot be exported).
        """
        home = index_home(index_dir)
        index = cls._load(home, name, None, encoder)
        index._backend = check_backend(backend) if backend is not None else None  # refused before any load
        return index

    @classmethod
    def build(
        cls,
        name: str,
        records: Records,
        *,
        encoder: Encoder | None = None,
        kind: IndexKind = "auto",
        params: dict[str, Any] | None = None,
        batch_size: int = 64,
        index_dir: str | Path | None = None,
        overwrite: bool = False,
        on_progress: ProgressCallback | None = None,
        engine: BuildEngine | None = None,
        chunking: Chunking | None = None,
    ) -> Index:
        """Encode ``records`` (Documents, texts or dict rows) into a new index called ``name``; ``encoder``
        defaults to the default model; ``on_progress(done, total)`` reports passages encoded; ``engine``: where
        encoding runs (simsearch.index.engines.build_engine, e.g. a Ray cluster; default this process); ``chunking``:
        the windows of texts longer than the model reads (simsearch.ingest.chunking; default on)."""
        from simsearch.encoders import load_encoder

        home = index_home(index_dir)
        building.check_new_index(home, name, overwrite, kind)  # before the model loads: a typo costs nothing
        encoder = encoder if encoder is not None else load_encoder()
        columns = (records.text_column, records.id_column) if isinstance(records, Corpus) else None
        options = BuildOptions(kind, params, batch_size, on_progress, engine=engine, chunking=chunking, columns=columns)
        folder = building.build_index(home, name, building.as_documents(records), encoder, options, overwrite)
        return cls._load(home, name, folder, encoder)

    def rebuild(
        self,
        *,
        encoder: Encoder | None = None,
        kind: IndexKind | None = None,
        params: dict[str, Any] | None = None,
        batch_size: int = 64,
        on_progress: ProgressCallback | None = None,
        engine: BuildEngine | None = None,
        chunking: Chunking | None = None,
    ) -> Index:
        """Re-encode the stored texts (``encoder``, ``kind``, ``chunking``: by default the index's own; ``engine``
        as in ``build``) into a new build and swap it in; ids and metadata stay. This object keeps serving the
        old version; the returned Index is the new one."""
        if kind is None:
            kind, params = self.manifest.kind, params or self.manifest.params
        encoder = encoder if encoder is not None else self.encoder
        options = BuildOptions(kind, params, batch_size, on_progress, engine=engine, chunking=chunking)
        folder = building.rebuild_index(self.home, self.manifest, self._store, encoder, options)
        return Index._load(self.home, self.name, folder, encoder)

    @classmethod
    def _load(cls, home: Path, name: str, folder: Path | None, encoder: Encoder | None = None) -> Index:
        index = cls(home, *generations.open_build(home, name, folder))
        if encoder is not None:
            index._encoder = check_encoder(index.manifest, encoder)
        return index

    # --- searching ----------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.manifest.name

    @property
    def encoder(self) -> Encoder:
        """The index's own model, loaded on first use so that `info` and `list` stay fast."""
        if self._encoder is None:
            self._encoder = check_encoder(self.manifest, load_own_encoder(self.manifest, self._backend))
        return self._encoder

    def search(
        self,
        query: str,
        k: int = 10,
        filters: Filters | None = None,
        mode: SearchMode = DEFAULT_MODE,
        min_score: float | None = None,
        **rerank: Unpack[RerankOptions],
    ) -> list[Hit]:
        """The ``k`` best, best first; ``filters``: {"tag": "pop"}, a list, {"year": {"gte": 2000}}
        (simsearch.store.filters);
        ``mode``: see simsearch.query.search; ``min_score`` drops hits below it after ranking (hybrid: the fused score);
        ``rerank=DIR``, ``rerank_depth``: re-rank with a cross-encoder (simsearch.query.search.RerankOptions)."""
        return self.query([query], k, filters, mode, min_score=min_score, **rerank).hits[0]

    def search_batch(
        self,
        queries: Sequence[str],
        k: int = 10,
        filters: Filters | None = None,
        mode: SearchMode = DEFAULT_MODE,
        min_score: float | None = None,
        **rerank: Unpack[RerankOptions],
    ) -> list[list[Hit]]:
        """Search several queries in one encoder pass; one list of hits per query."""
        return self.query(queries, k, filters, mode, min_score=min_score, **rerank).hits

    def query(
        self,
        queries: Sequence[str],
        k: int = 10,
        filters: Filters | None = None,
        mode: SearchMode = DEFAULT_MODE,
        fusion: Fusion | None = None,
        min_score: float | None = None,
        **rerank: Unpack[RerankOptions],
    ) -> SearchResult:
        """Search several queries and report the time each stage took; ``fusion`` tunes hybrid mode."""
        return run_query(self._target(mode), queries, k, filters, mode, fusion, min_score, **rerank)

    def search_vectors(self, query_vectors: np.ndarray, k: int = 10, filters: Filters | None = None) -> list[list[Hit]]:
        """Search with unit vectors already made by this index's encoder."""
        return search_encoded(self._vectors(), self._store, query_vectors, check_k(k), filters)[0]

    def vectors(self, ids: Sequence[str]) -> np.ndarray:
        """Unit vectors of these documents, a row per id in order (for maps); re-encoded for the IVF kinds."""
        row_ids = np.array(building.known_row_ids(self.name, ids, self._store.row_ids_for), dtype=np.int64)
        return stored_vectors(self._vectors(), self._store, self._encode)(row_ids)

    def get(self, id: str) -> StoredDocument | None:
        """The stored document with this id (``id``, ``text``, ``metadata``), or None when there is none."""
        return self._store.document(id)

    def known_ids(self, ids: Sequence[str]) -> set[str]:
        """Which of these document ids the index holds."""
        return set(self._store.row_ids_for([str(i) for i in building.id_list(ids)]))

    def facets(self, max_values: int = 25) -> list[Facet]:
        """Metadata columns with at most ``max_values`` distinct values (for filter drop-downs)."""
        return self._store.facets(max_values)

    def documents(self) -> Iterator[StoredDocument]:
        """Every stored document in row-id order (the order they were added), read in batches."""
        return (doc for batch in self._store.iter_documents() for doc in batch)

    def sample_documents(self, size: int, seed: int = 0) -> list[StoredDocument]:
        """Up to ``size`` stored documents chosen at random (all of them when there are fewer), by row id."""
        return self._store.sample_documents(size, seed)

    def __len__(self) -> int:
        return self._store.count()  # documents; a long one may have several vectors

    def __repr__(self) -> str:
        count, model = self._store.count(), self.manifest.model["name"]
        return f"Index({self.name!r}, {count} documents, kind={self.manifest.kind}, model={model!r})"

    # --- changing in place --------------------------------------------------------------
    def add(
        self,
        records: Records,
        *,
        upsert: bool = False,
        batch_size: int = 64,
        on_progress: ProgressCallback | None = None,
    ) -> list[str]:
        """Encode and add documents; returns their ids. An id the index holds is refused, or with ``upsert``
        replaced: old rows out and new rows in within one generation, so no reader sees it gone or twice."""
        documents = building.as_documents(records)
        building.taken_row_ids(self.name, documents, self._store.row_ids_for, upsert)  # refused before encoding
        passages, vectors = building.encode_passages(
            self.encoder,
            [doc.text for doc in documents],
            building.recorded_chunking(self.manifest),
            batch_size,
            on_progress,
        )
        with self._writing() as batch:  # ids are checked again under the lock: another writer may have added them
            replaced = building.taken_row_ids(self.name, documents, batch.store.row_ids_for, upsert)
            row_ids = writer.insert_rows(batch, documents, passages, vectors, replaced)
        return [doc.id for doc in self._store.fetch(row_ids).values()]

    def delete(self, ids: Sequence[str]) -> int:
        """Delete documents by id; unknown ids are refused and then nothing is deleted."""
        if not building.id_list(ids):
            raise InputError("no ids given; name at least one id to delete.")
        building.known_row_ids(self.name, ids, self._store.row_ids_for, "; nothing was deleted")
        with self._writing() as batch:  # checked again under the lock: another writer may have deleted some
            row_ids = building.known_row_ids(self.name, ids, batch.store.row_ids_for, "; nothing was deleted")
            writer.remove_rows(batch, sorted(set(row_ids)))
        return len(set(row_ids))

    def sync(
        self, records: Records, *, batch_size: int = 64, on_progress: ProgressCallback | None = None
    ) -> SyncReport:
        """Make the index hold exactly these documents, keyed by id, in one commit (simsearch.index.syncing): new
        ids added, changed texts re-encoded, metadata-only changes updated in place, ids not given deleted."""
        documents = syncing.check_ids(self.name, building.as_documents(records))
        encode = syncing.passage_encoder(self.encoder, self.manifest, batch_size, on_progress)
        planned = syncing.plan_sync(self._store, documents).encode
        encoded = (planned, *encode([doc.text for doc in planned]))
        with self._writing() as batch:
            return syncing.apply_sync(batch, documents, encoded, encode)

    def compact(self) -> dict[str, Any]:
        """Fold the delta and the dead ids into a new base now (simsearch.index.compaction); readers and writers
        go on meanwhile. Figures: ``seconds``, ``folded_in`` (delta rows), ``dropped`` (dead vectors),
        ``base_vectors`` (the new base), ``generation``, ``compacted`` (False when there was nothing to fold)."""
        self._vectors()
        figures, fresh = compaction.compact(self.home, self.folder, self.manifest, self._generation)
        if fresh is not None:  # the new base as built: this process need not read it back
            with self._refreshing:
                self._generation = fresh
        return figures

    def compaction_due(self) -> bool:
        """Whether the delta or dead ids passed the compaction thresholds (5% new, 10% dead; see compaction.py)."""
        return self._vectors() is not None and compaction.compaction_due(self._generation)

    # --- describing -----------------------------------------------------------------------
    def info(self) -> dict[str, Any]:
        """The manifest plus live figures: documents now, bytes on disk, folder, and the segments: vectors in the
        base, rows in the delta, dead vectors not yet compacted away, the last compaction's time (None: never)."""
        self._vectors()
        compacted_at = self._store.meta("compacted_at")
        return {
            **self.manifest.to_dict(),
            "count": self._store.count(),
            "size_bytes": folder_size(self.folder),
            "path": str(self.folder),
            **self._generation.vectors.figures(),
            "compacted_at": float(compacted_at) if compacted_at else None,
        }

    def check(self, sample_size: int = 32) -> dict[str, Any]:
        """Do texts and vectors agree? ``{"ok", "problems", ...figures}`` (see simsearch.index.checking); the model
        loads only if the kind keeps vectors to compare with (flat, hnsw)."""
        return check_consistency(self.name, self._store, self._vectors(), self._encode, sample_size)

    def duplicates(self, threshold: float | None = None, k: int = DEFAULT_NEIGHBOURS) -> list[DuplicateGroup]:
        """Groups of near-duplicate documents, largest first (simsearch.neighbours.dedup)."""
        return duplicate_groups(self._vectors(), self._store, self._encode, threshold, k)

    def clusters(
        self,
        threshold: float | None = None,
        min_size: int = DEFAULT_MIN_SIZE,
        k: int = DEFAULT_NEIGHBOURS,
        save: bool = True,
    ) -> list[Cluster]:
        """Clusters of like documents, largest first (simsearch.neighbours.clustering);
        ``save``: into metadata ``cluster``."""
        clusters, labels = cluster_documents(self._vectors(), self._store, self._encode, threshold, min_size, k)
        if save:
            with writer.updating_store(self.home, self.folder, self.manifest, self._store):
                self._store.replace_metadata_column(CLUSTER_COLUMN, labels)
        return clusters

    def set_reranker(self, folder: str | Path | None) -> str | None:
        """Record the cross-encoder every search re-ranks with unless told not to (None: stop re-ranking by default).

        A re-ranker reads texts, not vectors, so nothing is re-encoded: only the manifest changes,
        under the writer lock with a new update time, so open servers and UIs pick it up on their
        next search. Returns the recorded folder (absolute), or None.
        """
        recorded = str(check_cross_encoder(folder)) if folder is not None else None
        with writer.updating_store(self.home, self.folder, self.manifest, self._store) as manifest:
            manifest.reranker = recorded
        return recorded

    def is_stale(self) -> bool:
        """True when the index was rebuilt or its metadata rewritten since this object read it (adds, deletes and
        compactions are followed by the tail at the next search: no reopening)."""
        return changed_since(self.home, self.manifest)

    def version(self) -> tuple:
        """A value that changes with every committed change of any kind: a cache key for views of the index."""
        return (self.manifest.build_id, self.manifest.updated_at, *astuple(self._store.write_position()))

    def close(self) -> None:
        """Close the store's connections; the object must not be used afterwards."""
        self._store.close()
        self._writer.close()

    # --- internals ------------------------------------------------------------------------
    def _target(self, mode: str = "dense") -> SearchTarget:
        """What a query reads; lexical mode needs no model, so it is not loaded for it."""
        encoder = self.encoder if mode != "lexical" else self._encoder
        exact = self.manifest.encoder_backend != "onnx-int8" and (encoder is None or encoder.backend != "onnx-int8")
        return SearchTarget(encoder, self._vectors(), self._store, self.manifest.reranker, exact)  # type: ignore[arg-type]

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        return self.encoder.encode(texts)

    def _vectors(self) -> VectorIndex:
        """The vectors as of the store's last commit: any process's writes are followed by the tail (thread-safe)."""
        if self._store.write_position() != self._generation.position:  # one indexed read per query
            with self._refreshing:
                self._generation = generations.catch_up(self.folder, self.manifest, self._store, self._generation)
        return self._generation.vectors  # type: ignore[return-value]  # the read side of VectorIndex

    def _writing(self):
        return writer.writing(self.home, self.folder, self.manifest, self._writer)
