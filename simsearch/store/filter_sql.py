"""Metadata filters as SQL: the WHERE clause selecting the documents that match every condition.

filters.py checks what a caller wrote and splits it into ``Condition``s; here each becomes
tests on ``json_type``/``json_extract`` of the metadata column. A column that no document has
is refused by name, so a typo does not look like "no results".
"""

from __future__ import annotations

from typing import Any

import numpy as np

from simsearch.errors import InvalidArgumentError
from simsearch.store.filters import BOUNDS, Condition, Filters, Values, filter_conditions
from simsearch.store.statements import Query, json_path

_KIND_NAMES = {
    "integer": "numbers",
    "real": "numbers",
    "text": "text",
    "true": "booleans",
    "false": "booleans",
    "array": "lists",
    "object": "objects",
}


def matching_vector_ids(query: Query, filters: Filters) -> np.ndarray:
    """Vector ids of the documents matching every filter condition (their windows' too), sorted int64."""
    where, args = filter_where(query, filters)
    rows = query(
        f"SELECT id FROM documents{where} UNION SELECT vector_id FROM passages "
        f"WHERE row_id IN (SELECT id FROM documents{where}) ORDER BY 1",
        [*args, *args],
    )
    return np.array([row[0] for row in rows], dtype=np.int64)


def filter_where(query: Query, filters: Filters) -> tuple[str, list[Any]]:
    """The WHERE clause (with its leading space; empty for no conditions) selecting matching documents."""
    clauses: list[str] = []
    args: list[Any] = []
    for condition in filter_conditions(filters):
        path = json_path(condition.column)
        if not query("SELECT 1 FROM documents WHERE json_type(metadata, ?) IS NOT NULL LIMIT 1", (path,)):
            raise InvalidArgumentError(
                f"no document has a metadata column {condition.column!r}; filter on a column the index has."
            )
        if condition.bounds:
            _check_bound_type(query, condition, path)
        clause, clause_args = _condition_sql(condition, path)
        clauses.append(clause)
        args += clause_args
    return (f" WHERE {' AND '.join(clauses)}" if clauses else ""), args  # no conditions: every document


def _check_bound_type(query: Query, condition: Condition, path: str) -> None:
    """Refuse a bound no value of the column can meet: a text bound on a column of numbers, or the reverse.

    SQLite orders every number before every text, so such a bound would quietly match
    nothing (``year<2000x``, ``{"year": {"gte": "2000"}}``); the caller meant the other kind.
    """
    numeric = not isinstance(condition.bounds[0][1], str)
    wanted = "('integer', 'real')" if numeric else "('text')"
    if query(f"SELECT 1 FROM documents WHERE json_type(metadata, ?) IN {wanted} LIMIT 1", (path,)):
        return
    found = [
        row[0]
        for row in query(
            "SELECT DISTINCT json_type(metadata, ?) FROM documents WHERE json_type(metadata, ?) != 'null'",
            (path, path),
        )
    ]
    kinds = ", ".join(sorted({_KIND_NAMES.get(kind, kind) for kind in found})) or "only nulls"
    operator, bound = condition.bounds[0]
    raise InvalidArgumentError(
        f"cannot compare metadata column {condition.column!r} (holding {kinds}) with {operator} {bound!r}; "
        f"give {'text' if numeric else 'a number'} as the bound."
    )


def _condition_sql(condition: Condition, path: str) -> tuple[str, list[Any]]:
    """One column's tests, AND-ed: its accepted values, its refused values, its bounds."""
    tests: list[str] = []
    args: list[Any] = []
    if condition.equal is not None:
        test, test_args = _values_sql(condition.equal, path)
        tests.append(test)
        args += test_args
    if condition.not_equal is not None:
        test, test_args = _values_sql(condition.not_equal, path)
        tests.append(f"NOT COALESCE({test}, 0)")  # a missing value is "not equal" too
        args += test_args
    if condition.bounds:
        numeric = not isinstance(condition.bounds[0][1], str)
        # SQLite orders every number before every text, so a bound tests its own JSON type only
        tests.append("json_type(metadata, ?) IN ('integer', 'real')" if numeric else "json_type(metadata, ?) = 'text'")
        args.append(path)
        for operator, bound in condition.bounds:
            tests.append(f"json_extract(metadata, ?) {BOUNDS[operator]} ?")
            args += [path, bound]
    return f"({' AND '.join(tests)})", args


def _values_sql(accepted: Values, path: str) -> tuple[str, list[Any]]:
    """True where the value is one of ``accepted``.

    ``json_extract`` gives JSON true/false as 1/0, so numbers are compared only where
    the JSON type is not boolean and booleans by their JSON type; a missing column
    and JSON null both give NULL.
    """
    tests: list[str] = []
    args: list[Any] = []
    if accepted.values:
        marks = ",".join("?" * len(accepted.values))
        tests.append(f"(json_extract(metadata, ?) IN ({marks}) AND json_type(metadata, ?) NOT IN ('true', 'false'))")
        args += [path, *accepted.values, path]
    for flag in accepted.booleans:
        tests.append("json_type(metadata, ?) = ?")
        args += [path, "true" if flag else "false"]
    if accepted.missing:
        tests.append("json_extract(metadata, ?) IS NULL")
        args.append(path)
    return f"({' OR '.join(tests)})", args
