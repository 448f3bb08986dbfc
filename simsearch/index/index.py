"""A named index on disk, opened: search it, change it in place, describe it.

Folder contents (``indexes/NAME`` links to the current build folder): ``manifest.json``,
``store.sqlite`` and ``vectors-G.faiss``. This class only hands one opened build to the module
that does each job: building.py (build, rebuild), opening.py (the build's parts, the model),
reading.py (the vectors as written, compaction), changes.py (add, delete, sync, settings),
describing.py, checking.py, the query stages (simsearch.query) and simsearch.neighbours.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from simsearch.index import building, changes, checking, compaction, describing, generations, layout, opening, reading
from simsearch.index.building import BuildOptions, ProgressCallback, Records
from simsearch.neighbours.clustering import DEFAULT_MIN_SIZE, cluster_documents
from simsearch.neighbours.dedup import duplicate_groups
from simsearch.neighbours.knn import DEFAULT_NEIGHBOURS, stored_vectors
from simsearch.query import DEFAULT_MODE, Hit, SearchResult, run_query, search_encoded
from simsearch.query.checks import check_k
from simsearch.store import Filters

if TYPE_CHECKING:
    from typing_extensions import Unpack  # typing.Unpack is 3.11+; annotations here are never evaluated

    from simsearch.encoders import Backend, Encoder
    from simsearch.index.engines import BuildEngine
    from simsearch.index.generations import Generation
    from simsearch.index.manifest import Manifest
    from simsearch.index.syncing import SyncReport
    from simsearch.ingest.chunking import Chunking
    from simsearch.neighbours.clustering import Cluster
    from simsearch.neighbours.dedup import DuplicateGroup
    from simsearch.query import RerankOptions, SearchMode
    from simsearch.query.fusion import Fusion
    from simsearch.store import Facet, Highlight, Store, StoredDocument
    from simsearch.vectors import IndexKind, VectorIndex


class Index:
    """A searchable index. Search from any number of threads; change it from one writer."""

    def __init__(self, home: Path, folder: Path, manifest: Manifest, store: Store, generation: Generation) -> None:
        self.home, self.folder, self.manifest = home, folder, manifest
        self._store, self._build = store, opening.OpenedBuild.of(home, folder, manifest, store)
        self._reader = reading.BuildReader(self._build, generation)

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
        index = cls._load(layout.index_home(index_dir), name, None, encoder)
        index._reader.backend = opening.query_backend(backend)  # refused before any model loads
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
        home = layout.index_home(index_dir)
        options = BuildOptions(kind, params, batch_size, on_progress, engine=engine, chunking=chunking)
        folder, encoder = building.build_from_records(home, name, records, encoder, options, overwrite)
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
        index._reader.model = opening.given_encoder(index.manifest, encoder)
        return index

    # --- searching ----------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.manifest.name

    @property
    def encoder(self) -> Encoder:
        """The index's own model, loaded on first use so that `info` and `list` stay fast."""
        return self._reader.encoder()

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
        ``mode``: see simsearch.query.checks; ``min_score`` drops hits below it after ranking (hybrid: the fused score);
        ``rerank=DIR``, ``rerank_depth``: re-rank with a cross-encoder (simsearch.query.RerankOptions)."""
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
        return run_query(self._reader.target(mode), queries, k, filters, mode, fusion, min_score, **rerank)

    def search_vectors(self, query_vectors: np.ndarray, k: int = 10, filters: Filters | None = None) -> list[list[Hit]]:
        """Search with unit vectors already made by this index's encoder."""
        return search_encoded(self._vectors(), self._store, query_vectors, check_k(k), filters)[0]

    def vectors(self, ids: Sequence[str]) -> np.ndarray:
        """Unit vectors of these documents, a row per id in order (for maps); re-encoded for the IVF kinds."""
        row_ids = np.array(building.known_row_ids(self.name, ids, self._store.row_ids_for), dtype=np.int64)
        return stored_vectors(self._vectors(), self._store, self._reader.encode)(row_ids)

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

    def highlights(self, query: str, ids: Sequence[str]) -> dict[str, Highlight]:
        """The character spans of each stored text (by id) that the lexical index matched for ``query``: the
        words lexical search requires, as FTS5 stems them; an id found by meaning alone is absent."""
        return reading.highlights(self._store, query, ids)

    def _vectors(self) -> VectorIndex:  # as of the store's last commit (thread-safe; see reading.py)
        return self._reader.vectors()

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
        return changes.add_documents(self._build, self._reader.encoder, records, upsert, batch_size, on_progress)

    def delete(self, ids: Sequence[str]) -> int:
        """Delete documents by id; unknown ids are refused and then nothing is deleted."""
        return changes.delete_documents(self._build, ids)

    def sync(
        self, records: Records, *, batch_size: int = 64, on_progress: ProgressCallback | None = None
    ) -> SyncReport:
        """Make the index hold exactly these documents, keyed by id, in one commit (simsearch.index.syncing): new
        ids added, changed texts re-encoded, metadata-only changes updated in place, ids not given deleted."""
        return changes.sync_documents(self._build, self._reader.encoder, records, batch_size, on_progress)

    def compact(self) -> dict[str, Any]:
        """Fold the delta and the dead ids into a new base now (simsearch.index.compaction; an IVF base grown past
        twice its training count is re-trained); readers and writers go on. Figures: ``seconds``, ``folded_in``,
        ``dropped``, ``base_vectors``, ``generation``, ``compacted`` (False: none), ``retrained``, ``trained_count``."""
        return self._reader.compact()

    def compaction_due(self) -> bool:
        """Whether the delta or dead ids passed the compaction thresholds (5% new, 10% dead; see compaction.py)."""
        return compaction.compaction_due(self._reader.current())

    # --- describing -----------------------------------------------------------------------
    def info(self) -> dict[str, Any]:
        """The manifest plus live figures: documents now, bytes on disk, folder, and the segments: vectors in the
        base, rows in the delta, dead vectors not yet compacted away, the last compaction's time (None: never)."""
        return describing.index_info(self._build, self._reader.current())

    def check(self, sample_size: int = 32) -> dict[str, Any]:
        """Do texts and vectors agree? ``{"ok", "problems", ...figures}`` (see simsearch.index.checking); the model
        loads only if the kind keeps vectors to compare with (flat, hnsw)."""
        return checking.check_consistency(self.name, self._store, self._vectors(), self._reader.encode, sample_size)

    def duplicates(self, threshold: float | None = None, k: int = DEFAULT_NEIGHBOURS) -> list[DuplicateGroup]:
        """Groups of near-duplicate documents, largest first (simsearch.neighbours.dedup)."""
        return duplicate_groups(self._vectors(), self._store, self._reader.encode, threshold, k)

    def clusters(
        self,
        threshold: float | None = None,
        min_size: int = DEFAULT_MIN_SIZE,
        k: int = DEFAULT_NEIGHBOURS,
        save: bool = True,
    ) -> list[Cluster]:
        """Clusters of like documents, largest first (simsearch.neighbours.clustering);
        ``save``: into metadata ``cluster``."""
        clusters, labels = cluster_documents(self._vectors(), self._store, self._reader.encode, threshold, min_size, k)
        if save:
            changes.save_cluster_labels(self._build, labels)
        return clusters

    def set_reranker(self, folder: str | Path | None) -> str | None:
        """Record the cross-encoder every search re-ranks with unless told not to (None: stop re-ranking by default).

        A re-ranker reads texts, not vectors, so nothing is re-encoded: only the manifest changes,
        under the writer lock with a new update time, so open servers and UIs pick it up on their
        next search. Returns the recorded folder (absolute), or None.
        """
        return changes.record_reranker(self._build, folder)

    def is_stale(self) -> bool:
        """True when the index was rebuilt or its metadata rewritten since this object read it (adds, deletes and
        compactions are followed by the tail at the next search: no reopening)."""
        return layout.changed_since(self.home, self.manifest)

    def version(self) -> tuple:
        """A value that changes with every committed change of any kind: a cache key for views of the index."""
        return describing.version_key(self._build)

    def close(self) -> None:
        """Close the store's connections; the object must not be used afterwards."""
        self._build.close()
