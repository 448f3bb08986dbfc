"""Documents and corpora: what an index is built from, and the checks that keep a bad input out of it.

Validation happens here, before any encoding starts, so a bad file costs the
user seconds rather than a half-finished build. Reading each type of file is
simsearch.ingest.readers' job.
"""

from __future__ import annotations

import json
import logging
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simsearch.errors import InputError, fix
from simsearch.ingest.csv_rows import check_same_header, numbers_in_columns
from simsearch.ingest.readers import MAX_NESTING, columns_of, corpus_files, file_format

log = logging.getLogger(__name__)


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
    reading = file_format(files[0])
    rows = [row for file in files for row in reading.rows(file)]
    if not reading.named_columns:
        text_column, id_column = "text", None
    if reading.text_values:
        check_same_header(files, rows)
        rows = numbers_in_columns(rows, keep_text=(text_column, id_column))
    return documents_from_rows(rows, text_column, id_column, source=path.name)


def documents_from_rows(
    rows: Sequence[dict[str, Any]],
    text_column: str = "text",
    id_column: str | None = "id",
    source: str = "input",
) -> Corpus:
    """Turn dict rows (from a file or from Python callers) into validated Documents."""
    if not rows:
        raise InputError(f"{source} has no rows; give a file with at least one text.")
    columns = columns_of(rows)
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
