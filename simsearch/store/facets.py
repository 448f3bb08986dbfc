"""Facets: the metadata columns with few distinct values, offered as drop-downs, with their counts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from simsearch.store.statements import Query

_SCALAR_TYPES = "('text', 'integer', 'real', 'true', 'false')"
_FACET_SAMPLE_ROWS = 5_000  # rows read to find the low-cardinality columns before counting them in full


@dataclass(frozen=True)
class Facet:
    """A metadata column with few distinct values, the values most frequent first."""

    column: str
    values: list[Any]
    counts: list[int]


def facets(query: Query, max_values: int) -> list[Facet]:
    """Columns worth a drop-down: scalar values only, between 2 and ``max_values`` distinct ones.

    Candidates are found on the first rows, then counted over the whole store, so a
    free-text column never makes SQLite group millions of distinct strings.
    """
    sample = query(
        f"SELECT j.key, count(DISTINCT j.value) FROM "
        f"(SELECT metadata FROM documents ORDER BY id LIMIT {_FACET_SAMPLE_ROWS}) AS d, "
        f"json_each(d.metadata) AS j WHERE j.type IN {_SCALAR_TYPES} GROUP BY j.key"
    )
    found = []
    for column, distinct in sorted(sample):
        if distinct > max_values:
            continue
        rows = query(
            f"SELECT j.value, j.type, count(*) AS n FROM documents, json_each(documents.metadata) AS j "
            f"WHERE j.key = ? AND j.type IN {_SCALAR_TYPES} GROUP BY j.value, j.type ORDER BY n DESC, j.value",
            (column,),
        )
        if 1 < len(rows) <= max_values:  # one value everywhere filters nothing
            found.append(Facet(column, [_python_value(v, t) for v, t, _ in rows], [n for _, _, n in rows]))
    return found


def _python_value(value: Any, json_type: str) -> Any:
    if json_type in ("true", "false"):
        return json_type == "true"
    return value
