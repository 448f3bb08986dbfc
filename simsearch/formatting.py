"""Numbers for people: counts, byte sizes and timestamps, written the same way by the CLI and the web UI."""

from __future__ import annotations

from datetime import datetime, timezone

_UNITS = ("B", "KB", "MB", "GB", "TB")


def count(number: int, noun: str) -> str:
    """``1 text``, ``2 texts``, ``1,200 results``: a figure with its noun in the right number."""
    return f"{number:,} {noun}" if number == 1 else f"{number:,} {noun}s"


def human_bytes(size: float) -> str:
    """``size`` bytes in the largest binary unit that keeps the number at or above 1: ``"3.2 MB"``, ``"812 B"``."""
    value, step = float(size), 0
    while value >= 1024 and step < len(_UNITS) - 1:
        value /= 1024
        step += 1
    return f"{value:.0f} B" if step == 0 else f"{value:.1f} {_UNITS[step]}"


def readable_time(timestamp: float) -> str:
    """A Unix timestamp as ``2025-01-31 14:05:09 UTC``.

    UTC rather than the server's local zone: the UI's server and its reader may sit in
    different zones, and the CLI's output is often pasted into logs and reports.
    """
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
