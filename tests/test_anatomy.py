"""What BERT does with a sentence: the input it builds (simsearch.tools.anatomy) and the same word's static
and contextual vectors (simsearch.tools.contextual), on the real default model where the numbers matter."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from simsearch import load_encoder
from simsearch.cli import app
from simsearch.errors import InvalidArgumentError
from simsearch.tools.anatomy import input_anatomy
from simsearch.tools.contextual import word_in_context
from tests.test_cli import assert_one_line_error

RIVER, ACCOUNT = "We sat on the river bank.", "She opened a bank account."


def own_embedding_layer(encoder, first: str, second: str | None = None) -> np.ndarray:
    """The model's embedding layer output for the input, computed by the model itself (hidden_states[0])."""
    model = encoder.model
    texts = [first] + ([second] if second is not None else [])
    encoded = model.tokenizer(*texts, return_tensors="pt")
    with torch.inference_mode():
        return model[0].auto_model(**encoded, output_hidden_states=True).hidden_states[0][0].numpy()


@pytest.fixture(scope="module")
def tiny_encoder(tiny_model):
    return load_encoder(tiny_model)


@pytest.mark.slow
def test_rebuilt_sum_equals_the_default_models_embedding_layer_for_a_pair(default_encoder):
    found = input_anatomy(RIVER, ACCOUNT, default_encoder)
    own = own_embedding_layer(default_encoder, RIVER, ACCOUNT)
    np.testing.assert_allclose(found.inputs, own, atol=1e-5, rtol=0)
    np.testing.assert_allclose([p.input_norm for p in found.pieces], np.linalg.norm(own, axis=1), atol=1e-4)
    pieces = [p.token.text for p in found.pieces]
    first_sep = pieces.index("[SEP]")
    assert pieces[0] == "[CLS]" and pieces[-1] == "[SEP]" and first_sep < len(pieces) - 1
    assert [p.segment for p in found.pieces] == ["A"] * (first_sep + 1) + ["B"] * (len(pieces) - first_sep - 1)
    assert [p.position for p in found.pieces] == list(range(len(pieces)))


@pytest.mark.slow
def test_default_models_config_confirms_the_papers_table_sizes(default_encoder):
    shape = input_anatomy("A bank.", encoder=default_encoder).shape
    assert (shape.vocabulary, shape.positions, shape.segments, shape.hidden, shape.layers) == (30522, 512, 2, 384, 6)


@pytest.mark.slow
def test_same_piece_has_the_same_token_embedding_norm_and_segments_differ(default_encoder):
    found = input_anatomy(RIVER, ACCOUNT, default_encoder)
    banks = [p for p in found.pieces if p.token.text == "bank"]
    assert len(banks) == 2 and banks[0].segment == "A" and banks[1].segment == "B"
    assert banks[0].token_norm == banks[1].token_norm
    assert banks[0].segment_norm != banks[1].segment_norm  # two different rows of the segment table
    assert banks[0].position_norm != banks[1].position_norm


@pytest.mark.slow
def test_bank_has_one_static_vector_and_two_contextual_ones(default_encoder):
    found = word_in_context("bank", RIVER, ACCOUNT, default_encoder)
    assert found.pieces == ["bank"] and found.positions[0] != found.positions[1]
    assert found.token_cosine == pytest.approx(1.0, abs=1e-6)
    assert len(found.layer_cosines) == 7  # embedding layer + 6 transformer layers
    assert found.static_cosine < 1 - 1e-3  # different positions: the embedding layer's outputs differ a little
    assert found.contextual_cosine < found.static_cosine - 0.1


@pytest.mark.slow
def test_at_the_same_position_the_embedding_layer_output_is_identical_too(default_encoder):
    found = word_in_context("bank", "bank of the river", "bank of america", default_encoder)
    assert found.positions == (1, 1)
    assert found.static_cosine == pytest.approx(1.0, abs=1e-6)
    assert found.contextual_cosine < 0.9


def test_a_word_cut_into_pieces_is_found_and_averaged(tiny_encoder):
    found = word_in_context("snowboarding", "I like snowboarding.", "Snowboarding is fun", tiny_encoder)
    assert len(found.pieces) > 1 and found.positions == (3, 1)
    assert found.token_cosine == pytest.approx(1.0, abs=1e-6)


def test_missing_or_empty_word_is_refused_naming_the_sentence(tiny_encoder):
    with pytest.raises(InvalidArgumentError, match="'bank' is not in the second sentence"):
        word_in_context("bank", "a river bank", "a savings account", tiny_encoder)
    with pytest.raises(InvalidArgumentError, match="word is empty"):
        word_in_context(" ", "a", "b", tiny_encoder)
    with pytest.raises(InvalidArgumentError, match="second sentence is empty"):
        input_anatomy("a bank", "  ", tiny_encoder)


def test_a_model_that_builds_its_input_otherwise_is_refused(tiny_checkpoint, tmp_path):
    """RoBERTa has the same three tables but counts positions from its padding id + 1: the rebuilt
    BERT sum would be wrong, and the check against the model's own layer must say so."""
    from transformers import AutoTokenizer, RobertaConfig, RobertaModel

    config = RobertaConfig(
        vocab_size=30522,
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=130,
        pad_token_id=0,
        type_vocab_size=2,
    )
    torch.manual_seed(0)
    RobertaModel(config).save_pretrained(tmp_path / "roberta")
    AutoTokenizer.from_pretrained(str(tiny_checkpoint)).save_pretrained(tmp_path / "roberta")
    with pytest.raises(InvalidArgumentError, match="does not build its input as BERT does"):
        input_anatomy("a river bank", encoder=load_encoder(str(tmp_path / "roberta"), "mean"))


def test_cli_anatomy_prints_a_row_per_piece_and_json(tiny_model):
    result = CliRunner().invoke(
        app, ["anatomy", "river bank", "bank account", "--model", tiny_model, "--json", "-q"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert [row["piece"] for row in data["pieces"]] == ["[CLS]", "river", "bank", "[SEP]", "bank", "account", "[SEP]"]
    assert [row["segment"] for row in data["pieces"]] == list("AAAABBB")
    assert data["vocabulary"] == 30522 and data["segments"] == 2


def test_cli_context_prints_static_and_each_layer(tiny_model):
    result = CliRunner().invoke(
        app, ["context", "bank", RIVER, ACCOUNT, "--model", tiny_model, "-q"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.stderr
    assert "token embedding (static)     cosine 1.000" in result.stdout
    assert "embedding layer (input)" in result.stdout and "layer 2 (last)" in result.stdout
    refused = CliRunner().invoke(app, ["context", "bank", RIVER, "no such word", "--model", tiny_model, "-q"])
    assert_one_line_error(refused, "'bank' is not in the second sentence")
