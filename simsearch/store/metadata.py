"""Metadata as the store keeps it: strict JSON (finite numbers only), and the rows an older simsearch wrote otherwise.

SQLite's JSON functions refuse ``Infinity`` and ``NaN``, which Python's ``json`` writes by
default; one such row made every filtered search of its index fail. Writes are refused here
before they reach the file, and a row already holding them is named with its fix (delete or
re-add that document), never a rebuild of the whole index.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Sequence
from typing import Any

from simsearch.errors import CorruptIndexError, InputError, fix


def metadata_json(metadata: dict[str, Any], id: str | None) -> str:
    """``metadata`` as the strict JSON SQLite reads: an infinity or NaN is refused, never written as ``Infinity``."""
    try:
        return json.dumps(metadata, allow_nan=False)
    except ValueError:
        raise InputError(
            f"metadata of document {id!r} holds an infinite or NaN number, which JSON cannot hold; "
            "give finite numbers, or None for a missing value."
        ) from None


def stored_metadata(row_id: int, id: str, text: str) -> dict[str, Any]:
    """A row's metadata, refused (naming the row) when it is not strict JSON: written by an older simsearch."""
    problem = metadata_problem(text)
    if problem:
        raise CorruptIndexError(bad_row_message([(row_id, id, problem)]))
    return json.loads(text)


def metadata_problem(text: str) -> str | None:
    """Why a stored metadata text is not a strict JSON object with finite numbers, or None when it is."""

    def refuse(constant: str) -> Any:
        raise ValueError(f"{constant} is not a JSON number")

    try:
        value = json.loads(text, parse_constant=refuse)
    except (ValueError, RecursionError) as exc:
        return f"not valid JSON ({exc})"
    if not isinstance(value, dict):
        return "not a JSON object"
    if any(isinstance(number, float) and not math.isfinite(number) for number in _numbers(value)):
        return "a number too large for a float"
    return None


def _numbers(value: Any) -> Iterator[Any]:
    """Every scalar inside a JSON value, without recursion."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            pending += item.values()
        elif isinstance(item, list):
            pending += item
        else:
            yield item


def bad_row_message(rows: Sequence[tuple[int, str, str]]) -> str:
    """One line naming the rows whose metadata is unusable and the fix: that row, not the whole index."""
    shown = "; ".join(f"document {id!r} (row {row_id}): {problem}" for row_id, id, problem in rows[:5])
    more = f" and {len(rows) - 5} more" if len(rows) > 5 else ""
    return (
        f"stored metadata is unusable in {shown}{more}; delete those documents, or re-add them with finite "
        f"numbers ({fix('upsert')})."
    )
