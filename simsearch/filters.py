"""Metadata filters as a caller writes them, checked and split into the tests the store runs.

A filter maps a metadata column to a value, or to a list of accepted values; several
columns must all match. Strings and numbers match equal JSON values; ``True`` and
``False`` match JSON true and false only (never the numbers 1 and 0); ``None``
matches documents whose value is JSON null *or* that lack the column altogether, so
"not set" is one choice whichever way a corpus leaves a value out. A list may mix
``None`` with other values.

This module holds no SQL: ``Store.matching_row_ids`` turns the conditions into a query.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from simsearch.errors import InvalidArgumentError

Filters = Mapping[str, Any]
_LISTS = (list, tuple, set, frozenset)


@dataclass(frozen=True)
class Condition:
    """One column's accepted values, grouped by how they must be compared.

    ``values`` holds strings and numbers, ``booleans`` the accepted JSON booleans,
    and ``missing`` says whether a null or absent value is accepted.
    """

    column: str
    values: tuple[str | int | float, ...] = ()
    booleans: tuple[bool, ...] = ()
    missing: bool = False


def filter_conditions(filters: Filters) -> list[Condition]:
    """Check every column name and value and return one ``Condition`` per column."""
    return [_condition(column, wanted) for column, wanted in filters.items()]


def _condition(column: Any, wanted: Any) -> Condition:
    if not isinstance(column, str) or not column or '"' in column or "\\" in column:
        raise InvalidArgumentError(f"cannot filter on metadata column {column!r}; use a plain column name.")
    accepted = list(wanted) if isinstance(wanted, _LISTS) else [wanted]
    if not accepted:
        raise InvalidArgumentError(f"the filter on {column!r} lists no values; give at least one.")
    for value in accepted:
        if value is not None and not isinstance(value, (str, int, float)):
            raise InvalidArgumentError(
                f"cannot filter on value {value!r}; use strings, numbers, booleans or None."
            )
    return Condition(
        column,
        values=tuple(v for v in accepted if v is not None and not isinstance(v, bool)),
        booleans=tuple(dict.fromkeys(v for v in accepted if isinstance(v, bool))),
        missing=any(v is None for v in accepted),
    )
