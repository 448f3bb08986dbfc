"""The `simsearch` command: parse arguments, call the Python API, print. No logic of its own.

One module per family of commands; importing each registers its commands on the shared group.
"""

from __future__ import annotations

import logging
import sys

# Importing a module registers its commands, and `simsearch --help` lists them in this order.
from simsearch.cli import writes, building, indexes, searching, servers, tools, training, evaluating  # noqa: F401  # isort: skip
from simsearch.cli.common import app

__all__ = ["app", "main"]


def main() -> None:
    """Console-script entry point: warnings as one line each, then the command (errors are handled by the group)."""
    quiet = "--quiet" in sys.argv or "-q" in sys.argv
    logging.basicConfig(level=logging.ERROR if quiet else logging.WARNING, format="warning: %(message)s")
    app(prog_name="simsearch")
