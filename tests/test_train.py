"""Fine-tuning: a tiny BERT learns topic similarity from a few dozen pairs, and the result is a usable model."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from simsearch import Index, load_encoder
from simsearch.cli import app
from simsearch.errors import InvalidArgumentError
from simsearch.testing import write_anchors, write_labelled, write_scored, write_tiny_bert
from simsearch.training.bi_encoder import train_model
from simsearch.training.pairs import read_pairs
from tests.conftest import REPO, SHARED_DATA


@pytest.fixture(scope="module")
def learnable_checkpoint(tmp_path_factory):
    """A tiny BERT with BERT's own initializer_range (0.02), which trains well (see simsearch.testing)."""
    return write_tiny_bert(tmp_path_factory.mktemp("learnable-bert"), initializer_range=0.02)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pairs")
    return {
        "labelled": write_labelled(folder / "train.csv", 48, seed=1),
        "labelled_eval": write_labelled(folder / "eval.csv", 40, seed=2),
        "scored": write_scored(folder / "sts.csv", 24, seed=3),
        "anchors": write_anchors(folder / "anchors.jsonl", 24, seed=4),
    }


@pytest.fixture(scope="module")
def trained(learnable_checkpoint, data, tmp_path_factory):
    output = tmp_path_factory.mktemp("trained") / "model"
    result = train_model(
        data["labelled"],
        output,
        base=learnable_checkpoint,
        pooling="mean",
        epochs=8,
        batch_size=8,
        learning_rate=2e-3,
        eval_pairs=data["labelled_eval"],
        seed=0,
    )
    return result


def test_training_lowers_the_loss_and_raises_the_eval_metric(trained):
    history = trained.history
    assert trained.loss == "online-contrastive"  # the default for 0/1 labels
    assert [r.epoch for r in history] == list(range(9)) and history[0].loss is None
    assert history[-1].loss < history[1].loss
    assert trained.selection_metric == "average_precision"
    before = history[0].metrics["average_precision"]
    assert trained.best_metrics["average_precision"] > before + 5
    assert trained.best_metrics["average_precision"] == max(r.metrics["average_precision"] for r in history[1:])


def test_trained_folder_has_the_report_and_the_best_epoch(trained):
    report = json.loads((trained.output / "training.json").read_text())
    assert report["settings"]["seed"] == 0
    assert report["hyperparameters"] == {"epochs": 8, "batch_size": 8, "learning_rate": 2e-3, "warmup_ratio": 0.1}
    assert len(report["history"]) == 9 and report["best_epoch"] == trained.best_epoch
    assert report["wall_seconds"] > 0
    assert (trained.output / "training.png").read_bytes()[:4] == b"\x89PNG"
    assert not list(trained.output.parent.glob(".model.partial-*"))  # the staging folder is gone


def test_trained_folder_loads_and_scores_as_recorded_and_builds_an_index(trained, data, animals, index_dir):
    from simsearch.training.pair_metrics import pair_metrics

    encoder = load_encoder(trained.output)
    assert encoder.info.pooling == "mean"
    # the saved weights are the kept epoch's: evaluating them again gives its figure
    again = pair_metrics(encoder, read_pairs(data["labelled_eval"]))
    assert again["average_precision"] == pytest.approx(trained.best_metrics["average_precision"], abs=1e-3)
    index = Index.build("tuned", animals, encoder=load_encoder(trained.output), index_dir=index_dir)
    assert index.manifest.model["name"] == str(trained.output)
    assert len(index.search("a cat", k=3)) == 3


def test_existing_output_is_refused_unless_overwrite(tiny_model, data, tmp_path):
    output = tmp_path / "model"
    output.mkdir()
    (output / "keep.txt").write_text("mine")
    with pytest.raises(InvalidArgumentError, match="exists; choose a new folder or pass overwrite=True") as info:
        train_model(data["scored"], output, base=tiny_model, epochs=1)
    assert info.value.message_for("cli").endswith("or pass --overwrite.")
    assert (output / "keep.txt").read_text() == "mine"
    train_model(data["scored"], output, base=tiny_model, epochs=1, batch_size=8, overwrite=True)
    assert not (output / "keep.txt").exists() and (output / "modules.json").exists()


def test_when_no_epoch_beats_the_base_model_its_weights_are_kept_and_said(trained, data, tmp_path, caplog):
    from simsearch.training.pair_metrics import pair_metrics

    base = load_encoder(trained.output)  # a model that already scores well, then a learning rate that wrecks it
    with caplog.at_level("WARNING", logger="simsearch.training.bi_encoder"):
        result = train_model(
            data["labelled"],
            tmp_path / "m",
            base=trained.output,
            loss="contrastive",
            epochs=2,
            batch_size=8,
            learning_rate=0.9,
            eval_pairs=data["labelled_eval"],
            seed=0,
        )
    history = result.history
    assert max(r.metrics["average_precision"] for r in history[1:]) < history[0].metrics["average_precision"] - 5
    assert result.kept_base_model and result.best_epoch == 0
    assert "no epoch beat the base model" in caplog.text and "saved unchanged" in caplog.text
    report = json.loads((result.output / "training.json").read_text())
    assert report["kept_base_model"] is True and report["best_epoch"] == 0
    saved = load_encoder(result.output)
    assert saved.info.fingerprint == base.info.fingerprint  # the very weights of the base model
    again = pair_metrics(saved, read_pairs(data["labelled_eval"]))
    assert again["average_precision"] == pytest.approx(history[0].metrics["average_precision"], abs=1e-3)


