"""Texts and metadata in SQLite, keyed by the vector ids; the metadata filters it runs.

Other packages import from here only. Inside, ``store.py`` holds ``Store`` (the connection and
its transactions) and hands each job to its module: ``schema`` (tables, migrations), ``rows``
(documents), ``passages`` (windows of long documents), ``write_log`` (notes, delta and dead
ids of the segmented vectors), ``filters`` and ``filter_sql`` (metadata filters, read and as
SQL), ``lexical`` (BM25), ``highlights`` (its matches in a text), ``facets`` and ``sampling``.
"""

from simsearch.store.facets import Facet
from simsearch.store.filters import Filters, filter_conditions, filters_from_expressions
from simsearch.store.highlights import Highlight
from simsearch.store.rows import StoredDocument
from simsearch.store.schema import SCHEMA_VERSION
from simsearch.store.store import Store
from simsearch.store.write_log import WritePosition

__all__ = [
    "SCHEMA_VERSION",
    "Facet",
    "Filters",
    "Highlight",
    "Store",
    "StoredDocument",
    "WritePosition",
    "filter_conditions",
    "filters_from_expressions",
]
