"""The checks every kind's settings go through: whole numbers, names the kind has, ranges FAISS accepts.

FAISS keeps its size settings in C ints and rejects a bad one cryptically, or accepts it and
fails at search; these checks name the setting and the valid values instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from simsearch.errors import InvalidArgumentError
from simsearch.numbers import is_whole_number

# FAISS keeps its size settings (M, efSearch, nlist, nprobe) in C ints.
MAX_SETTING = 2**31 - 1


def whole_numbers(kind: str, known: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, int]:
    """The caller's parameters as ints, refusing a name the kind does not have or a value that is not a whole number."""
    checked = {}
    for name, value in params.items():
        if name not in known:
            raise InvalidArgumentError(f"kind {kind} has no parameter {name!r}; valid: {', '.join(known) or 'none'}.")
        if not is_whole_number(value):
            raise InvalidArgumentError(f"kind {kind} parameter {name} must be a whole number (got {value!r}).")
        checked[name] = int(value)
    return checked


def check_range(kind: str, name: str, value: int, low: int, high: int) -> None:
    if not low <= int(value) <= high:
        raise InvalidArgumentError(f"kind {kind} parameter {name}={value} is out of range; valid: {low} to {high}.")
