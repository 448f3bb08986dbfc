"""A named index on disk: manifest + vectors + store, opened, built, changed and swapped as one.

Folder contents (``indexes/NAME`` links to the current build folder):
``manifest.json``, ``store.sqlite`` and ``vectors-G.faiss``, where G is the
generation recorded inside the store. An add or delete writes generation G+1
first and then commits the store rows together with the new G, so vectors and
texts always change together. Build and rebuild write a whole new folder and
swap the link (see layout.py).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from simsearch import __version__, layout
from simsearch.backends import VectorIndex, choose_kind, create_vector_index, load_vector_index
from simsearch.corpus import Corpus, Document, documents_from_rows
from simsearch.encoders import Encoder, PoolingMode, load_encoder
from simsearch.errors import CorruptIndexError, IndexExistsError, InputError, ModelMismatchError, SimsearchError
from simsearch.filters import Filters, allowed_row_ids
from simsearch.manifest import Manifest, read_manifest, write_manifest
from simsearch.search import Hit, check_k, check_query, ranked_hits
from simsearch.store import Store

log = logging.getLogger(__name__)

STORE_FILE = "store.sqlite"
Records = Corpus | Iterable[Document | str | dict[str, Any]]


class Index:
    """A searchable index. Search from any number of threads; change it from one writer."""

    def __init__(self, home: Path, folder: Path, manifest: Manifest, store: Store, vectors: VectorIndex,
                 generation: int) -> None:
        self.home, self.folder, self.manifest, self.store = home, folder, manifest, store
        self._vectors = vectors
        self._generation = generation
        self._encoder: Encoder | None = None
        self._backend: str | None = None  # encoder backend for queries; None: the one that built the index

    # --- opening and building -----------------------------------------------------------
    @classmethod
    def open(cls, name: str, *, index_dir: str | Path | None = None, model: str | Path | None = None,
             backend: str | None = None) -> Index:
        """Open an existing index. A ``model`` other than the one it was built with is refused.

        ``backend`` (torch, onnx, onnx-int8) runs the queries; by default the one that built the index.
        """
        home = layout.index_home(index_dir)
        index = cls._load(home, layout.current_folder(home, name))
        index._backend = backend
        if model is not None:
            index._encoder = index._checked(load_encoder(model, backend=backend or index.manifest.encoder_backend))
        return index

    @classmethod
    def build(cls, name: str, records: Records, *, model: str | Path | None = None,
              pooling: PoolingMode | None = None, kind: str = "auto", params: dict[str, Any] | None = None,
              batch_size: int = 64, index_dir: str | Path | None = None, overwrite: bool = False,
              progress: bool = False, backend: str = "torch",
              on_progress: Callable[[int, int], None] | None = None) -> Index:
        """Encode ``records`` (Documents, texts or dict rows) into a new index called ``name``.

        ``on_progress(done, total)`` reports encoding progress (texts encoded so far).
        """
        home = layout.index_home(index_dir)
        layout.check_name(name)
        documents = as_documents(records)
        if layout.exists(home, name) and not overwrite:
            raise IndexExistsError(
                f"index {name!r} exists already; use `simsearch rebuild {name}` or pass --overwrite to replace it."
            )
        choose_kind(kind, len(documents))
        encoder = load_encoder(model, pooling, backend)
        def fill(store: Store) -> tuple[list[str], list[int]]:
            return [doc.text for doc in documents], store.insert(documents)

        folder = _publish_new_build(home, name, fill, encoder, kind, params, batch_size, progress, created_at=None,
                                    on_progress=on_progress)
        return cls._load(home, folder, encoder)

    @classmethod
    def _load(cls, home: Path, folder: Path, encoder: Encoder | None = None) -> Index:
        manifest = read_manifest(folder)
        if not (folder / STORE_FILE).exists():
            raise CorruptIndexError(f"index {manifest.name!r} has no {STORE_FILE}; rebuild it from its source file.")
        store = Store(folder / STORE_FILE)
        vectors, generation = _load_vectors(folder, manifest, store)
        if vectors.count != store.count():
            raise CorruptIndexError(
                f"index {manifest.name!r} holds {vectors.count} vectors but {store.count()} texts; "
                f"rebuild it with `simsearch rebuild {manifest.name}`."
            )
        index = cls(home, folder, manifest, store, vectors, generation)
        if encoder is not None:
            index._encoder = index._checked(encoder)
        return index

    # --- searching ----------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.manifest.name

    @property
    def encoder(self) -> Encoder:
        """The index's own model, loaded on first use so that `info` and `list` stay fast."""
        if self._encoder is None:
            model = self.manifest.model
            backend = self._backend or self.manifest.encoder_backend
            self._encoder = self._checked(load_encoder(model["name"], _pooling_to_rebuild(model), backend))
        return self._encoder

    def search(self, query: str, k: int = 10, filters: Filters | None = None) -> list[Hit]:
        """The ``k`` most similar documents, best first, scored by cosine similarity.

        ``filters`` ({"category": "music"}, or a list of values) keeps only matching metadata.
        """
        return self.search_batch([query], k, filters)[0]

    def search_batch(self, queries: Sequence[str], k: int = 10,
                     filters: Filters | None = None) -> list[list[Hit]]:
        """Search several queries in one encoder pass; one list of hits per query."""
        queries = [check_query(q) for q in queries]
        k = check_k(k)
        return self.search_vectors(self.encoder.encode(queries), k, filters)

    def search_vectors(self, query_vectors: np.ndarray, k: int = 10,
                       filters: Filters | None = None) -> list[list[Hit]]:
        """Search with unit vectors already made by this index's encoder."""
        allowed = allowed_row_ids(self.store, filters) if filters else None
        return ranked_hits(self._vectors, self.store, query_vectors, check_k(k), allowed)

    def vectors(self, ids: Sequence[str]) -> np.ndarray:
        """The unit vectors of these documents, one row per id in order (for maps and diagnostics).

        Read back from the vector index where its kind keeps them (flat, hnsw), else re-encoded.
        """
        found = self.store.row_ids_for([str(i) for i in ids])
        unknown = [i for i in ids if str(i) not in found]
        if unknown:
            raise InputError(f"unknown ids in index {self.name!r}: {', '.join(map(repr, unknown[:5]))}.")
        row_ids = np.array([found[str(i)] for i in ids], dtype=np.int64)
        stored = self._vectors.reconstruct(row_ids)
        if stored is not None:
            return np.asarray(stored, dtype=np.float32)
        documents = self.store.fetch(row_ids.tolist())
        return self.encoder.encode([documents[int(r)].text for r in row_ids])

    def __len__(self) -> int:
        return self._vectors.count

    # --- changing in place --------------------------------------------------------------
    def add(self, records: Records, *, batch_size: int = 64, progress: bool = False) -> list[str]:
        """Encode and add documents; returns their ids. Existing ids are refused, not replaced."""
        documents = as_documents(records)
        taken = self.store.existing_ids([doc.id for doc in documents if doc.id is not None])
        if taken:
            raise InputError(
                f"ids already in index {self.name!r}: {', '.join(map(repr, taken[:5]))}; "
                "use new ids, or delete the old documents first."
            )
        texts = [doc.text for doc in documents]
        _warn_truncated(self.encoder, texts)
        vectors = self.encoder.encode(texts, batch_size)
        with self._writing() as new_vectors:
            row_ids = self.store.insert(documents)
            new_vectors.add(vectors, np.array(row_ids, dtype=np.int64))
        return [doc.id for doc in self.store.fetch(row_ids).values()]

    def delete(self, ids: Sequence[str]) -> int:
        """Delete documents by id; unknown ids are refused and then nothing is deleted."""
        ids = [str(i) for i in ids]
        if not ids:
            raise InputError("no ids given; name at least one id to delete.")
        found = self.store.row_ids_for(ids)
        unknown = [i for i in ids if i not in found]
        if unknown:
            raise InputError(
                f"unknown ids in index {self.name!r}: {', '.join(map(repr, unknown[:5]))}; nothing was deleted."
            )
        row_ids = sorted(set(found.values()))
        with self._writing() as new_vectors:
            self.store.delete(row_ids)
            new_vectors.remove(np.array(row_ids, dtype=np.int64))
        return len(row_ids)

    def rebuild(self, *, model: str | Path | None = None, pooling: PoolingMode | None = None,
                kind: str | None = None, params: dict[str, Any] | None = None, batch_size: int = 64,
                progress: bool = False, backend: str | None = None,
                on_progress: Callable[[int, int], None] | None = None) -> Index:
        """Re-encode the stored texts into a new build and swap it in; ids stay the same.

        This object keeps serving the old version; the returned Index is the new one.
        """
        if model is not None:
            encoder = load_encoder(model, pooling, backend or self.manifest.encoder_backend)
        elif backend is not None:  # same model, another runtime
            encoder = self._checked(load_encoder(self.manifest.model["name"],
                                                 _pooling_to_rebuild(self.manifest.model), backend))
        else:
            encoder = self.encoder
        if kind is None:
            kind, params = self.manifest.kind, params or self.manifest.params
        choose_kind(kind, len(self))
        def copy_rows(store: Store) -> tuple[list[str], list[int]]:
            texts, row_ids = [], []
            for batch in self.store.iter_documents():
                store.insert_rows(batch)
                texts += [doc.text for doc in batch]
                row_ids += [doc.row_id for doc in batch]
            store.reserve_row_ids_below(self.store.next_row_id())
            return texts, row_ids

        folder = _publish_new_build(self.home, self.name, copy_rows, encoder, kind, params, batch_size, progress,
                                    created_at=self.manifest.created_at, on_progress=on_progress)
        return Index._load(self.home, folder, encoder)

    def info(self) -> dict[str, Any]:
        """The manifest plus live figures: documents now, bytes on disk, folder."""
        return {**self.manifest.to_dict(), "count": self.store.count(),
                "size_bytes": layout.folder_size(self.folder), "path": str(self.folder)}

    def is_stale(self) -> bool:
        """True when the index on disk has changed (rebuilt, added to) since this object read it."""
        try:
            current = read_manifest(layout.current_folder(self.home, self.name))
        except SimsearchError:
            return True
        return (current.build_id, current.updated_at) != (self.manifest.build_id, self.manifest.updated_at)

    def close(self) -> None:
        self.store.close()

    # --- internals ------------------------------------------------------------------------
    def _checked(self, encoder: Encoder) -> Encoder:
        expected = self.manifest.model
        if (encoder.info.fingerprint, encoder.info.dimension) != (expected["fingerprint"], expected["dimension"]):
            raise ModelMismatchError(
                f"index {self.name!r} was built with model {expected['name']!r} "
                f"(fingerprint {expected['fingerprint']}, dimension {expected['dimension']}), but "
                f"{encoder.name!r} differs (fingerprint {encoder.info.fingerprint}, dimension "
                f"{encoder.info.dimension}); open it without a model, or rebuild it with the new one."
            )
        return encoder

    def _writing(self):
        return _Writer(self)


