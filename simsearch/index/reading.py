"""The read side of one opened build: its vectors as of the store's last commit, its model, what a query reads.

Any number of threads search one Index. Before each search the reader reads the store's write
position (one indexed query); when any process wrote since, it reads just the tail
(generations.catch_up) under a lock, so no write is missed and none is read twice. A
compaction run here hands over the new base it built, so this process never reads it back.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from simsearch.index import compaction, generations
from simsearch.index.building import id_list
from simsearch.index.generations import Generation
from simsearch.index.opening import OpenedBuild, own_encoder
from simsearch.query import SearchTarget
from simsearch.query.checks import check_query
from simsearch.query.terms import lexical_terms

if TYPE_CHECKING:
    from simsearch.encoders import Backend, Encoder
    from simsearch.store import Highlight, Store
    from simsearch.vectors import VectorIndex


class BuildReader:
    """The vectors (``generation``) and model (``model``, None until first used) searches of one build read."""

    def __init__(self, build: OpenedBuild, generation: Generation) -> None:
        self.build, self.generation = build, generation
        self.model: Encoder | None = None
        self.backend: Backend | None = None  # the model's runtime; None: the default (manifest.load_own_encoder)
        self._refreshing = threading.Lock()

    def encoder(self) -> Encoder:
        """The index's own model, loaded now if it was not yet."""
        if self.model is None:
            self.model = own_encoder(self.build.manifest, self.backend)
        return self.model

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        return self.encoder().encode(texts)

    def current(self) -> Generation:
        """The generation as of the store's last commit: any process's writes are followed by the tail."""
        build = self.build
        if build.store.write_position() != self.generation.position:  # one indexed read per query
            with self._refreshing:
                self.generation = generations.catch_up(build.folder, build.manifest, build.store, self.generation)
        return self.generation

    def vectors(self) -> VectorIndex:
        return self.current().vectors  # type: ignore[return-value]  # the read side of VectorIndex

    def target(self, mode: str) -> SearchTarget:
        """What a query reads; lexical mode needs no model, so it is not loaded for it. Scores are exact
        unless int8 weights made the stored vectors or encode the query."""
        manifest = self.build.manifest
        encoder = self.encoder() if mode != "lexical" else self.model
        exact = manifest.encoder_backend != "onnx-int8" and (encoder is None or encoder.backend != "onnx-int8")
        return SearchTarget(encoder, self.vectors(), self.build.store, manifest.reranker, exact)  # type: ignore[arg-type]

    def compact(self) -> dict[str, Any]:
        """Compact the build now (compaction.py) and hold the new base as built; the figures."""
        build = self.build
        figures, fresh = compaction.compact(build.home, build.folder, build.manifest, self.current())
        if fresh is not None:
            with self._refreshing:
                self.generation = fresh
        return figures


def highlights(store: Store, query: str, ids: Sequence[str]) -> dict[str, Highlight]:
    """Index.highlights: the query's informative words (query.terms) matched by FTS5 in each stored text;
    the query and the ids are checked as search and delete check them."""
    row_ids = store.row_ids_for([str(i) for i in id_list(ids)])
    found = store.highlights(lexical_terms(check_query(query)), list(row_ids.values()))
    return {id: found[row_id] for id, row_id in row_ids.items() if row_id in found}
