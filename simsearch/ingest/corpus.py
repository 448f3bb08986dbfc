"""Read a user's file into Documents, refusing anything that would give a broken index.

Validation happens here, before any encoding starts, so a bad file costs the
user seconds rather than a half-finished build.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simsearch.errors import InputError, fix

log = logging.getLogger(__name__)

SUPPORTED_EXTENSIONS = (".txt", ".csv", ".jsonl", ".parquet")
MAX_NESTING = 100  # levels of arrays/objects in one JSON line; far below Python's recursion limit


@dataclass(frozen=True)
class Document:
    """One text to index. ``id`` is the user's own id; ``None`` lets the index assign one."""

    text: str
    id: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Corpus:
    """The documents read from a file, how many rows were skipped as blank, and the columns read:
    an index records them, so ``add`` reads later files the same way."""

    documents: list[Document]
    skipped_blank: int = 0
    text_column: str = "text"
    id_column: str | None = None  # None: the texts were numbered


def read_corpus(path: str | Path, text_column: str = "text", id_column: str | None = "id") -> Corpus:
    """Read a .txt (one text a line), .csv, .jsonl or .parquet file, or a folder of files of one such type.

    Columns other than the id and text columns become metadata. ``id_column`` may
    be absent from the file when it is the default ``"id"``; ids are then assigned
    by the index. Blank texts are skipped and counted; a file with none left is refused.
    A folder's files are read in name order (``part-00000.parquet``, ``part-00001``, ...), as
    one file would be: ids must be unique across them all.
    """
    path = Path(path)
    files = corpus_files(path)
    suffix = files[0].suffix.lower()
    if suffix == ".txt":
        rows = [{"text": line} for file in files for line in decoded_lines(file)]
        text_column, id_column = "text", None
    else:
        reader = {".csv": _read_csv, ".jsonl": _read_jsonl}.get(suffix, _read_parquet)
        rows = [row for file in files for row in reader(file)]
        if suffix == ".csv":
            _check_same_header(files, rows)
            rows = numbers_in_columns(rows, keep_text=(text_column, id_column))
    return documents_from_rows(rows, text_column, id_column, source=path.name)


def corpus_files(path: Path) -> list[Path]:
    """``[path]`` for a file; for a folder its input files in name order, all of one type (hidden files skipped)."""
    if not path.is_dir():
        _check_file(path)
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
        _check_file(file)
    return inputs


def _check_same_header(files: list[Path], rows: list[dict[str, Any]]) -> None:
    """CSV files of one folder must share their columns, or their rows would not line up."""
    headers = {tuple(row) for row in rows}
    if len(headers) > 1:
        raise InputError(
            f"the CSV files in {files[0].parent.name} have different headers; give every file the same columns."
        )


def read_columns(path: str | Path) -> list[str]:
    """The column names of an input file (``["text"]`` for .txt), to offer as text and id columns."""
    path = Path(path)
    _check_file(path)
    if path.suffix.lower() == ".txt":
        return ["text"]
    rows = read_rows(path)
    if not rows:
        raise InputError(f"{path.name} has no rows; give a file with at least one text.")
    return _columns_of(rows)


def guess_text_column(rows: Sequence[dict[str, Any]], sample: int = 200) -> str | None:
    """The column most likely to hold the texts: ``text`` when there is one, else the string column with
    the longest values on the first ``sample`` rows. A column named ``id`` is never the guess, nor is one
    whose values are mostly numbers; None when no column holds strings."""
    columns = _columns_of(rows)
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


def read_rows(path: str | Path) -> list[dict[str, Any]]:
    """The rows of a .csv, .jsonl or .parquet file as dicts (CSV values stay strings), for other readers."""
    path = Path(path)
    _check_file(path)
    suffix = path.suffix.lower()
    if suffix == ".txt":
        raise InputError(f"{path.name} is plain text; give a .csv, .jsonl or .parquet file with named columns.")
    reader = {".csv": _read_csv, ".jsonl": _read_jsonl}.get(suffix, _read_parquet)
    return reader(path)


