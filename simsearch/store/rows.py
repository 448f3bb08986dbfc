"""The ``documents`` table: one row per document, its row id the vector id, its ``ext_id`` the user's id.

Row ids come from AUTOINCREMENT, so a deleted id is never handed out again; a document without
an id of its own is numbered by its row id. Metadata is written as strict JSON (metadata.py).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np

from simsearch.errors import InputError
from simsearch.ingest.corpus import Document
from simsearch.store.metadata import metadata_json, metadata_problem, stored_metadata
from simsearch.store.statements import Query, Write, json_path, query_over_ids

_COLUMNS = "id, ext_id, text, metadata"  # what a StoredDocument is read from


@dataclass(frozen=True)
class StoredDocument:
    """A document as stored: ``row_id`` is the vector id, ``id`` the user's id."""

    row_id: int
    id: str
    text: str
    metadata: dict[str, Any] = field(default_factory=dict)


# --- writes (in the caller's transaction, under the store's lock) --------------------------
def insert_documents(
    db: sqlite3.Connection, query: Query, documents: Sequence[Document], first_row_id: int | None
) -> list[int]:
    """Insert documents and return their row ids.

    A document without an id gets its row id as its id. ``first_row_id`` keeps
    row ids when copying a store (rebuild); otherwise SQLite assigns them.
    """
    row_ids = []
    named = {doc.id for doc in documents if doc.id is not None}  # numbers a later document of the batch takes
    following = next_row_id(query)
    for offset, doc in enumerate(documents):
        row_id = None if first_row_id is None else first_row_id + offset
        if row_id is None and doc.id is None:
            row_id = _free_number(query, following, named)
        row_ids.append(_insert_one(db, doc, row_id))
        following = row_ids[-1] + 1  # AUTOINCREMENT hands out the next id after the largest
    return row_ids


def _free_number(query: Query, number: int, named: set[str]) -> int:
    """The first row id from ``number`` on whose number no document holds (or ``named`` will hold) as its id.

    A text without an id is numbered by its row id; a number a user gave as an explicit
    id is skipped, never reused, so automatic numbering cannot jam on it.
    """
    while str(number) in named or query("SELECT 1 FROM documents WHERE ext_id = ?", (str(number),)):
        number += 1
    return number


def _insert_one(db: sqlite3.Connection, doc: Document, row_id: int | None) -> int:
    id = doc.id if doc.id is not None else str(row_id)
    try:
        cursor = db.execute(
            "INSERT INTO documents (id, ext_id, text, metadata) VALUES (?, ?, ?, ?)",
            (row_id, id, doc.text, metadata_json(doc.metadata, id)),
        )
    except sqlite3.IntegrityError:
        raise InputError(f"id {id!r} is already in the index; use a new id or delete the old one.") from None
    return cast(int, cursor.lastrowid)  # set to the new row's id by every INSERT that succeeds


def insert_rows(db: sqlite3.Connection, rows: Sequence[StoredDocument]) -> None:
    """Copy rows with their ids unchanged (used by rebuild to keep ids stable)."""
    db.executemany(
        "INSERT INTO documents (id, ext_id, text, metadata) VALUES (?, ?, ?, ?)",
        [(r.row_id, r.id, r.text, metadata_json(r.metadata, r.id)) for r in rows],
    )


def reserve_row_ids_below(db: sqlite3.Connection, next_row_id: int) -> None:
    """Make SQLite hand out ids from ``next_row_id`` on, so a rebuild never reuses a deleted id."""
    db.execute("DELETE FROM sqlite_sequence WHERE name = 'documents'")
    db.execute("INSERT INTO sqlite_sequence (name, seq) VALUES ('documents', ?)", (next_row_id - 1,))


def delete(write: Write, row_ids: Sequence[int]) -> None:
    """Delete these rows; the trigger of migration 3 deletes their windows with them."""
    write("DELETE FROM documents WHERE id = ?", [(int(i),) for i in row_ids], many=True)


def update_metadata(write: Write, changes: dict[int, dict[str, Any]]) -> None:
    """Replace the metadata of these rows (texts and vectors unchanged)."""
    write(
        "UPDATE documents SET metadata = ? WHERE id = ?",
        [(metadata_json(metadata, str(row_id)), int(row_id)) for row_id, metadata in changes.items()],
        many=True,
    )


def replace_metadata_column(write: Write, column: str, values: dict[int, Any]) -> None:
    """Set metadata ``column`` to ``values[row_id]`` on those rows and remove it from every other row.

    Runs inside the caller's transaction, so readers see the old column or the new one.
    """
    path = json_path(column)
    write(
        "UPDATE documents SET metadata = json_remove(metadata, ?) WHERE json_type(metadata, ?) IS NOT NULL",
        (path, path),
    )
    write(
        "UPDATE documents SET metadata = json_set(metadata, ?, ?) WHERE id = ?",
        [(path, value, int(row_id)) for row_id, value in values.items()],
        many=True,
    )