class _Writer:
    """Context for an in-place change: copy the vectors, change copy and store, commit both.

    On success the copy is swapped in as generation G+1 and the store commits; on
    any failure the store rolls back and the old vectors stay, untouched.
    """

    def __init__(self, index: Index) -> None:
        self.index = index
        self._lock = layout.writer_lock(index.home, index.name)

    def __enter__(self) -> VectorIndex:
        self._lock.__enter__()
        index = self.index
        if layout.current_folder(index.home, index.name) != index.folder:
            self._lock.__exit__(None, None, None)
            raise SimsearchError(f"index {index.name!r} was rebuilt since it was opened; open it again.")
        if int(index.store.meta("generation", "0")) != index._generation:  # another process changed it
            index._vectors, index._generation = _load_vectors(index.folder, index.manifest, index.store)
        self.vectors = index._vectors.copy()
        index.store.begin()
        return self.vectors

    def __exit__(self, exc_type, exc, traceback) -> None:
        index = self.index
        try:
            if exc_type is not None:
                index.store.rollback()
                return
            generation = int(index.store.meta("generation", "0")) + 1
            try:
                self.vectors.save(index.folder / _vectors_file(generation))
                index.store.set_meta("generation", str(generation))
                index.store.commit()
            except BaseException:
                index.store.rollback()
                raise
            index._vectors, index._generation = self.vectors, generation
            _remove_old_generations(index.folder, generation)
            index.manifest.count = self.vectors.count
            index.manifest.updated_at = time.time()
            write_manifest(index.folder, index.manifest)
        finally:
            self._lock.__exit__(None, None, None)