def test_a_loss_that_does_not_fit_the_pairs_is_refused(tiny_model, data, tmp_path):
    with pytest.raises(InvalidArgumentError, match="does not fit scored pairs.*valid for them: cosent"):
        train_model(data["scored"], tmp_path / "m", base=tiny_model, loss="contrastive")
    with pytest.raises(InvalidArgumentError, match="invalid loss 'triplet'; valid: contrastive"):
        train_model(data["labelled"], tmp_path / "m", base=tiny_model, loss="triplet")
    assert not (tmp_path / "m").exists()


def test_anchor_positive_pairs_train_with_mnrl_and_report_retrieval(tiny_model, data, tmp_path):
    said = []
    result = train_model(
        data["anchors"],
        tmp_path / "m",
        base=tiny_model,
        epochs=1,
        batch_size=8,
        eval_pairs=data["anchors"],
        say=said.append,
    )
    assert result.loss == "mnrl"
    assert said[0].startswith("loss: mnrl (the default for triplets pairs")
    assert result.selection_metric == "ndcg@10" and "mrr@10" in result.best_metrics


def run_cli(*args, check=True) -> subprocess.CompletedProcess:
    """``simsearch ARGS`` in this process (a new process would cost seconds importing torch); an exception the
    command does not turn into its one-line error fails the test, as a traceback would."""
    result = CliRunner().invoke(app, [str(arg) for arg in args], catch_exceptions=False)
    done = subprocess.CompletedProcess(args, result.exit_code, result.stdout, result.stderr)
    if check:
        assert done.returncode == 0, done.stderr
    return done


@pytest.mark.slow
def test_cli_train_then_eval_with_json(tiny_checkpoint, data, tmp_path):
    output = tmp_path / "cli-model"
    done = run_cli(
        "train",
        "--pairs",
        data["scored"],
        "--output",
        output,
        "--base",
        tiny_checkpoint,
        "--pooling",
        "mean",
        "--epochs",
        "1",
        "--batch-size",
        "8",
        "--eval",
        data["scored"],
    )
    assert "loss: cosent" in done.stderr and "saved" in done.stderr
    assert (output / "training.json").exists()
    sts = json.loads(run_cli("eval", "sts", data["scored"], "--model", output, "--json").stdout)
    assert set(sts) == {"model", "count", "spearman", "pearson"} and sts["count"] == 24
    para = json.loads(run_cli("eval", "paraphrase", data["scored"], "--model", output, "--json").stdout)
    assert {"ndcg@10", "mrr@10", "recall@1", "recall@10", "recall@100", "map@100"} <= set(para)
    again = run_cli("train", "--pairs", data["scored"], "--output", output, "--base", tiny_checkpoint, check=False)
    assert again.returncode == 1
    assert again.stderr.strip().startswith("error: output folder")


@pytest.mark.slow
def test_cli_eval_retrieval_with_index_and_bad_pairs(tiny_model, animals, tmp_path):
    Index.build("animals", animals, encoder=load_encoder(tiny_model), kind="flat", index_dir=tmp_path / "idx")
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("\n".join(json.dumps({"_id": a["id"], "text": a["text"]}) for a in animals))
    queries = tmp_path / "queries.jsonl"
    queries.write_text(json.dumps({"_id": "1", "text": "pets"}))
    qrels = tmp_path / "qrels.tsv"
    qrels.write_text("query-id\tcorpus-id\tscore\n1\ta1\t1\n")
    by_index = json.loads(
        run_cli(
            "eval",
            "retrieval",
            "--corpus",
            corpus,
            "--queries",
            queries,
            "--qrels",
            qrels,
            "--index",
            "animals",
            "--index-dir",
            tmp_path / "idx",
            "--json",
        ).stdout
    )
    by_model = json.loads(
        run_cli(
            "eval",
            "retrieval",
            "--corpus",
            corpus,
            "--queries",
            queries,
            "--qrels",
            qrels,
            "--model",
            tiny_model,
            "--json",
        ).stdout
    )
    assert by_index["ndcg@10"] == pytest.approx(by_model["ndcg@10"], abs=1e-3)
    bad = tmp_path / "bad.csv"
    bad.write_text("sentence1,sentence2,score\na,b,9\nc,d,1\n")
    done = run_cli("eval", "sts", bad, "--model", tiny_model, check=False)
    assert done.returncode == 1 and done.stderr.startswith("error: bad.csv row 1: score 9 is outside 0-5")


@pytest.mark.slow
def test_default_model_sts_on_part_of_stsb_dev(tmp_path):
    dev = SHARED_DATA / "stsb" / "dev.csv"
    if not dev.exists():
        pytest.skip("../shared/data/stsb is not here")
    part = tmp_path / "dev300.csv"
    part.write_text("\n".join(dev.read_text(encoding="utf-8").splitlines()[:301]) + "\n")
    figures = json.loads(run_cli("eval", "sts", part, "--json").stdout)
    assert figures["count"] == 300
    assert figures["spearman"] > 75  # the full dev split gives about 87 (README)


@pytest.mark.slow
def test_quality_benchmark_smoke_mode_runs(tmp_path):
    env = dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    done = subprocess.run(
        [sys.executable, "benchmarks/quality.py", "--smoke", "--json-out", tmp_path / "q.json"],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.lstrip().startswith("|")
    report = json.loads((tmp_path / "q.json").read_text())
    assert report["mode"] == "smoke" and report["after"]["sts"]["spearman"] > report["before"]["sts"]["spearman"]


def test_an_output_under_a_file_is_one_line_not_a_traceback(tmp_path):
    from simsearch.training.run import check_output

    (tmp_path / "afile").write_text("x")
    with pytest.raises(InvalidArgumentError, match="cannot make .*afile.*choose an output folder you can write to"):
        check_output(tmp_path / "afile" / "model", overwrite=False)
