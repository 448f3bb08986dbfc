"""Input files to rows: one table from file extension to reader, and the checks every input file passes.

Each reader yields a file's rows one at a time, so no reader holds the file's bytes while the
rows are being built: .txt, .csv and .jsonl are read line by line and .parquet in record
batches. ``read_corpus`` still keeps every row, since ids must be unique across the file and a
CSV column's type depends on all of its values; what streaming saves is the copies of the file
(150k rows of ~330 characters, a 50 MB CSV: the process's peak memory, ``ru_maxrss`` after
``read_corpus`` in a fresh process, went from 377 to 233 MiB; JSONL 270 -> 260 MiB; Parquet
stayed at ~450 MiB, where the Python rows were always most of it; 2026-12-06).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import Any

from simsearch.errors import InputError
from simsearch.ingest.csv_rows import csv_rows, number_from_text
from simsearch.ingest.lines import decoded_lines

log = logging.getLogger(__name__)

MAX_NESTING = 100  # levels of arrays/objects in one JSON line; far below Python's recursion limit


def text_rows(path: Path) -> Iterator[dict[str, Any]]:
    """One row a line of a plain text file, its only column ``text`` (blank lines too: they are counted)."""
    for line in decoded_lines(path):
        yield {"text": line}


def jsonl_rows(path: Path) -> Iterator[dict[str, Any]]:
    """One row a non-blank line of a JSON lines file, each line an object nested at most MAX_NESTING deep."""
    for number, line in enumerate(decoded_lines(path), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path.name} line {number} is not valid JSON ({exc.msg}); fix that line.") from None
        except RecursionError:  # json recurses once per level of nesting
            row = None
        if row is None or _too_deep(row):  # metadata is written back as JSON, which recurses the same way
            raise InputError(
                f"{path.name} line {number} nests arrays or objects more than {MAX_NESTING} deep; flatten that line."
            )
        if not isinstance(row, dict):
            raise InputError(f"{path.name} line {number} is not a JSON object; write one object a line.")
        yield row


def parquet_rows(path: Path) -> Iterator[dict[str, Any]]:
    """The rows of a Parquet file, read in record batches (128Ki rows; pyarrow reads a few ahead).

    The file is opened as ``pq.read_table`` opens one file (a fragment of pyarrow's dataset
    reader), so values and the error for a damaged file are those of reading the whole table.
    """
    import pyarrow.dataset as ds
    from pyarrow.fs import LocalFileSystem

    try:  # pyarrow raises several unrelated types for a damaged file, on opening or on reading a batch
        for batch in ds.ParquetFileFormat().make_fragment(str(path), LocalFileSystem()).to_batches():
            yield from batch.to_pylist()
    except Exception as exc:
        raise InputError(f"{path.name} is not a readable Parquet file ({exc}).") from None


@dataclass(frozen=True)
class FileFormat:
    """How one type of input file is read: its reader, and what ``read_corpus`` must know of its rows."""

    rows: Callable[[Path], Iterator[dict[str, Any]]]
    named_columns: bool = True  # False: plain text, one text a line, with no columns to choose from
    text_values: bool = False  # True: every value is a string (CSV); numbers are recognised afterwards


FORMATS: dict[str, FileFormat] = {
    ".txt": FileFormat(text_rows, named_columns=False),
    ".csv": FileFormat(csv_rows, text_values=True),
    ".jsonl": FileFormat(jsonl_rows),
    ".parquet": FileFormat(parquet_rows),
}
SUPPORTED_EXTENSIONS = tuple(FORMATS)


def file_format(path: Path) -> FileFormat:
    """The format of ``path``, a file that passed ``check_file``."""
    return FORMATS[path.suffix.lower()]


def read_rows(path: str | Path) -> list[dict[str, Any]]:
    """The rows of a .csv, .jsonl or .parquet file as dicts (CSV values stay strings), for other readers."""
    path = Path(path)
    check_file(path)
    reading = file_format(path)
    if not reading.named_columns:
        raise InputError(f"{path.name} is plain text; give a .csv, .jsonl or .parquet file with named columns.")
    return list(reading.rows(path))


def read_columns(path: str | Path) -> list[str]:
    """The column names of an input file (``["text"]`` for .txt), to offer as text and id columns."""
    path = Path(path)
    check_file(path)
    reading = file_format(path)
    if not reading.named_columns:
        return ["text"]
    rows = reading.rows(path)  # streamed: only the column names are kept
    first = next(rows, None)
    if first is None:
        raise InputError(f"{path.name} has no rows; give a file with at least one text.")
    return columns_of(chain([first], rows))


def guess_text_column(rows: Sequence[dict[str, Any]], sample: int = 200) -> str | None:
    """The column most likely to hold the texts: ``text`` when there is one, else the string column with
    the longest values on the first ``sample`` rows. A column named ``id`` is never the guess, nor is one
    whose values are mostly numbers; None when no column holds strings."""
    columns = columns_of(rows)
    if "text" in columns:
        return "text"
    lengths: dict[str, float] = {}
    for column in columns:
        if column.strip().lower() == "id":
            continue
        values = [row.get(column) for row in rows[:sample]]
        strings = [v for v in values if isinstance(v, str) and v.strip() and number_from_text(v) is None]
        if 2 * len(strings) > len(values):
            lengths[column] = sum(len(v) for v in strings) / len(strings)
    return max(lengths, key=lengths.__getitem__) if lengths else None


def columns_of(rows: Iterable[dict[str, Any]]) -> list[str]:
    """Every key of the rows, in first-seen order (JSON lines need not all have the same keys)."""
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    return list(columns)


def corpus_files(path: Path) -> list[Path]:
    """``[path]`` for a file; for a folder its input files in name order, all of one type (hidden files skipped)."""
    if not path.is_dir():
        check_file(path)
        return [path]
    files = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
    inputs = [p for p in files if p.suffix.lower() in SUPPORTED_EXTENSIONS]
    if not inputs:
        raise InputError(
            f"folder {str(path)!r} holds no {', '.join(SUPPORTED_EXTENSIONS)} files; "
            "give a folder of input files, or one file."
        )
    types = sorted({p.suffix.lower() for p in inputs})
    if len(types) > 1:
        raise InputError(f"folder {str(path)!r} mixes {', '.join(types)} files; keep one type of file a folder.")
    if len(inputs) < len(files):
        log.warning("ignored %d files in %s that are not %s", len(files) - len(inputs), path.name, types[0])
    for file in inputs:
        check_file(file)
    return inputs


def check_file(path: Path) -> None:
    """Refuse a path that is missing, a folder, not a regular file, of an unknown type, or empty."""
    if not path.exists():
        raise InputError(f"input file {str(path)!r} does not exist; check the path.")
    if path.is_dir():
        raise InputError(f"input {str(path)!r} is a folder; give one file here.")
    if not path.is_file():
        raise InputError(f"input {str(path)!r} is not a file; give a file of texts.")
    if path.suffix.lower() not in SUPPORTED_EXTENSIONS:
        raise InputError(
            f"unknown input extension {path.suffix or '(none)'!r} for {path.name}; "
            f"use one of {', '.join(SUPPORTED_EXTENSIONS)}."
        )
    if path.stat().st_size == 0:
        raise InputError(f"input file {path.name} is empty; give a file with at least one text.")


def _too_deep(value: Any) -> bool:
    """Whether ``value`` nests lists or dicts more than MAX_NESTING levels (checked without recursion)."""
    level: list[Any] = [value]
    for _ in range(MAX_NESTING + 1):
        level = [
            child
            for item in level
            if isinstance(item, (list, dict))
            for child in (item.values() if isinstance(item, dict) else item)
        ]
        if not level:
            return False
    return True
