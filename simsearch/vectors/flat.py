"""The exact kind: every vector scored, for corpora up to a few tens of thousands of documents."""

from __future__ import annotations

from typing import Any

import faiss

from simsearch.vectors.faiss_index import FaissIndex


class FlatIndex(FaissIndex):
    """Exact search: every vector scored. Best below a few tens of thousands of documents."""

    kind = "flat"

    @classmethod
    def make(cls, dimension: int, params: dict[str, Any]) -> faiss.Index:
        return faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))
