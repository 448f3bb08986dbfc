"""Cross-encoder training: both orders, best epoch on --eval, the blend recorded and used, bad pairs refused."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from simsearch.cli import app
from simsearch.errors import InvalidArgumentError
from simsearch.query import is_cross_encoder, load_reranker
from simsearch.query.blend import read_blend
from simsearch.testing import write_anchors, write_scored, write_tiny_bert
from simsearch.training.cross_encoder import both_orders, train_cross_encoder
from simsearch.training.pair_metrics import correlation_metrics
from simsearch.training.pairs import read_pairs


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return write_tiny_bert(tmp_path_factory.mktemp("ce-bert"), initializer_range=0.02)


@pytest.fixture(scope="module")
def trained(checkpoint, tiny_model, tmp_path_factory):
    folder = tmp_path_factory.mktemp("ce-train")
    train, dev = write_scored(folder / "train.csv", 16, seed=1), write_scored(folder / "dev.csv", 16, seed=2)
    result = train_cross_encoder(
        train,
        folder / "ce",
        base=checkpoint,
        epochs=2,
        batch_size=8,
        learning_rate=1e-3,
        eval_pairs=dev,
        blend_model=tiny_model,
        seed=0,
    )
    return result, dev


def test_both_orders_of_every_pair_are_trained_on(tmp_path):
    pairs = read_pairs(write_scored(tmp_path / "p.csv", 6, seed=1))
    dataset = both_orders(pairs)
    assert len(dataset) == 12
    assert dataset["sentence1"][6:] == pairs.texts["sentence2"] and dataset["sentence2"][6:] == pairs.texts["sentence1"]
    assert dataset["label"][:6] == dataset["label"][6:] == pytest.approx(pairs.targets)


def test_the_folder_is_a_cross_encoder_with_its_report_and_blend(trained):
    result, dev = trained
    folder = result.output
    assert is_cross_encoder(folder) and {"training.json", "training.png"} <= {p.name for p in folder.iterdir()}
    report = json.loads((folder / "training.json").read_text())
    assert report["settings"]["cross_encoder"] and report["settings"]["both_orders"]
    assert [r["epoch"] for r in report["history"]] == [0, 1, 2] and report["selection_metric"] == "spearman"
    kept = result.history[result.best_epoch].metrics["spearman"]
    assert kept == max(r.metrics["spearman"] for r in result.history[1:])
    chosen = report["settings"]["blend"]
    blend = read_blend(folder)
    assert blend.weight == chosen["weight"] and 0 <= blend.weight <= 1
    assert (
        chosen["blended"]["spearman"]
        >= max(chosen["cross_encoder_alone"]["spearman"], chosen["bi_encoder_alone"]["spearman"]) - 1e-9
    )


def test_eval_sts_reports_the_blended_score_chosen_in_training(trained):
    result, dev = trained
    run = CliRunner().invoke(app, ["eval", "sts", str(dev), "--model", str(result.output), "--json"])
    assert run.exit_code == 0, run.output
    pairs = read_pairs(dev)
    reranker = load_reranker(result.output)  # what eval sts and --rerank score with (int8)
    expected = correlation_metrics(reranker.pair_scores(pairs.texts["sentence1"], pairs.texts["sentence2"]), pairs)
    assert json.loads(run.stdout)["spearman"] == pytest.approx(expected["spearman"])
    assert reranker.blend == read_blend(result.output)
    chosen = json.loads((result.output / "training.json").read_text())["settings"]["blend"]["blended"]
    fp32 = load_reranker(result.output, quantized=False)  # torch's scores: the blend training chose reproduces
    blended = correlation_metrics(fp32.pair_scores(pairs.texts["sentence1"], pairs.texts["sentence2"]), pairs)
    assert blended["spearman"] == pytest.approx(chosen["spearman"], abs=1e-3)


def test_pairs_without_scores_or_labels_are_refused_and_nothing_is_written(tmp_path):
    anchors = write_anchors(tmp_path / "a.jsonl", 8, seed=1)
    run = CliRunner().invoke(
        app, ["train", "--cross-encoder", "--pairs", str(anchors), "--output", str(tmp_path / "out")]
    )
    assert run.exit_code == 1 and "without scores or labels" in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1 and not (tmp_path / "out").exists()
    bare = tmp_path / "bare.csv"
    bare.write_text("sentence1,sentence2\na,b\nc,d\n")
    run = CliRunner().invoke(app, ["train", "--cross-encoder", "--pairs", str(bare), "--output", str(tmp_path / "o")])
    assert run.exit_code == 1 and "no label or score column" in run.stderr and not (tmp_path / "o").exists()
    assert set(tmp_path.iterdir()) == {anchors, bare}  # no staging folder left behind


def test_cross_encoder_flags_that_do_not_apply_are_refused(tmp_path):
    pairs = write_scored(tmp_path / "p.csv", 6, seed=1)
    run = CliRunner().invoke(
        app, ["train", "--cross-encoder", "--pairs", str(pairs), "--output", str(tmp_path / "o"), "--pooling", "mean"]
    )
    assert run.exit_code == 1 and "--pooling does not apply" in run.stderr
    run = CliRunner().invoke(
        app, ["train", "--cross-encoder", "--pairs", str(pairs), "--output", str(tmp_path / "o"), "--loss", "cosent"]
    )
    assert run.exit_code == 1 and "valid: bce, mse" in run.stderr and not (tmp_path / "o").exists()


def test_out_of_range_hyperparameters_are_one_line_and_nothing_is_written(tmp_path):
    pairs = write_scored(tmp_path / "p.csv", 6, seed=1)
    run = CliRunner().invoke(
        app, ["train", "--cross-encoder", "--pairs", str(pairs), "--output", str(tmp_path / "o"), "--lr", "5"]
    )
    assert run.exit_code == 1 and "learning rate 5 is out of range" in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1 and not (tmp_path / "o").exists()
    with pytest.raises(InvalidArgumentError, match="need epochs >= 1"):
        train_cross_encoder(pairs, tmp_path / "o", epochs=0)
    assert not (tmp_path / "o").exists()


def test_layers_keeps_the_base_models_first_layers_and_out_of_range_is_one_line(checkpoint, tmp_path):
    pairs = write_scored(tmp_path / "p.csv", 6, seed=1)
    result = train_cross_encoder(pairs, tmp_path / "one", base=checkpoint, layers=1, epochs=1, batch_size=4)
    config = json.loads((result.output / "config.json").read_text())
    assert config["num_hidden_layers"] == 1 and result.settings["layers"] == 1
    assert load_reranker(result.output).pair_scores(["a cat"], ["a dog"]).shape == (1,)  # exports and scores
    run = CliRunner().invoke(
        app,
        [
            "train",
            "--cross-encoder",
            "--pairs",
            str(pairs),
            "--output",
            str(tmp_path / "o"),
            "--base",
            str(checkpoint),
            "--layers",
            "3",
        ],
    )
    assert run.exit_code == 1 and "layers must be 1 to 2, the base model's layers (got 3)" in run.stderr
    run = CliRunner().invoke(app, ["train", "--pairs", str(pairs), "--output", str(tmp_path / "o"), "--layers", "1"])
    assert run.exit_code == 1 and "--layers applies to --cross-encoder" in run.stderr
    assert not (tmp_path / "o").exists()
