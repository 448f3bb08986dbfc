"""The ``passages`` table: the windows of long documents (chunking), one vector each (migration 3).

A chunked document's first window keeps the row id as its vector id, so its first vector is where
an unchunked document's would be; later windows take ids from the rows' own AUTOINCREMENT
sequence, which no row will ever get. One id space stays, and no id is reused.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

import numpy as np

from simsearch.store.rows import next_row_id
from simsearch.store.statements import Query, query_over_ids


def insert_passages(db: sqlite3.Connection, query: Query, windows: Sequence[tuple[int, int, int]]) -> list[int]:
    """Record the windows ``(row id, start, end)`` of chunked documents; returns each window's vector id, in order.

    A document's windows come together, first window first (the first keeps the row id).
    """
    vector_ids: list[int] = []
    last = next_row_id(query) - 1
    for position, (row_id, _start, _end) in enumerate(windows):
        if position and windows[position - 1][0] == row_id:
            last += 1
            vector_ids.append(last)
        else:
            vector_ids.append(int(row_id))
    db.execute("UPDATE sqlite_sequence SET seq = ? WHERE name = 'documents'", (last,))
    db.executemany(
        "INSERT INTO passages (vector_id, row_id, start_char, end_char) VALUES (?, ?, ?, ?)",
        [(v, int(r), int(s), int(e)) for v, (r, s, e) in zip(vector_ids, windows)],
    )
    return vector_ids


def vector_ids(query: Query) -> np.ndarray:
    """Every vector id the vector index must hold, sorted (int64): the row ids and the ids of later windows."""
    rows = query("SELECT id FROM documents UNION SELECT vector_id FROM passages ORDER BY 1")
    return np.array([row[0] for row in rows], dtype=np.int64)


def vector_ids_of(query: Query, row_ids: Sequence[int]) -> np.ndarray:
    """The vector ids of these rows (each row id, and its windows' ids when chunked), sorted."""
    found = {int(i) for i in row_ids}
    windows = query_over_ids(query, "SELECT vector_id FROM passages WHERE row_id IN ({marks})", sorted(found))
    found.update(row[0] for row in windows)
    return np.array(sorted(found), dtype=np.int64)


def passages_of(query: Query, vector_ids: Sequence[int]) -> dict[int, tuple[int, int, int]]:
    """``{vector id: (row id, start, end)}`` for the ids that are windows of chunked documents.

    An id absent from the result is a whole document's vector: its own row id.
    """
    wanted = sorted({int(i) for i in vector_ids if i >= 0})
    rows = query_over_ids(
        query, "SELECT vector_id, row_id, start_char, end_char FROM passages WHERE vector_id IN ({marks})", wanted
    )
    return {vector_id: (row_id, start, end) for vector_id, row_id, start, end in rows}
