"""Opening an index: the parts of its current build, and the model it is searched with.

An opened index holds one build folder: its manifest, a store connection for searches and one
for the writers (OpenedBuild, which every change goes through), and its vectors as of the
store's last commit (reading.py follows them). The model is loaded on first use, so ``info``
and ``list`` never wait for it; a model given by the caller is checked against the manifest.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from simsearch.encoders import check_backend
from simsearch.index import writer
from simsearch.index.manifest import Manifest, check_encoder, load_own_encoder
from simsearch.index.writer import WriterStore
from simsearch.store import Store

if TYPE_CHECKING:
    from simsearch.encoders import Backend, Encoder
    from simsearch.index.writer import WriteBatch


@dataclass(frozen=True)
class OpenedBuild:
    """The build folder an Index object reads and changes, with its two store connections: ``store`` for
    searches, ``writer`` (opened on the first write) for the writers, so searches never see an open write."""

    home: Path
    folder: Path
    manifest: Manifest
    store: Store
    writer: WriterStore

    @classmethod
    def of(cls, home: Path, folder: Path, manifest: Manifest, store: Store) -> OpenedBuild:
        return cls(home, folder, manifest, store, WriterStore(store.path))

    def writing(self) -> AbstractContextManager[WriteBatch]:
        """A change that moves vectors: one new generation under the writer lock (writer.writing)."""
        return writer.writing(self.home, self.folder, self.manifest, self.writer)

    def updating(self) -> AbstractContextManager[Manifest]:
        """A change that moves no vectors (metadata, the default re-ranker): writer.updating_store."""
        return writer.updating_store(self.home, self.folder, self.manifest, self.store)

    def close(self) -> None:
        self.store.close()
        self.writer.close()


def query_backend(backend: Backend | None) -> Backend | None:
    """The runtime chosen for the index's own model, refused before anything loads (None: the default)."""
    return check_backend(backend) if backend is not None else None


def own_encoder(manifest: Manifest, backend: Backend | None) -> Encoder:
    """The model the index was built with, run by ``backend``, checked against the manifest's fingerprint."""
    return check_encoder(manifest, load_own_encoder(manifest, backend))


def given_encoder(manifest: Manifest, encoder: Encoder | None) -> Encoder | None:
    """A caller's ``encoder``, refused unless it makes the vectors the index holds; None stays None."""
    return check_encoder(manifest, encoder) if encoder is not None else None