# --- reads -----------------------------------------------------------------------------------
def next_row_id(query: Query) -> int:
    """The id SQLite will assign next (AUTOINCREMENT never reuses deleted ids)."""
    row = query("SELECT seq FROM sqlite_sequence WHERE name = 'documents'")
    return (int(row[0][0]) if row else 0) + 1


def count(query: Query) -> int:
    return int(query("SELECT count(*) FROM documents")[0][0])


def fetch(query: Query, row_ids: Sequence[int]) -> dict[int, StoredDocument]:
    """Documents by row id; ids not in the store are simply absent from the result."""
    wanted = sorted({int(i) for i in row_ids if i >= 0})
    rows = query_over_ids(query, f"SELECT {_COLUMNS} FROM documents WHERE id IN ({{marks}})", wanted)
    return {row[0]: _document(row) for row in rows}


def texts_of(query: Query, row_ids: Sequence[int]) -> dict[int, str]:
    """Texts by row id, metadata left unread (``check`` reads texts of rows whose metadata may be unusable)."""
    wanted = sorted({int(i) for i in row_ids if i >= 0})
    return dict(query_over_ids(query, "SELECT id, text FROM documents WHERE id IN ({marks})", wanted))


def row_ids_for(query: Query, ids: Sequence[str]) -> dict[str, int]:
    """Map user ids to row ids; unknown ids are absent."""
    unique = list(dict.fromkeys(ids))
    return dict(query_over_ids(query, "SELECT ext_id, id FROM documents WHERE ext_id IN ({marks})", unique))


def texts_and_metadata(query: Query, ids: Sequence[str]) -> dict[str, StoredDocument]:
    """The stored documents with these user ids, keyed by user id (for sync's comparison)."""
    unique = list(dict.fromkeys(ids))
    rows = query_over_ids(query, f"SELECT {_COLUMNS} FROM documents WHERE ext_id IN ({{marks}})", unique)
    return {row[1]: _document(row) for row in rows}


def document(query: Query, id: str) -> StoredDocument | None:
    """The document with this user id, or None."""
    row_id = row_ids_for(query, [str(id)]).get(str(id))
    return None if row_id is None else fetch(query, [row_id]).get(row_id)


def all_ext_ids(query: Query) -> dict[str, int]:
    """Every user id with its row id."""
    return dict(query("SELECT ext_id, id FROM documents"))


def ids(query: Query) -> np.ndarray:
    """Every row id, sorted (int64): one per document, the vector id of its (first) vector."""
    return np.array([row[0] for row in query("SELECT id FROM documents ORDER BY id")], dtype=np.int64)


def duplicate_text_row_ids(query: Query) -> list[list[int]]:
    """Row ids of documents holding the very same text, one sorted list per text stored more than once."""
    rows = query("SELECT group_concat(id) FROM documents GROUP BY text HAVING count(*) > 1")
    return [sorted(int(i) for i in row[0].split(",")) for row in rows]


def iter_documents(query: Query, batch_size: int) -> Iterator[list[StoredDocument]]:
    """All documents in row-id order, in batches, so a rebuild never holds them all twice."""
    for rows in _batches(query, _COLUMNS, batch_size):
        yield [_document(row) for row in rows]


def bad_metadata_rows(query: Query, batch_size: int) -> list[tuple[int, str, str]]:
    """``(row id, id, problem)`` of every row whose metadata is not a JSON object of finite numbers.

    Such rows can only come from an older simsearch, which wrote ``Infinity`` and ``NaN``;
    SQLite's JSON functions call them malformed, so every filtered search would fail.
    """
    found: list[tuple[int, str, str]] = []
    for rows in _batches(query, "id, ext_id, metadata", batch_size):
        found += [(row_id, id, problem) for row_id, id, text in rows if (problem := metadata_problem(text))]
    return found


def _batches(query: Query, columns: str, batch_size: int) -> Iterator[list[tuple]]:
    """Every row's ``columns`` (the row id first) in row-id order, ``batch_size`` rows a read."""
    last = -1
    while True:
        rows = query(f"SELECT {columns} FROM documents WHERE id > ? ORDER BY id LIMIT ?", (last, batch_size))
        if not rows:
            return
        yield rows
        last = rows[-1][0]


def _document(row: tuple) -> StoredDocument:
    return StoredDocument(row_id=row[0], id=row[1], text=row[2], metadata=stored_metadata(row[0], row[1], row[3]))
