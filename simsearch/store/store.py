"""Texts and metadata in SQLite, keyed by the same int64 ids as the vectors.

The row id *is* the vector id (AUTOINCREMENT, so a deleted id is never handed
out again): there is one id space. A long document split into windows (chunking.py)
has one vector per window; the ``passages`` table maps each window's vector id to
its row and its span of the text, and the first window keeps the row id. The store also
records which vector file generation matches its rows, so a crash between
writing vectors and committing rows can never pair the wrong two.

Every SQL statement of simsearch lives in this module: metadata filters, facets and
sampling are named methods, so the schema can change without touching a caller.
The schema is versioned with ``PRAGMA user_version`` and upgraded on open by the
numbered migrations below.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast, overload

import numpy as np

from simsearch.errors import CorruptIndexError, FormatVersionError, IndexFolderError, InputError, InvalidArgumentError
from simsearch.ingest.corpus import Document
from simsearch.store.filters import BOUNDS, Condition, Filters, Values, filter_conditions
from simsearch.store.metadata import bad_row_message, metadata_json, metadata_problem, stored_metadata

# How the lexical index splits text into terms: Porter stemming over unicode61 with diacritics
# folded. BM25 alone, nDCG@10 on cisi / STS-B dev paraphrase: unicode61 28.26 / 90.78 (ascii and
# remove_diacritics the same on these English sets), trigram 29.64 / 91.00, porter 31.43 / 92.86
# (2026-11-23, benchmarks/ranking.py --tokenizers). Part of migration 2: changing it needs a new migration.
LEXICAL_TOKENIZER = "porter unicode61 remove_diacritics 2"

# Migration N (1-based) brings a store from schema version N-1 to N. Released entries are
# never edited, only appended to; all pending ones run in one transaction on open.
_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # 1: the tables of the first release. A new file gets them here; a store written before
    #    schema versions existed (user_version 0) has them already, so only the version moves.
    (
        """CREATE TABLE IF NOT EXISTS documents (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            ext_id TEXT NOT NULL UNIQUE,
            text TEXT NOT NULL,
            metadata TEXT NOT NULL DEFAULT '{}'
        )""",
        "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    ),
    # 2: the lexical index. External content over ``documents`` (the text is stored once and
    #    the FTS rowid is the row id, hence the vector id); contentless tables cannot delete
    #    rows before SQLite 3.43. Triggers keep it in step inside the same statement, so every
    #    insert, copy and delete commits texts and lexical index together; 'rebuild' fills it
    #    from the rows an older store already holds.
    (
        f"CREATE VIRTUAL TABLE documents_fts USING fts5(text, content='documents', content_rowid='id', "
        f"tokenize='{LEXICAL_TOKENIZER}')",
        """CREATE TRIGGER documents_fts_insert AFTER INSERT ON documents BEGIN
            INSERT INTO documents_fts (rowid, text) VALUES (new.id, new.text);
        END""",
        """CREATE TRIGGER documents_fts_delete AFTER DELETE ON documents BEGIN
            INSERT INTO documents_fts (documents_fts, rowid, text) VALUES ('delete', old.id, old.text);
        END""",
        """CREATE TRIGGER documents_fts_update AFTER UPDATE OF text ON documents BEGIN
            INSERT INTO documents_fts (documents_fts, rowid, text) VALUES ('delete', old.id, old.text);
            INSERT INTO documents_fts (rowid, text) VALUES (new.id, new.text);
        END""",
        "INSERT INTO documents_fts (documents_fts) VALUES ('rebuild')",
    ),
    # 3: the windows of long documents (chunking.py). A chunked document has one vector per window:
    #    the first keeps the row id as its vector id, later ones take ids from the row ids' own
    #    sequence, so one id space stays and no id is reused. [start_char, end_char) is the window's
    #    span of the text. The trigger drops a document's windows with it, in the same statement.
    #    Older stores hold no chunked document, so the table starts empty.
    (
        """CREATE TABLE passages (
            vector_id INTEGER PRIMARY KEY,
            row_id INTEGER NOT NULL,
            start_char INTEGER NOT NULL,
            end_char INTEGER NOT NULL
        )""",
        "CREATE INDEX passages_row_id ON passages (row_id)",
        """CREATE TRIGGER passages_delete AFTER DELETE ON documents BEGIN
            DELETE FROM passages WHERE row_id = old.id;
        END""",
    ),
    # 4: the write log of the segmented vectors (simsearch.index.segments). ``delta`` names the vector
    #    id of each row of the generation's append-only delta file, by position; ``dead`` lists the
    #    vector ids deleted since the base was written, in commit order (``seq``), so a reader asks
    #    only for the ones after the last it saw. The meta row ``delta_rows`` is the committed length
    #    of the delta file. An older store has neither: its vectors are all in the base.
    (
        "CREATE TABLE delta (position INTEGER PRIMARY KEY, vector_id INTEGER NOT NULL)",
        "CREATE TABLE dead (seq INTEGER PRIMARY KEY AUTOINCREMENT, vector_id INTEGER NOT NULL UNIQUE)",
    ),
)
SCHEMA_VERSION = len(_MIGRATIONS)

_SCALAR_TYPES = "('text', 'integer', 'real', 'true', 'false')"
_KIND_NAMES = {
    "integer": "numbers",
    "real": "numbers",
    "text": "text",
    "true": "booleans",
    "false": "booleans",
    "array": "lists",
    "object": "objects",
}
_FACET_SAMPLE_ROWS = 5_000  # rows read to find the low-cardinality columns before counting them in full
_FREQUENCIES_KEPT = 50_000  # cached document frequencies per open store (a query term costs one FTS5 count)


@dataclass(frozen=True)
class StoredDocument:
    """A document as stored: ``row_id`` is the vector id, ``id`` the user's id."""

    row_id: int
    id: str
    text: str
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class WritePosition:
    """How far the store's write log has gone: the base generation, the committed delta rows, the last dead seq.

    Within one generation the delta only grows and dead ids only accumulate, so a reader that
    holds an older position of the same generation needs only the rows and ids after it.
    """

    generation: int
    delta_rows: int
    dead_seq: int


