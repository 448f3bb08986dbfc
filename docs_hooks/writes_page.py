"""The writes benchmark's tables, drawn at build time from its result files by the benchmark's own report code.

A results file of benchmarks/writes.py holds nested figures (per system, per operation) that
the generic tables of results_tables.py would flatten badly, and benchmarks/writes_report.py
already knows how to lay them out. So a page names a run on a line of its own::

    <!-- writes-run: writes-100k.json -->

and gets that run's heading, its exact command and its tables, as ``writes.py --markdown``
prints them; ``<!-- writes-compare: BEFORE.json AFTER.json -->`` gets the two runs' figures side by
side with after / before (``writes.py --compare``). A missing file stops the build, as a missing
results marker does.
"""

from __future__ import annotations

import importlib.util
import json
import re
from functools import cache
from pathlib import Path
from types import ModuleType

REPORT = Path(__file__).resolve().parent.parent / "benchmarks" / "writes_report.py"
MARKER = re.compile(r"^<!--\s*writes-run:\s*(?P<file>[\w.-]+\.json)\s*-->$", re.MULTILINE)
COMPARE = re.compile(
    r"^<!--\s*writes-compare:\s*(?P<before>[\w.-]+\.json)\s+(?P<after>[\w.-]+\.json)\s*-->$", re.MULTILINE
)


@cache
def writes_report() -> ModuleType:
    """benchmarks/writes_report.py, loaded by path: benchmarks/ is a folder of scripts, not a package."""
    spec = importlib.util.spec_from_file_location("writes_report", REPORT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_section(results: dict) -> str:
    """One run: a heading with its date, machine and load, the command that made it, then its tables."""
    load = results.get("load_average_at_start")  # other work on a shared machine stretches every latency
    heading = f"## {results['date']}: {results['machine']} ({results['mode']})"
    if load is not None:
        heading += f", load average {load} at the start"
    return f"{heading}\n\n`{results['command']}`\n\n{writes_report().render_tables(results)}"


def fill_writes_runs(markdown: str, results: Path) -> str:
    """``markdown`` with every writes-compare and writes-run marker replaced by its section."""

    def read(name: str) -> dict:
        source = results / name
        if not source.is_file():
            raise ValueError(f"a writes marker names {name}, which benchmarks/results/ does not hold")
        return json.loads(source.read_text(encoding="utf-8"))

    compared = COMPARE.sub(
        lambda found: writes_report().render_comparison([(read(found["before"]), read(found["after"]))]), markdown
    )
    return MARKER.sub(lambda found: run_section(read(found["file"])), compared)
