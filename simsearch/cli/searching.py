"""`simsearch search`: one query or a file of them, printed as text or JSON lines."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from simsearch.cli.common import AsJson, Backend, IndexDir, Mode, Rerank, RerankDepth, app, loading_model, rerank_choice
from simsearch.errors import InputError


@app.command()
def search(
    name: str,
    query: Annotated[str | None, typer.Argument(help="Text to search for.")] = None,
    k: Annotated[int, typer.Option("--top-k", "-k", help="Number of hits.")] = 10,
    queries: Annotated[
        Path | None,
        typer.Option(
            "--queries",
            help="UTF-8 text file, one query a line (a blank line gets an error in its place), or a .csv, "
            ".jsonl or .parquet file with a query or text column.",
        ),
    ] = None,
    as_json: AsJson = False,
    index_dir: IndexDir = None,
    backend: Backend = None,
    mode: Mode = "hybrid",
    filter_: Annotated[
        list[str] | None,
        typer.Option(
            "--filter",
            help="Keep hits whose metadata match COLUMN OP VALUE, OP one of = != > >= < <= "
            "(e.g. 'year>=2000'); repeat to combine.",
        ),
    ] = None,
    min_score: Annotated[
        float | None,
        typer.Option("--min-score", help="Drop hits scoring below this (in hybrid mode, the fused score)."),
    ] = None,
    rerank: Rerank = None,
    rerank_depth: RerankDepth = None,
) -> None:
    """Search NAME for the texts closest to QUERY (or each line of --queries), by meaning, words or both."""
    from simsearch import Index
    from simsearch.query import choose_reranker
    from simsearch.query.checks import check_mode, check_rerank_depth
    from simsearch.query.terms import lexical_terms
    from simsearch.store import filters_from_expressions

    source = _query_or_file(query, queries)
    mode = check_mode(mode)
    filters = filters_from_expressions(filter_ or [])
    lines = [source] if isinstance(source, str) else _query_lines(source)
    index = Index.open(name, index_dir=index_dir, backend=backend)
    reranker = choose_reranker(rerank_choice(rerank), index.manifest.reranker)  # a bad folder fails before any search
    if reranker is not None:
        check_rerank_depth(rerank_depth, k)
    elif rerank_depth is not None:
        raise InputError("--rerank-depth needs a re-ranker; pass --rerank with a cross-encoder folder.")
    if mode != "lexical":
        with loading_model(index.manifest.model["name"], quiet=False):
            index.encoder  # noqa: B018 - loaded here, under the "loading model" line

    def unanswerable(text: str) -> str | None:
        """Why a line of --queries gets an error in its place (a QUERY argument is refused by the search)."""
        if not text.strip():
            return "is blank: nothing to search for"
        return "has no words to match lexically" if mode == "lexical" and not lexical_terms(text) else None

    texts = [text for text in lines if queries is None or unanswerable(text) is None]
    found = iter(
        index.search_batch(texts, k, filters, mode, min_score, rerank=reranker or False, rerank_depth=rerank_depth)
        if texts
        else []
    )
    for number, text in enumerate(lines, start=1):
        if queries is not None and unanswerable(text):  # kept in place: output line N answers input line N
            problem = f"line {number} {unanswerable(text)}"
            if as_json:
                typer.echo(json.dumps({"query": "", "hits": [], "error": problem}))
            else:
                typer.echo(f"\n({problem})")
            continue
        hits = next(found)
        if as_json:
            typer.echo(json.dumps({"query": text, "hits": [hit.to_dict() for hit in hits]}, ensure_ascii=False))
        else:
            _print_hits(text, hits, show_query=queries is not None)


@app.command()
def reranker(
    name: str,
    folder: Annotated[str | None, typer.Argument(help="Cross-encoder folder (`train --cross-encoder`).")] = None,
    clear: Annotated[bool, typer.Option("--clear", help="Stop re-ranking by default.")] = False,
    index_dir: IndexDir = None,
) -> None:
    """Show, set or clear NAME's default re-ranker: searches re-rank with it unless given `--rerank none`."""
    from simsearch import Index

    if folder is not None and clear:
        raise InputError("give a FOLDER or --clear, not both.")
    index = Index.open(name, index_dir=index_dir)
    if folder is None and not clear:
        typer.echo(index.manifest.reranker or f"index {name!r} has no default re-ranker")
        return
    recorded = index.set_reranker(folder)
    typer.echo(
        f"index {name!r} now re-ranks with {recorded}" if recorded else f"index {name!r} no longer re-ranks by default"
    )


def _query_or_file(query: str | None, queries: Path | None) -> str | Path:
    """The QUERY text or the --queries file, whichever of the two was given; refused when both or neither."""
    if query is not None and queries is None:
        return query
    if queries is not None and query is None:
        return queries
    raise InputError("give either a QUERY or --queries FILE (one query a line), not both or neither.")


def _query_lines(path: Path) -> list[str]:
    """The queries of a --queries file: a table's query (else text) column, or a text file's lines."""
    if path.suffix.lower() in (".csv", ".jsonl", ".parquet") and path.is_file():
        return _query_column(path)
    return _text_lines(path)


def _query_column(path: Path) -> list[str]:
    """The query (else text) column of a table, one query a row; a table without either is refused."""
    from simsearch.ingest.readers import read_rows

    rows = read_rows(path)
    columns = list(dict.fromkeys(column for row in rows for column in row))
    column = next((name for name in ("query", "text") if name in columns), None)
    if column is None:
        raise InputError(
            f"--queries file {path.name} has no query or text column (columns: {', '.join(columns)}); "
            "name the column of queries query or text, or give a .txt file, one query a line."
        )
    return ["" if row.get(column) is None else str(row[column]) for row in rows]


def _text_lines(path: Path) -> list[str]:
    """The lines of a --queries file, blank ones kept in place; the final newline ends a line, not a query."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"--queries file {str(path)!r} does not exist.") from None
    except IsADirectoryError:
        raise InputError(f"--queries {str(path)!r} is a folder; give a text file, one query a line.") from None
    except OSError as error:
        raise InputError(f"cannot read --queries file {str(path)!r}: {error.strerror}.") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise InputError(f"--queries file {path.name} line {line} is not UTF-8 text; save it as UTF-8.") from None
    lines = [line.removesuffix("\r") for line in text.split("\n")]
    if lines and lines[-1] == "":
        lines.pop()
    if not lines:
        raise InputError(f"--queries file {path.name} is empty; write one query a line.")
    return lines


def _print_hits(query: str, hits, show_query: bool) -> None:
    if show_query:
        typer.echo(f"\n{query}")
    if not hits:
        typer.echo("  (no hits)")
    for rank, hit in enumerate(hits, start=1):
        meta = f"  {json.dumps(hit.metadata, ensure_ascii=False)}" if hit.metadata else ""
        first = f" (first stage {hit.first_score:.3f})" if hit.first_score is not None else ""
        typer.echo(f"{rank:>3}. {hit.score:.3f}{first}  [{hit.id}] {hit.text}{meta}")
