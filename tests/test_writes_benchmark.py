"""benchmarks/writes.py in smoke mode: it runs end to end (peer processes, real model, FAISS, SQLite) and its
printed tables, result JSON and generated docs page have the shape the docs and the storage work rely on."""

from __future__ import annotations

import copy
import csv
import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import DEMO_CSV, REPO


def write_sentences_file(path: Path) -> Path:
    """The demo corpus in wikipedia_sentences' layout (the benchmark repeats texts under new ids past the end)."""
    with open(DEMO_CSV, newline="", encoding="utf-8") as source, gzip.open(path, "wt", encoding="utf-8") as out:
        out.write("id\tpage_id\ttitle\tsentence\n")
        for row in csv.DictReader(source):
            out.write(f"{row['id']}\t0\tdemo\t{row['text']}\n")
    return path


def run_benchmark(*arguments: object) -> subprocess.CompletedProcess:
    env = dict(
        os.environ,
        HF_HUB_OFFLINE="1",
        TOKENIZERS_PARALLELISM="false",
        PYTHONPATH=os.pathsep.join(p for p in sys.path if p),
    )
    return subprocess.run(
        [sys.executable, "benchmarks/writes.py", *map(str, arguments)],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=600,
    )


@pytest.mark.slow
def test_writes_benchmark_smoke_mode_prints_tables_and_writes_results(tmp_path):
    corpus = write_sentences_file(tmp_path / "sentences.tsv.gz")
    result_file = tmp_path / "writes.json"
    done = run_benchmark("--smoke", "--corpus", corpus, "--work-dir", tmp_path, "--json", result_file)
    assert done.returncode == 0, done.stderr[-3000:]
    for header in (
        "| system | N | encoder | one-document | p50 ms | p99 ms | MB written | MB wchar |",
        "| system | N | raw FAISS p50 |",
        "| system | N | first search p50 |",
        "| system | N | documents added |",
        "| system | N | documents after writes |",
    ):
        assert header in done.stdout

    results = json.loads(result_file.read_text())
    assert results["mode"] == "smoke" and results["ops"] == 4
    assert [(run["kind"], run["documents"]) for run in results["storage"]] == [("flat", 1500), ("hnsw", 1500)]
    for run in results["storage"]:
        assert run["encoder"].startswith("static-384")
        for operation in ("add", "upsert", "delete"):
            figures = run[operation]
            assert 0 < figures["p50_ms"] <= figures["p99_ms"] and figures["wchar_mb"] > 0
        assert run["raw_faiss"]["p99_ms"] > 0 and run["quiet_p99_vs_raw_faiss"] > 0
        assert run["reader_after_write"]["rounds"] == 3 and run["reader_after_write"]["first"]["p50_ms"] > 0
        writer = run["under_writer"]["writer"]
        assert 0 < writer["adds_done"] <= writer["adds_planned"] == 30 and run["under_writer"]["searches"] > 0
        assert run["bulk"]["documents"] == 150 and run["bulk"]["add_s"] > 0 and run["bulk"]["build_s"] > 0
        added = 4 + 3 + writer["adds_done"] + 150 - 4  # adds, reader rounds, the writer's, bulk; minus deletes
        assert run["state_after_writes"]["count"] == 1500 + added
        for later in ("sync", "compaction"):  # what only the segmented storage has
            assert isinstance(run[later], dict) or run[later] == "n/a (not in this version)"
    assert [run["kind"] for run in results["real_model"]] == ["flat", "hnsw"]
    assert all(
        run["encoder"].startswith("all-MiniLM-L6-v2") and run["encode_one"]["p50_ms"] > 0 and run["add"]["wchar_mb"] > 0
        for run in results["real_model"]
    )
    assert {run["system"] for run in results["competitors"]} == {"chroma", "lancedb", "qdrant-local"}
    assert all("skipped" in run or run["add"]["p50_ms"] > 0 for run in results["competitors"])

    page = run_benchmark("--markdown", result_file, "--compare", result_file, result_file)
    assert page.returncode == 0, page.stderr[-3000:]
    assert page.stdout.startswith("# What a write costs") and results["command"] in page.stdout
    assert "| simsearch hnsw | 1500 | static-384" in page.stdout
    assert "## Before and after" in page.stdout
    add = results["storage"][1]["add"]["p50_ms"]
    assert f"| simsearch hnsw | static-384 | 1500 | add p50 ms | {add} | {add} | 1.0 |" in page.stdout


def test_before_after_table_lines_up_matching_runs_and_divides_after_by_before():
    sys.path.insert(0, str(REPO / "benchmarks"))
    from writes_report import before_after_table

    before = json.loads((REPO / "benchmarks" / "results" / "writes-100k-before.json").read_text())
    after = copy.deepcopy(before)
    flat = next(run for run in after["storage"] if run["kind"] == "flat")
    flat["add"]["p50_ms"] = before["storage"][0]["add"]["p50_ms"] / 4
    flat["documents"] = 300_000  # a run at another size has nothing to line up with
    table = before_after_table(before, after).splitlines()

    hnsw_add = next(line for line in table if line.startswith("| simsearch hnsw | static-384 | 100000 | add p50 ms |"))
    assert hnsw_add.endswith("| 1.0 |")
    assert not any("| simsearch flat | static-384 |" in line for line in table)
    real_add = next(line for line in table if line.startswith("| simsearch flat | all-MiniLM-L6-v2 | 1000 | add p50"))
    assert real_add.endswith("| 1.0 |")

    flat["documents"] = 100_000
    quartered = before_after_table(before, after)
    assert "| simsearch flat | static-384 | 100000 | add p50 ms |" in quartered
    flat_add = next(
        line for line in quartered.splitlines() if "| simsearch flat | static-384 | 100000 | add p50" in line
    )
    assert flat_add.endswith("| 0.25 |")
