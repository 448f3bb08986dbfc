"""Error text fits the surface that shows it: argument names in Python, flags in the CLI, controls in the UI."""

from __future__ import annotations

from typing import get_args

import pytest

from simsearch.errors import FIXES, IndexExistsError, Surface, fix


def test_a_fix_reads_in_each_surfaces_own_words():
    error = IndexExistsError(f"index 'notes' exists already; {fix('overwrite')} to replace it.")
    assert str(error) == "index 'notes' exists already; pass overwrite=True to replace it."
    assert error.message_for("cli") == "index 'notes' exists already; pass --overwrite to replace it."
    assert error.message_for("ui") == "index 'notes' exists already; tick Replace to replace it."


def test_a_fix_carries_its_value_into_every_surface():
    error = IndexExistsError(f"stale; {fix('rebuild', 'notes')}.")
    assert "simsearch rebuild notes" in error.message_for("cli")
    assert "Index.open('notes').rebuild()" in str(error)


def test_every_fix_is_spelled_for_every_surface():
    """Python, CLI and UI each have their own words; HTTP may have its own, else it reads as Python."""
    assert all({"python", "cli", "ui"} <= set(spellings) <= set(get_args(Surface)) for spellings in FIXES.values())


def test_an_unknown_fix_is_a_programming_error():
    with pytest.raises(KeyError):
        fix("no-such-fix")
