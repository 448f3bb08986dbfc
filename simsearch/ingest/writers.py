"""Writing a corpus back out (.csv, .jsonl, .parquet) in the shape ``read_corpus`` reads: id, text, metadata.

The caller owns atomicity (simsearch.atomic.replacing): these functions write one path.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def write_rows(rows: Sequence[dict[str, Any]], path: Path, suffix: str) -> None:
    """Write ``rows`` (dicts, ``id`` and ``text`` first) as ``suffix`` (.csv, .jsonl or .parquet) to ``path``.

    Columns are the union of the rows' keys in first-seen order; a CSV cell holding a list or
    a dict is written as JSON, and a missing value as an empty cell.
    """
    columns = list(dict.fromkeys(key for row in rows for key in row)) or ["id", "text"]
    if suffix == ".jsonl":
        with open(path, "w", encoding="utf-8") as handle:
            for row in rows:
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    elif suffix == ".csv":
        import csv

        with open(path, "w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns)
            writer.writeheader()
            writer.writerows({key: _cell(value) for key, value in row.items()} for row in rows)
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.table({key: [row.get(key) for row in rows] for key in columns}), path)


def _cell(value: Any) -> Any:
    return json.dumps(value, ensure_ascii=False) if isinstance(value, (list, dict)) else value
