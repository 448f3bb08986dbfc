"""The optional stacks and the one line that asks for a missing one.

``pip install simsearch`` brings the core (encoders, indexes, the CLI, the Python API and
the HTTP client); the web UI, the HTTP server, fine-tuning and Ray come as extras, as
sentence-transformers and txtai split theirs. A feature whose stack is absent stops with
one ``MissingDependencyError`` line naming the extra that brings it. The check looks the
modules up without importing them, so it costs nothing on the CLI's cold start.
"""

from __future__ import annotations

from importlib.util import find_spec
from typing import Literal

from simsearch.errors import MissingDependencyError

Extra = Literal["ui", "serve", "train", "ray"]

# The modules each feature imports, as pyproject.toml's extras of the same names install them.
EXTRA_MODULES: dict[Extra, tuple[str, ...]] = {
    "ui": ("streamlit",),
    "serve": ("fastapi", "uvicorn"),
    "train": ("datasets", "accelerate", "matplotlib"),
    "ray": ("ray",),
}


def missing_modules(extra: Extra) -> list[str]:
    """The modules of ``extra`` that this environment cannot import."""
    return [module for module in EXTRA_MODULES[extra] if find_spec(module) is None]


def missing_extra_error(extra: Extra, feature: str, missing: list[str] | None = None) -> MissingDependencyError:
    """The one line for ``feature`` (e.g. "the HTTP server") when ``extra`` is not installed."""
    absent = missing if missing is not None else list(EXTRA_MODULES[extra])
    return MissingDependencyError(
        f"{feature} needs {', '.join(absent)}, which this install lacks; "
        f"install it with pip install 'simsearch[{extra}]'."
    )


def require_extra(extra: Extra, feature: str) -> None:
    """Raise ``missing_extra_error`` unless every module of ``extra`` can be imported."""
    if missing := missing_modules(extra):
        raise missing_extra_error(extra, feature, missing)
