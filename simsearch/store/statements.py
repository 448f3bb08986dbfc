"""How the store's modules run SQL: the two callables ``Store`` hands them, and id lists cut to size.

``Store`` owns the one connection, its lock and the translation of SQLite's errors into
simsearch's; the modules beside it (rows, passages, write log, filters, lexical search,
facets, sampling) hold the statements and receive ``Store._query`` / ``Store._write``, so
none of them opens, locks or commits anything itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

# Ids bound in one statement. SQLite refuses more than SQLITE_MAX_VARIABLE_NUMBER parameters,
# 999 before 3.32; 500 stays well under it with room for a statement's other parameters.
IDS_PER_STATEMENT = 500


class Query(Protocol):
    """Runs one reading statement under the store's lock and returns its rows (``Store._query``)."""

    def __call__(self, sql: str, args: Sequence[Any] = ...) -> list[tuple]: ...


class Write(Protocol):
    """Runs one writing statement (``many``: once per args tuple) in the caller's transaction (``Store._write``)."""

    def __call__(self, sql: str, args: Sequence[Any] = ..., many: bool = ...) -> None: ...


def query_over_ids(query: Query, sql: str, ids: Sequence[Any]) -> list[tuple]:
    """The rows of ``sql`` for every id in ``ids``, one statement per ``IDS_PER_STATEMENT`` ids.

    ``sql`` holds ``{marks}`` where its ``IN (...)`` list goes; each piece is its own read, so
    a long list never holds the lock for all of it.
    """
    rows: list[tuple] = []
    for start in range(0, len(ids), IDS_PER_STATEMENT):
        piece = list(ids[start : start + IDS_PER_STATEMENT])
        rows += query(sql.format(marks=",".join("?" * len(piece))), piece)
    return rows


def json_path(column: str) -> str:
    """The JSON path of a metadata column, quoted so a name with dots or spaces stays one key."""
    return f'$."{column}"'
