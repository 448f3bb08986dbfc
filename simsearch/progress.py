"""Progress bars for long work: shown on a terminal, silent in pipes, logs and tests.

The package reports progress through one ``on_progress(done, total)`` callback and
never draws anything itself; the CLI turns the callback into a tqdm bar here.
``ProgressCallback`` is that callback's one definition: encoders, build engines and
the build itself all take it, and all import it from here.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from tqdm import tqdm

ProgressCallback = Callable[[int, int], None]
"""``on_progress(done, total)``: called after each step of long work; ``total`` may grow between calls."""


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


@contextmanager
def terminal_progress(description: str, enabled: bool, unit: str = "it") -> Iterator[ProgressCallback]:
    """Yield an ``on_progress(done, total)`` callback that drives a bar (a no-op when disabled).

    The total is taken from each call, so the caller need not know it before the work starts.
    """
    with progress_bar(0, description, unit, enabled) as bar:

        def on_progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        yield on_progress


@contextmanager
def status_line(message: str, enabled: bool) -> Iterator[None]:
    """Show ``message …`` on the terminal while a step with no countable progress runs (loading a model).

    The line is erased when the step ends, so a progress bar or the result takes its place;
    nothing is written when disabled (a pipe, a log, --quiet).
    """
    if enabled:
        sys.stderr.write(f"{message} …")
        sys.stderr.flush()
    try:
        yield
    finally:
        if enabled:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()
