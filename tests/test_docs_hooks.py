"""The docs site's build-time pages: results tables from JSON, folder sections in the nav, the references.

`make docs` builds the whole site strictly; these check the generators on their own, with
real result files and the real CLI app and server schema.
"""

from __future__ import annotations

import json

import pytest

from docs_hooks.cli_reference import cli_reference_markdown
from docs_hooks.http_reference import http_reference_markdown
from docs_hooks.nav import expand_folders
from docs_hooks.results_tables import fill_results
from docs_hooks.writes_page import fill_writes_runs
from tests.conftest import REPO

RESULTS = REPO / "benchmarks" / "results"


def test_a_results_marker_becomes_a_table_of_the_file_rows(tmp_path):
    (tmp_path / "bench.json").write_text(
        json.dumps(
            {
                "date": "2026-12-06",
                "rows": [
                    {"system": "flat", "p50_ms": 5.724, "documents": 10000, "params": {}},
                    {"system": "hnsw", "p50_ms": 3.98, "documents": 10000, "params": {"m": 32}, "recall": 0.9891},
                ],
            }
        )
    )
    page = "Run on <!-- results: bench.json date -->.\n\n<!-- results: bench.json rows -->\n"
    assert fill_results(page, tmp_path) == (
        "Run on 2026-12-06.\n\n"
        "| system | p50_ms | documents | params | recall |\n|---|---|---|---|---|\n"
        "| flat | 5.72 | 10,000 |  |  |\n"
        "| hnsw | 3.98 | 10,000 | m=32 | 0.989 |\n"
    )


@pytest.mark.parametrize(
    ("marker", "problem"),
    [("<!-- results: missing.json -->", "does not hold"), ("<!-- results: bench.json rows.7 -->", "has no 'rows.7'")],
)
def test_a_marker_naming_nothing_stops_the_build(tmp_path, marker, problem):
    (tmp_path / "bench.json").write_text(json.dumps({"rows": [{"a": 1}]}))
    with pytest.raises(ValueError, match=problem):
        fill_results(marker, tmp_path)


def test_every_benchmark_page_finds_its_results():
    for page in sorted((REPO / "docs" / "benchmarks").glob("*.md")):
        filled = fill_results(page.read_text(encoding="utf-8"), RESULTS)
        assert "<!-- results:" not in filled, page.name


def test_a_folder_section_lists_its_pages_index_first_then_by_title(tmp_path):
    guides = tmp_path / "how-to"
    guides.mkdir()
    (guides / "serving.md").write_text("# Serve over HTTP\n")
    (guides / "build.md").write_text("# Build an index\n")
    (guides / "index.md").write_text("# How-to guides\n")
    nav = expand_folders([{"Home": "index.md"}, {"How-to": "how-to/"}], tmp_path)
    assert nav == [
        {"Home": "index.md"},
        {
            "How-to": [
                {"How-to guides": "how-to/index.md"},
                {"Build an index": "how-to/build.md"},
                {"Serve over HTTP": "how-to/serving.md"},
            ]
        },
    ]


def test_the_cli_reference_has_every_command():
    from typer.main import get_command

    from simsearch.cli import app

    page = cli_reference_markdown()
    for name in get_command(app).commands:
        assert f"## `simsearch {name}`" in page


def test_the_http_reference_has_every_route_and_body_field():
    page = http_reference_markdown()
    assert "## `POST /indexes/{name}/search`" in page and "## `GET /health`" in page
    assert "| `rerank_depth` |" in page and "| `min_score` | number or null |" in page


def test_a_writes_run_marker_becomes_that_runs_command_and_tables():
    page = fill_writes_runs("Intro.\n\n<!-- writes-run: writes-100k.json -->\n", RESULTS)
    recorded = json.loads((RESULTS / "writes-100k.json").read_text(encoding="utf-8"))
    assert "<!-- writes-run:" not in page
    assert f"`{recorded['command']}`" in page
    assert "| simsearch flat | 100000 |" in page and "One-document writes" in page


def test_a_writes_run_marker_naming_no_file_stops_the_build(tmp_path):
    with pytest.raises(ValueError, match="does not hold"):
        fill_writes_runs("<!-- writes-run: writes-9t.json -->", tmp_path)


def test_a_writes_compare_marker_lines_up_the_two_runs_figure_by_figure():
    page = fill_writes_runs("<!-- writes-compare: writes-100k-before.json writes-100k.json -->\n", RESULTS)
    before = json.loads((RESULTS / "writes-100k-before.json").read_text(encoding="utf-8"))
    assert "<!-- writes-compare:" not in page and "## Before and after" in page
    assert f"`{before['command']}`" in page and "| after / before |" in page
    assert "| simsearch hnsw | static-384 | 100000 | add MB written |" in page