def as_documents(records: Records) -> list[Document]:
    """Accept a Corpus, Documents, plain strings or dict rows, validated like a file would be."""
    if isinstance(records, Corpus):
        return records.documents
    rows = []
    for record in records:
        if isinstance(record, Document):
            rows.append({**record.metadata, "text": record.text, "id": record.id})
        elif isinstance(record, str):
            rows.append({"text": record, "id": None})
        elif isinstance(record, dict):
            rows.append(record)
        else:
            raise InputError(f"cannot index a {type(record).__name__}; give strings, dicts or Documents.")
    return documents_from_rows(rows, source="records").documents


def list_indexes(index_dir: str | Path | None = None) -> list[str]:
    return layout.list_index_names(layout.index_home(index_dir))


def drop_index(name: str, index_dir: str | Path | None = None) -> None:
    """Delete an index and every build of it."""
    home = layout.index_home(index_dir)
    with layout.writer_lock(home, layout.check_name(name)):
        layout.remove_index(home, name)


def _publish_new_build(home: Path, name: str, fill: Callable[[Store], tuple[list[str], list[int]]],
                       encoder: Encoder, kind: str, params: dict[str, Any] | None, batch_size: int, progress: bool,
                       created_at: float | None, on_progress: Callable[[int, int], None] | None = None) -> Path:
    """Under the writer lock: fill a fresh build folder's store, encode and index it, swap it in."""
    with layout.writer_lock(home, name):
        layout.remove_unused_builds(home, name)
        with layout.new_build_folder(home, name) as folder:
            store = Store(folder / STORE_FILE)
            try:
                store.begin()
                texts, row_ids = fill(store)
                _write_build(folder, store, encoder, texts, row_ids, kind, params, batch_size, progress, created_at,
                             on_progress)
            finally:
                store.close()
            layout.publish(home, name, folder)
    return folder


