"""`simsearch dedup` and simsearch.neighbours.dedup: near-duplicate groups found through the index's own kNN search."""

from __future__ import annotations

import json

import numpy as np
import pytest

from simsearch import Index
from simsearch.errors import InvalidArgumentError
from simsearch.neighbours.dedup import DEFAULT_THRESHOLD, components, lowest_similarity
from tests.test_cli import assert_one_line_error, run

PARAPHRASES = [
    ("p1", "The train to London was delayed by two hours."),
    ("p2", "The London train was delayed by two hours."),
    ("q1", "A man is playing the guitar on stage."),
    ("q2", "On stage, a man plays a guitar."),
]
UNRELATED = [
    ("u1", "Interest rates rose again this quarter."),
    ("u2", "Fresh basil makes the tomato sauce better."),
    ("u3", "The hikers reached the summit at sunrise."),
    ("u4", "Penguins live mostly in the southern hemisphere."),
    ("u5", "The library closes at eight on weekdays."),
]


def records(rows):
    return [{"id": i, "text": t} for i, t in rows]


def test_planted_paraphrases_are_grouped_and_unrelated_texts_are_not(default_encoder, index_dir):
    index = Index.build("para", records(PARAPHRASES + UNRELATED), encoder=default_encoder, index_dir=index_dir)
    groups = index.duplicates()
    assert sorted(sorted(group.ids) for group in groups) == [["p1", "p2"], ["q1", "q2"]]
    for group in groups:
        assert DEFAULT_THRESHOLD <= group.score < 1
        assert group.score == pytest.approx(float(np.prod(index.vectors(group.ids), axis=0).sum()), abs=1e-3)


def test_exact_duplicates_are_reported_whatever_the_threshold(tiny_model, index_dir):
    from simsearch import load_encoder

    rows = [("a", "same words here"), ("b", "other text"), ("c", "same words here"), ("d", "third one")]
    index = Index.build("exact", records(rows), encoder=load_encoder(tiny_model), index_dir=index_dir)
    groups = index.duplicates(threshold=1.0, k=1)
    assert [(group.ids, group.texts, group.score) for group in groups] == [
        (["a", "c"], ["same words here", "same words here"], 1.0)
    ]


def test_groups_are_connected_components_largest_first(tiny_model, index_dir):
    from simsearch import load_encoder

    rows = [(f"x{i}", "cat") for i in range(3)] + [("y0", "dog"), ("y1", "dog"), ("z", "bird")]
    index = Index.build("chains", records(rows), encoder=load_encoder(tiny_model), index_dir=index_dir)
    assert [group.ids for group in index.duplicates(threshold=1.0)] == [["x0", "x1", "x2"], ["y0", "y1"]]
    # a chain 0-1, 1-2 and a pair 3-4 among 6 positions; position 5 stands alone
    found = components(6, np.array([0, 1, 3]), np.array([1, 2, 4]))
    assert [members.tolist() for members in found] == [[0, 1, 2], [3, 4]]
    assert lowest_similarity(np.eye(3, dtype=np.float32)) == 0.0


def test_cli_json_lines_and_readable_text(default_encoder, index_dir):
    Index.build("para", records(PARAPHRASES + UNRELATED), encoder=default_encoder, index_dir=index_dir)
    lines = run("dedup", "para", "--json", index_dir=index_dir).stdout.splitlines()
    objects = [json.loads(line) for line in lines]
    assert {tuple(sorted(o["ids"])) for o in objects} == {("p1", "p2"), ("q1", "q2")}
    assert all(set(o) == {"ids", "texts", "score"} for o in objects)
    text = run("dedup", "para", index_dir=index_dir)
    assert "group 1: 2 texts, lowest similarity" in text.stdout and "[p1] The train to London" in text.stdout
    assert "2 groups of near-duplicates in 'para'" in text.stderr


@pytest.mark.parametrize("threshold", ["0", "1.5", "-0.2"])
def test_threshold_outside_zero_one_is_one_line(threshold, index_dir):
    assert_one_line_error(
        run("dedup", "any", "--threshold", threshold, index_dir=index_dir, check=False),
        "threshold must be above 0 and at most 1",
    )


def test_index_with_one_document_is_refused(tiny_model, index_dir):
    from simsearch import load_encoder

    index = Index.build("single", ["only one"], encoder=load_encoder(tiny_model), index_dir=index_dir)
    with pytest.raises(InvalidArgumentError, match="holds 1 document"):
        index.duplicates()
    assert_one_line_error(run("dedup", "single", index_dir=index_dir, check=False), "at least two")


