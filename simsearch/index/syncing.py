"""Sync: make an index hold exactly a file's documents, keyed by id, re-encoding only what changed.

A user who edits an FAQ file weekly runs ``simsearch sync faq --input faq.csv`` from cron.
Each id in the file is new (added), stored with another text (re-encoded: its old vector
dead, a new row and vector in the delta, as an upsert), stored with the same text but other
metadata (metadata updated in place, no encoding), or the same (untouched); ids in the index
but not in the file are deleted. All of it is one store commit.

Texts are compared as stored rather than by a content hash (simonw/llm keeps one): the
store keeps every text already, so a hash would add a column and a migration without
saving a read. Encoding runs before the writer lock; under the lock the plan is made again,
and anything another writer changed meanwhile is encoded there, so the commit matches the
store it lands in.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from simsearch.errors import InputError
from simsearch.index.building import ProgressCallback, encode_passages, recorded_chunking
from simsearch.ingest.chunking import Passages
from simsearch.ingest.corpus import Document
from simsearch.store import Store

if TYPE_CHECKING:
    from simsearch.encoders import Encoder
    from simsearch.index.manifest import Manifest
    from simsearch.index.writer import WriteBatch

Encode = Callable[[list[str]], tuple[Passages, np.ndarray]]


@dataclass(frozen=True)
class SyncReport:
    """What a sync did, in documents. ``changed`` counts texts re-encoded and metadata-only updates alike."""

    added: int
    changed: int
    removed: int
    unchanged: int

    def __str__(self) -> str:
        return f"{self.added:,} added, {self.changed:,} changed, {self.removed:,} removed, {self.unchanged:,} unchanged"


@dataclass(frozen=True)
class SyncPlan:
    """The difference between a file and the store: what to encode, replace, update and delete."""

    encode: list[Document]  # new ids and changed texts
    replaced: list[int]  # row ids of the changed texts' old versions
    metadata: dict[int, dict]  # row id -> new metadata, for documents whose text is unchanged
    removed: list[int]  # row ids no longer in the file
    unchanged: int
    added: int

    def report(self) -> SyncReport:
        changed = len(self.replaced) + len(self.metadata)
        return SyncReport(self.added, changed, len(self.removed), self.unchanged)


def passage_encoder(
    encoder: Encoder, manifest: Manifest, batch_size: int, on_progress: ProgressCallback | None
) -> Encode:
    """Texts -> (passages, vectors) as ``add`` makes them: the index's own windows; nothing to encode, no call."""
    chunking = recorded_chunking(manifest)

    def encode(texts: list[str]) -> tuple[Passages, np.ndarray]:
        if not texts:
            return Passages([], [], []), np.zeros((0, manifest.dimension), dtype=np.float32)
        return encode_passages(encoder, texts, chunking, batch_size, on_progress)

    return encode


def check_ids(name: str, documents: list[Document]) -> list[Document]:
    """Sync matches by id, so every document needs one (a numbered text would be a new document each time)."""
    missing = sum(1 for doc in documents if doc.id is None)
    if missing:
        raise InputError(
            f"{missing} of {len(documents)} documents have no id; sync matches documents by id, "
            f"so give every row an id (an 'id' column) before syncing index {name!r}."
        )
    return documents


def plan_sync(store: Store, documents: list[Document]) -> SyncPlan:
    """Compare the file's ``documents`` with the store's rows."""
    stored_ids = store.all_ext_ids()
    stored = store.texts_and_metadata([doc.id for doc in documents if doc.id in stored_ids])
    encode, replaced, metadata, unchanged = [], [], {}, 0
    for doc in documents:
        old = stored.get(doc.id) if doc.id is not None else None  # None never: check_ids came first
        if old is None:
            encode.append(doc)
        elif old.text != doc.text:
            encode.append(doc)
            replaced.append(old.row_id)
        elif old.metadata != doc.metadata:
            metadata[old.row_id] = doc.metadata
        else:
            unchanged += 1
    in_file = {doc.id for doc in documents}
    removed = sorted(row_id for ext_id, row_id in stored_ids.items() if ext_id not in in_file)
    return SyncPlan(encode, sorted(replaced), metadata, removed, unchanged, len(encode) - len(replaced))


def apply_sync(
    batch: WriteBatch, documents: list[Document], encoded: tuple[list[Document], Passages, np.ndarray], encode: Encode
) -> SyncReport:
    """Inside ``writing``: plan again on the writer's store, encode what the first plan did not, commit the rest."""
    from simsearch.index.writer import insert_rows, remove_rows

    plan = plan_sync(batch.store, documents)
    planned, passages, vectors = encoded
    if [(doc.id, doc.text) for doc in plan.encode] != [(doc.id, doc.text) for doc in planned]:
        passages, vectors = encode([doc.text for doc in plan.encode])  # another writer moved the store on
    if plan.removed:
        remove_rows(batch, plan.removed)
    if plan.metadata:
        batch.store.update_metadata(plan.metadata)
    if plan.encode:
        insert_rows(batch, plan.encode, passages, vectors, plan.replaced)
    return plan.report()