def _write_build(folder: Path, store: Store, encoder: Encoder, texts: list[str], row_ids: list[int], kind: str,
                 params: dict[str, Any] | None, batch_size: int, progress: bool, created_at: float | None,
                 on_progress: Callable[[int, int], None] | None = None) -> None:
    """Encode, index and save a new build into ``folder``; the caller's store transaction is committed here."""
    started = time.time()
    _warn_truncated(encoder, texts)
    embeddings = encoder.encode(texts, batch_size, on_progress)
    vectors = create_vector_index(kind, encoder.dimension, len(texts), params)
    vectors.build(embeddings, np.array(row_ids, dtype=np.int64))
    vectors.save(folder / _vectors_file(1))
    store.set_meta("generation", "1")
    store.commit()
    now = time.time()
    manifest = Manifest(
        name=folder.name.split("@")[0], model=encoder.info.to_dict(), kind=vectors.kind, params=vectors.params,
        count=vectors.count, build_id=folder.name.split("@")[1], created_at=created_at or now, built_at=now,
        updated_at=now, build_seconds=round(now - started, 3), simsearch_version=__version__,
        encoder_backend=encoder.backend,
    )
    write_manifest(folder, manifest)


def _load_vectors(folder: Path, manifest: Manifest, store: Store) -> tuple[VectorIndex, int]:
    """Load the vector file whose generation the store names (re-read once if a writer just moved it on)."""
    for _attempt in range(2):
        generation = int(store.meta("generation", "0"))
        path = folder / _vectors_file(generation)
        if path.exists():
            break
    else:
        raise CorruptIndexError(f"index {manifest.name!r} has no vector file {path.name}; rebuild it.")
    try:
        vectors = load_vector_index(path, manifest.kind, manifest.params)
    except RuntimeError as exc:
        raise CorruptIndexError(
            f"vector file {path.name} of index {manifest.name!r} is damaged ({str(exc).splitlines()[0]}); "
            f"rebuild it with `simsearch rebuild {manifest.name}`."
        ) from None
    if vectors.dimension != manifest.dimension:
        raise CorruptIndexError(f"vector file {path.name} has dimension {vectors.dimension}, manifest says "
                                f"{manifest.dimension}; rebuild the index.")
    return vectors, generation


def _warn_truncated(encoder: Encoder, texts: list[str]) -> None:
    truncated = encoder.count_truncated(texts)
    if truncated:
        log.warning("%d of %d texts are longer than the model's %d tokens and were truncated",
                    truncated, len(texts), encoder.info.max_seq_length)


def _pooling_to_rebuild(model: dict[str, Any]) -> PoolingMode | None:
    """A plain checkpoint needs its pooling again; a sentence-transformers folder carries its own."""
    path = Path(model["name"])
    if path.is_dir() and not (path / "modules.json").exists() and model["pooling"] in ("mean", "cls", "max"):
        return model["pooling"]
    return None


def _vectors_file(generation: int) -> str:
    return f"vectors-{generation}.faiss"


def _remove_old_generations(folder: Path, keep: int) -> None:
    for path in folder.glob("vectors-*"):
        if not path.name.startswith(f"vectors-{keep}."):
            path.unlink(missing_ok=True)
