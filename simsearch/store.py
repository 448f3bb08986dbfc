"""Texts and metadata in SQLite, keyed by the same int64 ids as the vectors.

The row id *is* the vector id (AUTOINCREMENT, so a deleted id is never handed
out again): there is one id space and no mapping table to drift. The store also
records which vector file generation matches its rows, so a crash between
writing vectors and committing rows can never pair the wrong two.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simsearch.corpus import Document
from simsearch.errors import CorruptIndexError, InputError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ext_id TEXT NOT NULL UNIQUE,
    text TEXT NOT NULL,
    metadata TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass(frozen=True)
class StoredDocument:
    """A document as stored: ``row_id`` is the vector id, ``id`` the user's id."""

    row_id: int
    id: str
    text: str
    metadata: dict[str, Any] = field(default_factory=dict)


class Store:
    """One SQLite file; one connection shared by all threads behind a lock.

    A single connection (not one per thread) matters: an open index must keep
    reading the file it opened even after a rebuild has swapped a new one in.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.RLock()
        try:
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._db.executescript(_SCHEMA)
            self._db.execute("SELECT count(*) FROM documents").fetchone()
        except sqlite3.DatabaseError as exc:
            raise CorruptIndexError(
                f"store {path} is damaged ({exc}); rebuild the index from its source file."
            ) from None

    def close(self) -> None:
        self._db.close()

    # --- writes (callers hold the index's writer lock) --------------------------------
    def insert(self, documents: Sequence[Document], first_row_id: int | None = None) -> list[int]:
        """Insert documents inside the current transaction and return their row ids.

        A document without an id gets its row id as its id. ``first_row_id`` keeps
        row ids when copying a store (rebuild); otherwise SQLite assigns them.
        """
        row_ids = []
        with self._lock:
            for offset, doc in enumerate(documents):
                row_id = None if first_row_id is None else first_row_id + offset
                row_ids.append(self._insert_one(doc, row_id))
        return row_ids

    def insert_rows(self, rows: Sequence[StoredDocument]) -> None:
        """Copy rows with their ids unchanged (used by rebuild to keep ids stable)."""
        with self._lock:
            self._db.executemany(
                "INSERT INTO documents (id, ext_id, text, metadata) VALUES (?, ?, ?, ?)",
                [(r.row_id, r.id, r.text, json.dumps(r.metadata)) for r in rows],
            )

    def reserve_row_ids_below(self, next_row_id: int) -> None:
        """Make SQLite hand out ids from ``next_row_id`` on, so a rebuild never reuses a deleted id."""
        with self._lock:
            self._db.execute("DELETE FROM sqlite_sequence WHERE name = 'documents'")
            self._db.execute("INSERT INTO sqlite_sequence (name, seq) VALUES ('documents', ?)", (next_row_id - 1,))

    def delete(self, row_ids: Sequence[int]) -> None:
        with self._lock:
            self._db.executemany("DELETE FROM documents WHERE id = ?", [(int(i),) for i in row_ids])

    def begin(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def commit(self) -> None:
        self._db.execute("COMMIT")

    def rollback(self) -> None:
        if self._db.in_transaction:
            self._db.execute("ROLLBACK")

    def set_meta(self, key: str, value: str) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    # --- reads ------------------------------------------------------------------------
    def meta(self, key: str, default: str | None = None) -> str | None:
        row = self._query("SELECT value FROM meta WHERE key = ?", (key,))
        return row[0][0] if row else default

    def count(self) -> int:
        return int(self._query("SELECT count(*) FROM documents")[0][0])

    def fetch(self, row_ids: Sequence[int]) -> dict[int, StoredDocument]:
        """Documents by row id; ids not in the store are simply absent from the result."""
        wanted = sorted({int(i) for i in row_ids if i >= 0})
        found: dict[int, StoredDocument] = {}
        for start in range(0, len(wanted), 500):
            part = wanted[start : start + 500]
            marks = ",".join("?" * len(part))
            for row in self._query(f"SELECT id, ext_id, text, metadata FROM documents WHERE id IN ({marks})", part):
                found[row[0]] = _document(row)
        return found

    def row_ids_for(self, ids: Sequence[str]) -> dict[str, int]:
        """Map user ids to row ids; unknown ids are absent."""
        found: dict[str, int] = {}
        unique = list(dict.fromkeys(ids))
        for start in range(0, len(unique), 500):
            part = unique[start : start + 500]
            marks = ",".join("?" * len(part))
            found.update(self._query(f"SELECT ext_id, id FROM documents WHERE ext_id IN ({marks})", part))
        return found

    def existing_ids(self, ids: Sequence[str]) -> list[str]:
        return list(self.row_ids_for(ids))

    def iter_documents(self, batch_size: int = 10_000) -> Iterator[list[StoredDocument]]:
        """All documents in row-id order, in batches, so a rebuild never holds them all twice."""
        last = -1
        while True:
            rows = self._query(
                "SELECT id, ext_id, text, metadata FROM documents WHERE id > ? ORDER BY id LIMIT ?",
                (last, batch_size),
            )
            if not rows:
                return
            yield [_document(row) for row in rows]
            last = rows[-1][0]

    def select(self, sql: str, args: Sequence[Any] = ()) -> list[tuple]:
        """Run a read-only query on the ``documents`` table (used by simsearch.filters)."""
        return self._query(sql, args)

    def next_row_id(self) -> int:
        """The id SQLite will assign next (AUTOINCREMENT never reuses deleted ids)."""
        row = self._query("SELECT seq FROM sqlite_sequence WHERE name = 'documents'")
        return (int(row[0][0]) if row else 0) + 1

    def _insert_one(self, doc: Document, row_id: int | None) -> int:
        placeholder = doc.id if doc.id is not None else f"\x00pending-{row_id}"
        try:
            cursor = self._db.execute(
                "INSERT INTO documents (id, ext_id, text, metadata) VALUES (?, ?, ?, ?)",
                (row_id, placeholder, doc.text, json.dumps(doc.metadata)),
            )
        except sqlite3.IntegrityError:
            raise InputError(f"id {doc.id!r} is already in the index; use a new id or delete the old one.") from None
        row_id = int(cursor.lastrowid)
        if doc.id is None:
            try:
                self._db.execute("UPDATE documents SET ext_id = ? WHERE id = ?", (str(row_id), row_id))
            except sqlite3.IntegrityError:
                raise InputError(
                    f"cannot number a text {row_id}: that id is taken; give every text an explicit id."
                ) from None
        return row_id

    def _query(self, sql: str, args: Sequence[Any] = ()) -> list[tuple]:
        with self._lock:
            try:
                return self._db.execute(sql, args).fetchall()
            except sqlite3.DatabaseError as exc:
                raise CorruptIndexError(
                    f"store {self.path} is damaged ({exc}); rebuild the index from its source file."
                ) from None


def _document(row: tuple) -> StoredDocument:
    return StoredDocument(row_id=row[0], id=row[1], text=row[2], metadata=json.loads(row[3]))
