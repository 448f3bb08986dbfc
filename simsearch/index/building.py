"""Building an index: encode texts into a whole new build folder, write its manifest, swap it in.

Build (from records) and rebuild (from an index's own store) differ only in how the
new store is filled; both then encode, create the vector index, save generation 1,
commit, write the manifest and publish the folder with one atomic link swap
(layout.py). A failure at any point removes the new folder and leaves the old
index as it was. Index.build and Index.rebuild call in here and open the result.
A text longer than the model reads gets one vector per window (chunking.py); the manifest
records the windows, so ``add`` splits new texts the same way.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from simsearch.errors import IdConflictError, IndexExistsError, InputError, InvalidArgumentError, fix
from simsearch.index.engines import BuildEngine, LocalEngine
from simsearch.index.generations import STORE_FILE, vectors_file
from simsearch.index.layout import check_name, exists, new_build_folder, publish, remove_unused_builds, writer_lock
from simsearch.index.manifest import Manifest, prepare_own_encoder, write_manifest
from simsearch.index.writer import vector_ids_for
from simsearch.ingest.chunking import Chunking, Passages, resolve_chunking, split_texts
from simsearch.ingest.corpus import Corpus, Document, documents_from_rows
from simsearch.progress import ProgressCallback
from simsearch.store import Store
from simsearch.vectors import IndexKind, check_kind, choose_kind, create_vector_index
from simsearch.version import __version__

if TYPE_CHECKING:
    from simsearch.encoders import Encoder

log = logging.getLogger(__name__)

Records = Corpus | Iterable[Document | str | dict[str, Any]]


@dataclass(frozen=True)
class BuildOptions:
    """How to encode and index: the vector index kind and its parameters, the batch size, progress, the engine
    that encodes and fills the index (this process, or Ray: simsearch.index.engines), and the windows of long texts
    (None: the defaults for a build, the index's own for a rebuild)."""

    kind: IndexKind = "auto"
    params: dict[str, Any] | None = None
    batch_size: int = 64
    on_progress: ProgressCallback | None = None  # on_progress(passages encoded, total)
    engine: BuildEngine | None = None  # None: LocalEngine
    chunking: Chunking | None = None
    columns: tuple[str, str | None] | None = None  # the text and id columns read, recorded in the manifest


def as_documents(records: Records) -> list[Document]:
    """Accept a Corpus, Documents, plain strings or dict rows, validated like a file would be.

    A bare ``str`` (or bytes) is refused: iterating it would index each character.
    """
    if isinstance(records, str | bytes):
        raise InvalidArgumentError(
            "records must be a list of texts, dicts or Documents, not one string; wrap a single text in a list."
        )
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


def id_list(ids: Sequence[str]) -> Sequence[str]:
    """Refuse a bare string where ids are meant: ``delete("12")`` must not delete ids 1 and 2."""
    if isinstance(ids, str | bytes):
        raise InvalidArgumentError("ids must be a list of ids, not one string; wrap a single id in a list.")
    return ids


def known_row_ids(
    name: str, ids: Sequence[str], row_ids_for: Callable[[list[str]], dict[str, int]], consequence: str = ""
) -> list[int]:
    """Row ids of these document ids, in order; any unknown id is refused (naming up to five)."""
    found = row_ids_for([str(i) for i in id_list(ids)])
    unknown = [i for i in ids if str(i) not in found]
    if unknown:
        raise InputError(f"unknown ids in index {name!r}: {', '.join(map(repr, unknown[:5]))}{consequence}.")
    return [found[str(i)] for i in ids]


def taken_row_ids(
    name: str, documents: list[Document], row_ids_for: Callable[[list[str]], dict[str, int]], upsert: bool
) -> list[int]:
    """Row ids of the ``documents`` whose ids index ``name`` holds already, to replace when ``upsert``;
    without it, an error naming up to five of those ids."""
    found = row_ids_for([doc.id for doc in documents if doc.id is not None])
    if found and not upsert:
        raise IdConflictError(
            f"ids already in index {name!r}: {', '.join(map(repr, sorted(found)[:5]))}; "
            f"use new ids, delete the old documents first, or {fix('upsert')} to replace them."
        )
    return sorted(found.values())


def check_new_index(home: Path, name: str, overwrite: bool = False, kind: str = "auto") -> IndexKind:
    """Refuse a bad name, a name taken (unless ``overwrite``) or an unknown kind: the checks that cost
    nothing, made before a model loads or a file is read, so a typo never waits for the model. Returns
    ``kind`` as an IndexKind, for callers that took it as text (the CLI)."""
    check_name(name)
    if exists(home, name) and not overwrite:
        raise IndexExistsError(
            f"index {name!r} exists already; {fix('rebuild', name)}, or {fix('overwrite')} to replace it."
        )
    return check_kind(kind)


def build_from_records(
    home: Path, name: str, records: Records, encoder: Encoder | None, options: BuildOptions, overwrite: bool
) -> tuple[Path, Encoder]:
    """Index.build: the checks that cost nothing, then the model (``encoder``, else the default one) and the
    build; the published folder and the model. A Corpus's text and id columns go into the manifest."""
    from simsearch.encoders import load_encoder

    check_new_index(home, name, overwrite, options.kind)  # before the model loads: a typo costs nothing
    encoder = encoder if encoder is not None else load_encoder()
    columns = (records.text_column, records.id_column) if isinstance(records, Corpus) else None
    documents = as_documents(records)
    return build_index(home, name, documents, encoder, replace(options, columns=columns), overwrite), encoder


def build_index(
    home: Path, name: str, documents: list[Document], encoder: Encoder, options: BuildOptions, overwrite: bool = False
) -> Path:
    """Build a new index ``name`` from ``documents``; returns the published build folder."""
    check_new_index(home, name, overwrite, options.kind)
    choose_kind(options.kind, len(documents))
    chunking = resolve_chunking(encoder, options.chunking)

    def fill(store: Store) -> tuple[list[str], list[int]]:
        return [doc.text for doc in documents], store.insert(documents)

    return _publish_new_build(home, name, fill, encoder, options, chunking, previous=None)


def rebuild_index(home: Path, manifest: Manifest, source: Store, encoder: Encoder, options: BuildOptions) -> Path:
    """Re-encode the texts of ``source`` (the current store) into a new build of the same index; ids stay."""
    choose_kind(options.kind, source.count())
    chunking = resolve_chunking(encoder, options.chunking or _rebuild_chunking(manifest))

    def copy_rows(store: Store) -> tuple[list[str], list[int]]:
        texts, row_ids = [], []
        for batch in source.iter_documents():
            store.insert_rows(batch)
            texts += [doc.text for doc in batch]
            row_ids += [doc.row_id for doc in batch]
        store.reserve_row_ids_below(source.next_row_id())  # ids of deleted rows are never reused
        return texts, row_ids

    return _publish_new_build(home, manifest.name, copy_rows, encoder, options, chunking, previous=manifest)


def _rebuild_chunking(manifest: Manifest) -> Chunking:
    """The windows a rebuild keeps: the index's own, or the defaults for one built before chunking existed."""
    return Chunking() if manifest.chunk_tokens is None else Chunking(manifest.chunk_tokens, manifest.chunk_overlap)


def recorded_chunking(manifest: Manifest) -> Chunking:
    """The windows ``add`` splits new texts into: the ones the index was built with (none before chunking existed)."""
    return Chunking(manifest.chunk_tokens or 0, manifest.chunk_overlap or 0)


def passages_to_encode(encoder: Encoder, texts: Sequence[str], chunking: Chunking) -> Passages:
    """``texts`` split as ``chunking`` (resolved) says; without splitting, a warning for the texts cut short."""
    if not chunking.enabled:
        warn_truncated(encoder, texts)
    return split_texts(encoder, texts, chunking)


def encode_passages(
    encoder: Encoder,
    texts: Sequence[str],
    chunking: Chunking,
    batch_size: int = 64,
    on_progress: ProgressCallback | None = None,
) -> tuple[Passages, np.ndarray]:
    """The passages of ``texts`` and one unit vector per passage, encoded in this process (add)."""
    passages = passages_to_encode(encoder, texts, chunking)
    return passages, encoder.encode(passages.texts, batch_size, on_progress=on_progress)


def warn_truncated(encoder: Encoder, texts: Sequence[str]) -> None:
    """Log how many texts the model cuts short: their tails do not count towards similarity."""
    truncated = encoder.count_truncated(texts)
    if truncated:
        log.warning(
            "%d of %d texts are longer than the model's %d tokens and were truncated",
            truncated,
            len(texts),
            encoder.info.max_seq_length,
        )


def _publish_new_build(
    home: Path,
    name: str,
    fill: Callable[[Store], tuple[list[str], list[int]]],
    encoder: Encoder,
    options: BuildOptions,
    chunking: Chunking,
    previous: Manifest | None,
) -> Path:
    """Under the writer lock: fill a fresh build folder's store, encode and index it, swap it in."""
    with writer_lock(home, name):
        remove_unused_builds(home, name)
        with new_build_folder(home, name) as folder:
            store = Store(folder / STORE_FILE)
            try:
                store.begin()
                texts, row_ids = fill(store)
                _write_build(folder, store, encoder, texts, row_ids, options, chunking, previous)
            finally:
                store.close()
            publish(home, name, folder)
    prepare_own_encoder(encoder.info.to_dict())  # after the lock: the one-time ONNX export blocks no writer
    return folder


def _write_build(
    folder: Path,
    store: Store,
    encoder: Encoder,
    texts: list[str],
    row_ids: list[int],
    options: BuildOptions,
    chunking: Chunking,
    previous: Manifest | None,
) -> None:
    """Encode, index and save a new build into ``folder``; the caller's store transaction is committed here.

    A rebuild (``previous``: the old build's manifest) keeps its creation time and default re-ranker."""
    started = time.time()
    passages = passages_to_encode(encoder, texts, chunking)
    engine = options.engine or LocalEngine()
    embeddings = engine.encode_texts(encoder, passages.texts, options.batch_size, options.on_progress)
    vectors = create_vector_index(options.kind, encoder.dimension, len(passages.texts), options.params)
    engine.fill_index(vectors, embeddings, vector_ids_for(store, row_ids, passages))
    vectors.save(folder / vectors_file(1))
    store.set_meta("generation", "1")
    store.set_meta("trained_count", str(len(passages.texts)))  # what IVF cells were trained on (compaction.py)
    store.commit()
    now = time.time()
    name, build_id = folder.name.split("@")
    manifest = Manifest(
        name=name,
        model=encoder.info.to_dict(),
        kind=vectors.kind,
        params=vectors.params,
        count=len(texts),
        build_id=build_id,
        created_at=previous.created_at if previous else now,
        built_at=now,
        updated_at=now,
        build_seconds=round(now - started, 3),
        simsearch_version=__version__,
        encoder_backend=encoder.backend,
        chunk_tokens=chunking.tokens,
        chunk_overlap=chunking.overlap,
        reranker=previous.reranker if previous else None,
    )
    if previous is not None:
        manifest.text_column, manifest.id_column = previous.text_column, previous.id_column
    elif options.columns is not None:
        manifest.text_column, manifest.id_column = options.columns
    write_manifest(folder, manifest)
