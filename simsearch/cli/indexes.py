"""Commands that change, inspect and remove indexes: add, delete, get, list, info, drop, check (build: building.py)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from simsearch.cli.common import (
    AsJson,
    Backend,
    BatchSize,
    IndexDir,
    InputFile,
    Quiet,
    app,
    loading_model,
    say,
)
from simsearch.cli.writes import compact_when_due
from simsearch.errors import InputError, InvalidArgumentError, SimsearchError
from simsearch.formatting import count, human_bytes, readable_time


@app.command()
def add(
    name: str,
    input: InputFile,
    text_column: Annotated[
        str | None, typer.Option(help="Column holding the texts.  [default: the one NAME was built from, else text]")
    ] = None,
    id_column: Annotated[
        str | None,
        typer.Option(
            help="Column holding ids (optional; else numbered).  [default: the one NAME was built from, else id]"
        ),
    ] = None,
    upsert: Annotated[bool, typer.Option("--upsert", help="Replace documents whose ids NAME holds already.")] = False,
    batch_size: BatchSize = 64,
    index_dir: IndexDir = None,
    quiet: Quiet = False,
    backend: Backend = None,
) -> None:
    """Add the texts of a file to NAME in place; existing ids are refused, or replaced with --upsert."""
    from simsearch import Index, read_corpus
    from simsearch.progress import progress_wanted, terminal_progress

    index = Index.open(name, index_dir=index_dir, backend=backend)
    recorded = index.manifest  # the columns the build read, unless the flags name others
    corpus = read_corpus(input, text_column or recorded.text_column or "text", id_column or recorded.id_column or "id")
    held = len(index.known_ids([doc.id for doc in corpus.documents if doc.id is not None])) if upsert else 0
    with loading_model(index.manifest.model["name"], quiet):
        index.encoder  # noqa: B018 - loaded here, under the "loading model" line, rather than inside add
    with terminal_progress("encoding", progress_wanted(quiet), unit="text") as on_progress:
        ids = index.add(corpus, upsert=upsert, batch_size=batch_size, on_progress=on_progress)
    if upsert:
        say(f"{name!r}: {len(ids) - held} added, {held} replaced (now {count(len(index), 'text')})", quiet)
    else:
        say(f"added {count(len(ids), 'text')} to {name!r} (now {len(index)})", quiet)
    compact_when_due(index, quiet)


@app.command()
def delete(name: str, ids: list[str], index_dir: IndexDir = None, quiet: Quiet = False) -> None:
    """Delete documents by id from NAME in place."""
    from simsearch import Index

    index = Index.open(name, index_dir=index_dir)
    removed = index.delete(ids)
    say(f"deleted {count(removed, 'text')} from {name!r} (now {len(index)})", quiet)
    compact_when_due(index, quiet)


@app.command()
def get(name: str, id: str, as_json: AsJson = False, index_dir: IndexDir = None) -> None:
    """Print the document with id ID in NAME: its text, then its metadata."""
    from simsearch import Index

    document = Index.open(name, index_dir=index_dir).get(id)
    if document is None:
        raise InputError(
            f"no document with id {id!r} in index {name!r}; `simsearch search {name} TEXT` shows the ids it holds."
        )
    if as_json:
        typer.echo(
            json.dumps({"id": document.id, "text": document.text, "metadata": document.metadata}, ensure_ascii=False)
        )
        return
    typer.echo(document.text)
    for key, value in document.metadata.items():
        typer.echo(f"  {key}: {value}")


@app.command("list")
def list_(
    long: Annotated[bool, typer.Option("--long", "-l", help="A table: name, documents, kind, model, size.")] = False,
    as_json: AsJson = False,
    index_dir: IndexDir = None,
) -> None:
    """List the indexes in the index folder (names only, or a table with --long)."""
    from simsearch import list_indexes

    names = list_indexes(index_dir)
    if not long:
        typer.echo(json.dumps(names) if as_json else "\n".join(names) or "(no indexes)")
        return
    rows = [_summary(name, index_dir) for name in names]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        typer.echo("(no indexes)")
        return
    table = [("NAME", "DOCUMENTS", "KIND", "MODEL", "SIZE")] + [
        (row["name"], str(row["count"]), row["kind"], row["model"], human_bytes(row["size_bytes"]))
        if "problem" not in row
        else (row["name"], "?", "?", "?", f"unreadable: {row['problem']}")
        for row in rows
    ]
    widths = [max(len(cells[column]) for cells in table) for column in range(4)]
    for cells in table:
        numbers = f"{cells[0]:<{widths[0]}}  {cells[1]:>{widths[1]}}  {cells[2]:<{widths[2]}}"
        typer.echo(f"{numbers}  {cells[3]:<{widths[3]}}  {cells[4]}".rstrip())


@app.command()
def info(name: str, as_json: AsJson = False, index_dir: IndexDir = None) -> None:
    """Model, dimension, pooling, kind and parameters, count, size and build time of NAME."""
    from simsearch import Index

    details = Index.open(name, index_dir=index_dir).info()
    if as_json:
        typer.echo(json.dumps(details, indent=2))
        return
    model = details["model"]
    rows = [
        ("name", details["name"]),
        ("model", model["name"]),
        ("fingerprint", model["fingerprint"]),
        ("dimension", model["dimension"]),
        ("pooling", model["pooling"]),
        ("max tokens", model["max_seq_length"]),
        ("encoder", details.get("encoder_backend", "torch")),
        (
            "chunking",
            f"windows of {details['chunk_tokens']} pieces, overlap {details['chunk_overlap']}"
            if details.get("chunk_tokens")
            else "off (long texts cut at max tokens)",
        ),
        ("kind", details["kind"]),
        ("parameters", json.dumps(details["params"])),
        ("documents", details["count"]),
        ("size on disk", human_bytes(details["size_bytes"])),
        ("built at", readable_time(details["built_at"])),
        ("build time", f"{details['build_seconds']:.1f} s (encoding and indexing; model load not counted)"),
        ("updated at", readable_time(details["updated_at"])),
        (
            "segments",
            f"base {details['base_vectors']:,} vectors, delta {details['delta_vectors']:,} rows, "
            f"dead {details['dead_vectors']:,}",
        ),
        ("compacted at", readable_time(details["compacted_at"]) if details["compacted_at"] else "never"),
        ("path", details["path"]),
    ]
    for label, value in rows:
        typer.echo(f"{label:>13}  {value}")


@app.command()
def drop(
    name: str, yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False, index_dir: IndexDir = None
) -> None:
    """Delete index NAME from disk (asks first on a terminal; elsewhere needs --yes)."""
    from simsearch import drop_index

    if not yes:
        if not sys.stdin.isatty():  # a script or a pipe cannot answer; deleting unasked is too easy a mistake
            raise InvalidArgumentError(
                f"drop deletes {name!r} for good and cannot ask here (input is not a terminal); pass --yes to drop it."
            )
        if not typer.confirm(f"Delete index {name!r}?"):
            typer.echo("not dropped", err=True)
            raise typer.Exit(1)
    drop_index(name, index_dir)
    typer.echo(f"dropped {name!r}")


@app.command()
def check(name: str, as_json: AsJson = False, index_dir: IndexDir = None, backend: Backend = None) -> None:
    """Check that NAME's texts and vectors agree (counts, ids, a re-encoded sample); exit 1 when they do not."""
    from simsearch import Index

    report = Index.open(name, index_dir=index_dir, backend=backend).check()
    if as_json:
        typer.echo(json.dumps(report))
    else:
        typer.echo(
            f"{name}: {'ok' if report['ok'] else 'NOT ok'} ({count(report['texts'], 'text')}, "
            f"{count(report['vectors'], 'vector')}, sample min cosine {report['sample_min_cosine']})"
        )
        for problem in report["problems"]:
            typer.echo(f"  problem: {problem}")
    if report["ok"]:
        return
    if report["problems"] == report["problems"][:1] and report["bad_metadata"]:  # a few rows, not the index
        ids = " ".join(report["bad_metadata_ids"])
        typer.echo(
            f"error: index {name!r} has documents whose metadata cannot be read; delete them with "
            f"`simsearch delete {name} {ids}`, or re-add them with `simsearch add {name} --input FILE "
            "--upsert`.",
            err=True,
        )
    else:
        typer.echo(f"error: index {name!r} is inconsistent; rebuild it with `simsearch rebuild {name}`.", err=True)
    raise typer.Exit(1)


def _summary(name: str, index_dir: Path | None) -> dict[str, Any]:
    """One row of `list --long`, read from the manifest and the store's count, without vectors or the model."""
    from simsearch.index.generations import document_count
    from simsearch.index.layout import current_folder, describe_index, folder_size, index_home

    try:
        manifest = describe_index(name, index_dir)
        folder = current_folder(index_home(index_dir), name)
        size, documents = folder_size(folder), document_count(folder)
    except SimsearchError as error:
        return {"name": name, "problem": error.message_for("cli")}
    return {
        "name": name,
        "count": documents,
        "kind": manifest.kind,
        "model": manifest.model["name"],
        "size_bytes": size,
    }
