"""Augmented SBERT: silver pairs of nearest training sentences, scored by a cross-encoder, beside the gold pairs."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from simsearch import load_encoder
from simsearch.cli import app
from simsearch.errors import InvalidArgumentError
from simsearch.query import load_reranker
from simsearch.testing import write_labelled, write_scored
from simsearch.training.augment import SILVER_PER_GOLD, augmented_pairs, silver_pairs
from simsearch.training.bi_encoder import train_model
from simsearch.training.pairs import read_pairs


@pytest.fixture(scope="module")
def gold(tmp_path_factory):
    folder = tmp_path_factory.mktemp("gold")
    return {
        "train": write_scored(folder / "train.csv", 24, seed=3),
        "dev": write_scored(folder / "dev.csv", 16, seed=4),
        "labelled": write_labelled(folder / "labelled.csv", 16, seed=5),
    }


def test_silver_pairs_are_near_neighbours_never_gold_pairs_self_pairs_or_repeats(tiny_model, gold):
    pairs = read_pairs(gold["train"])
    encoder = load_encoder(tiny_model)
    silver = silver_pairs(pairs, encoder.encode, seed=0)
    gold_pairs = {frozenset(p) for p in zip(pairs.texts["sentence1"], pairs.texts["sentence2"])}
    unordered = [frozenset(p) for p in silver]
    assert silver and len(silver) <= SILVER_PER_GOLD * len(pairs)
    assert all(len(p) == 2 for p in unordered) and len(set(unordered)) == len(unordered)
    assert not gold_pairs & set(unordered)
    # each silver partner is among the sentence's two nearest others
    sentences = sorted(set(pairs.texts["sentence1"]) | set(pairs.texts["sentence2"]))
    vectors = encoder.encode(sentences)
    similarities = vectors @ vectors.T
    np.fill_diagonal(similarities, -2)
    position = {text: i for i, text in enumerate(sentences)}
    for a, b in silver:
        nearest = set(np.argsort(-similarities[position[a]])[:2])
        assert position[b] in nearest


def test_a_cross_encoder_folder_scores_the_silver_pairs_as_re_ranking_would(tiny_model, cross_encoder, gold):
    pairs = read_pairs(gold["train"])
    said = []
    augmented, report = augmented_pairs(
        pairs, cross_encoder, load_encoder(tiny_model).encode, base=tiny_model, eval_pairs=None, seed=0, say=said.append
    )
    silver = len(augmented) - len(pairs)
    assert silver == report["silver"] > 0 and report["cross_encoder"] == cross_encoder
    assert augmented.texts["sentence1"][: len(pairs)] == pairs.texts["sentence1"]
    assert augmented.targets[: len(pairs)] == pairs.targets
    firsts, seconds = augmented.texts["sentence1"][len(pairs) :], augmented.texts["sentence2"][len(pairs) :]
    expected = np.clip(load_reranker(cross_encoder, quantized=False).pair_scores(firsts, seconds), 0, 1)
    assert augmented.targets[len(pairs) :] == pytest.approx(expected.tolist(), abs=1e-6)
    assert said == [
        f"augmenting: scoring {silver} silver pairs with the cross-encoder",
        f"augmenting: {silver} silver pairs (mean score {np.mean(expected):.2f}) beside {len(pairs)} gold pairs",
    ]


@pytest.mark.slow  # spawns processes or a Ray session: left to `make test`, out of `make check`
def test_augment_auto_trains_a_cross_encoder_first_and_learns_from_its_silver_pairs(tiny_checkpoint, gold, tmp_path):
    said = []
    result = train_model(
        gold["train"],
        tmp_path / "m",
        base=tiny_checkpoint,
        pooling="mean",
        epochs=1,
        batch_size=8,
        eval_pairs=gold["dev"],
        augment="auto",
        seed=0,
        say=said.append,
    )
    augment = json.loads((result.output / "training.json").read_text())["settings"]["augment"]
    assert augment["cross_encoder"] == "trained on the pairs" and augment["silver"] > 0
    assert "spearman" in augment["cross_encoder_metrics"] and augment["blend"]["weight"] is not None
    assert result.settings["pairs_count"] == 24 and any("training a cross-encoder on the 24 pairs" in s for s in said)
    assert not list(tmp_path.glob(".m.partial-*")) and sorted(p.name for p in tmp_path.iterdir()) == ["m"]


def test_by_default_and_for_labelled_pairs_training_uses_the_pairs_alone(tiny_model, gold, tmp_path):
    plain = train_model(gold["train"], tmp_path / "plain", base=tiny_model, epochs=1, batch_size=8)
    none = train_model(gold["train"], tmp_path / "none", base=tiny_model, epochs=1, batch_size=8, augment="none")
    labelled = train_model(gold["labelled"], tmp_path / "labelled", base=tiny_model, epochs=1, batch_size=8)
    assert all("augment" not in result.settings for result in (plain, none, labelled))


@pytest.mark.parametrize(
    ("pairs", "augment", "message"),
    [
        ("train", "tiny_model", "is a bi-encoder .* not a cross-encoder"),
        (
            "train",
            "missing",
            'cross-encoder \'missing\' does not exist; pass augment="none", "auto" or a cross-encoder',
        ),
        ("labelled", "cross_encoder", "augmenting applies to scored pairs .* has labelled ones"),
        ("labelled", "auto", "augmenting applies to scored pairs .* has labelled ones"),
    ],
)
def test_what_cannot_augment_is_refused_before_any_training(
    pairs, augment, message, gold, tiny_model, cross_encoder, tmp_path
):
    folder = {"tiny_model": tiny_model, "cross_encoder": cross_encoder}.get(augment, augment)
    with pytest.raises(InvalidArgumentError, match=message):
        train_model(gold[pairs], tmp_path / "m", base=tiny_model, epochs=1, augment=folder)
    assert not (tmp_path / "m").exists()


def test_cli_augment_flag_errors_are_one_line(gold, tiny_model, tmp_path):
    runner = CliRunner()
    missing = runner.invoke(
        app,
        [
            "train",
            "--pairs",
            str(gold["train"]),
            "--output",
            str(tmp_path / "m"),
            "--base",
            tiny_model,
            "--augment",
            "nowhere",
        ],
    )
    assert missing.exit_code == 1 and "use --augment none, auto or a cross-encoder folder" in missing.stderr
    cross = runner.invoke(
        app,
        [
            "train",
            "--cross-encoder",
            "--pairs",
            str(gold["train"]),
            "--output",
            str(tmp_path / "ce"),
            "--augment",
            "auto",
        ],
    )
    assert cross.exit_code == 1 and "--augment applies to the bi-encoder" in cross.stderr
    assert "Traceback" not in missing.stderr + cross.stderr and not list(tmp_path.iterdir())
