"""The store's tables, created and upgraded by numbered migrations; ``PRAGMA user_version`` counts them.

Migration N (1-based) brings a store from schema version N-1 to N. Released entries are
never edited, only appended to, so an index written by any earlier simsearch opens unchanged;
``Store`` runs all pending ones in one transaction on open.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from simsearch.errors import FormatVersionError

# How the lexical index splits text into terms: Porter stemming over unicode61 with diacritics
# folded. BM25 alone, nDCG@10 on cisi / STS-B dev paraphrase: unicode61 28.26 / 90.78 (ascii and
# remove_diacritics the same on these English sets), trigram 29.64 / 91.00, porter 31.43 / 92.86
# (2026-11-23, benchmarks/ranking.py --tokenizers). Part of migration 2: changing it needs a new migration.
LEXICAL_TOKENIZER = "porter unicode61 remove_diacritics 2"

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


def version_on_disk(db: sqlite3.Connection, path: Path) -> int:
    """The store's schema version; one written by a newer simsearch is refused, naming the upgrade."""
    version = int(db.execute("PRAGMA user_version").fetchone()[0])
    if version > SCHEMA_VERSION:
        raise FormatVersionError(
            f"store {path} has schema version {version} but this simsearch reads up to "
            f"{SCHEMA_VERSION}; upgrade simsearch (pip install -U simsearch)."
        )
    return version


def is_current(db: sqlite3.Connection, path: Path) -> bool:
    """Whether the store is at this code's schema version (then opening it writes nothing)."""
    return version_on_disk(db, path) == SCHEMA_VERSION


def run_pending_migrations(db: sqlite3.Connection, path: Path) -> None:
    """Run the migrations after the version on disk and record the new version, in the caller's transaction.

    The version is read here, under the caller's write lock, since another process may have
    upgraded the file since the caller last looked.
    """
    for number in range(version_on_disk(db, path), SCHEMA_VERSION):
        for statement in _MIGRATIONS[number]:
            db.execute(statement)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
