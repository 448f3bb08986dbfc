"""`simsearch adapt`: TSDAE on an index's own texts, resumable after a kill, refusing bad input like `train`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from simsearch import Index, load_encoder
from simsearch.cli import app
from simsearch.training.adapt import damaged, split_sentences
from tests.conftest import REPO
from tests.test_cli import assert_one_line_error

WORDS = ["cat", "dog", "bread", "rain", "guitar", "river", "bank", "snow", "cheese", "violin"]


def sentences(count: int) -> list[str]:
    return [f"The {WORDS[i % 10]} and the {WORDS[(i * 7 + 3) % 10]} met on day {i}." for i in range(count)]


@pytest.fixture
def corpus_home(tiny_model, index_dir) -> Path:
    Index.build("notes", [{"id": str(i), "text": text} for i, text in enumerate(sentences(160))],
                encoder=load_encoder(tiny_model), index_dir=index_dir)
    Index.build("tiny", [{"id": "1", "text": "Too short."}, {"id": "2", "text": "One sentence of words."}],
                encoder=load_encoder(tiny_model), index_dir=index_dir)
    return index_dir


def adapt(*args: str, index_dir: Path):
    return CliRunner().invoke(app, ["adapt", *args, "--index-dir", str(index_dir), "-q"], catch_exceptions=False)


def test_sentences_are_split_short_ones_dropped_and_damage_keeps_a_word():
    found = split_sentences(["First one is here. Second one is here too! Ok.", "First one is here."])
    assert found == ["First one is here.", "Second one is here too!"]
    import random

    rng = random.Random(0)
    assert all(damaged("a b c d e f g h i j", rng).split() for _ in range(50))
    assert len(damaged(" ".join(["w"] * 1000), rng).split()) < 600  # about 40% kept


def test_killed_run_resumes_from_its_checkpoint_and_ends_like_an_unbroken_run(corpus_home, tmp_path, tiny_model):
    out = tmp_path / "adapted"
    command = [sys.executable, "-m", "simsearch", "adapt", "notes", "--output", str(out), "--index-dir",
               str(corpus_home), "--checkpoint-steps", "3", "-q"]
    process = subprocess.Popen(command, env={**os.environ, "PYTHONPATH": str(REPO)}, cwd=tmp_path,
                               start_new_session=True)
    partial = tmp_path / ".adapted.partial" / "checkpoints"
    deadline = time.monotonic() + 240
    while not any(partial.glob("checkpoint-*/trainer_state.json")) and process.poll() is None:
        assert time.monotonic() < deadline, "no checkpoint written"
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert not out.exists()  # nothing published by a killed run

    refused = adapt("notes", "--output", str(out), "--lr", "1e-4", "--checkpoint-steps", "3", index_dir=corpus_home)
    assert_one_line_error(refused, "partial run started with other settings")

    resumed = CliRunner().invoke(app, ["adapt", "notes", "--output", str(out), "--index-dir", str(corpus_home),
                                       "--checkpoint-steps", "3"], catch_exceptions=False)
    assert resumed.exit_code == 0, resumed.stderr
    assert "resuming the partial run" in resumed.stderr and "simsearch rebuild notes --model" in resumed.stderr
    report = json.loads((out / "adapt.json").read_text())
    assert report["steps"] == 20 and report["resumed_from"] >= 3  # 160 sentences, 8 a step
    assert not (tmp_path / ".adapted.partial").exists()

    unbroken = tmp_path / "unbroken"
    assert adapt("notes", "--output", str(unbroken), index_dir=corpus_home).exit_code == 0
    texts = sentences(5)
    adapted_vectors = load_encoder(str(out)).encode(texts)
    moved = np.abs(adapted_vectors - load_encoder(tiny_model).encode(texts)).max()
    assert moved > 1e-3  # it did train
    # the resumed run replays the same data and schedule; only dropout's random draws after the kill differ
    assert np.abs(adapted_vectors - load_encoder(str(unbroken)).encode(texts)).max() < 0.1 * moved

    rebuilt = CliRunner().invoke(app, ["rebuild", "notes", "--model", str(out), "--index-dir", str(corpus_home), "-q"])
    assert rebuilt.exit_code == 0, rebuilt.stderr


def test_existing_output_unknown_index_missing_model_and_too_few_texts_are_refused(corpus_home, tmp_path):
    existing = tmp_path / "existing"
    existing.mkdir()
    assert_one_line_error(adapt("notes", "--output", str(existing), index_dir=corpus_home),
                          "exists", "--overwrite")
    assert_one_line_error(adapt("nope", "--output", str(tmp_path / "a"), index_dir=corpus_home), "nope")
    assert_one_line_error(adapt("notes", "--output", str(tmp_path / "b"), "--base", str(tmp_path / "no-model"),
                                index_dir=corpus_home), "no-model")
    assert_one_line_error(adapt("tiny", "--output", str(tmp_path / "c"), index_dir=corpus_home),
                          "at least 8", "add texts")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["existing", "indexes"]  # nothing half-made
