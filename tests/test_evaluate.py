"""Evaluation metrics against figures worked out by hand, and retrieval by model and by index agreeing."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from simsearch import Index, load_encoder
from simsearch.errors import InputError
from simsearch.training.pair_metrics import average_precision, pair_metrics, sts_metrics
from simsearch.training.pairs import read_pairs
from simsearch.training.retrieval_metrics import (
    index_retrieval_metrics,
    lexical_retrieval_metrics,
    ranking_metrics,
    retrieval_metrics,
)
from simsearch.training.retrieval_sets import paraphrase_retrieval_set, read_beir


def test_ranking_metrics_match_hand_computed_values():
    qrels = {"q1": {"d1": 1, "d3": 1}, "q2": {"d2": 2, "d9": 0}}
    rankings = {"q1": ["d3", "d2", "d1"], "q2": ["d1", "d2"]}
    metrics = ranking_metrics(rankings, qrels)
    # q1: hits at ranks 1 and 3 of two relevant; q2: its one relevant (gain 2) at rank 2
    ndcg_q1 = (1 + 1 / math.log2(4)) / (1 + 1 / math.log2(3))
    ndcg_q2 = (2 / math.log2(3)) / 2
    assert metrics["ndcg@10"] == pytest.approx(100 * (ndcg_q1 + ndcg_q2) / 2)
    assert metrics["mrr@10"] == pytest.approx(100 * (1 + 1 / 2) / 2)
    assert metrics["recall@1"] == pytest.approx(100 * (1 / 2 + 0) / 2)
    assert metrics["recall@10"] == pytest.approx(100.0)
    assert metrics["recall@100"] == pytest.approx(100.0)
    assert metrics["map@100"] == pytest.approx(100 * ((1 + 2 / 3) / 2 + 1 / 2) / 2)


def test_excluded_document_does_not_count_and_missing_queries_score_zero():
    qrels = {"q1": {"d1": 1}, "q2": {"d2": 1}}
    metrics = ranking_metrics({"q1": ["q1-self", "d5", "d1"]}, qrels, exclude={"q1": "q1-self"})
    assert metrics["mrr@10"] == pytest.approx(100 * (1 / 2 + 0) / 2)  # d1 moves up to rank 2; q2 never ranked


def test_average_precision_by_hand():
    assert average_precision([0.9, 0.8, 0.7, 0.1], [1, 0, 1, 0]) == pytest.approx((1 + 2 / 3) / 2)
    assert average_precision([0.1, 0.9], [1, 0]) == pytest.approx(1 / 2)


def test_sts_metrics_are_spearman_and_pearson_of_cosines(tiny_model, tmp_path):
    path = tmp_path / "sts.csv"
    pd.DataFrame(
        {
            "sentence1": ["a cat sleeps", "rain falls", "piano music", "bread and soup"],
            "sentence2": ["a dog sleeps", "snow falls", "a stock market", "cheese soup"],
            "score": [4.0, 3.5, 0.2, 2.0],
        }
    ).to_csv(path, index=False)
    pairs = read_pairs(path)
    encoder = load_encoder(tiny_model)
    # an independent route to the cosines: sentence-transformers' own encode, normalised here
    a, b = (encoder.model.encode(pairs.texts[c], convert_to_numpy=True) for c in ("sentence1", "sentence2"))
    cosine = np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    metrics = sts_metrics(encoder, pairs)
    assert metrics["spearman"] == pytest.approx(100 * spearmanr(cosine, [4.0, 3.5, 0.2, 2.0]).statistic, abs=1e-4)
    assert set(metrics) == {"spearman", "pearson"}
    assert pair_metrics(encoder, pairs) == metrics


def test_sts_needs_scores(tmp_path, tiny_model):
    path = tmp_path / "labels.csv"
    pd.DataFrame({"sentence1": ["a", "b"], "sentence2": ["c", "d"], "label": [0, 1]}).to_csv(path, index=False)
    with pytest.raises(InputError, match="no score column"):
        sts_metrics(load_encoder(tiny_model), read_pairs(path))


def test_paraphrase_set_uses_close_pairs_and_excludes_the_query_itself(tmp_path):
    path = tmp_path / "sts.csv"
    pd.DataFrame(
        {
            "sentence1": ["a cat sleeps", "a cat sleeps", "rain falls", "old news"],
            "sentence2": ["a cat is asleep", "the dog barks", "it is raining", "old news"],
            "score": [4.6, 1.0, 4.0, 5.0],
        }
    ).to_csv(path, index=False)
    data = paraphrase_retrieval_set([path])
    by_text = {text: doc_id for doc_id, text in data.corpus.items()}
    assert len(data.corpus) == 6  # distinct sentences of both columns
    assert set(data.queries.values()) == {"a cat sleeps", "rain falls"}  # scored >= 4, identical pair skipped
    assert data.qrels[by_text["a cat sleeps"]] == {by_text["a cat is asleep"]: 1}
    assert data.exclude[by_text["rain falls"]] == by_text["rain falls"]


def test_paraphrase_set_without_close_pairs_is_refused(tmp_path):
    path = tmp_path / "sts.csv"
    pd.DataFrame({"sentence1": ["a", "b"], "sentence2": ["c", "d"], "score": [1.0, 2.0]}).to_csv(path, index=False)
    with pytest.raises(InputError, match="no pair scores 4"):
        paraphrase_retrieval_set([path])


@pytest.fixture
def beir_files(tmp_path, animals):
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("\n".join(json.dumps({"_id": a["id"], "title": "", "text": a["text"]}) for a in animals))
    queries = tmp_path / "queries.jsonl"
    queries.write_text(
        "\n".join(
            json.dumps(q)
            for q in [
                {"_id": "1", "text": "pets playing"},
                {"_id": "2", "text": "money and banks"},
                {"_id": "3", "text": "baking bread"},
                {"_id": "4", "text": "not judged"},
            ]
        )
    )
    qrels = tmp_path / "qrels.tsv"
    qrels.write_text("query-id\tcorpus-id\tscore\n1\ta1\t1\n1\ta2\t1\n2\ta3\t1\n2\ta4\t1\n3\ta6\t2\n3\ta5\t1\n")
    return corpus, queries, qrels


def test_beir_retrieval_by_model_and_by_flat_index_agree(beir_files, tiny_model, animals, index_dir):
    data = read_beir(*beir_files)
    assert len(data.qrels) == 3 and data.qrels["3"] == {"a6": 2, "a5": 1}
    by_model = retrieval_metrics(load_encoder(tiny_model), data)
    index = Index.build("animals", animals, encoder=load_encoder(tiny_model), kind="flat", index_dir=index_dir)
    by_index = index_retrieval_metrics(index, data)
    assert by_index == pytest.approx(by_model)
    assert by_model["recall@100"] == pytest.approx(100.0)  # 8 documents: everything is within 100
    assert 0 < by_model["ndcg@10"] <= 100


def test_lexical_retrieval_without_a_model_scores_as_lexical_mode_on_an_index(
    beir_files, tiny_model, animals, index_dir
):
    data = read_beir(*beir_files)
    index = Index.build("animals", animals, encoder=load_encoder(tiny_model), kind="flat", index_dir=index_dir)
    assert lexical_retrieval_metrics(data) == pytest.approx(index_retrieval_metrics(index, data, mode="lexical"))


def test_cli_eval_retrieval_in_lexical_mode_loads_no_model(beir_files):
    import os
    import subprocess
    import sys

    from tests.conftest import REPO

    corpus, queries, qrels = beir_files
    script = (
        "import sys; from simsearch.cli import app\n"
        "try:\n    app(sys.argv[1:], standalone_mode=False)\nfinally:\n"
        "    print('torch' in sys.modules, 'onnxruntime' in sys.modules)"
    )
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            script,
            "eval",
            "retrieval",
            "--corpus",
            str(corpus),
            "--queries",
            str(queries),
            "--qrels",
            str(qrels),
            "--mode",
            "lexical",
            "--json",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=300,
    )
    figures, loaded = done.stdout.splitlines()
    assert json.loads(figures)["ndcg@10"] > 0 and loaded == "False False", done.stderr


def test_index_without_the_qrels_ids_is_refused_not_scored_zero(beir_files, tiny_model, animals, index_dir):
    renumbered = [{**a, "id": f"doc-{n}"} for n, a in enumerate(animals)]
    index = Index.build("numbered", renumbered, encoder=load_encoder(tiny_model), kind="flat", index_dir=index_dir)
    with pytest.raises(InputError, match="with id_column='_id'") as info:
        index_retrieval_metrics(index, read_beir(*beir_files))
    assert "with --id-column _id" in info.value.message_for("cli")


@pytest.mark.parametrize(
    "lines, message",
    [
        ("query-id\tcorpus-id\tscore\n1\ta1\n", "line 2"),  # a line without its score
        ("1\tzz1\t1\n", "do not belong together"),  # qrels of another corpus
    ],
)
def test_unusable_qrels_are_refused_with_the_reason(tmp_path, beir_files, lines, message):
    corpus, queries, _ = beir_files
    qrels = tmp_path / "qrels.tsv"
    qrels.write_text(lines)
    with pytest.raises(InputError, match=message):
        read_beir(corpus, queries, qrels)
