"""The `simsearch` command: parse arguments, call the Python API, print. No logic of its own.

Every SimsearchError becomes one line on stderr and exit status 1, inside the command group
itself, so in-process callers (Typer's CliRunner in the tests) see what the console script prints.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import click
import typer
from typer.core import TyperGroup

from simsearch.errors import InputError, InvalidArgumentError, SimsearchError
from simsearch.formatting import human_bytes, readable_time


class _OneLineErrors(TyperGroup):
    """The root command group: a SimsearchError from any command becomes one line and exit status 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SimsearchError as error:
            typer.echo(f"error: {error.message_for('cli')}", err=True)
            raise typer.Exit(1) from None
        except KeyboardInterrupt:  # before Click turns it into a bare "Aborted!"
            typer.echo("interrupted; the index is unchanged.", err=True)
            raise typer.Exit(130) from None


# Plain Click help, not Rich panels: Rich reads "[default: …]" in a help string as a markup tag
# and deletes it (leaving "hub id ."), and its panel prints a type such as <bool> even for flags.
app = typer.Typer(
    cls=_OneLineErrors,
    help="Semantic sentence search: build FAISS indexes of your texts and query them by meaning.",
    no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False, rich_markup_mode=None,
)

IndexDir = Annotated[
    Path | None, typer.Option("--index-dir", help="Folder of indexes.  [default: $SIMSEARCH_HOME or ./indexes]")
]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars or warnings.")]
Model = Annotated[str | None, typer.Option("--model", help="Model folder or hub id.  [default: all-MiniLM-L6-v2]")]
Pooling = Annotated[str | None, typer.Option("--pooling", help="mean, cls or max; for plain BERT checkpoints.")]
Backend = Annotated[str | None, typer.Option(
    "--backend", help="Encoder runtime: torch, onnx (same vectors, faster) or onnx-int8 (fastest, approximate).")]
