"""Commands that start a server: the Streamlit web UI and the HTTP API."""

from __future__ import annotations

import ipaddress
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from simsearch.cli.common import Backend, IndexDir, app
from simsearch.errors import SimsearchError
from simsearch.extras import require_extra


@app.command()
def ui(
    port: Annotated[int, typer.Option(help="Port to serve on.")] = 8501,
    host: Annotated[
        str, typer.Option(help="Address to listen on; 0.0.0.0 serves every network interface.")
    ] = "127.0.0.1",
    index_dir: IndexDir = None,
) -> None:
    """Serve the web UI (Streamlit) on http://localhost:PORT, to this machine only unless --host widens it."""
    require_extra("ui", "simsearch ui")
    app_file = _ui_app_file()
    from simsearch_ui.limits import server_max_upload_mb  # after the check that the UI is installed

    env = dict(os.environ)
    if index_dir is not None:
        env["SIMSEARCH_HOME"] = str(index_dir.resolve())
    if not is_loopback(host):
        typer.echo(
            f"warning: serving on {host}: anyone who can reach it can search, upload, rebuild and drop "
            "indexes here (the UI has no login).",
            err=True,
        )
    # Streamlit itself refuses a bigger request body before reading it; the Build page's own cap is the same.
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(app_file),
        "--server.port",
        str(port),
        "--server.address",
        host,
        "--server.maxUploadSize",
        str(server_max_upload_mb()),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--client.toolbarMode",
        "viewer",
    ]
    sys.stdout.flush()
    sys.stderr.flush()
    # Become Streamlit rather than wait for it as a child: a SIGTERM or Ctrl-C sent to
    # `simsearch ui` then reaches the server itself, and no orphaned server outlives it.
    os.execve(sys.executable, command, env)


@app.command()
def serve(
    port: Annotated[int, typer.Option(help="Port to serve on.")] = 8000,
    host: Annotated[
        str, typer.Option(help="Address to listen on; 0.0.0.0 serves every network interface.")
    ] = "127.0.0.1",
    index_dir: IndexDir = None,
    model: Annotated[
        str | None,
        typer.Option("--model", help="Model for /v1/embeddings and /similarity.  [default: all-MiniLM-L6-v2]"),
    ] = None,
    api_key_file: Annotated[
        Path | None,
        typer.Option("--api-key-file", help="File holding the API key.  [default: $SIMSEARCH_API_KEY, else no key]"),
    ] = None,
    workers: Annotated[
        int, typer.Option("--workers", min=1, help="Server processes sharing the port; each loads the models once.")
    ] = 1,
    backend: Backend = None,
    rerank: Annotated[
        str | None,
        typer.Option("--rerank", help='Cross-encoder folder for /rerank and searches sent with "rerank": true.'),
    ] = None,
) -> None:
    """Serve the indexes over HTTP (JSON; docs at http://HOST:PORT/docs)."""
    require_extra("serve", "simsearch serve")
    from simsearch.serving.server import run_server
    from simsearch.serving.state import ServerSettings, read_api_key

    key = read_api_key(api_key_file)
    if not is_loopback(host):
        who = "anyone who can reach it and has the API key" if key else "anyone who can reach it (no API key is set)"
        typer.echo(f"warning: serving on {host}: {who} can search, add and delete documents.", err=True)
    home = str(index_dir.resolve()) if index_dir is not None else None
    reranker = str(Path(rerank).expanduser().resolve()) if rerank is not None else None  # same folder in every worker
    run_server(host, port, ServerSettings(home, key, model, backend, reranker), workers)


def is_loopback(host: str) -> bool:
    """Whether ``host`` only this machine reaches (localhost, 127.0.0.0/8, ::1): anything else gets the warning."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it may resolve to any interface
        return False


def _ui_app_file() -> Path:
    """app.py of the installed `simsearch_ui` package (the repository's ui/ folder, installed under that name)."""
    from importlib.resources import files

    try:
        app_file = files("simsearch_ui").joinpath("app.py")
    except ModuleNotFoundError:
        raise SimsearchError(
            "the web UI package simsearch_ui is not installed; reinstall simsearch "
            "(pip install . in its source folder)."
        ) from None
    if not app_file.is_file():
        raise SimsearchError(f"the web UI is missing from this install ({app_file}); reinstall simsearch.")
    return Path(str(app_file))
