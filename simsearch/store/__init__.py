"""Texts and metadata in SQLite, keyed by the vector ids; the metadata filters it runs."""
