"""Changing an opened index in place: add, delete and sync documents, save cluster labels, set the re-ranker.

Every change goes through the build's one locked update (OpenedBuild.writing or .updating). Ids are
checked before the writer lock, so a taken or unknown id is refused before the model loads or
encodes, and again under it, since another writer may have changed them meanwhile; encoding runs
outside the lock, so other writers never wait for the model.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from simsearch.errors import InputError
from simsearch.index import building, syncing, writer
from simsearch.index.building import ProgressCallback, Records
from simsearch.index.opening import OpenedBuild
from simsearch.index.syncing import SyncReport
from simsearch.neighbours.clustering import CLUSTER_COLUMN
from simsearch.query import check_cross_encoder

if TYPE_CHECKING:
    from simsearch.encoders import Encoder


def add_documents(
    build: OpenedBuild,
    model: Callable[[], Encoder],
    records: Records,
    upsert: bool,
    batch_size: int,
    on_progress: ProgressCallback | None,
) -> list[str]:
    """Encode and add ``records``; their ids. A held id is refused, or with ``upsert`` its rows replaced in the
    same generation. ``model()`` loads the model only once the ids have passed the first check."""
    name, documents = build.manifest.name, building.as_documents(records)
    building.taken_row_ids(name, documents, build.store.row_ids_for, upsert)  # refused before encoding
    texts = [doc.text for doc in documents]
    chunking = building.recorded_chunking(build.manifest)
    passages, vectors = building.encode_passages(model(), texts, chunking, batch_size, on_progress)
    with build.writing() as batch:
        replaced = building.taken_row_ids(name, documents, batch.store.row_ids_for, upsert)
        row_ids = writer.insert_rows(batch, documents, passages, vectors, replaced)
    return [doc.id for doc in build.store.fetch(row_ids).values()]


def delete_documents(build: OpenedBuild, ids: Sequence[str]) -> int:
    """Delete the documents with these ids; the number deleted. An unknown id is refused, and nothing goes."""
    if not building.id_list(ids):
        raise InputError("no ids given; name at least one id to delete.")
    name, consequence = build.manifest.name, "; nothing was deleted"
    building.known_row_ids(name, ids, build.store.row_ids_for, consequence)
    with build.writing() as batch:
        row_ids = building.known_row_ids(name, ids, batch.store.row_ids_for, consequence)
        writer.remove_rows(batch, sorted(set(row_ids)))
    return len(set(row_ids))


def sync_documents(
    build: OpenedBuild,
    model: Callable[[], Encoder],
    records: Records,
    batch_size: int,
    on_progress: ProgressCallback | None,
) -> SyncReport:
    """Make the index hold exactly ``records`` (syncing.py): what the store lacks is encoded before the lock."""
    documents = syncing.check_ids(build.manifest.name, building.as_documents(records))
    encode = syncing.passage_encoder(model(), build.manifest, batch_size, on_progress)
    planned = syncing.plan_sync(build.store, documents).encode
    encoded = (planned, *encode([doc.text for doc in planned]))
    with build.writing() as batch:
        return syncing.apply_sync(batch, documents, encoded, encode)


def save_cluster_labels(build: OpenedBuild, labels: dict[int, Any]) -> None:
    """Write each document's cluster into metadata ``cluster``; the vectors stay as they are."""
    with build.updating():
        build.store.replace_metadata_column(CLUSTER_COLUMN, labels)


def record_reranker(build: OpenedBuild, folder: str | Path | None) -> str | None:
    """Record the default cross-encoder (None: none) in the manifest; the recorded folder, absolute."""
    recorded = str(check_cross_encoder(folder)) if folder is not None else None
    with build.updating() as manifest:
        manifest.reranker = recorded
    return recorded
