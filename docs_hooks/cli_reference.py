"""The CLI reference page, written from the Typer app itself so it cannot drift from ``simsearch --help``."""

from __future__ import annotations

import click
import typer.main
from typer.cli import get_docs_for_click

INTRO = (
    "Every command, argument and option of `simsearch`, generated from the Typer app when the site is built.\n"
    "Errors are one line on stderr beginning `error: ` (exit 1); warnings one line each beginning `warning: `.\n\n"
)


def cli_reference_markdown() -> str:
    """Markdown for every command of ``simsearch``, as Typer's own ``utils docs`` writes it."""
    from simsearch.cli import app

    command = typer.main.get_command(app)
    with click.Context(command, info_name="simsearch") as context:
        body = get_docs_for_click(obj=command, ctx=context, name="simsearch", title="Command line")
    title, _, rest = body.partition("\n\n")
    return f"{title}\n\n{INTRO}{rest.strip()}\n"
