"""CSV files to rows: strict fields against the header, then numbers recognised column by column.

A CSV cell is always text; ``read_corpus`` turns a column into numbers only when every
value in it spells one, since a filter on ``year >= 2000`` must compare numbers.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from simsearch.errors import InputError
from simsearch.ingest.lines import decoded_lines


def csv_rows(path: Path) -> Iterator[dict[str, Any]]:
    """Rows of a CSV file with a header, every value a string, read as they are needed.

    Python's csv module rather than pandas: pandas reads a row with more fields than the
    header by turning the first fields into an index, silently shifting id and text, and
    pads a short row. Here every row must have exactly the header's fields.
    """
    reader = csv.reader((line + "\n" for line in decoded_lines(path)), strict=True)
    found = False
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
            found = True
            yield dict(zip(header, record))
    except csv.Error as exc:
        raise InputError(f"{path.name} line {reader.line_num} is not valid CSV ({exc}); fix the quoting.") from None
    if not found:
        raise InputError(f"{path.name} has no rows; give a file with at least one text.")


def check_same_header(files: list[Path], rows: list[dict[str, Any]]) -> None:
    """CSV files of one folder must share their columns, or their rows would not line up."""
    headers = {tuple(row) for row in rows}
    if len(headers) > 1:
        raise InputError(
            f"the CSV files in {files[0].parent.name} have different headers; give every file the same columns."
        )


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
