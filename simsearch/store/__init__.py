"""Texts and metadata in SQLite, keyed by the vector ids; the metadata filters it runs.

The names below are its public face (what ``Index`` methods return); the modules behind them are internal.
"""

from __future__ import annotations

from simsearch.store.store import Facet, StoredDocument

__all__ = ["Facet", "StoredDocument"]
