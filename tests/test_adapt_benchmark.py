"""benchmarks/adapt.py (the TSDAE experiment behind docs/how-to/adapt.md) runs end to end on a tiny model."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import REPO

WORDS = ["cat", "dog", "bread", "rain", "guitar", "river", "bank", "snow", "cheese", "violin"]


def write_beir(folder) -> None:
    """A small BEIR folder: 40 two-sentence documents, 4 queries, one relevant document each."""
    (folder / "qrels").mkdir(parents=True)
    with open(folder / "corpus.jsonl", "w") as corpus:
        for i in range(40):
            text = f"The {WORDS[i % 10]} sat by the {WORDS[(i * 3) % 10]} today. It was day {i} of the year."
            corpus.write(json.dumps({"_id": f"d{i}", "title": "", "text": text}) + "\n")
    with open(folder / "queries.jsonl", "w") as queries:
        for i in range(4):
            queries.write(json.dumps({"_id": f"q{i}", "text": f"{WORDS[i]} by the {WORDS[(i * 3) % 10]}"}) + "\n")
    (folder / "qrels" / "test.tsv").write_text(
        "query-id\tcorpus-id\tscore\n" + "".join(f"q{i}\td{i}\t1\n" for i in range(4))
    )


def test_adapt_benchmark_trains_and_scores_before_and_after(tiny_model, tmp_path):
    write_beir(tmp_path / "beir")
    out = tmp_path / "adapt.json"
    done = subprocess.run(
        [
            sys.executable,
            str(REPO / "benchmarks" / "adapt.py"),
            "--model",
            tiny_model,
            "--data",
            str(tmp_path / "beir"),
            "--json-out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert done.returncode == 0, done.stderr
    results = json.loads(out.read_text())
    # 40 second sentences differ by their day, the first ones repeat every 10 documents: 50 kept, 8 a step
    assert results["sentences"] == 50 and results["steps"] == 7
    assert set(results["before"]) == set(results["after"]) and "ndcg@10" in results["before"]
    assert "| ndcg@10 |" in done.stdout
