"""The store: one SQLite file of texts and metadata, keyed by the same int64 ids as the vectors.

The row id *is* the vector id (AUTOINCREMENT never hands a deleted id out again): one id space.
The store also records which vector file generation matches its rows, so a crash between writing
vectors and committing rows can never pair the wrong two. Every SQL statement of simsearch lives
in this package behind ``Store``'s named methods, so the schema can change without touching a
caller. ``Store`` owns the connection, its lock, the transactions and the journal mode; each method
hands ``_query`` / ``_write`` to the module holding that job's statements.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, overload

import numpy as np

from simsearch.errors import CorruptIndexError, IndexFolderError
from simsearch.ingest.corpus import Document
from simsearch.store import facets, highlights, passages, rows, sampling, schema, write_log
from simsearch.store.facets import Facet
from simsearch.store.filter_sql import matching_vector_ids
from simsearch.store.filters import Filters
from simsearch.store.lexical import LexicalSearch
from simsearch.store.metadata import bad_row_message
from simsearch.store.rows import StoredDocument
from simsearch.store.write_log import WritePosition


class Store:
    """One SQLite file; one connection shared by all threads behind a lock.

    A single connection (not one per thread) matters: an open index must keep
    reading the file it opened even after a rebuild has swapped a new one in.
    """

    def __init__(self, path: Path) -> None:
        """Open (or create) the store at ``path``, upgrading an older schema in place.

        A store already at this code's schema version is only read, so opening needs
        no write access; one written by a newer simsearch is refused.
        """
        self.path = path
        self._lock = threading.RLock()
        self._lexical = LexicalSearch(self._query)
        try:
            self._open(str(path), uri=False)
        except sqlite3.OperationalError as exc:
            if "unable to open" not in str(exc) or not path.exists():
                raise self._damaged(exc) from None
            # WAL readers need the -shm file beside the store; in a folder nobody may write (a read-only
            # volume) no writer can change the store either, so it is read as an immutable file.
            try:
                self._open(f"{path.resolve().as_uri()}?immutable=1", uri=True)
            except sqlite3.DatabaseError as again:
                raise self._damaged(again) from None
        except sqlite3.DatabaseError as exc:
            raise self._damaged(exc) from None

    def _open(self, target: str, uri: bool) -> None:
        self._db = sqlite3.connect(target, check_same_thread=False, isolation_level=None, uri=uri)
        try:
            self._db.execute("PRAGMA synchronous = FULL")
            self._migrate()
            self._db.execute("SELECT count(*) FROM documents").fetchone()
        except BaseException:
            self._db.close()
            raise

    def _migrate(self) -> None:
        """Run the pending migrations and record the new version, all in one transaction; nothing when current."""
        if schema.is_current(self._db, self.path):
            return
        # Write-ahead logging, recorded in the file: readers never block the writer nor see its open
        # transaction, and a commit is one fsync of the log (synchronous FULL: a committed write
        # survives power loss; NORMAL would let the last commits roll back). Not inside a transaction.
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute("BEGIN IMMEDIATE")
        try:
            schema.run_pending_migrations(self._db, self.path)
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    @property
    def schema_version(self) -> int:
        """The schema version on disk (``PRAGMA user_version``); ``SCHEMA_VERSION`` once opened."""
        return int(self._query("PRAGMA user_version")[0][0])

    def close(self) -> None:
        self._db.close()

    # --- transactions (callers hold the index's writer lock) ----------------------------
    def begin(self) -> None:
        self._write("BEGIN IMMEDIATE")

    def commit(self) -> None:
        self._write("COMMIT")

    def rollback(self) -> None:
        if self._db.in_transaction:
            self._db.execute("ROLLBACK")

    # --- documents and their windows (rows.py, passages.py) -----------------------------
    def insert(self, documents: Sequence[Document], first_row_id: int | None = None) -> list[int]:
        """Insert documents inside the current transaction and return their row ids (see rows.py)."""
        with self._writes():
            return rows.insert_documents(self._db, self._query, documents, first_row_id)

    def insert_rows(self, stored: Sequence[StoredDocument]) -> None:
        """Copy rows with their ids unchanged (used by rebuild to keep ids stable)."""
        with self._writes():
            rows.insert_rows(self._db, stored)

    def reserve_row_ids_below(self, next_row_id: int) -> None:
        """Make SQLite hand out ids from ``next_row_id`` on, so a rebuild never reuses a deleted id."""
        with self._lock:
            rows.reserve_row_ids_below(self._db, next_row_id)

    def insert_passages(self, windows: Sequence[tuple[int, int, int]]) -> list[int]:
        """Record windows ``(row id, start, end)`` in the current transaction; returns their vector ids, in order."""
        with self._writes():
            return passages.insert_passages(self._db, self._query, windows)

    def delete(self, row_ids: Sequence[int]) -> None:
        """Delete these rows; the trigger of migration 3 deletes their windows with them."""
        rows.delete(self._write, row_ids)

    def update_metadata(self, changes: dict[int, dict[str, Any]]) -> None:
        """Replace the metadata of these rows (texts and vectors unchanged), in the caller's transaction."""
        rows.update_metadata(self._write, changes)

    def replace_metadata_column(self, column: str, values: dict[int, Any]) -> None:
        """Set metadata ``column`` to ``values[row_id]`` on those rows and remove it from every other row."""
        rows.replace_metadata_column(self._write, column, values)

    def count(self) -> int:
        return rows.count(self._query)

    def next_row_id(self) -> int:
        """The id SQLite will assign next (AUTOINCREMENT never reuses deleted ids)."""
        return rows.next_row_id(self._query)

    def fetch(self, row_ids: Sequence[int]) -> dict[int, StoredDocument]:
        """Documents by row id; ids not in the store are simply absent from the result."""
        return rows.fetch(self._query, row_ids)

    def document(self, id: str) -> StoredDocument | None:
        """The document with this user id, or None."""
        return rows.document(self._query, id)

    def texts_of(self, row_ids: Sequence[int]) -> dict[int, str]:
        """Texts by row id, metadata left unread (``check`` reads texts of rows whose metadata may be unusable)."""
        return rows.texts_of(self._query, row_ids)

    def row_ids_for(self, ids: Sequence[str]) -> dict[str, int]:
        """Map user ids to row ids; unknown ids are absent."""
        return rows.row_ids_for(self._query, ids)

    def texts_and_metadata(self, ids: Sequence[str]) -> dict[str, StoredDocument]:
        """The stored documents with these user ids, keyed by user id (for sync's comparison)."""
        return rows.texts_and_metadata(self._query, ids)

    def all_ext_ids(self) -> dict[str, int]:
        """Every user id with its row id."""
        return rows.all_ext_ids(self._query)

    def ids(self) -> np.ndarray:
        """Every row id, sorted (int64): one per document, the vector id of its (first) vector."""
        return rows.ids(self._query)

    def duplicate_text_row_ids(self) -> list[list[int]]:
        """Row ids of documents holding the very same text, one sorted list per text stored more than once."""
        return rows.duplicate_text_row_ids(self._query)

    def iter_documents(self, batch_size: int = 10_000) -> Iterator[list[StoredDocument]]:
        """All documents in row-id order, in batches, so a rebuild never holds them all twice."""
        return rows.iter_documents(self._query, batch_size)

    def bad_metadata_rows(self, batch_size: int = 10_000) -> list[tuple[int, str, str]]:
        """``(row id, id, problem)`` of every row whose metadata is not a JSON object of finite numbers."""
        return rows.bad_metadata_rows(self._query, batch_size)

    def vector_ids(self) -> np.ndarray:
        """Every vector id the vector index must hold, sorted (int64): the row ids and the ids of later windows."""
        return passages.vector_ids(self._query)

    def vector_ids_of(self, row_ids: Sequence[int]) -> np.ndarray:
        """The vector ids of these rows (each row id, and its windows' ids when chunked), sorted."""
        return passages.vector_ids_of(self._query, row_ids)

    def passages_of(self, vector_ids: Sequence[int]) -> dict[int, tuple[int, int, int]]:
        """``{vector id: (row id, start, end)}`` for the ids that are windows; a whole document's id is absent."""
        return passages.passages_of(self._query, vector_ids)

    # --- notes and the vector files' write log (write_log.py) ---------------------------
    @overload
    def meta(self, key: str, default: str) -> str: ...
    @overload
    def meta(self, key: str, default: None = None) -> str | None: ...
    def meta(self, key: str, default: str | None = None) -> str | None:
        return write_log.meta(self._query, key, default)

    def set_meta(self, key: str, value: str) -> None:
        write_log.set_meta(self._write, key, value)

    def append_delta(self, first_position: int, vector_ids: np.ndarray) -> None:
        """Record the vector ids of delta rows ``first_position``... and the new length, in the caller's transaction."""
        write_log.append_delta(self._write, first_position, vector_ids)

    def mark_dead(self, vector_ids: Sequence[int]) -> None:
        """Record these vector ids as deleted, in the caller's transaction; no vector file is touched."""
        write_log.mark_dead(self._write, vector_ids)

    def replace_write_log(self, generation: int, delta_ids: np.ndarray, dead_ids: np.ndarray) -> None:
        """Start generation ``generation`` with this delta (by position) and these dead ids (compaction)."""
        write_log.replace_write_log(self._write, generation, delta_ids, dead_ids)

    def write_position(self) -> WritePosition:
        """Where the write log stands now, read in one statement."""
        return write_log.write_position(self._query)

    def write_log_figures(self) -> tuple[WritePosition, int, int]:
        """The write position, the dead ids and the vectors the store expects, all from one commit (one SELECT)."""
        return write_log.write_log_figures(self._query)

    def delta_ids(self, start: int, end: int) -> np.ndarray:
        """The vector ids of delta rows ``start`` to ``end - 1``, by position (int64)."""
        return write_log.delta_ids(self._query, start, end)

    def dead_ids(self, after_seq: int, up_to_seq: int) -> np.ndarray:
        """Vector ids marked dead with ``after_seq < seq <= up_to_seq`` (int64, commit order)."""
        return write_log.dead_ids(self._query, after_seq, up_to_seq)

    # --- filters, lexical search, facets, samples ----------------------------------------
    def matching_vector_ids(self, filters: Filters) -> np.ndarray:
        """Vector ids of the documents matching every filter (their windows' too), sorted int64; see filters.py."""
        return matching_vector_ids(self._query, filters)

    def lexical_candidates(
        self, terms: Sequence[str], k: int, filters: Filters | None = None, required: Sequence[str] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` best rows by BM25 for documents holding any of ``terms``: (scores, row ids), best first."""
        return self._lexical.candidates(terms, k, filters, required)

    def known_terms(self, terms: Sequence[str]) -> list[str]:
        """Those of ``terms`` some document holds, as the lexical index reads them (stemmed, folded)."""
        return self._lexical.known_terms(terms)

    def highlights(self, terms: Sequence[str], row_ids: Sequence[int]) -> dict[int, highlights.Highlight]:
        """The spans of each row's text that FTS5 matched for ``terms`` (highlights.matched_spans)."""
        return highlights.matched_spans(self._query, terms, row_ids)

    def facets(self, max_values: int = 25) -> list[Facet]:
        """Columns worth a drop-down: scalar values only, between 2 and ``max_values`` distinct ones."""
        return facets.facets(self._query, max_values)

    def sample_documents(self, size: int, seed: int = 0) -> list[StoredDocument]:
        """Up to ``size`` documents chosen at random (all of them when there are fewer), in row-id order."""
        return sampling.sample_documents(self._query, size, seed)

    # --- running statements ----------------------------------------------------------------
    def _query(self, sql: str, args: Sequence[Any] = ()) -> list[tuple]:
        with self._lock:
            try:
                return self._db.execute(sql, args).fetchall()
            except sqlite3.DatabaseError as exc:
                bad_rows = self.bad_metadata_rows() if "malformed JSON" in str(exc) else []
                if bad_rows:  # one row's metadata, not the file: name it rather than ask for a rebuild
                    raise CorruptIndexError(bad_row_message(bad_rows)) from None
                raise self._damaged(exc) from None

    def _write(self, sql: str, args: Sequence[Any] = (), many: bool = False) -> None:
        with self._writes():
            (self._db.executemany if many else self._db.execute)(sql, args)

    @contextmanager
    def _writes(self) -> Iterator[None]:
        """Writing statements; a store that cannot be written (read-only folder or file) is one clear error."""
        with self._lock:
            try:
                yield
            except sqlite3.OperationalError as exc:
                if "readonly" not in str(exc) and "unable to open" not in str(exc):
                    raise
                raise IndexFolderError(
                    f"cannot write store {self.path} ({exc}); make the index folder writable. Nothing was changed."
                ) from None

    def _damaged(self, exc: Exception) -> CorruptIndexError:
        return CorruptIndexError(f"store {self.path} is damaged ({exc}); rebuild the index from its source file.")
