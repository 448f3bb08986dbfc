"""Metadata filters as a caller writes them, checked and split into the tests the store runs.

A filter maps a metadata column to what its value must be; several columns must all match.

- A value: strings and numbers match equal JSON values; ``True`` and ``False`` match
  JSON true and false only (never the numbers 1 and 0); ``None`` matches documents
  whose value is JSON null *or* that lack the column altogether, so "not set" is one
  choice whichever way a corpus leaves a value out.
- A list of values: any of them (it may mix ``None`` with other values).
- A dict of operators, all of which must hold: ``eq`` and ``ne`` take a value or a list
  (``{"ne": "fr"}`` keeps documents whose value is anything else, missing included);
  ``gt``, ``gte``, ``lt`` and ``lte`` take numbers or strings and match only values
  of that JSON type, so ``{"year": {"gte": 2000}}`` never matches a year written "n/a".

``filters_from_expressions`` reads the ``year>=2000`` form the command line uses.
This module holds no SQL: filter_sql.py turns the conditions into a WHERE clause.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from simsearch.errors import InvalidArgumentError
from simsearch.ingest.csv_rows import number_from_text

Filters = Mapping[str, Any]
Bound = Literal["gt", "gte", "lt", "lte"]
BOUNDS: dict[str, str] = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}  # operator -> SQL comparison
OPERATORS = ("eq", "ne", *BOUNDS)
_LISTS = (list, tuple, set, frozenset)
_INT64 = (-(2**63), 2**63 - 1)
_SYMBOLS = {"=": "eq", "==": "eq", "!=": "ne", ">": "gt", ">=": "gte", "<": "lt", "<=": "lte"}
_EXPRESSION = re.compile(r"^\s*([^=!<>]*?)\s*(==|!=|>=|<=|=|>|<)\s*(.*?)\s*$", re.DOTALL)


@dataclass(frozen=True)
class Values:
    """A set of accepted values, grouped by how they must be compared.

    ``values`` holds strings and numbers, ``booleans`` the JSON booleans, and
    ``missing`` says whether a null or absent value is in the set.
    """

    values: tuple[str | int | float, ...] = ()
    booleans: tuple[bool, ...] = ()
    missing: bool = False


@dataclass(frozen=True)
class Condition:
    """One column's tests, all of which must hold: in ``equal`` (if set), not in ``not_equal``
    (if set), and within every bound (all numbers or all strings)."""

    column: str
    equal: Values | None = None
    not_equal: Values | None = None
    bounds: tuple[tuple[Bound, str | int | float], ...] = ()


def filter_conditions(filters: Filters) -> list[Condition]:
    """Check every column name, operator and value and return one ``Condition`` per column."""
    return [_condition(column, wanted) for column, wanted in filters.items()]


def filters_from_expressions(expressions: Iterable[str]) -> dict[str, Any]:
    """Filters from ``COLUMN OP VALUE`` texts (``category=music``, ``year>=2000``, ``lang!=fr``).

    OP is one of = != > >= < <=. A value that looks like a number is one (not with a
    leading zero: ``007`` stays text, as in a CSV column), ``true`` and ``false`` are
    booleans, anything else a string. Several ``=`` on one column accept any of their
    values, several ``!=`` refuse all of theirs; a bound given twice is refused.
    """
    filters: dict[str, dict[str, Any]] = {}
    for expression in expressions:
        found = _EXPRESSION.match(expression)
        if found is None or not found.group(1):
            raise InvalidArgumentError(
                f"cannot read the filter {expression!r}; write COLUMN OP VALUE with OP one of "
                "= != > >= < <= (e.g. year>=2000)."
            )
        if found.group(3)[:1] in ("=", "!", "<", ">"):
            raise InvalidArgumentError(
                f"cannot read the filter {expression!r}: {found.group(2) + found.group(3)[:1]!r} is no operator; "
                "write COLUMN OP VALUE with OP one of = != > >= < <= (e.g. year>=2000)."
            )
        column, operator, value = found.group(1), _SYMBOLS[found.group(2)], _typed(found.group(3))
        operators = filters.setdefault(column, {})
        if operator in BOUNDS and operator in operators:
            raise InvalidArgumentError(f"two {found.group(2)} filters on {column!r}; give each bound once.")
        if operator in BOUNDS:
            operators[operator] = value
        else:
            operators.setdefault(operator, []).append(value)
    for operators in filters.values():
        for operator in ("eq", "ne"):
            if len(operators.get(operator, ())) == 1:
                operators[operator] = operators[operator][0]
    return {column: ops["eq"] if list(ops) == ["eq"] else ops for column, ops in filters.items()}


def _typed(text: str) -> Any:
    if text in ("true", "false"):
        return text == "true"
    number = number_from_text(text)
    return text if number is None else number


def _condition(column: Any, wanted: Any) -> Condition:
    if not isinstance(column, str) or not column or '"' in column or "\\" in column:
        raise InvalidArgumentError(f"cannot filter on metadata column {column!r}; use a plain column name.")
    if not isinstance(wanted, Mapping):
        return Condition(column, equal=_values(column, wanted))
    if not wanted:
        raise InvalidArgumentError(f"the filter on {column!r} has no operators; valid: {', '.join(OPERATORS)}.")
    unknown = [operator for operator in wanted if operator not in OPERATORS]
    if unknown:
        raise InvalidArgumentError(
            f"unknown filter operator {unknown[0]!r} on {column!r}; valid: {', '.join(OPERATORS)}."
        )
    bounds = tuple((operator, wanted[operator]) for operator in BOUNDS if operator in wanted)
    for operator, bound in bounds:
        if isinstance(bound, bool) or not isinstance(bound, (str, int, float)):
            raise InvalidArgumentError(
                f"cannot compare {column!r} with {operator} {bound!r}; give a number or a string."
            )
        _check_number(column, bound)
    if len({isinstance(bound, str) for _, bound in bounds}) > 1:
        raise InvalidArgumentError(f"the bounds on {column!r} mix numbers and strings; give one kind.")
    return Condition(
        column,
        equal=_values(column, wanted["eq"]) if "eq" in wanted else None,
        not_equal=_values(column, wanted["ne"]) if "ne" in wanted else None,
        bounds=bounds,  # type: ignore[arg-type]
    )


def _check_number(column: str, value: Any) -> None:
    """Refuse numbers SQLite cannot compare: integers past 64 bits (it cannot bind them), infinities and NaN
    (metadata never holds them, so such a filter could only ever mean a mistake)."""
    if isinstance(value, int) and not isinstance(value, bool) and not _INT64[0] <= value <= _INT64[1]:
        raise InvalidArgumentError(
            f"the filter value {value} on {column!r} is past 64-bit integers; "
            f"give a whole number from {_INT64[0]} to {_INT64[1]}, or a decimal."
        )
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidArgumentError(f"the filter value {value} on {column!r} is not a finite number; give one.")


def _values(column: str, wanted: Any) -> Values:
    accepted = list(wanted) if isinstance(wanted, _LISTS) else [wanted]
    if not accepted:
        raise InvalidArgumentError(f"the filter on {column!r} lists no values; give at least one.")
    for value in accepted:
        if value is not None and not isinstance(value, (str, int, float)):
            raise InvalidArgumentError(f"cannot filter on value {value!r}; use strings, numbers, booleans or None.")
        _check_number(column, value)
    return Values(
        values=tuple(v for v in accepted if v is not None and not isinstance(v, bool)),
        booleans=tuple(dict.fromkeys(v for v in accepted if isinstance(v, bool))),
        missing=any(v is None for v in accepted),
    )