@dataclass(frozen=True)
class Facet:
    """A metadata column with few distinct values, the values most frequent first."""

    column: str
    values: list[Any]
    counts: list[int]


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
        self._frequencies: dict[tuple[str, str], int] = {}  # (term, generation) -> documents holding it
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

    @property
    def schema_version(self) -> int:
        """The schema version on disk (``PRAGMA user_version``); ``SCHEMA_VERSION`` once opened."""
        return int(self._query("PRAGMA user_version")[0][0])

    def close(self) -> None:
        self._db.close()

    # --- writes (callers hold the index's writer lock) --------------------------------
    def insert(self, documents: Sequence[Document], first_row_id: int | None = None) -> list[int]:
        """Insert documents inside the current transaction and return their row ids.

        A document without an id gets its row id as its id. ``first_row_id`` keeps
        row ids when copying a store (rebuild); otherwise SQLite assigns them.
        """
        row_ids = []
        named = {doc.id for doc in documents if doc.id is not None}  # numbers a later document of the batch takes
        with self._writes():
            following = self.next_row_id()
            for offset, doc in enumerate(documents):
                row_id = None if first_row_id is None else first_row_id + offset
                if row_id is None and doc.id is None:
                    row_id = self._free_number(following, named)
                row_ids.append(self._insert_one(doc, row_id))
                following = row_ids[-1] + 1  # AUTOINCREMENT hands out the next id after the largest
        return row_ids

    def insert_rows(self, rows: Sequence[StoredDocument]) -> None:
        """Copy rows with their ids unchanged (used by rebuild to keep ids stable)."""
        with self._writes():
            self._db.executemany(
                "INSERT INTO documents (id, ext_id, text, metadata) VALUES (?, ?, ?, ?)",
                [(r.row_id, r.id, r.text, metadata_json(r.metadata, r.id)) for r in rows],
            )

    def reserve_row_ids_below(self, next_row_id: int) -> None:
        """Make SQLite hand out ids from ``next_row_id`` on, so a rebuild never reuses a deleted id."""
        with self._lock:
            self._db.execute("DELETE FROM sqlite_sequence WHERE name = 'documents'")
            self._db.execute("INSERT INTO sqlite_sequence (name, seq) VALUES ('documents', ?)", (next_row_id - 1,))

    def insert_passages(self, windows: Sequence[tuple[int, int, int]]) -> list[int]:
        """Record the windows ``(row id, start, end)`` of chunked documents inside the current transaction;
        returns each window's vector id, in order.

        A document's windows come together, first window first: it keeps the row id as its
        vector id, so a document's first vector is where an unchunked one would be; the others
        take the next ids of the rows' AUTOINCREMENT sequence, which no row will ever get.
        """
        vector_ids: list[int] = []
        with self._writes():
            last = self.next_row_id() - 1
            for position, (row_id, _start, _end) in enumerate(windows):
                if position and windows[position - 1][0] == row_id:
                    last += 1
                    vector_ids.append(last)
                else:
                    vector_ids.append(int(row_id))
            self._db.execute("UPDATE sqlite_sequence SET seq = ? WHERE name = 'documents'", (last,))
            self._db.executemany(
                "INSERT INTO passages (vector_id, row_id, start_char, end_char) VALUES (?, ?, ?, ?)",
                [(v, int(r), int(s), int(e)) for v, (r, s, e) in zip(vector_ids, windows)],
            )
        return vector_ids

    def delete(self, row_ids: Sequence[int]) -> None:
        """Delete these rows; the trigger of migration 3 deletes their windows with them."""
        self._write("DELETE FROM documents WHERE id = ?", [(int(i),) for i in row_ids], many=True)

    def replace_metadata_column(self, column: str, values: dict[int, Any]) -> None:
        """Set metadata ``column`` to ``values[row_id]`` on those rows and remove it from every other row.

        Runs inside the caller's transaction, so readers see the old column or the new one.
        """
        path = _json_path(column)
        self._write(
            "UPDATE documents SET metadata = json_remove(metadata, ?) WHERE json_type(metadata, ?) IS NOT NULL",
            (path, path),
        )
        self._write(
            "UPDATE documents SET metadata = json_set(metadata, ?, ?) WHERE id = ?",
            [(path, value, int(row_id)) for row_id, value in values.items()],
            many=True,
        )

    def begin(self) -> None:
        self._write("BEGIN IMMEDIATE")

    def commit(self) -> None:
        self._write("COMMIT")

    def rollback(self) -> None:
        if self._db.in_transaction:
            self._db.execute("ROLLBACK")

    def set_meta(self, key: str, value: str) -> None:
        self._write("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def append_delta(self, first_position: int, vector_ids: np.ndarray) -> None:
        """Record the vector ids of delta rows ``first_position``... and the new committed length, in the
        caller's transaction (the rows' floats are already in the delta file, synced)."""
        rows = [(first_position + offset, int(v)) for offset, v in enumerate(vector_ids)]
        self._write("INSERT INTO delta (position, vector_id) VALUES (?, ?)", rows, many=True)
        self.set_meta("delta_rows", str(first_position + len(rows)))

    def mark_dead(self, vector_ids: Sequence[int]) -> None:
        """Record these vector ids as deleted, in the caller's transaction; no vector file is touched."""
        self._write("INSERT OR IGNORE INTO dead (vector_id) VALUES (?)", [(int(v),) for v in vector_ids], many=True)

    def replace_write_log(self, generation: int, delta_ids: np.ndarray, dead_ids: np.ndarray) -> None:
        """Start generation ``generation`` with this delta (by position) and these dead ids (compaction)."""
        self._write("DELETE FROM delta")
        self._write("DELETE FROM dead")
        self.append_delta(0, delta_ids)
        self.mark_dead(dead_ids.tolist())
        self.set_meta("generation", str(generation))

    def update_metadata(self, changes: dict[int, dict[str, Any]]) -> None:
        """Replace the metadata of these rows (texts and vectors unchanged), in the caller's transaction."""
        self._write(
            "UPDATE documents SET metadata = ? WHERE id = ?",
            [(metadata_json(metadata, str(row_id)), int(row_id)) for row_id, metadata in changes.items()],
            many=True,
        )

    # --- reads ------------------------------------------------------------------------
    @overload
    def meta(self, key: str, default: str) -> str: ...
    @overload
    def meta(self, key: str, default: None = None) -> str | None: ...
    def meta(self, key: str, default: str | None = None) -> str | None:
        row = self._query("SELECT value FROM meta WHERE key = ?", (key,))
        return row[0][0] if row else default

    def count(self) -> int:
        return int(self._query("SELECT count(*) FROM documents")[0][0])

    def generation_and_count(self) -> tuple[int, int]:
        """The vector generation the store names and the number of vectors it expects, read in one statement.

        One SELECT is one read transaction, so both figures come from the same commit even
        while another process adds or deletes: a reader never pairs a new count with an old
        generation (which would look like damage). Vectors are one per row plus one per window
        after the first of a chunked document.
        """
        row = self._query(
            "SELECT (SELECT value FROM meta WHERE key = 'generation'), (SELECT count(*) FROM documents)"
            " + (SELECT count(*) FROM passages WHERE vector_id != row_id)"
        )
        return int(row[0][0] or 0), int(row[0][1])

    def write_position(self) -> WritePosition:
        """Where the write log stands now, read in one statement (one indexed read per query: cheap)."""
        row = self._query(
            "SELECT (SELECT value FROM meta WHERE key = 'generation'), "
            "(SELECT value FROM meta WHERE key = 'delta_rows'), (SELECT max(seq) FROM dead)"
        )
        return WritePosition(int(row[0][0] or 0), int(row[0][1] or 0), int(row[0][2] or 0))

    def write_log_figures(self) -> tuple[WritePosition, int, int]:
        """The write position, the dead ids and the vectors the store expects, all from one commit (one SELECT)."""
        row = self._query(
            "SELECT (SELECT value FROM meta WHERE key = 'generation'), "
            "(SELECT value FROM meta WHERE key = 'delta_rows'), (SELECT max(seq) FROM dead), "
            "(SELECT count(*) FROM dead), (SELECT count(*) FROM documents)"
            " + (SELECT count(*) FROM passages WHERE vector_id != row_id)"
        )
        return WritePosition(int(row[0][0] or 0), int(row[0][1] or 0), int(row[0][2] or 0)), row[0][3], row[0][4]

    def delta_ids(self, start: int, end: int) -> np.ndarray:
        """The vector ids of delta rows ``start`` to ``end - 1``, by position (int64)."""
        rows = self._query(
            "SELECT vector_id FROM delta WHERE position >= ? AND position < ? ORDER BY position", (start, end)
        )
        return np.array([row[0] for row in rows], dtype=np.int64)

    def dead_ids(self, after_seq: int, up_to_seq: int) -> np.ndarray:
        """Vector ids marked dead with ``after_seq < seq <= up_to_seq`` (int64, commit order)."""
        rows = self._query("SELECT vector_id FROM dead WHERE seq > ? AND seq <= ? ORDER BY seq", (after_seq, up_to_seq))
        return np.array([row[0] for row in rows], dtype=np.int64)

    def texts_and_metadata(self, ids: Sequence[str]) -> dict[str, StoredDocument]:
        """The stored documents with these user ids, keyed by user id (for sync's comparison)."""
        found: dict[str, StoredDocument] = {}
        unique = list(dict.fromkeys(ids))
        for start in range(0, len(unique), 500):
            part = unique[start : start + 500]
            marks = ",".join("?" * len(part))
            for row in self._query(f"SELECT id, ext_id, text, metadata FROM documents WHERE ext_id IN ({marks})", part):
                found[row[1]] = _document(row)
        return found

    def all_ext_ids(self) -> dict[str, int]:
        """Every user id with its row id."""
        return dict(self._query("SELECT ext_id, id FROM documents"))

    def ids(self) -> np.ndarray:
        """Every row id, sorted (int64): one per document, the vector id of its (first) vector."""
        return np.array([row[0] for row in self._query("SELECT id FROM documents ORDER BY id")], dtype=np.int64)

    def vector_ids(self) -> np.ndarray:
        """Every vector id the vector index must hold, sorted (int64): the row ids and the ids of later windows."""
        rows = self._query("SELECT id FROM documents UNION SELECT vector_id FROM passages ORDER BY 1")
        return np.array([row[0] for row in rows], dtype=np.int64)

    def vector_ids_of(self, row_ids: Sequence[int]) -> np.ndarray:
        """The vector ids of these rows (each row id, and its windows' ids when chunked), sorted."""
        found = {int(i) for i in row_ids}
        for part in _parts(sorted(found)):
            marks = ",".join("?" * len(part))
            found.update(
                row[0] for row in self._query(f"SELECT vector_id FROM passages WHERE row_id IN ({marks})", part)
            )
        return np.array(sorted(found), dtype=np.int64)

    def passages_of(self, vector_ids: Sequence[int]) -> dict[int, tuple[int, int, int]]:
        """``{vector id: (row id, start, end)}`` for the ids that are windows of chunked documents.

        An id absent from the result is a whole document's vector: its own row id.
        """
        found: dict[int, tuple[int, int, int]] = {}
        for part in _parts(sorted({int(i) for i in vector_ids if i >= 0})):
            marks = ",".join("?" * len(part))
            for vector_id, row_id, start, end in self._query(
                f"SELECT vector_id, row_id, start_char, end_char FROM passages WHERE vector_id IN ({marks})", part
            ):
                found[vector_id] = (row_id, start, end)
        return found

    def duplicate_text_row_ids(self) -> list[list[int]]:
        """Row ids of documents holding the very same text, one sorted list per text stored more than once."""
        rows = self._query("SELECT group_concat(id) FROM documents GROUP BY text HAVING count(*) > 1")
        return [sorted(int(i) for i in row[0].split(",")) for row in rows]

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

    def texts_of(self, row_ids: Sequence[int]) -> dict[int, str]:
        """Texts by row id, metadata left unread (``check`` reads texts of rows whose metadata may be unusable)."""
        found: dict[int, str] = {}
        for part in _parts(sorted({int(i) for i in row_ids if i >= 0})):
            marks = ",".join("?" * len(part))
            found.update(self._query(f"SELECT id, text FROM documents WHERE id IN ({marks})", part))
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

    def matching_row_ids(self, filters: Filters) -> np.ndarray:
        """Row ids of the documents matching every filter condition, as sorted int64 (possibly empty).

        See ``simsearch.store.filters`` for what each kind of value matches. A column that no
        document has is refused by name, so a typo does not look like "no results".
        """
        where, args = self._filter_where(filters)
        rows = self._query(f"SELECT id FROM documents{where} ORDER BY id", args)
        return np.array([row[0] for row in rows], dtype=np.int64)

    def matching_vector_ids(self, filters: Filters) -> np.ndarray:
        """Vector ids of the documents matching every filter condition (their windows' too), sorted int64."""
        where, args = self._filter_where(filters)
        rows = self._query(
            f"SELECT id FROM documents{where} UNION SELECT vector_id FROM passages "
            f"WHERE row_id IN (SELECT id FROM documents{where}) ORDER BY 1",
            [*args, *args],
        )
        return np.array([row[0] for row in rows], dtype=np.int64)

    def lexical_candidates(
        self, terms: Sequence[str], k: int, filters: Filters | None = None, required: Sequence[str] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` best rows by BM25 for documents holding any of ``terms``: (scores, row ids), best first.

        Each term is quoted, so it is only ever a word to FTS5, never an operator, and the
        terms are OR-ed (FTS5's own default is AND). Scores are FTS5's ``bm25()`` negated:
        0 or more, higher is better, comparable only within one query. With ``required``, a
        document must also hold one of those (a query's informative words, not its stop words).
        """
        if not terms:
            return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
        match = " OR ".join(_quoted(term) for term in self._weighing(terms))
        sql = "SELECT rowid, -bm25(documents_fts) FROM documents_fts WHERE documents_fts MATCH ?"
        args: list[Any] = [match]
        if filters:
            where, filter_args = self._filter_where(filters)
            sql += f" AND rowid IN (SELECT id FROM documents{where})"
            args += filter_args
        if required and set(required) != set(terms):
            # Filtered here rather than by a second MATCH in SQL: SQLite 3.40 ran that subquery per row
            # (1.5-10 s a cisi query, against 6-70 ms this way).
            holding = {
                row[0]
                for row in self._query(
                    "SELECT rowid FROM documents_fts WHERE documents_fts MATCH ?",
                    (" OR ".join(_quoted(term) for term in required),),
                )
            }
            rows = [row for row in self._query(sql + " ORDER BY bm25(documents_fts)", args) if row[0] in holding][:k]
        else:
            rows = self._query(sql + " ORDER BY bm25(documents_fts) LIMIT ?", [*args, min(k, 2**62)])
        return (
            np.array([row[1] for row in rows], dtype=np.float32),
            np.array([row[0] for row in rows], dtype=np.int64),
        )

    def known_terms(self, terms: Sequence[str]) -> list[str]:
        """Those of ``terms`` some document holds, as the lexical index reads them (stemmed, folded)."""
        generation = self.meta("generation", "0")
        return [term for term in terms if self._document_frequency(term, generation)]

    def _weighing(self, terms: Sequence[str]) -> list[str]:
        """``terms`` less those in half the documents or more, unless that would leave none.

        FTS5's BM25 clamps the IDF of such a term, log((N - n + 0.5) / (n + 0.5)), to 1e-6, so it
        moves no score; yet OR-ing it in makes SQLite score most rows. Over 100,000 Wikipedia
        sentences "the history of the city" took 122 ms with "the" and "of" and 7 ms without,
        with the same scores.
        """
        total, generation = self.count(), str(self.write_position())  # moves on with every add or delete
        weighing = [term for term in terms if 2 * self._document_frequency(term, generation) < total]
        return weighing or list(terms)

    def _document_frequency(self, term: str, generation: str) -> int:
        """Documents holding ``term``, cached per write position (every add or delete moves it on)."""
        known = self._frequencies.get((term, generation))
        if known is None:
            if len(self._frequencies) >= _FREQUENCIES_KEPT:
                self._frequencies.clear()
            found = self._query("SELECT count(*) FROM documents_fts WHERE documents_fts MATCH ?", (_quoted(term),))
            known = self._frequencies[(term, generation)] = int(found[0][0])
        return known

    def _filter_where(self, filters: Filters) -> tuple[str, list[Any]]:
        """The WHERE clause (with its leading space; empty for no conditions) selecting matching documents."""
        clauses: list[str] = []
        args: list[Any] = []
        for condition in filter_conditions(filters):
            path = _json_path(condition.column)
            if not self._query("SELECT 1 FROM documents WHERE json_type(metadata, ?) IS NOT NULL LIMIT 1", (path,)):
                raise InvalidArgumentError(
                    f"no document has a metadata column {condition.column!r}; filter on a column the index has."
                )
            if condition.bounds:
                self._check_bound_type(condition, path)
            clause, clause_args = _condition_sql(condition, path)
            clauses.append(clause)
            args += clause_args
        return (f" WHERE {' AND '.join(clauses)}" if clauses else ""), args  # no conditions: every document

    def _check_bound_type(self, condition: Condition, path: str) -> None:
        """Refuse a bound no value of the column can meet: a text bound on a column of numbers, or the reverse.

        SQLite orders every number before every text, so such a bound would quietly match
        nothing (``year<2000x``, ``{"year": {"gte": "2000"}}``); the caller meant the other kind.
        """
        numeric = not isinstance(condition.bounds[0][1], str)
        wanted = "('integer', 'real')" if numeric else "('text')"
        if self._query(f"SELECT 1 FROM documents WHERE json_type(metadata, ?) IN {wanted} LIMIT 1", (path,)):
            return
        found = [
            row[0]
            for row in self._query(
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

    def facets(self, max_values: int = 25) -> list[Facet]:
        """Columns worth a drop-down: scalar values only, between 2 and ``max_values`` distinct ones.

        Candidates are found on the first rows, then counted over the whole store, so a
        free-text column never makes SQLite group millions of distinct strings.
        """
        sample = self._query(
            f"SELECT j.key, count(DISTINCT j.value) FROM "
            f"(SELECT metadata FROM documents ORDER BY id LIMIT {_FACET_SAMPLE_ROWS}) AS d, "
            f"json_each(d.metadata) AS j WHERE j.type IN {_SCALAR_TYPES} GROUP BY j.key"
        )
        facets = []
        for column, distinct in sorted(sample):
            if distinct > max_values:
                continue
            rows = self._query(
                f"SELECT j.value, j.type, count(*) AS n FROM documents, json_each(documents.metadata) AS j "
                f"WHERE j.key = ? AND j.type IN {_SCALAR_TYPES} GROUP BY j.value, j.type ORDER BY n DESC, j.value",
                (column,),
            )
            if 1 < len(rows) <= max_values:  # one value everywhere filters nothing
                facets.append(Facet(column, [_python_value(v, t) for v, t, _ in rows], [n for _, _, n in rows]))
        return facets

    def sample_documents(self, size: int, seed: int = 0) -> list[StoredDocument]:
        """Up to ``size`` documents chosen at random (all of them when there are fewer), in row-id order."""
        row_ids = self.sample_row_ids(size, seed)
        documents = self.fetch(row_ids.tolist())
        return [documents[int(r)] for r in row_ids if int(r) in documents]

    def document(self, id: str) -> StoredDocument | None:
        """The document with this user id, or None."""
        row_id = self.row_ids_for([str(id)]).get(str(id))
        return None if row_id is None else self.fetch([row_id]).get(row_id)

    def sample_row_ids(self, size: int, seed: int = 0) -> np.ndarray:
        """A seeded random sample of ``size`` row ids, sorted; every row id when the store holds no more."""
        if size < 0:
            raise InvalidArgumentError(f"a sample size cannot be negative (got {size}).")
        row_ids = np.array([row[0] for row in self._query("SELECT id FROM documents ORDER BY id")], dtype=np.int64)
        if len(row_ids) <= size:
            return row_ids
        return np.sort(np.random.default_rng(seed).choice(row_ids, size=size, replace=False))

    def next_row_id(self) -> int:
        """The id SQLite will assign next (AUTOINCREMENT never reuses deleted ids)."""
        row = self._query("SELECT seq FROM sqlite_sequence WHERE name = 'documents'")
        return (int(row[0][0]) if row else 0) + 1

    def _free_number(self, number: int, named: set[str]) -> int:
        """The first row id from ``number`` on whose number no document holds (or ``named`` will hold) as its id.

        A text without an id is numbered by its row id; a number a user gave as an explicit
        id is skipped, never reused, so automatic numbering cannot jam on it.
        """
        while str(number) in named or self._query("SELECT 1 FROM documents WHERE ext_id = ?", (str(number),)):
            number += 1
        return number

    def _insert_one(self, doc: Document, row_id: int | None) -> int:
        id = doc.id if doc.id is not None else str(row_id)
        try:
            cursor = self._db.execute(
                "INSERT INTO documents (id, ext_id, text, metadata) VALUES (?, ?, ?, ?)",
                (row_id, id, doc.text, metadata_json(doc.metadata, id)),
            )
        except sqlite3.IntegrityError:
            raise InputError(f"id {id!r} is already in the index; use a new id or delete the old one.") from None
        return cast(int, cursor.lastrowid)  # set to the new row's id by every INSERT that succeeds

    def _migrate(self) -> None:
        """Run the pending migrations and record the new version, all in one transaction.

        Nothing is written when the store is current. The version is read again under
        the write lock, since another process may have upgraded the file meanwhile.
        """
        if self._checked_version() == SCHEMA_VERSION:
            return
        # Write-ahead logging, recorded in the file: readers never block the writer nor see its open
        # transaction, and a commit is one fsync of the log (synchronous FULL: a committed write
        # survives power loss; NORMAL would let the last commits roll back). Not inside a transaction.
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute("BEGIN IMMEDIATE")
        try:
            for number in range(self._checked_version(), SCHEMA_VERSION):
                for statement in _MIGRATIONS[number]:
                    self._db.execute(statement)
            self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    def _checked_version(self) -> int:
        version = int(self._db.execute("PRAGMA user_version").fetchone()[0])
        if version > SCHEMA_VERSION:
            raise FormatVersionError(
                f"store {self.path} has schema version {version} but this simsearch reads up to "
                f"{SCHEMA_VERSION}; upgrade simsearch (pip install -U simsearch)."
            )
        return version

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

    def _query(self, sql: str, args: Sequence[Any] = ()) -> list[tuple]:
        with self._lock:
            try:
                return self._db.execute(sql, args).fetchall()
            except sqlite3.DatabaseError as exc:
                bad_rows = self.bad_metadata_rows() if "malformed JSON" in str(exc) else []
                if bad_rows:  # one row's metadata, not the file: name it rather than ask for a rebuild
                    raise CorruptIndexError(bad_row_message(bad_rows)) from None
                raise self._damaged(exc) from None

    def bad_metadata_rows(self, batch_size: int = 10_000) -> list[tuple[int, str, str]]:
        """``(row id, id, problem)`` of every row whose metadata is not a JSON object of finite numbers.

        Such rows can only come from an older simsearch, which wrote ``Infinity`` and ``NaN``;
        SQLite's JSON functions call them malformed, so every filtered search would fail.
        """
        found: list[tuple[int, str, str]] = []
        last = -1
        while True:
            rows = self._query(
                "SELECT id, ext_id, metadata FROM documents WHERE id > ? ORDER BY id LIMIT ?", (last, batch_size)
            )
            if not rows:
                return found
            found += [(row_id, id, problem) for row_id, id, text in rows if (problem := metadata_problem(text))]
            last = rows[-1][0]


def _quoted(term: str) -> str:
    """A term as an FTS5 string: only ever a word, never an operator."""
    return '"' + term.replace('"', '""') + '"'


def _parts(ids: list[int], size: int = 500) -> Iterator[list[int]]:
    """``ids`` in slices small enough for one ``IN (...)`` list."""
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def _document(row: tuple) -> StoredDocument:
    return StoredDocument(row_id=row[0], id=row[1], text=row[2], metadata=stored_metadata(row[0], row[1], row[3]))


def _json_path(column: str) -> str:
    return f'$."{column}"'


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


def _python_value(value: Any, json_type: str) -> Any:
    if json_type in ("true", "false"):
        return json_type == "true"
    return value