def documents_from_rows(
    rows: Sequence[dict[str, Any]],
    text_column: str = "text",
    id_column: str | None = "id",
    source: str = "input",
) -> Corpus:
    """Turn dict rows (from a file or from Python callers) into validated Documents."""
    if not rows:
        raise InputError(f"{source} has no rows; give a file with at least one text.")
    columns = _columns_of(rows)
    if text_column not in columns:
        raise InputError(
            f"{source} has no text column {text_column!r} (columns found: {', '.join(columns)}); {fix('text_column')}."
        )
    ids_from = id_column if id_column is not None and id_column in columns else None  # the column ids come from
    if id_column is not None and id_column != "id" and ids_from is None:
        raise InputError(
            f"{source} has no id column {id_column!r} (columns found: {', '.join(columns)}); "
            f"{fix('id_column')}, or leave it out to number the texts."
        )
    documents, skipped = [], 0
    for number, row in enumerate(rows, start=1):
        text = _as_text(row.get(text_column))
        if not text.strip():
            skipped += 1
            continue
        doc_id = _as_id(row.get(ids_from), source) if ids_from is not None else None
        metadata = {key: _json_safe(value) for key, value in row.items() if key not in (text_column, id_column)}
        check_finite_metadata(metadata, f"document {doc_id!r}" if doc_id is not None else f"row {number}", source)
        documents.append(Document(text=text, id=doc_id, metadata=metadata))
    if not documents:
        raise InputError(f"{source}: all {skipped} texts are empty or whitespace; nothing to index.")
    if skipped:
        log.warning("skipped %d empty or whitespace-only texts in %s", skipped, source)
    check_unique_ids(documents, source)
    return Corpus(documents, skipped, text_column, ids_from)


def check_unique_ids(documents: Iterable[Document], source: str = "input") -> None:
    """Refuse repeated ids: an id must name exactly one text, or delete and search results lie."""
    counts = Counter(doc.id for doc in documents if doc.id is not None)
    repeated = [doc_id for doc_id, n in counts.items() if n > 1]
    if repeated:
        shown = ", ".join(repr(r) for r in repeated[:5])
        more = f" and {len(repeated) - 5} more" if len(repeated) > 5 else ""
        raise InputError(f"{source} has duplicate ids: {shown}{more}; make every id unique.")


def _check_file(path: Path) -> None:
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


def decoded_lines(path: Path) -> list[str]:
    """The lines of a UTF-8 text file (a leading BOM dropped), decoded one by one so that an
    encoding error, a binary file included, is an InputError naming the line it is on."""
    lines = []
    for number, raw in enumerate(path.read_bytes().splitlines(), start=1):
        try:
            lines.append(raw.decode("utf-8"))
        except UnicodeDecodeError:
            raise InputError(f"{path.name} line {number} is not valid UTF-8; re-save the file as UTF-8.") from None
    if lines and lines[0].startswith("\ufeff"):
        lines[0] = lines[0][1:]
    return lines


def _read_csv(path: Path) -> list[dict[str, Any]]:
    """Rows of a CSV file with a header, every value a string.

    Python's csv module rather than pandas: pandas reads a row with more fields than the
    header by turning the first fields into an index, silently shifting id and text, and
    pads a short row. Here every row must have exactly the header's fields.
    """
    import csv
    import io

    reader = csv.reader(io.StringIO("\n".join(decoded_lines(path)), newline=""), strict=True)
    rows: list[dict[str, Any]] = []
    try:
        header = _csv_header(next(reader, []), path.name)
        end = reader.line_num
        for record in reader:
            start, end = end + 1, reader.line_num
            if not any(value.strip() for value in record):
                continue  # a blank line, as pandas skips it
            if len(record) != len(header):
                raise InputError(
                    f"{path.name} line {start} has {len(record)} fields where the header has {len(header)}; "
                    "quote texts that contain commas, or fix that line."
                )
            rows.append(dict(zip(header, record)))
    except csv.Error as exc:
        raise InputError(f"{path.name} line {reader.line_num} is not valid CSV ({exc}); fix the quoting.") from None
    if not rows:
        raise InputError(f"{path.name} has no rows; give a file with at least one text.")
    return rows


