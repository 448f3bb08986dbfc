"""Small drawing helpers shared by the pages: the error guard, user text as markdown, the styles, build progress."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import streamlit as st

from simsearch import SimsearchError
from simsearch.formatting import count

log = logging.getLogger(__name__)

_MARKDOWN_SPECIALS = re.compile(r"([\\`*_\[\]<>$~])")  # what changes the look of text inside a line
_CHIP_CSS = """
<style>
.ss-tokens {display: flex; flex-wrap: wrap; gap: 4px; margin: 2px 0 10px 0; max-height: 260px; overflow-y: auto;}
/* grey at low alpha reads on a light and a dark background alike (the old near-black tint vanished in dark mode) */
.ss-tok {display: inline-flex; flex-direction: column; align-items: center; padding: 2px 7px; border-radius: 6px;
         background: rgba(128, 128, 128, 0.16); border: 1px solid rgba(128, 128, 128, 0.40); font-family: monospace;}
.ss-tok.special {background: rgba(255, 75, 75, 0.10); border-color: rgba(255, 75, 75, 0.35);}
.ss-tok.piece {background: rgba(28, 131, 225, 0.10); border-color: rgba(28, 131, 225, 0.35);}
.ss-tok small {font-size: 0.68em; opacity: 0.65;}
.ss-score {font-size: 1.35rem; font-weight: 600; text-align: right; font-variant-numeric: tabular-nums;}
.ss-bar {height: 8px; border-radius: 4px; background: rgba(128, 128, 128, 0.20); margin-top: 6px;}
.ss-bar > div {height: 8px; border-radius: 4px; background: #1c83e1;}
</style>
"""


def guarded(render: Callable[[], Any]) -> Any:
    """Run a page body; a user error becomes one red line, anything else a short note (details in the log)."""
    try:
        return render()
    except SimsearchError as error:
        st.error(error.message_for("ui"), icon="⚠️")
    except Exception as error:  # a bug: keep the page alive, put the traceback in the server log
        log.exception("unexpected error in the web UI")
        st.error(
            f"Something went wrong ({type(error).__name__}: {error}). The details are in the server log.", icon="🐞"
        )
    return None


def escape_markdown(text: str) -> str:
    """User text shown as itself: without this, `$x$` renders as maths, `*a*` in italics, `[a](b)` as a link."""
    return _MARKDOWN_SPECIALS.sub(r"\\\1", text)


def inject_css() -> None:
    """The styles of the token chips and score bars, once per run (the entry point calls it)."""
    st.html(_CHIP_CSS)


class BuildProgress:
    """A progress bar that moves from the start: a step for loading the model, then encoding with a time estimate.

    ``report(done, total)`` is the ``on_progress`` callback of ``Index.build`` / ``rebuild``; ``close()``
    removes the bar, so a failed build leaves no bar stuck on its last words.
    """

    def __init__(self, label: str) -> None:
        self.label = label
        self.bar = st.progress(0.0, text=f"{label}: step 1 of 2, loading the model…")
        self.started: float | None = None

    def model_loaded(self) -> None:
        self.bar.progress(0.02, text=f"{self.label}: step 2 of 2, encoding the texts…")

    def report(self, done: int, total: int) -> None:
        now = time.monotonic()
        if self.started is None:
            self.started = now
        estimate = ""
        if 0 < done < total and now - self.started > 0.5:
            left = (now - self.started) / done * (total - done)
            estimate = f", about {left:.0f} s left" if left >= 1 else ", under a second left"
        if done >= total:  # the index is written and the query model exported next: seconds with a full bar
            self.bar.progress(
                1.0,
                text=f"{self.label}: encoded {count(total, 'text')}; writing the index and "
                "preparing the model for queries…",
            )
            return
        self.bar.progress(
            0.02 + 0.98 * done / max(total, 1),
            text=f"{self.label}: step 2 of 2, encoded {done:,} of {total:,} texts{estimate}",
        )

    def close(self) -> None:
        self.bar.empty()


@contextmanager
def build_progress(label: str) -> Iterator[BuildProgress]:
    progress = BuildProgress(label)
    try:
        yield progress
    finally:
        progress.close()
