"""benchmarks/features.py runs end to end (tiny model, a small MRPC-format file) and writes its tables."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys

from tests.conftest import REPO

NAMES = ["Apple", "Paris", "Microsoft", "London", "Smith"]
WORDS = ["the", "bank", "said", "shares", "rose", "on", "monday", "in", "report", "quarter"]


def write_mrpc_like(folder, pairs: int, seed: int) -> None:
    """MRPC's layout (Quality, #1 ID, #2 ID, #1 String, #2 String; tab-separated) with made-up sentences."""
    rng = random.Random(seed)
    lines = ["Quality\t#1 ID\t#2 ID\t#1 String\t#2 String"]
    for number in range(pairs):
        words = [rng.choice(NAMES if rng.random() < 0.3 else WORDS) for _ in range(8)]
        first = " ".join(["The", *words]) + "."
        same = rng.random() < 0.6
        second = " ".join(["A", *(words if same else rng.sample(words, len(words)))]) + "."
        lines.append(f"{int(same)}\t{number}\t{number + 1000}\t{first}\t{second}")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "train.tsv" if seed == 0 else folder / "test.tsv").write_text("\n".join(lines) + "\n")


def test_features_smoke_writes_both_tables(tiny_model, tmp_path):
    data = tmp_path / "mrpc"
    write_mrpc_like(data, 120, seed=0)
    write_mrpc_like(data, 60, seed=1)
    out = tmp_path / "features.json"
    done = subprocess.run(
        [
            sys.executable,
            str(REPO / "benchmarks" / "features.py"),
            "--smoke",
            "--model",
            tiny_model,
            "--data",
            str(data),
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
    sentence = {row["features"]: row for row in results["sentence_level"]}
    assert len(sentence) == 5 and all(0 <= row["accuracy"] <= 100 for row in sentence.values())
    assert sentence["majority class (always paraphrase)"]["accuracy"] > 40  # about 60% of the made-up pairs
    token = results["token_level"]
    assert len(token) == 5 and token[0]["train_pieces"] > 100 and token[0]["test_pieces"] > 50
    assert "| per-piece features | accuracy | F1 |" in done.stdout
    again = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "features.py"), "--markdown", "--json-out", str(out)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert again.returncode == 0 and again.stdout.strip() == done.stdout.strip()
