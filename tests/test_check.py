"""`simsearch check` and Index.check(): texts and vectors compared from outside; exit 1 when they disagree."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from simsearch import Index, load_encoder
from simsearch.cli import app
from simsearch.vectors import create_vector_index


@pytest.fixture
def built(tiny_model, index_dir, animals) -> Index:
    return Index.build("animals", animals, encoder=load_encoder(tiny_model), index_dir=index_dir, kind="flat")


def cli_check(index_dir: Path) -> subprocess.CompletedProcess:
    """``simsearch check animals --json`` in this process; an exception it lets through fails the test."""
    args = ["check", "animals", "--json", "--index-dir", str(index_dir)]
    result = CliRunner().invoke(app, args, catch_exceptions=False)
    return subprocess.CompletedProcess(args, result.exit_code, result.stdout, result.stderr)


def test_a_healthy_index_checks_ok(built, index_dir):
    report = built.check()
    assert report["ok"] and report["problems"] == [] and report["texts"] == report["vectors"] == 8
    assert report["sample_min_cosine"] > 0.99
    done = cli_check(index_dir)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["ok"] is True


def test_vectors_of_other_texts_fail_the_reencoded_sample(built, index_dir):
    rng = np.random.default_rng(0)
    noise = rng.normal(size=(8, built.manifest.dimension)).astype(np.float32)
    noise /= np.linalg.norm(noise, axis=1, keepdims=True)
    vectors = create_vector_index("flat", built.manifest.dimension, 8)
    vectors.build(noise, np.arange(1, 9, dtype=np.int64))
    vectors.save(built.folder / "vectors-1.faiss")
    report = Index.open("animals", index_dir=index_dir).check()
    assert not report["ok"] and "re-encoded" in report["problems"][0]
    done = cli_check(index_dir)
    assert done.returncode == 1 and done.stderr.startswith("error: ") and "rebuild" in done.stderr


def test_texts_and_vectors_with_different_ids_fail(built, index_dir):
    with sqlite3.connect(built.folder / "store.sqlite") as db:  # a store edited by hand: same count, other ids
        db.execute("UPDATE documents SET id = 100 WHERE id = 1")
    report = Index.open("animals", index_dir=index_dir).check()
    assert not report["ok"]
    assert report["texts_without_vector"] == 1 and report["vectors_without_text"] == 1


def test_hnsw_and_ivf_list_their_ids(tiny_model, index_dir, animals):
    encoder = load_encoder(tiny_model)
    for kind in ("hnsw", "ivf"):
        index = Index.build(
            kind,
            animals,
            encoder=encoder,
            index_dir=index_dir,
            kind=kind,
            params={"nlist": 2} if kind == "ivf" else None,
        )
        index.delete(["a1"])
        report = index.check()
        assert report["ok"], report["problems"]
        assert report["vectors"] == 7 and report["vectors_without_text"] == 0


def test_check_names_the_row_whose_metadata_an_older_simsearch_wrote_as_infinity(built, index_dir):
    with sqlite3.connect(built.folder / "store.sqlite") as db:
        db.execute("""UPDATE documents SET metadata = '{"v": Infinity}' WHERE ext_id = 'a3'""")
    report = Index.open("animals", index_dir=index_dir).check()
    assert not report["ok"] and report["bad_metadata"] == 1
    assert "id 'a3', row 3: not valid JSON" in report["problems"][0] and "delete or re-add" in report["problems"][0]
    done = cli_check(index_dir)
    assert done.returncode == 1 and "`simsearch delete animals a3`" in done.stderr and "rebuild" not in done.stderr
