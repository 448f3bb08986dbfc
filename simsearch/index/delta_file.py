"""The delta file of one generation: raw float32 rows appended by adds, read back by position.

``delta-G.f32`` holds ``dimension`` little-endian floats a row and nothing else. The
store is the commit log: its ``delta_rows`` meta row says how many rows are committed,
and nobody reads past it. A writer (holding the writer lock) first cuts the file back to
the committed length, which drops a torn tail left by a crash or bytes appended by
anything else, then writes its rows at that offset, fsyncs, and only then commits the
store transaction that names them. So a crash before the fsync leaves bytes nobody
counts; a crash after it and before the commit leaves whole rows nobody counts; either
way the next writer cuts them. A file shorter than the committed length has lost
committed rows: that is damage, reported with the fix, never served.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from simsearch.atomic import fsync_folder
from simsearch.errors import CorruptIndexError, fix
from simsearch.index.failpoints import failpoint

ROW_TYPE = np.dtype("<f4")
_CHUNK = 1 << 20  # bytes a write call hands the kernel at a time


def delta_file(number: int) -> str:
    return f"delta-{number}.f32"


def append_rows(path: Path, committed_rows: int, vectors: np.ndarray) -> None:
    """Write ``vectors`` after the first ``committed_rows`` rows of ``path`` (creating it), durably.

    Anything past the committed rows is cut first. Raises CorruptIndexError when the
    file is shorter than the committed rows; OSError (a full disk) leaves the committed
    rows intact, since only bytes past them are ever written.
    """
    rows = np.ascontiguousarray(vectors, dtype=ROW_TYPE)
    row_bytes = rows.shape[1] * ROW_TYPE.itemsize
    created = not path.exists()
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
    try:
        end = committed_rows * row_bytes
        size = os.fstat(descriptor).st_size
        if size < end:
            raise shorter_than_committed(path, size // row_bytes, committed_rows)
        if size > end:
            os.ftruncate(descriptor, end)
        data = rows.tobytes()
        written = 0
        while written < len(data):
            written += os.pwrite(descriptor, data[written : written + _CHUNK], end + written)
            failpoint("delta-append")  # a crash or a full disk after part of the rows reached the file
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    if created:
        fsync_folder(path.parent)  # the new name must survive a crash as well as its bytes


def read_rows(path: Path, start: int, end: int, dimension: int) -> np.ndarray:
    """Rows ``start`` to ``end - 1`` of ``path`` as a (rows, dimension) float32 array.

    Raises FileNotFoundError when the file is gone (a compaction moved the index on: the
    caller reloads) and CorruptIndexError when it holds fewer rows than were committed.
    """
    if end <= start:
        return np.zeros((0, dimension), dtype=np.float32)
    row_bytes = dimension * ROW_TYPE.itemsize
    with open(path, "rb") as handle:
        handle.seek(start * row_bytes)
        data = handle.read((end - start) * row_bytes)
    if len(data) < (end - start) * row_bytes:
        raise shorter_than_committed(path, start + len(data) // row_bytes, end)
    return np.frombuffer(data, dtype=ROW_TYPE).reshape(end - start, dimension).astype(np.float32)


def uncommitted_bytes(path: Path, committed_rows: int, dimension: int) -> int:
    """Bytes past the committed rows (a write that never committed; the next writer cuts them)."""
    size = path.stat().st_size if path.exists() else 0
    return max(0, size - committed_rows * dimension * ROW_TYPE.itemsize)


def shorter_than_committed(path: Path, rows: int, committed: int) -> CorruptIndexError:
    name = _index_name(path)
    return CorruptIndexError(
        f"delta file {path.name} of index {name!r} holds {rows} rows but {committed} were "
        f"committed (the file was cut short); {fix('rebuild', name)}."
    )


def _index_name(path: Path) -> str:
    folder = path.parent.name
    return folder.split("@", 1)[0] if "@" in folder else folder
