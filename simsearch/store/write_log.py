"""What the store records about the vector files: notes in ``meta``, the delta's ids and the dead ids.

The segmented vectors (simsearch.index.segments) keep a base file per generation and an
append-only delta; here are the generation the rows match, the vector id of each delta row by
position and the vector ids deleted since the base was written (migration 4). Every figure a
reader pairs is read in one SELECT, hence one read transaction: it never mixes two commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import overload

import numpy as np

from simsearch.store.statements import Query, Write


@dataclass(frozen=True)
class WritePosition:
    """How far the store's write log has gone: the base generation, the committed delta rows, the last dead seq.

    Within one generation the delta only grows and dead ids only accumulate, so a reader that
    holds an older position of the same generation needs only the rows and ids after it.
    """

    generation: int
    delta_rows: int
    dead_seq: int


@overload
def meta(query: Query, key: str, default: str) -> str: ...
@overload
def meta(query: Query, key: str, default: None) -> str | None: ...
def meta(query: Query, key: str, default: str | None) -> str | None:
    """A note in the ``meta`` table (generation, delta_rows, trained_count, compacted_at), or ``default``."""
    row = query("SELECT value FROM meta WHERE key = ?", (key,))
    return row[0][0] if row else default


def set_meta(write: Write, key: str, value: str) -> None:
    """Write a note, in the caller's transaction."""
    write("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))


def append_delta(write: Write, first_position: int, vector_ids: np.ndarray) -> None:
    """Record the vector ids of delta rows ``first_position``... and the new committed length, in the
    caller's transaction (the rows' floats are already in the delta file, synced)."""
    rows = [(first_position + offset, int(v)) for offset, v in enumerate(vector_ids)]
    write("INSERT INTO delta (position, vector_id) VALUES (?, ?)", rows, many=True)
    set_meta(write, "delta_rows", str(first_position + len(rows)))


def mark_dead(write: Write, vector_ids: Sequence[int]) -> None:
    """Record these vector ids as deleted, in the caller's transaction; no vector file is touched."""
    write("INSERT OR IGNORE INTO dead (vector_id) VALUES (?)", [(int(v),) for v in vector_ids], many=True)


def replace_write_log(write: Write, generation: int, delta_ids: np.ndarray, dead_ids: np.ndarray) -> None:
    """Start generation ``generation`` with this delta (by position) and these dead ids (compaction)."""
    write("DELETE FROM delta")
    write("DELETE FROM dead")
    append_delta(write, 0, delta_ids)
    mark_dead(write, dead_ids.tolist())
    set_meta(write, "generation", str(generation))


def write_position(query: Query) -> WritePosition:
    """Where the write log stands now, read in one statement (one indexed read per query: cheap)."""
    row = query(
        "SELECT (SELECT value FROM meta WHERE key = 'generation'), "
        "(SELECT value FROM meta WHERE key = 'delta_rows'), (SELECT max(seq) FROM dead)"
    )
    return WritePosition(int(row[0][0] or 0), int(row[0][1] or 0), int(row[0][2] or 0))


def write_log_figures(query: Query) -> tuple[WritePosition, int, int]:
    """The write position, the dead ids and the vectors the store expects, all from one commit (one SELECT).

    A reader never pairs a new count with an old generation (which would look like damage), even
    while another process adds or deletes. Vectors are one per row plus one per window after the
    first of a chunked document.
    """
    row = query(
        "SELECT (SELECT value FROM meta WHERE key = 'generation'), "
        "(SELECT value FROM meta WHERE key = 'delta_rows'), (SELECT max(seq) FROM dead), "
        "(SELECT count(*) FROM dead), (SELECT count(*) FROM documents)"
        " + (SELECT count(*) FROM passages WHERE vector_id != row_id)"
    )
    return WritePosition(int(row[0][0] or 0), int(row[0][1] or 0), int(row[0][2] or 0)), row[0][3], row[0][4]


def delta_ids(query: Query, start: int, end: int) -> np.ndarray:
    """The vector ids of delta rows ``start`` to ``end - 1``, by position (int64)."""
    rows = query("SELECT vector_id FROM delta WHERE position >= ? AND position < ? ORDER BY position", (start, end))
    return np.array([row[0] for row in rows], dtype=np.int64)


def dead_ids(query: Query, after_seq: int, up_to_seq: int) -> np.ndarray:
    """Vector ids marked dead with ``after_seq < seq <= up_to_seq`` (int64, commit order)."""
    rows = query("SELECT vector_id FROM dead WHERE seq > ? AND seq <= ? ORDER BY seq", (after_seq, up_to_seq))
    return np.array([row[0] for row in rows], dtype=np.int64)
