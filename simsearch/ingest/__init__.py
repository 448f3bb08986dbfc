"""Reading documents in: files to Documents, the windows of long texts, rows written out.

The names below are this stage's public face (the web UI's Build page previews a file with them);
the modules behind it are internal and may move.
"""

from __future__ import annotations

from simsearch.ingest.corpus import Corpus, Document, read_corpus
from simsearch.ingest.readers import SUPPORTED_EXTENSIONS, guess_text_column, read_columns, read_rows

__all__ = [
    "SUPPORTED_EXTENSIONS",
    "Corpus",
    "Document",
    "guess_text_column",
    "read_columns",
    "read_corpus",
    "read_rows",
]