BatchSize = Annotated[int, typer.Option("--batch-size", min=1, help="Texts per encoder batch.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]
Mode = Annotated[str, typer.Option(
    "--mode", help="dense (meaning), lexical (BM25 words) or hybrid (both, fused by rank).  [default: hybrid]")]


@app.command()
def build(
    name: str,
    input: Annotated[Path, typer.Option("--input", "-i", help=".txt, .csv, .jsonl or .parquet file.")],
    text_column: Annotated[str, typer.Option(help="Column holding the texts.")] = "text",
    id_column: Annotated[str, typer.Option(help="Column holding ids (optional; else numbered).")] = "id",
    model: Model = None, pooling: Pooling = None, backend: Backend = None,
    kind: Annotated[str, typer.Option(help="auto, flat, hnsw, ivf, ivfpq or ivfsq.")] = "auto",
    batch_size: BatchSize = 64,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing index of this name.")] = False,
    index_dir: IndexDir = None, quiet: Quiet = False,
) -> None:
    """Build a new index NAME from a file of texts."""
    from simsearch import Index, load_encoder, read_corpus
    from simsearch.progress import progress_wanted, terminal_progress

    started = time.perf_counter()
    corpus = read_corpus(input, text_column, id_column)
    with _loading_model(model, quiet) as load:
        encoder = load_encoder(model, pooling, backend or "torch")
    with terminal_progress("encoding", progress_wanted(quiet), unit="text") as on_progress:
        index = Index.build(name, corpus, encoder=encoder, kind=kind, batch_size=batch_size, index_dir=index_dir,
                            overwrite=overwrite, on_progress=on_progress)
    # blank texts skipped are reported by read_corpus's own warning line
    _say(f"built {name!r}: {_count(len(index), 'text')}, kind {index.manifest.kind}, {_timing(started, load)}", quiet)


@app.command()
def rebuild(
    name: str, model: Model = None, pooling: Pooling = None, backend: Backend = None,
    kind: Annotated[str | None, typer.Option(help="New index kind.  [default: keep the current one]")] = None,
    batch_size: BatchSize = 64, index_dir: IndexDir = None, quiet: Quiet = False,
) -> None:
    """Re-encode the stored texts of NAME (no source file needed) and swap the new index in."""
    from simsearch import Index, load_encoder
    from simsearch.progress import progress_wanted, terminal_progress

    started = time.perf_counter()
    index = Index.open(name, index_dir=index_dir, backend=backend)  # no --model: its own model, maybe new runtime
    with _loading_model(model or index.manifest.model["name"], quiet) as load:
        if model is not None:
            encoder = load_encoder(model, pooling, backend or index.manifest.encoder_backend)
        else:
            encoder = index.encoder
    with terminal_progress("encoding", progress_wanted(quiet), unit="text") as on_progress:
        new = index.rebuild(encoder=encoder, kind=kind, batch_size=batch_size, on_progress=on_progress)
    _say(f"rebuilt {name!r}: {_count(len(new), 'text')}, kind {new.manifest.kind}, {_timing(started, load)}", quiet)


@app.command()
def add(
    name: str,
    input: Annotated[Path, typer.Option("--input", "-i", help=".txt, .csv, .jsonl or .parquet file.")],
    text_column: Annotated[str, typer.Option(help="Column holding the texts.")] = "text",
    id_column: Annotated[str, typer.Option(help="Column holding ids (optional; else numbered).")] = "id",
    upsert: Annotated[bool, typer.Option("--upsert", help="Replace documents whose ids NAME holds already.")]
    = False,
    batch_size: BatchSize = 64, index_dir: IndexDir = None, quiet: Quiet = False,
) -> None:
    """Add the texts of a file to NAME in place; existing ids are refused, or replaced with --upsert."""
    from simsearch import Index, read_corpus
    from simsearch.progress import progress_wanted, terminal_progress

    corpus = read_corpus(input, text_column, id_column)
    index = Index.open(name, index_dir=index_dir)
    with _loading_model(index.manifest.model["name"], quiet):
        index.encoder  # noqa: B018 - loaded here, under the "loading model" line, rather than inside add
    with terminal_progress("encoding", progress_wanted(quiet), unit="text") as on_progress:
        ids = index.add(corpus, upsert=upsert, batch_size=batch_size, on_progress=on_progress)
    _say(f"added {_count(len(ids), 'text')} to {name!r} (now {len(index)})", quiet)


@app.command()
def delete(name: str, ids: list[str], index_dir: IndexDir = None, quiet: Quiet = False) -> None:
    """Delete documents by id from NAME in place."""
    from simsearch import Index

    index = Index.open(name, index_dir=index_dir)
    removed = index.delete(ids)
    _say(f"deleted {_count(removed, 'text')} from {name!r} (now {len(index)})", quiet)


@app.command()
def get(name: str, id: str, as_json: AsJson = False, index_dir: IndexDir = None) -> None:
    """Print the document with id ID in NAME: its text, then its metadata."""
    from simsearch import Index

    document = Index.open(name, index_dir=index_dir).get(id)
    if document is None:
        raise InputError(f"no document with id {id!r} in index {name!r}; `simsearch search {name} TEXT` "
                         "shows the ids it holds.")
    if as_json:
        typer.echo(json.dumps({"id": document.id, "text": document.text, "metadata": document.metadata},
                              ensure_ascii=False))
        return
    typer.echo(document.text)
    for key, value in document.metadata.items():
        typer.echo(f"  {key}: {value}")


@app.command()
def search(
    name: str,
    query: Annotated[str | None, typer.Argument(help="Text to search for.")] = None,
    k: Annotated[int, typer.Option("--top-k", "-k", help="Number of hits.")] = 10,
    queries: Annotated[Path | None, typer.Option(
        "--queries", help="UTF-8 text file, one query a line; a blank line gets an error in its place.")] = None,
    as_json: AsJson = False, index_dir: IndexDir = None, backend: Backend = None, mode: Mode = "hybrid",
    filter_: Annotated[list[str] | None, typer.Option(
        "--filter", help="Keep hits whose metadata match COLUMN OP VALUE, OP one of = != > >= < <= "
        "(e.g. 'year>=2000'); repeat to combine.")] = None,
    min_score: Annotated[float | None, typer.Option(
        "--min-score", help="Drop hits scoring below this (in hybrid mode, the fused score).")] = None,
) -> None:
    """Search NAME for the texts closest to QUERY (or each line of --queries), by meaning, words or both."""
    from simsearch import Index
    from simsearch.filters import filters_from_expressions
    from simsearch.search import check_mode, lexical_terms

    if (query is None) == (queries is None):
        raise InputError("give either a QUERY or --queries FILE (one query a line), not both or neither.")
    mode = check_mode(mode)
    filters = filters_from_expressions(filter_ or [])
    lines = [query] if queries is None else _query_lines(queries)
    index = Index.open(name, index_dir=index_dir, backend=backend)
    if mode != "lexical":
        with _loading_model(index.manifest.model["name"], quiet=False):
            index.encoder  # noqa: B018 - loaded here, under the "loading model" line

    def unanswerable(text: str) -> str | None:
        """Why a line of --queries gets an error in its place (a QUERY argument is refused by the search)."""
        if not text.strip():
            return "is blank: nothing to search for"
        return "has no words to match lexically" if mode == "lexical" and not lexical_terms(text) else None

    texts = [text for text in lines if queries is None or unanswerable(text) is None]
    found = iter(index.search_batch(texts, k, filters, mode, min_score) if texts else [])
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


@app.command("list")
def list_(
    long: Annotated[bool, typer.Option("--long", "-l", help="A table: name, documents, kind, model, size.")] = False,
    as_json: AsJson = False, index_dir: IndexDir = None,
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
        if "problem" not in row else (row["name"], "?", "?", "?", f"unreadable: {row['problem']}")
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
        ("name", details["name"]), ("model", model["name"]), ("fingerprint", model["fingerprint"]),
        ("dimension", model["dimension"]), ("pooling", model["pooling"]),
        ("max tokens", model["max_seq_length"]), ("encoder", details.get("encoder_backend", "torch")),
        ("kind", details["kind"]),
        ("parameters", json.dumps(details["params"])), ("documents", details["count"]),
        ("size on disk", human_bytes(details["size_bytes"])), ("built at", readable_time(details["built_at"])),
        ("build time", f"{details['build_seconds']:.1f} s (encoding and indexing; model load not counted)"),
        ("updated at", readable_time(details["updated_at"])),
        ("path", details["path"]),
    ]
    for label, value in rows:
        typer.echo(f"{label:>13}  {value}")


@app.command()
def drop(name: str, yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False,
         index_dir: IndexDir = None) -> None:
    """Delete index NAME from disk (asks first on a terminal; elsewhere needs --yes)."""
    from simsearch import drop_index
    from simsearch.errors import InvalidArgumentError

    if not yes:
        if not sys.stdin.isatty():  # a script or a pipe cannot answer; deleting unasked is too easy a mistake
            raise InvalidArgumentError(f"drop deletes {name!r} for good and cannot ask here (input is not a "
                                       f"terminal); pass --yes to drop it.")
        if not typer.confirm(f"Delete index {name!r}?"):
            typer.echo("not dropped", err=True)
            raise typer.Exit(1)
    drop_index(name, index_dir)
    typer.echo(f"dropped {name!r}")


@app.command()
def ui(port: Annotated[int, typer.Option(help="Port to serve on.")] = 8501,
       host: Annotated[str, typer.Option(help="Address to listen on; 0.0.0.0 serves every network interface.")]
       = "127.0.0.1",
       index_dir: IndexDir = None) -> None:
    """Serve the web UI (Streamlit) on http://localhost:PORT, to this machine only unless --host widens it."""
    app_file = _ui_app_file()
    from simsearch_ui.limits import server_max_upload_mb  # after the check that the UI is installed

    env = dict(os.environ)
    if index_dir is not None:
        env["SIMSEARCH_HOME"] = str(index_dir.resolve())
    if host not in ("127.0.0.1", "localhost", "::1"):
        typer.echo(f"warning: serving on {host}: anyone who can reach it can search, upload, rebuild and drop "
                   "indexes here (the UI has no login).", err=True)
    # Streamlit itself refuses a bigger request body before reading it; the Build page's own cap is the same.
    command = [sys.executable, "-m", "streamlit", "run", str(app_file), "--server.port", str(port),
               "--server.address", host, "--server.maxUploadSize", str(server_max_upload_mb()),
               "--server.headless", "true", "--browser.gatherUsageStats", "false", "--client.toolbarMode", "viewer"]
    sys.stdout.flush()
    sys.stderr.flush()
    # Become Streamlit rather than wait for it as a child: a SIGTERM or Ctrl-C sent to
    # `simsearch ui` then reaches the server itself, and no orphaned server outlives it.
    os.execve(sys.executable, command, env)


@app.command()
def serve(port: Annotated[int, typer.Option(help="Port to serve on.")] = 8000,
          host: Annotated[str, typer.Option(help="Address to listen on; 0.0.0.0 serves every network interface.")]
          = "127.0.0.1",
          index_dir: IndexDir = None, model: Annotated[str | None, typer.Option(
              "--model", help="Model for /v1/embeddings and /similarity.  [default: all-MiniLM-L6-v2]")] = None,
          api_key_file: Annotated[Path | None, typer.Option(
              "--api-key-file", help="File holding the API key.  [default: $SIMSEARCH_API_KEY, else no key]")]
          = None) -> None:
    """Serve the indexes over HTTP (JSON; docs at http://HOST:PORT/docs)."""
    from simsearch.server import read_api_key, run_server

    key = read_api_key(api_key_file)
    if host not in ("127.0.0.1", "localhost", "::1"):
        who = "anyone who can reach it and has the API key" if key else "anyone who can reach it (no API key is set)"
        typer.echo(f"warning: serving on {host}: {who} can search, add and delete documents.", err=True)
    run_server(host, port, index_dir, key, model)


def _ui_app_file() -> Path:
    """app.py of the installed `simsearch_ui` package (the repository's ui/ folder, installed under that name)."""
    from importlib.resources import files

    try:
        app_file = files("simsearch_ui").joinpath("app.py")
    except ModuleNotFoundError:
        raise SimsearchError("the web UI package simsearch_ui is not installed; reinstall simsearch "
                             "(pip install . in its source folder).") from None
    if not app_file.is_file():
        raise SimsearchError(f"the web UI is missing from this install ({app_file}); reinstall simsearch.")
    return Path(str(app_file))


@app.command()
def train(
    pairs: Annotated[Path, typer.Option("--pairs", help="Pairs: sentence1,sentence2,label|score or anchor,positive.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder for the trained model (must not exist).")],
    base: Annotated[str | None, typer.Option(help="Model to start from: default, a model folder or a BERT.")] = None,
    loss: Annotated[str | None, typer.Option(
        help="contrastive, online-contrastive, mnrl or cosent.  [default: chosen from the columns]")] = None,
    pooling: Pooling = None,
    epochs: Annotated[int | None, typer.Option(min=1, help="Passes over the pairs.  [default: per layout]")] = None,
    batch_size: Annotated[int | None, typer.Option("--batch-size", min=2, help="Pairs per step.")] = None,
    lr: Annotated[float | None, typer.Option("--lr", help="Peak learning rate.")] = None,
    eval: Annotated[Path | None, typer.Option("--eval", help="Pairs to evaluate on after each epoch; "
                                              "the best epoch is kept.")] = None,
    seed: Annotated[int, typer.Option(help="Random seed (shuffling, dropout).")] = 42,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing output folder.")] = False,
    quiet: Quiet = False,
) -> None:
    """Fine-tune the Siamese BERT on your pairs; use the result with `build/rebuild --model DIR`."""
    from simsearch.progress import progress_wanted
    from simsearch.train import train_model

    result = train_model(pairs, output, base=base, loss=loss, pooling=pooling, epochs=epochs, batch_size=batch_size,
                         learning_rate=lr, eval_pairs=eval, seed=seed, overwrite=overwrite,
                         progress=progress_wanted(quiet), say=lambda line: _say(line, quiet))
    kept = f"epoch {result.best_epoch}"
    if result.selection_metric:
        kept += f", {result.selection_metric} {result.best_metrics[result.selection_metric]:.2f}"
    _say(f"saved {result.output} ({kept}; {result.wall_seconds:.0f} s); report in training.json", quiet)


eval_app = typer.Typer(help="Measure a model or an index: STS correlation and retrieval metrics.",
                       no_args_is_help=True, rich_markup_mode=None)
app.add_typer(eval_app, name="eval")


@eval_app.command("sts")
def eval_sts(
    file: Annotated[Path, typer.Argument(help="sentence1,sentence2,score file (.csv, .jsonl, .parquet).")],
    model: Model = None, pooling: Pooling = None, as_json: AsJson = False, batch_size: BatchSize = 64,
) -> None:
    """Spearman and Pearson (x100) of cosine similarity against the gold scores."""
    from simsearch.encoders import load_encoder
    from simsearch.evaluate import sts_metrics
    from simsearch.pairs import read_pairs

    pairs = read_pairs(file)
    encoder = load_encoder(model, pooling)
    _print_metrics(encoder.name, len(pairs), sts_metrics(encoder, pairs, batch_size), as_json)


@eval_app.command("retrieval")
def eval_retrieval(
    corpus: Annotated[Path, typer.Option("--corpus", help="BEIR corpus.jsonl (_id, title, text).")],
    queries: Annotated[Path, typer.Option("--queries", help="BEIR queries.jsonl (_id, text).")],
    qrels: Annotated[Path, typer.Option("--qrels", help="BEIR qrels .tsv (query-id, corpus-id, score).")],
    model: Model = None, pooling: Pooling = None,
    index: Annotated[str | None, typer.Option("--index", help="Search this index instead of a model.")] = None,
    as_json: AsJson = False, batch_size: BatchSize = 64, index_dir: IndexDir = None, mode: Mode = "hybrid",
) -> None:
    """nDCG@10, MRR@10, Recall@1/10/100 and MAP@100 (x100): exact search with a model, or an index."""
    from simsearch.evaluate import index_retrieval_metrics, mode_retrieval_metrics, read_beir
    from simsearch.search import check_mode

    if index is not None and (model is not None or pooling is not None):
        raise InputError("give --model or --index, not both: an index searches with its own model.")
    mode = check_mode(mode)
    data = read_beir(corpus, queries, qrels)
    if index is not None:
        from simsearch import Index

        opened = Index.open(index, index_dir=index_dir)
        name, metrics = f"index {index}", index_retrieval_metrics(opened, data, batch_size, mode)
    else:
        from simsearch.encoders import load_encoder

        encoder = load_encoder(model, pooling)
        name, metrics = encoder.name, mode_retrieval_metrics(encoder, data, mode, batch_size)
    _print_metrics(name, len(data.qrels), metrics, as_json)


@eval_app.command("paraphrase")
def eval_paraphrase(
    files: Annotated[list[Path], typer.Argument(help="STS-style pair files; their sentences form the corpus.")],
    model: Model = None, pooling: Pooling = None, as_json: AsJson = False, batch_size: BatchSize = 64,
    mode: Mode = "hybrid",
) -> None:
    """Retrieval built from pairs: each sentence1 scored >= 4 must find its sentence2 among all sentences."""
    from simsearch.encoders import load_encoder
    from simsearch.evaluate import mode_retrieval_metrics, paraphrase_retrieval_set
    from simsearch.search import check_mode

    mode = check_mode(mode)
    data = paraphrase_retrieval_set(files)
    encoder = load_encoder(model, pooling)
    _print_metrics(encoder.name, len(data.qrels), mode_retrieval_metrics(encoder, data, mode, batch_size), as_json)



@app.command()
def embed(
    file: Annotated[Path, typer.Argument(help=".txt, .csv, .jsonl or .parquet file of texts.")],
    output: Annotated[Path, typer.Option("--output", "-o", help=".npy (vectors only) or .parquet (ids, metadata, "
                                         "vector); --tokens: .parquet.")],
    text_column: Annotated[str, typer.Option(help="Column holding the texts.")] = "text",
    id_column: Annotated[str, typer.Option(help="Column holding ids (optional; else row numbers).")] = "id",
    model: Model = None, pooling: Pooling = None, backend: Backend = None,
    tokens: Annotated[bool, typer.Option("--tokens", help="One row per word piece instead of one per text.")] = False,
    layers: Annotated[str, typer.Option(help="With --tokens: last, last4-sum, last4-concat or a layer number.")]
    = "last",
    batch_size: BatchSize = 64,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing output file.")] = False, quiet: Quiet = False,
) -> None:
    """Write the model's vectors for the texts of FILE: one unit vector per text, or one vector per word piece."""
    from simsearch import load_encoder, read_corpus
    from simsearch.atomic import check_output
    from simsearch.embedding import SENTENCE_SUFFIXES, embed_documents, embed_tokens

    check_output(output, overwrite, (".parquet",) if tokens else SENTENCE_SUFFIXES)  # before any slow work
    corpus = read_corpus(file, text_column, id_column)
    with _loading_model(model, quiet):
        encoder = load_encoder(model, pooling, backend or "torch")
    if tokens:
        done = embed_tokens([doc.text for doc in corpus.documents], output, encoder, layers=layers,
                            overwrite=overwrite)
        what = f"{_count(done.rows, 'word piece')} of {_count(len(corpus.documents), 'text')}"
    else:
        done = embed_documents(corpus.documents, output, encoder, overwrite=overwrite, batch_size=batch_size)
        what = _count(done.rows, "text")
    if done.truncated:
        _say(f"warning: {_count(done.truncated, 'text')} longer than the model's {done.max_tokens} tokens "
             "were cut at that limit", quiet)
    _say(f"wrote {what}, {done.dimension} dimensions, to {output}", quiet)


@app.command()
def dedup(
    name: str,
    threshold: Annotated[float | None, typer.Option(
        help="Lowest cosine for a pair to count as near-duplicates, in (0, 1].  [default: 0.83, calibrated]")]
    = None,
    as_json: Annotated[bool, typer.Option("--json", help='One JSON object a line per group: ids, texts, score.')]
    = False,
    remove: Annotated[bool, typer.Option("--remove", help="Write the corpus less the extra members of each group "
                                         "(the earliest added is kept) to --output.")] = False,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="With --remove: .csv, .jsonl or .parquet.")]
    = None,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing output file.")] = False,
    index_dir: IndexDir = None,
) -> None:
    """Groups of near-duplicate texts in NAME (exact duplicates always), largest groups first."""
    from simsearch import Index
    from simsearch.atomic import check_output
    from simsearch.dedup import CORPUS_SUFFIXES, check_threshold, write_without_duplicates

    if threshold is not None:
        check_threshold(threshold)  # before opening the index or loading anything
    if remove != (output is not None):
        raise InvalidArgumentError("--remove and --output go together: --remove --output FILE.csv|.jsonl|.parquet.")
    if output is not None:
        check_output(output, overwrite, CORPUS_SUFFIXES)
    index = Index.open(name, index_dir=index_dir)
    groups = index.duplicates(threshold)
    if output is not None:
        kept, removed = write_without_duplicates(groups, index.documents(), output, overwrite)
        typer.echo(f"wrote {_count(kept, 'text')} to {output}, {removed} near-duplicate(s) left out", err=True)
        return
    for number, group in enumerate(groups, start=1):
        if as_json:
            typer.echo(json.dumps(group.to_dict(), ensure_ascii=False))
            continue
        typer.echo(f"group {number}: {_count(len(group.ids), 'text')}, lowest similarity {group.score:.3f}")
        for id_, text in zip(group.ids, group.texts):
            typer.echo(f"  [{id_}] {text}")
    if not as_json:
        typer.echo(f"{_count(len(groups), 'group')} of near-duplicates in {name!r}", err=True)


