"""Commands that keep an index in step with its source and compact it: sync, compact.

``add``, ``delete`` and ``sync`` compact at their end when the delta or the dead ids passed
the thresholds (simsearch.index.compaction), so a cron job never lets them grow unbounded;
the write itself is committed before that, and a compaction that fails leaves it in place.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from simsearch.cli.common import (
    AsJson,
    Backend,
    BatchSize,
    IndexDir,
    InputFile,
    Quiet,
    TextColumn,
    app,
    loading_model,
    say,
)

if TYPE_CHECKING:
    from simsearch import Index


@app.command()
def sync(
    name: str,
    input: InputFile,
    text_column: TextColumn = "text",
    id_column: Annotated[str, typer.Option(help="Column holding ids (every row needs one).")] = "id",
    batch_size: BatchSize = 64,
    index_dir: IndexDir = None,
    quiet: Quiet = False,
    backend: Backend = None,
) -> None:
    """Make NAME hold exactly the file's documents, by id: add new ids, re-encode changed texts, delete the rest."""
    from simsearch import Index, read_corpus
    from simsearch.progress import progress_wanted, terminal_progress

    corpus = read_corpus(input, text_column, id_column)
    index = Index.open(name, index_dir=index_dir, backend=backend)
    with loading_model(index.manifest.model["name"], quiet):
        index.encoder  # noqa: B018 - loaded here, under the "loading model" line
    with terminal_progress("encoding", progress_wanted(quiet), unit="text") as on_progress:
        report = index.sync(corpus, batch_size=batch_size, on_progress=on_progress)
    typer.echo(f"{name}: {report}")
    compact_when_due(index, quiet)


@app.command()
def compact(name: str, as_json: AsJson = False, index_dir: IndexDir = None, quiet: Quiet = False) -> None:
    """Fold NAME's added rows and deleted ids into a new base now (searches and writes go on meanwhile)."""
    import json

    from simsearch import Index

    figures = Index.open(name, index_dir=index_dir).compact()
    if as_json:
        typer.echo(json.dumps(figures))
    elif not figures["compacted"]:
        say(f"{name!r} had nothing to compact", quiet)
    else:
        say(compacted_line(name, figures), quiet)


def compact_when_due(index: Index, quiet: bool) -> None:
    """Compact after a CLI write when the thresholds have passed; say what it did."""
    if index.compaction_due():
        say(compacted_line(index.name, index.compact()), quiet)


def compacted_line(name: str, figures: dict) -> str:
    return (
        f"compacted {name!r} in {figures['seconds']:.2f} s: {figures['folded_in']:,} added vectors folded in, "
        f"{figures['dropped']:,} deleted ones dropped, base now {figures['base_vectors']:,}"
    )
