"""One exception family, so the CLI and UI can turn any expected failure into one clear line.

Every message names what is wrong and how to fix it; anything that is not a
``SimsearchError`` is a bug and is allowed to surface with its traceback.
"""

from __future__ import annotations

import re
from typing import Literal

Surface = Literal["python", "cli", "ui", "http"]

# A fix that names a control is spelled the way the surface showing it names that control:
# an argument in Python, a flag or command in the CLI, a widget in the web UI. The package
# raises with a marker from ``fix(key)``; ``message_for(surface)`` fills the marker in.
# The HTTP API takes Python's spelling (its JSON fields are the arguments' names) unless a fix gives its own.
# ``{arg}`` takes the marker's one optional value (an index name, a folder).
FIXES: dict[str, dict[Surface, str]] = {
    "overwrite": {"python": "pass overwrite=True", "cli": "pass --overwrite", "ui": "tick Replace"},
    "rebuild": {
        "python": "rebuild it with Index.open({arg!r}).rebuild()",
        "cli": "rebuild it with `simsearch rebuild {arg}`",
        "ui": "rebuild it on the Build page",
        "http": "rebuild it on the server with `simsearch rebuild {arg}`",
    },
    "build": {
        "python": "build it with Index.build({arg!r}, texts)",
        "cli": "build it with `simsearch build {arg} --input FILE`",
        "ui": "build it on the Build page",
        "http": "GET /indexes lists the names this server has; build a new index on the server with "
        "`simsearch build {arg} --input FILE`",
    },
    "model": {
        "python": "give a local model folder as the model",
        "cli": "pass --model with a local model folder",
        "ui": "choose or type a local model folder in Model",
    },
    "backend_torch": {"python": 'use backend="torch"', "cli": "use --backend torch", "ui": "choose the torch backend"},
    "kind_flat": {"python": 'use kind="flat"', "cli": "use --kind flat", "ui": "choose the kind flat"},
    "text_column": {
        "python": "name one of them as the text column",
        "cli": "pass --text-column with one of them",
        "ui": "pick one of them under Text column",
    },
    "id_column": {
        "python": "name one of them as the id column",
        "cli": "pass --id-column with one of them",
        "ui": "pick one of them under Id column",
    },
    "loss": {"python": "choose it with loss={arg!r}", "cli": "use --loss {arg}", "ui": "choose the loss {arg}"},
    "id_column_named": {"python": "id_column={arg!r}", "cli": "--id-column {arg}", "ui": "{arg} as the Id column"},
    "augment": {
        "python": 'pass augment="none", "auto" or a cross-encoder folder',
        "cli": "use --augment none, auto or a cross-encoder folder",
        "ui": "choose none, auto or a cross-encoder folder under Augment",
    },
    "mode": {
        "python": 'search with mode="{arg}"',
        "cli": "use --mode {arg}",
        "ui": "choose the mode {arg}",
        "http": 'send "mode": "{arg}"',
    },
    "upsert": {
        "python": "pass upsert=True",
        "cli": "pass --upsert",
        "ui": "tick Replace existing ids",
        "http": 'send "upsert": true',
    },
    "chunk_tokens": {"python": "chunking.tokens", "cli": "--chunk-tokens", "ui": "Chunk tokens"},
    "chunk_overlap": {"python": "chunking.overlap", "cli": "--chunk-overlap", "ui": "Chunk overlap"},
    "engine_ray": {
        "python": 'pass engine="ray" to build_engine',
        "cli": "use --engine ray",
        "ui": "choose the ray engine",
    },
    "rerank": {
        "python": "pass rerank= the folder of a cross-encoder (simsearch.training.cross_encoder.train_cross_encoder)",
        "cli": "pass --rerank the folder of a cross-encoder made by `simsearch train --cross-encoder`",
        "ui": "choose the folder of a cross-encoder made by `simsearch train --cross-encoder`",
        "http": "give the folder of a cross-encoder made by `simsearch train --cross-encoder`",
    },
    "rerank_depth": {
        "python": "pass a rerank_depth of at least k",
        "cli": "pass a --rerank-depth of at least --top-k",
        "ui": "raise the re-rank depth to at least the number of hits",
    },
    "index_dir": {
        "python": "pass a folder as index_dir",
        "cli": "pass a folder with --index-dir",
        "ui": "point SIMSEARCH_HOME at a folder",
    },
}
_MARKER = re.compile(r"\[\[(\w+)(?::([^\]]*))?\]\]")


def fix(key: str, arg: str = "") -> str:
    """A marker for the fix ``key`` (see FIXES), filled in by the surface that shows the message."""
    if key not in FIXES:
        raise KeyError(f"no fix named {key!r}")
    if "]" in arg:
        raise ValueError("a fix's value cannot contain ']'")
    return f"[[{key}:{arg}]]" if arg else f"[[{key}]]"


def _spelling(spellings: dict[Surface, str], surface: Surface) -> str:
    return spellings.get(surface) or spellings["python"]


class SimsearchError(Exception):
    """Base class for every error a user can cause and fix.

    ``str(error)`` reads in Python's terms (argument names); the CLI and the UI show
    ``error.message_for("cli")`` / ``("ui")`` so a fix names their own flags and controls.
    """

    def message_for(self, surface: Surface) -> str:
        template = super().__str__()
        return _MARKER.sub(lambda m: _spelling(FIXES[m.group(1)], surface).format(arg=m.group(2) or ""), template)

    def __str__(self) -> str:
        return self.message_for("python")


class InputError(SimsearchError):
    """The input file, its columns or its texts cannot be used."""


class IdConflictError(InputError):
    """Documents sent with ids the index holds (without upsert), or one id twice in one request (HTTP 409)."""


class InvalidArgumentError(SimsearchError):
    """An argument is out of range or malformed (an empty query, k < 1, an unsafe name)."""


class IndexNotFoundError(SimsearchError):
    """No index of that name exists in the index directory."""


class IndexExistsError(SimsearchError):
    """An index of that name exists already and the caller did not ask to replace it."""


class CorruptIndexError(SimsearchError):
    """A file of the index is missing, truncated or unreadable."""


class FormatVersionError(SimsearchError):
    """The index was written by a newer simsearch than this one."""


class ModelMismatchError(SimsearchError):
    """The model offered for an index is not the one its vectors were made with."""


class ModelNotFoundError(SimsearchError):
    """The model could not be found locally and could not be fetched."""


class MissingDependencyError(SimsearchError):
    """An optional package is needed for this feature and is not installed."""


class IndexBusyError(SimsearchError):
    """Another process kept the index's writer lock past ``$SIMSEARCH_LOCK_TIMEOUT`` seconds (default 5)."""


class StaleWriterError(SimsearchError):
    """The index was rebuilt after this object opened it, so its writes would go to a retired build."""


class IndexFolderError(SimsearchError):
    """The index folder cannot be written, or holds something simsearch will not touch (a link leading out)."""
