"""simsearch: find the sentences that mean the same as this one.

A Siamese BERT (sentence-transformers) turns texts into unit vectors, FAISS
finds the nearest ones by cosine similarity, and SQLite keeps the texts.
Importing this package does not import torch; the model loads on first use.
"""

from __future__ import annotations

__version__ = "0.1.0"

from simsearch.corpus import Corpus, Document, read_corpus  # noqa: E402
from simsearch.encoder import Encoder  # noqa: E402
from simsearch.errors import SimsearchError  # noqa: E402
from simsearch.index import Index, drop_index, list_indexes  # noqa: E402
from simsearch.search import Hit  # noqa: E402

__all__ = [
    "Corpus", "Document", "Encoder", "Hit", "Index", "SimsearchError",
    "drop_index", "list_indexes", "read_corpus", "__version__",
]