def numbers_in_columns(rows: list[dict[str, Any]], keep_text: Sequence[str | None] = ()) -> list[dict[str, Any]]:
    """CSV rows with each column whose every non-empty value is a number turned into numbers.

    Ints when every value is whole, else floats; the column's empty values become None,
    so a filter on None finds them. A value with a leading zero (``007``, a postcode)
    keeps its column text. Columns named in ``keep_text`` (text, id) are left alone.
    """
    numeric: dict[str, list[int | float | None]] = {}
    for column in rows[0]:
        if column in keep_text:
            continue
        parsed = [number_from_text(row[column]) if row[column].strip() else None for row in rows]
        if any(value is None and row[column].strip() for value, row in zip(parsed, rows)):
            continue  # a word among the numbers: the column stays text
        if any(value is not None for value in parsed):
            whole = all(value is None or isinstance(value, int) for value in parsed)  # 5.0 stays a float
            numeric[column] = [None if value is None else int(value) if whole else float(value) for value in parsed]
    return [{**row, **{column: values[i] for column, values in numeric.items()}} for i, row in enumerate(rows)]


_NUMBER = re.compile(r"[+-]?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?|[+-]?(0|[1-9]\d*)?\.\d+([eE][+-]?\d+)?")


def number_from_text(text: str) -> int | float | None:
    """The number a text spells (``2000``, ``-1.5``, ``3e8``), or None; ``007``, ``nan`` and ``1_000`` are not."""
    text = text.strip()
    if not _NUMBER.fullmatch(text):
        return None
    value = float(text)
    if not math.isfinite(value):
        return None
    return int(text) if text.lstrip("+-").isdigit() else value


def _csv_header(names: list[str], source: str) -> list[str]:
    """Column names, an empty one called "Unnamed: N" as pandas does; repeated names are refused."""
    header = [name or f"Unnamed: {number}" for number, name in enumerate(names)]
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise InputError(
            f"{source} names the column {repeated[0]!r} twice in its header; give each column its own name."
        )
    return header


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    rows = []
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
        rows.append(row)
    return rows


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


def _read_parquet(path: Path) -> list[dict[str, Any]]:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises several unrelated types for a damaged file
        raise InputError(f"{path.name} is not a readable Parquet file ({exc}).") from None
    return table.to_pylist()


def _columns_of(rows: Sequence[dict[str, Any]]) -> list[str]:
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    return list(columns)


def _as_text(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return value if isinstance(value, str) else str(value)


def _as_id(value: Any, source: str) -> str | None:
    if value is None:
        return None  # a JSON null or a Python None asks the index to number the text
    text = _as_text(value).strip()
    if not text:
        raise InputError(f"{source} has a row with an empty id; give every row an id.")
    return text


def check_finite_metadata(metadata: dict[str, Any], document: str, source: str = "input") -> None:
    """Refuse infinities and NaN anywhere in ``metadata``: JSON has no spelling for them.

    Stored, they would be text SQLite's JSON functions call malformed, and every filtered
    search of the index would fail; NaN is refused too rather than turned into null behind
    the caller's back. ``document`` names the row in the message (``document 'a1'``, ``row 3``).
    """
    for field_name, value in metadata.items():
        found = _first_non_finite(value)
        if found is not None:
            where, number = found
            raise InputError(
                f"{source}: metadata field {field_name + where!r} of {document} is {number!r}, which JSON cannot "
                "hold; give a finite number, or None for a missing value."
            )


def _first_non_finite(value: Any) -> tuple[str, float] | None:
    """``(path inside the value, number)`` of its first infinite or NaN float, or None (checked without recursion)."""
    pending: list[tuple[str, Any]] = [("", value)]
    for _ in range(MAX_NESTING + 2):
        level, pending = pending, []
        for where, item in level:
            if isinstance(item, float) and not math.isfinite(item):
                return where, item
            if isinstance(item, dict):
                pending += [(f"{where}.{key}", child) for key, child in item.items()]
            elif isinstance(item, (list, tuple)):
                pending += [(f"{where}[{position}]", child) for position, child in enumerate(item)]
        if not pending:
            return None
    return None


def _json_safe(value: Any) -> Any:
    """Metadata goes to SQLite as JSON: reduce numpy and pandas scalars to plain values."""
    if hasattr(value, "item") and not isinstance(value, (list, dict, str)):
        value = value.item()
    try:
        json.dumps(value)
    except TypeError:
        return str(value)
    return value