@app.command()
def cluster(
    name: str,
    threshold: Annotated[float | None, typer.Option(
        help="Lowest cosine between neighbours of one cluster, in (0, 1].  [default: 0.4]")] = None,
    min_size: Annotated[int, typer.Option("--min-size", help="Smallest cluster kept (at least 2).")] = 3,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object a line per cluster.")] = False,
    save: Annotated[bool, typer.Option(help="Store each document's cluster as metadata column 'cluster'.")] = True,
    index_dir: IndexDir = None,
) -> None:
    """Clusters of texts about one thing in NAME, largest first: label words, most central text, members."""
    from simsearch import Index
    from simsearch.clustering import check_min_size
    from simsearch.dedup import check_threshold

    if threshold is not None:
        check_threshold(threshold)  # before opening the index or loading anything
    check_min_size(min_size)
    clusters = Index.open(name, index_dir=index_dir).clusters(threshold, min_size, save=save)
    for found in clusters:
        if as_json:
            typer.echo(json.dumps(found.to_dict(), ensure_ascii=False))
            continue
        typer.echo(f"cluster {found.number}: {_count(found.size, 'text')}; {', '.join(found.words)}")
        typer.echo(f"  central: [{found.central_id}] {found.central_text}")
        typer.echo(f"  members: {' '.join(found.ids[:20])}{' ...' if found.size > 20 else ''}")
    clustered = sum(found.size for found in clusters)
    stored = "; stored as metadata column 'cluster'" if save else ""
    typer.echo(f"{_count(len(clusters), 'cluster')} covering {_count(clustered, 'text')} in {name!r}{stored}",
               err=True)


