"""Pair files: the layout is read from the columns, and every way a file can be unusable says so."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from simsearch.errors import InputError
from simsearch.training.pairs import read_pairs


def write_csv(path, rows):
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_scores_on_a_0_to_5_scale_are_divided_by_5(tmp_path):
    path = write_csv(
        tmp_path / "sts.csv", {"sentence1": ["a", "b", "c"], "sentence2": ["x", "y", "z"], "score": [5.0, 2.5, 0.0]}
    )
    pairs = read_pairs(path)
    assert pairs.format == "scored"
    assert pairs.score_scale == 5.0
    assert pairs.targets == [1.0, 0.5, 0.0]


def test_scores_on_a_0_to_1_scale_are_kept(tmp_path):
    path = write_csv(tmp_path / "sts.csv", {"sentence1": ["a", "b"], "sentence2": ["x", "y"], "score": [0.9, 0.1]})
    pairs = read_pairs(path)
    assert pairs.score_scale == 1.0
    assert pairs.targets == [0.9, 0.1]


def test_labelled_pairs_from_jsonl(tmp_path):
    path = tmp_path / "pairs.jsonl"
    path.write_text(
        "\n".join(json.dumps({"sentence1": f"s{i}", "sentence2": f"t{i}", "label": i % 2}) for i in range(4))
    )
    pairs = read_pairs(path)
    assert pairs.format == "labelled"
    assert pairs.targets == [0, 1, 0, 1]
    positives = pairs.positives()
    assert positives.format == "triplets"
    assert positives.texts == {"anchor": ["s1", "s3"], "positive": ["t1", "t3"]}


def test_triplets_from_parquet_keep_the_negative_column(tmp_path):
    path = tmp_path / "triplets.parquet"
    pd.DataFrame({"anchor": ["a", "b"], "positive": ["p", "q"], "negative": ["n", "m"]}).to_parquet(path)
    pairs = read_pairs(path)
    assert pairs.format == "triplets"
    assert list(pairs.texts) == ["anchor", "positive", "negative"]
    assert pairs.to_dataset().column_names == ["anchor", "positive", "negative"]


def test_dataset_puts_the_score_column_last(tmp_path):
    path = write_csv(tmp_path / "sts.csv", {"score": [1, 0], "sentence2": ["x", "y"], "sentence1": ["a", "b"]})
    assert read_pairs(path).to_dataset().column_names == ["sentence1", "sentence2", "score"]


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ({"text": ["a", "b"], "label": [0, 1]}, "lacks the columns of a pair file"),
        ({"sentence1": ["a", "b"], "sentence2": ["x", "y"]}, "no label or score column"),
        ({"sentence1": ["a", "b"], "sentence2": ["x", "y"], "label": [0, 2]}, "label 2 is not 0 or 1"),
        ({"sentence1": ["a", "b"], "sentence2": ["x", "y"], "label": [0, "yes"]}, "is not a number"),
        ({"sentence1": ["a", "b"], "sentence2": ["x", "y"], "score": [4.0, 7.0]}, "score 7 is outside 0-5"),
        ({"sentence1": ["a", "b"], "sentence2": ["x", "y"], "score": [-1.0, 3.0]}, "row 1: score -1"),
        ({"sentence1": ["a"], "sentence2": ["x"], "score": [3.0]}, "has 1 pair(s)"),
        ({"sentence1": ["a", " "], "sentence2": ["x", "y"], "score": [3.0, 2.0]}, "row 2 has an empty sentence1"),
        ({"sentence1": ["a", "b"], "sentence2": ["x", "y"], "score": [3, 2], "label": [1, 0]}, "both a label"),
    ],
)
def test_unusable_pair_files_are_refused_with_the_reason(tmp_path, rows, message):
    path = write_csv(tmp_path / "bad.csv", rows)
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_pairs(path)


def test_plain_text_files_are_refused(tmp_path):
    path = tmp_path / "pairs.txt"
    path.write_text("a\nb\n")
    with pytest.raises(InputError, match="plain text"):
        read_pairs(path)


def test_mnrl_on_labelled_pairs_needs_two_similar_pairs(tmp_path):
    path = write_csv(
        tmp_path / "pairs.csv",
        [{"sentence1": "a b", "sentence2": "c d", "label": 1}, {"sentence1": "e f", "sentence2": "g h", "label": 0}],
    )
    with pytest.raises(InputError, match="1 pair\\(s\\) labelled 1 and mnrl needs at least 2; .*'online-contrastive'"):
        read_pairs(path).positives()
