"""What every `simsearch` command shares: the command group, its option types and the printing helpers.

Every SimsearchError becomes one line on stderr and exit status 1, inside the command group
itself, so in-process callers (Typer's CliRunner in the tests) see what the console script prints.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from typer import _click  # Typer vendors Click; its contexts are of this copy's class, exported under no public name
from typer.core import TyperArgument, TyperCommand, TyperGroup

from simsearch.encoders import Backend as EncoderBackend
from simsearch.encoders import PoolingMode, check_backend, check_pooling
from simsearch.errors import SimsearchError


class _OneLineErrors(TyperGroup):
    """The root command group: a SimsearchError from any command becomes one line and exit status 1."""

    def invoke(self, ctx: _click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SimsearchError as error:
            typer.echo(f"error: {error.message_for('cli')}", err=True)
            raise typer.Exit(1) from None
        except KeyboardInterrupt:  # before Click turns it into a bare "Aborted!"
            typer.echo("interrupted; the index is unchanged.", err=True)
            raise typer.Exit(130) from None


class _PlainUsage(TyperCommand):
    """A command whose usage line names its arguments as users type them: ``simsearch get NAME ID``
    (Typer writes required ones as ``{name} {id}``, which reads like a template to fill in)."""

    def collect_usage_pieces(self, ctx: _click.Context) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if not isinstance(param, TyperArgument):
                pieces.extend(param.get_usage_pieces(ctx))
                continue
            name = (param.metavar or param.name or "").upper()
            pieces.append((name if param.required else f"[{name}]") + ("..." if param.nargs != 1 else ""))
        return pieces


class _Commands(typer.Typer):
    """The command group: every command gets the plain usage line unless it names its own class."""

    def command(self, *args: Any, cls: type[TyperCommand] | None = None, **kwargs: Any) -> Any:
        return super().command(*args, cls=cls or _PlainUsage, **kwargs)


def _print_version(wanted: bool) -> None:
    if wanted:
        from simsearch.version import __version__

        typer.echo(f"simsearch {__version__}")
        raise typer.Exit()


# Plain Click help, not Rich panels: Rich reads "[default: …]" in a help string as a markup tag
# and deletes it (leaving "hub id ."), and its panel prints a type such as <bool> even for flags.
app = _Commands(
    cls=_OneLineErrors,
    help="Semantic sentence search: build FAISS indexes of your texts and query them by meaning.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
)


@app.callback()
def _options(
    version: Annotated[
        bool, typer.Option("--version", is_eager=True, callback=_print_version, help="Print the version and exit.")
    ] = False,
) -> None:
    """Semantic sentence search: build FAISS indexes of your texts and query them by meaning."""


IndexDir = Annotated[
    Path | None, typer.Option("--index-dir", help="Folder of indexes.  [default: $SIMSEARCH_HOME or ./indexes]")
]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars or warnings.")]
Model = Annotated[str | None, typer.Option("--model", help="Model folder or hub id.  [default: all-MiniLM-L6-v2]")]

# --pooling and --backend are typed as the Literals the callbacks below return (Typer evaluates these
# annotations, so the names are imported, not only for type checking). ``parser=str`` keeps Typer from
# checking the choices itself (its message is a box, exit status 2): the package's one-line error says it.


def _known_pooling(pooling: str | None) -> PoolingMode | None:
    """Refuse an unknown --pooling while parsing, before a command reads files or loads anything."""
    return check_pooling(pooling)


Pooling = Annotated[
    PoolingMode | None,
    typer.Option(
        "--pooling", parser=str, callback=_known_pooling, help="mean, cls or max; for plain BERT checkpoints."
    ),
]


def _known_backend(backend: str | None) -> EncoderBackend | None:
    """Refuse an unknown --backend while parsing, before a command reads files or loads anything."""
    return check_backend(backend) if backend is not None else None


Backend = Annotated[
    EncoderBackend | None,
    typer.Option(
        "--backend",
        parser=str,
        callback=_known_backend,
        help="Encoder runtime: torch, onnx (same vectors, faster) or onnx-int8 (fastest, approximate).  "
        "[default: build: torch; queries: onnx when the model exports, else torch]",
    ),
]
BatchSize = Annotated[int, typer.Option("--batch-size", min=1, help="Texts per encoder batch.")]
InputFile = Annotated[Path, typer.Option("--input", "-i", help=".txt, .csv, .jsonl or .parquet file.")]
TextColumn = Annotated[str, typer.Option(help="Column holding the texts.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]
Mode = Annotated[
    str,
    typer.Option(
        "--mode", help="dense (meaning), lexical (BM25 words) or hybrid (both, scores fused).  [default: hybrid]"
    ),
]

Rerank = Annotated[
    str | None,
    typer.Option(
        "--rerank",
        help="Re-rank the first stage's hits with this cross-encoder folder (`train --cross-encoder`); "
        "'none' skips the index's default re-ranker.",
    ),
]
RerankDepth = Annotated[
    int | None,
    typer.Option(
        "--rerank-depth", help="First-stage hits re-ranked per query, at least --top-k.  [default: 50 or k if larger]"
    ),
]


def rerank_choice(rerank: str | None) -> str | bool | None:
    """--rerank as the API's ``rerank``: a folder, False for 'none', None (the index's default) when not given."""
    return False if rerank == "none" else rerank


eval_app = _Commands(
    help="Measure a model or an index: STS correlation and retrieval metrics.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(eval_app, name="eval")

ChunkTokens = Annotated[
    int | None,
    typer.Option(
        "--chunk-tokens",
        help="Split texts longer than the model reads into windows of this many word pieces; "
        "0: cut them at the limit.  [default: the model's limit less its special tokens; rebuild: the index's own]",
    ),
]
ChunkOverlap = Annotated[
    int | None,
    typer.Option(
        "--chunk-overlap", help="Word pieces shared by consecutive windows.  [default: an eighth of the window]"
    ),
]


def chunking_flags(tokens: int | None, overlap: int | None):
    """The --chunk-* flags as a Chunking; None when neither was given (the default, or the index's own)."""
    from simsearch.ingest.chunking import Chunking

    return None if tokens is None and overlap is None else Chunking(tokens, overlap)


def say(message: str, quiet: bool) -> None:
    if not quiet:
        typer.echo(message, err=True)


class Stopwatch:
    seconds = 0.0


@contextmanager
def loading_model(model: str | None, quiet: bool) -> Iterator[Stopwatch]:
    """Time the model load and, on a terminal, say it is happening: a cold load takes seconds with no output."""
    from simsearch.progress import progress_wanted, status_line

    watch, started = Stopwatch(), time.perf_counter()
    with status_line(f"loading model {model}" if model else "loading the default model", progress_wanted(quiet)):
        yield watch
    watch.seconds = time.perf_counter() - started


def timing(started: float, load: Stopwatch) -> str:
    """Wall time of the whole command with the model load shown apart (it is most of a small build)."""
    total = time.perf_counter() - started
    rest = total - load.seconds
    return f"{total:.1f} s (model load {load.seconds:.1f} s, reading, encoding and indexing {rest:.1f} s)"