@app.command()
def check(name: str, as_json: AsJson = False, index_dir: IndexDir = None) -> None:
    """Check that NAME's texts and vectors agree (counts, ids, a re-encoded sample); exit 1 when they do not."""
    from simsearch import Index

    report = Index.open(name, index_dir=index_dir).check()
    if as_json:
        typer.echo(json.dumps(report))
    else:
        typer.echo(f"{name}: {'ok' if report['ok'] else 'NOT ok'} ({report['texts']} texts, "
                   f"{report['vectors']} vectors, sample min cosine {report['sample_min_cosine']})")
        for problem in report["problems"]:
            typer.echo(f"  problem: {problem}")
    if not report["ok"]:
        typer.echo(f"error: index {name!r} is inconsistent; rebuild it with `simsearch rebuild {name}`.", err=True)
        raise typer.Exit(1)


def _print_metrics(name: str, count: int, metrics: dict[str, float], as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps({"model": name, "count": count, **metrics}))
        return
    typer.echo(f"{name} ({count} evaluated)")
    for metric, value in metrics.items():
        typer.echo(f"{metric:>12}  {value:.2f}")


def _query_lines(path: Path) -> list[str]:
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
        line = data[:error.start].count(b"\n") + 1
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
        typer.echo(f"{rank:>3}. {hit.score:.3f}  [{hit.id}] {hit.text}{meta}")


