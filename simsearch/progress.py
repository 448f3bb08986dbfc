"""Progress bars for long work: shown on a terminal, silent in pipes, logs and tests."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from tqdm import tqdm


def progress_wanted(quiet: bool = False) -> bool:
    """A bar helps a person watching a terminal; in a pipe or a CI log it is noise."""
    return not quiet and sys.stderr.isatty()


@contextmanager
def progress_bar(total: int, description: str, unit: str = "it", enabled: bool = True) -> Iterator[tqdm]:
    """A tqdm bar with rate and ETA on stderr; a no-op bar when disabled."""
    bar = tqdm(total=total, desc=description, unit=unit, disable=not enabled, file=sys.stderr, dynamic_ncols=True)
    try:
        yield bar
    finally:
        bar.close()