@pytest.mark.slow  # spawns processes or a Ray session: left to `make test`, out of `make check`
def test_benchmark_smoke_runs():
    import os
    import subprocess
    import sys

    from tests.conftest import REPO

    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "dedup.py"), "--smoke"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert result.returncode == 0, result.stderr
    assert '"pair_recall": 1.0' in result.stdout.splitlines()[-1]


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_remove_writes_the_corpus_less_later_duplicates(suffix, tiny_model, index_dir, tmp_path):
    from simsearch import load_encoder, read_corpus

    rows = [
        {"id": "b", "text": "same words here", "lang": "en"},
        {"id": "a", "text": "other text", "lang": "en"},
        {"id": "c", "text": "same words here", "lang": "fr"},
        {"id": "d", "text": "same words here"},
    ]
    Index.build("rm", rows, encoder=load_encoder(tiny_model), index_dir=index_dir)
    output = tmp_path / f"kept{suffix}"
    result = run("dedup", "rm", "--threshold", "1", "--remove", "--output", str(output), index_dir=index_dir)
    assert "wrote 2 texts" in result.stderr and "2 near-duplicate(s) left out" in result.stderr
    kept = read_corpus(output).documents
    # "b" was added first (smallest row id), so it stays although "a" sorts before it
    assert [(doc.id, doc.text, doc.metadata.get("lang")) for doc in kept] == [
        ("b", "same words here", "en"),
        ("a", "other text", "en"),
    ]
    assert not list(tmp_path.glob(".*.tmp"))


def test_remove_refuses_an_existing_output_unless_overwrite(tiny_model, index_dir, tmp_path):
    from simsearch import load_encoder

    Index.build("rm", records(PARAPHRASES), encoder=load_encoder(tiny_model), index_dir=index_dir)
    output = tmp_path / "kept.csv"
    output.write_text("old")
    args = ("dedup", "rm", "--remove", "--output", str(output))
    assert_one_line_error(run(*args, index_dir=index_dir, check=False), "exists already", "--overwrite")
    assert output.read_text() == "old"
    run(*args, "--overwrite", index_dir=index_dir)
    assert output.read_text().startswith("id,text")


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--remove"], "--output"),
        (["--output", "x.csv"], "--remove"),
        (["--remove", "--output", "kept.txt"], "unknown output extension"),
        (["--remove", "--output", "missing/kept.csv"], "does not exist"),
    ],
)
def test_bad_remove_arguments_are_one_line(args, fragment, tiny_model, index_dir, tmp_path, monkeypatch):
    from simsearch import load_encoder

    monkeypatch.chdir(tmp_path)
    Index.build("rm", records(PARAPHRASES), encoder=load_encoder(tiny_model), index_dir=index_dir)
    assert_one_line_error(run("dedup", "rm", *args, index_dir=index_dir, check=False), fragment)
    assert not list(tmp_path.glob("kept*"))


@pytest.mark.slow
def test_default_threshold_finds_planted_stsb_paraphrases_among_wikipedia_sentences(default_encoder):
    """The issue's target on data we hold (its STS-B test split is not in ../shared/data): STS-B dev pairs
    scored >= 4.6 planted among Wikipedia sentences; the threshold was calibrated on train only."""
    from benchmarks.dedup_planted import measure

    result = measure("dev", size=2000, pairs=120, seed=13, encoder=default_encoder)
    # 115 usable dev pairs among 2,000 texts: found 0.86, partner precision 0.93 (2026-11-24)
    assert result.planted_pairs == 115
    assert result.found >= 0.8
    assert result.partner_precision >= 0.9


def test_hnsw_walks_narrower_for_dedup_only_and_finds_what_an_exact_index_finds(tiny_model, index_dir):
    from simsearch import load_encoder
    from simsearch.neighbours.dedup import DEDUP_EF_SEARCH, narrow_search
    from simsearch.testing import noisy_copies, unit_vectors
    from simsearch.vectors import create_vector_index

    encoder = load_encoder(tiny_model)
    rows = [(f"t{n}", f"sentence {n} about the {['sea', 'sky', 'hill'][n % 3]}") for n in range(60)]
    rows += [(f"d{n}", text) for n, (_, text) in enumerate(rows[:5])]  # exact duplicates too
    flat = Index.build("flat", records(rows), encoder=encoder, index_dir=index_dir, kind="flat")
    hnsw = Index.build(
        "hnsw", records(rows), encoder=encoder, index_dir=index_dir, kind="hnsw", params={"ef_search": 200}
    )
    groups = flat.duplicates(threshold=0.95)
    assert sum(len(g.ids) for g in groups) > 10  # more than the five exact pairs
    assert [g.ids for g in hnsw.duplicates(threshold=0.95)] == [g.ids for g in groups]
    vectors = create_vector_index("hnsw", 32, 500, {"ef_search": 200})
    vectors.build(noisy_copies(unit_vectors(100, 32), 500), np.arange(500, dtype=np.int64))
    with pytest.raises(RuntimeError), narrow_search(vectors, DEDUP_EF_SEARCH):
        assert vectors.params["ef_search"] == DEDUP_EF_SEARCH
        raise RuntimeError("a failed dedup")
    assert vectors.params["ef_search"] == 200  # put back, even after a failure
    with narrow_search(vectors, 500):  # never widened
        assert vectors.params["ef_search"] == 200


@pytest.mark.parametrize("k", [0, True, 2.5, "3"])
def test_a_neighbour_count_that_is_not_a_whole_number_of_at_least_one_is_one_line(tiny_model, index_dir, k):
    from simsearch import load_encoder
    from simsearch.errors import InvalidArgumentError

    rows = [(f"t{n}", f"sentence {n} about the sea") for n in range(5)]
    index = Index.build("k", records(rows), encoder=load_encoder(tiny_model), index_dir=index_dir)
    with pytest.raises(InvalidArgumentError, match="k must be a whole number of at least 1"):
        index.duplicates(k=k)
