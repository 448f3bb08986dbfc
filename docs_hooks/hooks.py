"""mkdocs hooks (mkdocs.yml ``hooks:``): folder sections in the nav, generated reference pages, results tables.

The reference pages are built from the code each time the site is: the CLI from the Typer
app, the HTTP API from the server's OpenAPI schema. Benchmark pages take their tables from
benchmarks/results/ (results_tables.py; the writes runs through writes_page.py), and the plots
there are published beside them.
"""

from __future__ import annotations

import sys
from pathlib import Path

from mkdocs.structure.files import File, Files

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # mkdocs loads this file by path; the package and its siblings import from the root

from docs_hooks.cli_reference import cli_reference_markdown  # noqa: E402
from docs_hooks.http_reference import http_reference_markdown  # noqa: E402
from docs_hooks.nav import expand_folders  # noqa: E402
from docs_hooks.results_tables import fill_results  # noqa: E402
from docs_hooks.writes_page import fill_writes_runs  # noqa: E402

RESULTS = REPO / "benchmarks" / "results"
GENERATED = {"reference/cli.md": cli_reference_markdown, "reference/http.md": http_reference_markdown}


def on_config(config):
    config["nav"] = expand_folders(config["nav"], Path(config["docs_dir"]))
    return config


def on_files(files: Files, config) -> Files:
    for path, render in GENERATED.items():
        files.append(File.generated(config, path, content=render()))
    for plot in sorted(RESULTS.glob("*.png")):
        files.append(File.generated(config, f"benchmarks/results/{plot.name}", abs_src_path=str(plot)))
    return files


def on_page_markdown(markdown: str, page, config, files) -> str:
    return fill_results(fill_writes_runs(markdown, RESULTS), RESULTS)
