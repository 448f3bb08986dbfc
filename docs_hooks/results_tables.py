"""Benchmark tables generated from benchmarks/results/*.json, so a page never shows a figure typed by hand.

A page asks for a table with a marker on a line of its own (or a single value within a sentence)::

    <!-- results: performance.json encoding -->

naming a file in benchmarks/results/ and, optionally, a dotted path inside it. A list of
objects becomes a table (one row each, columns in first-seen order), an object becomes a
two-column table, anything else its value. A missing file or key stops the build.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

MARKER = re.compile(r"<!--\s*results:\s*(?P<file>[\w.-]+\.json)(?:\s+(?P<path>[\w.@-]+))?\s*-->")


def formatted(value: Any) -> str:
    """One cell: whole numbers with thousands separators, decimals to a precision that fits their size."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.1f}" if abs(value) >= 100 else f"{value:.2f}" if abs(value) >= 1 else f"{value:.3f}"
    if isinstance(value, dict):
        return ", ".join(f"{key}={formatted(inner)}" for key, inner in value.items())
    if isinstance(value, list):
        return ", ".join(formatted(inner) for inner in value)
    return str(value).replace("|", "\\|").replace("\n", " ")


def table(value: Any) -> str:
    """A Markdown table (or plain value) for one piece of a results file."""
    if isinstance(value, list) and value and all(isinstance(row, dict) for row in value):
        columns = list(dict.fromkeys(key for row in value for key in row))
        lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
        lines += ["| " + " | ".join(formatted(row.get(column)) for column in columns) + " |" for row in value]
        return "\n".join(lines)
    if isinstance(value, dict):
        lines = ["| | |", "|---|---|"] + [f"| {key} | {formatted(inner)} |" for key, inner in value.items()]
        return "\n".join(lines)
    return formatted(value)


def lookup(results: Path, file: str, path: str | None) -> Any:
    source = results / file
    if not source.is_file():
        raise ValueError(f"a results marker names {file}, which benchmarks/results/ does not hold")
    value = json.loads(source.read_text(encoding="utf-8"))
    for key in path.split(".") if path else ():
        if isinstance(value, list) and key.isdigit() and int(key) < len(value):
            value = value[int(key)]
        elif isinstance(value, dict) and key in value:
            value = value[key]
        else:
            raise ValueError(f"{file} has no {path!r} (stopped at {key!r})")
    return value


def fill_results(markdown: str, results: Path) -> str:
    """``markdown`` with every results marker replaced by its generated table."""
    return MARKER.sub(lambda found: table(lookup(results, found["file"], found["path"])), markdown)