def _say(message: str, quiet: bool) -> None:
    if not quiet:
        typer.echo(message, err=True)


def _count(number: int, noun: str) -> str:
    """``1 text``, ``2 texts``: the figures the commands print, in plain English."""
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


class _Stopwatch:
    seconds = 0.0


@contextmanager
def _loading_model(model: str | None, quiet: bool) -> Iterator[_Stopwatch]:
    """Time the model load and, on a terminal, say it is happening: a cold load takes seconds with no output."""
    from simsearch.progress import progress_wanted, status_line

    watch, started = _Stopwatch(), time.perf_counter()
    with status_line(f"loading model {model}" if model else "loading the default model", progress_wanted(quiet)):
        yield watch
    watch.seconds = time.perf_counter() - started


def _timing(started: float, load: _Stopwatch) -> str:
    """Wall time of the whole command with the model load shown apart (it is most of a small build)."""
    total = time.perf_counter() - started
    rest = total - load.seconds
    return f"{total:.1f} s (model load {load.seconds:.1f} s, reading, encoding and indexing {rest:.1f} s)"


def _summary(name: str, index_dir: Path | None) -> dict[str, Any]:
    """One row of `list --long`, read from the manifest without loading vectors or the model."""
    from simsearch.layout import current_folder, describe_index, folder_size, index_home

    try:
        manifest = describe_index(name, index_dir)
        size = folder_size(current_folder(index_home(index_dir), name))
    except SimsearchError as error:
        return {"name": name, "problem": error.message_for("cli")}
    return {"name": name, "count": manifest.count, "kind": manifest.kind, "model": manifest.model["name"],
            "size_bytes": size}


def main() -> None:
    """Console-script entry point: warnings as one line each, then the command (errors are handled by the group)."""
    quiet = "--quiet" in sys.argv or "-q" in sys.argv
    logging.basicConfig(level=logging.ERROR if quiet else logging.WARNING, format="warning: %(message)s")
    app(prog_name="simsearch")
