"""simsearch: find the sentences that mean the same as this one.

A Siamese BERT (sentence-transformers) turns texts into unit vectors, FAISS
finds the nearest ones by cosine similarity, and SQLite keeps the texts.
Importing this package does not import torch; the model loads on first use.

The public surface is the names below; the modules ``simsearch.errors`` (the exception family)
and ``simsearch.formatting`` (numbers, sizes and times as the surfaces write them); and the names
in ``__all__`` of the subpackages ``encoders``, ``vectors``, ``ingest``, ``store``, ``query``,
``neighbours`` and ``tools``. Every other module is internal and may move. The web UI
(``simsearch_ui``) imports nothing else: an import-linter contract in pyproject.toml checks it.
"""

from __future__ import annotations

import os

# FAISS and torch each bring their own OpenMP runtime. With the default (spinning) wait policy,
# FAISS's idle threads keep both cores busy after a search and the next query's encoding slows:
# benchmarks/core_latency.py measured a demo-index p50 of 20.1 ms before this line, 12.6 ms after.
# Passive waiting must be set before either library loads, so it is set here; a caller's value wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from simsearch.encoders import Encoder, load_encoder  # noqa: E402
from simsearch.errors import SimsearchError  # noqa: E402
from simsearch.index.index import Index  # noqa: E402
from simsearch.index.layout import describe_index, drop_index, index_home, list_indexes  # noqa: E402
from simsearch.ingest.chunking import Chunking  # noqa: E402
from simsearch.ingest.corpus import Corpus, Document, read_corpus  # noqa: E402
from simsearch.query import Hit, SearchResult  # noqa: E402
from simsearch.serving.client import Client  # noqa: E402
from simsearch.version import __version__  # noqa: E402

__all__ = [
    "Chunking",
    "Client",
    "Corpus",
    "Document",
    "Encoder",
    "Hit",
    "Index",
    "SearchResult",
    "SimsearchError",
    "describe_index",
    "drop_index",
    "index_home",
    "list_indexes",
    "load_encoder",
    "read_corpus",
    "__version__",
]
