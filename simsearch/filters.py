"""Metadata filters: which documents a search may return, and which values a UI can offer.

Metadata is one JSON object per document in SQLite. A filter maps a metadata
column to a value, or to a list of accepted values; several columns must all
match. The matching row ids go to the vector index as an allow list, so a flat
index returns exactly the best k among the matching documents (approximate
kinds may return fewer than k when very few documents match).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from simsearch.errors import InvalidArgumentError
from simsearch.store import Store

Filters = Mapping[str, Any]
_SCALAR_TYPES = "('text', 'integer', 'real', 'true', 'false')"
_SAMPLE_ROWS = 5_000  # rows read to find the low-cardinality columns before counting them in full


@dataclass(frozen=True)
class Facet:
    """A metadata column with few distinct values, the values most frequent first."""

    column: str
    values: list[Any]
    counts: list[int]


def metadata_facets(store: Store, max_values: int = 25) -> list[Facet]:
    """Columns worth a drop-down: scalar values only, at most ``max_values`` distinct ones.

    Candidates are found on the first rows, then counted over the whole store, so a
    free-text column never makes SQLite group millions of distinct strings.
    """
    sample = store.select(
        f"SELECT j.key, count(DISTINCT j.value) FROM "
        f"(SELECT metadata FROM documents ORDER BY id LIMIT {_SAMPLE_ROWS}) AS d, json_each(d.metadata) AS j "
        f"WHERE j.type IN {_SCALAR_TYPES} GROUP BY j.key"
    )
    facets = []
    for column, distinct in sorted(sample):
        if distinct > max_values:
            continue
        rows = store.select(
            f"SELECT j.value, j.type, count(*) AS n FROM documents, json_each(documents.metadata) AS j "
            f"WHERE j.key = ? AND j.type IN {_SCALAR_TYPES} GROUP BY j.value, j.type ORDER BY n DESC, j.value",
            (column,),
        )
        if 1 < len(rows) <= max_values:  # one value everywhere filters nothing
            facets.append(Facet(column, [_python_value(v, t) for v, t, _ in rows], [n for _, _, n in rows]))
    return facets


def allowed_row_ids(store: Store, filters: Filters) -> np.ndarray:
    """Row ids of the documents matching every condition, as int64 (possibly empty).

    A column that no document has is refused, naming it, so a typo does not look
    like "no results".
    """
    conditions, args = [], []
    for column, wanted in filters.items():
        path = _json_path(column)
        if not store.select("SELECT 1 FROM documents WHERE json_type(metadata, ?) IS NOT NULL LIMIT 1", (path,)):
            raise InvalidArgumentError(
                f"no document has a metadata column {column!r}; filter on a column the index has."
            )
        values = list(wanted) if isinstance(wanted, (list, tuple, set, frozenset)) else [wanted]
        if not values:
            raise InvalidArgumentError(f"the filter on {column!r} lists no values; give at least one.")
        conditions.append(f"json_extract(metadata, ?) IN ({','.join('?' * len(values))})")
        args += [path, *(_sql_value(v) for v in values)]
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""  # no conditions: every document
    rows = store.select(f"SELECT id FROM documents{where}", args)
    return np.array([row[0] for row in rows], dtype=np.int64)


def _json_path(column: str) -> str:
    if not isinstance(column, str) or not column or '"' in column or "\\" in column:
        raise InvalidArgumentError(f"cannot filter on metadata column {column!r}; use a plain column name.")
    return f'$."{column}"'


def _sql_value(value: Any) -> Any:
    """json_extract returns JSON true/false as 1/0; match Python booleans the same way."""
    if isinstance(value, bool):
        return int(value)
    if value is None or isinstance(value, (str, int, float)):
        return value
    raise InvalidArgumentError(f"cannot filter on value {value!r}; use strings, numbers or booleans.")


def _python_value(value: Any, json_type: str) -> Any:
    if json_type in ("true", "false"):
        return json_type == "true"
    return value
