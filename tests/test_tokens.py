"""WordPiece tokens, contextual token embeddings and the sentence comparison built on them."""

from __future__ import annotations

import numpy as np
import pytest

from simsearch import Encoder, load_encoder
from simsearch.errors import InvalidArgumentError
from simsearch.tools.compare import compare_texts, describe_similarity
from simsearch.tools.tokens import token_similarity, word_pieces


@pytest.fixture(scope="module")
def tiny_encoder(tiny_model) -> Encoder:
    return load_encoder(tiny_model)


def test_word_pieces_show_special_tokens_subwords_and_ids(tiny_encoder):
    tokens = word_pieces("unbelievably snowboarding", tiny_encoder)
    assert tokens[0].text == "[CLS]" and tokens[-1].text == "[SEP]"
    assert tokens[0].special and tokens[-1].special and not any(t.special for t in tokens[1:-1])
    assert any(t.text.startswith("##") for t in tokens)
    tokenizer = tiny_encoder.model.tokenizer
    assert [t.id for t in tokens] == tokenizer("unbelievably snowboarding")["input_ids"]


def test_token_similarity_of_a_sentence_with_itself_has_unit_diagonal(tiny_encoder):
    view = token_similarity("The cat sleeps.", "The cat sleeps.", tiny_encoder)
    assert view.matrix.shape == (len(view.tokens_a), len(view.tokens_b))
    np.testing.assert_allclose(np.diag(view.matrix), 1.0, atol=1e-4)
    best = view.best_matches()
    assert all(a.text == b.text for a, b, _ in best)


def test_compare_score_equals_encoder_similarity(tiny_encoder):
    comparison = compare_texts("A man plays guitar.", "Stocks fell today.", tiny_encoder)
    assert comparison.score == pytest.approx(tiny_encoder.similarity("A man plays guitar.", "Stocks fell today."))
    assert comparison.reading == describe_similarity(comparison.score)


def test_empty_sentence_is_refused(tiny_encoder):
    with pytest.raises(InvalidArgumentError, match="second sentence is empty"):
        compare_texts("hello", "  ", tiny_encoder)


def test_describe_similarity_bands_are_ordered():
    assert describe_similarity(0.95) == "the same meaning"
    assert describe_similarity(0.05) == "different topics"
    assert describe_similarity(0.5) != describe_similarity(0.7)


@pytest.mark.slow
def test_real_model_matches_guitar_to_guitar(default_encoder):
    comparison = compare_texts("A man plays guitar.", "Someone is playing a guitar.", default_encoder)
    assert comparison.score > 0.7
    matches = {a.text: (b.text, score) for a, b, score in comparison.tokens.best_matches()}
    assert matches["guitar"][0] == "guitar"


def test_words_only_hides_special_tokens_and_punctuation(tiny_encoder):
    view = token_similarity("Well, the cat sleeps.", "A dog's ball!", tiny_encoder).words_only()
    assert [t.text for t in view.tokens_a] == ["well", "the", "cat", "sleeps"]
    assert "[CLS]" not in [t.text for t in view.tokens_b] and "!" not in [t.text for t in view.tokens_b]
    assert view.matrix.shape == (len(view.tokens_a), len(view.tokens_b))


def test_best_matches_name_each_piece_once(tiny_encoder):
    view = token_similarity("the cat, the cat, the cat.", "a cat sleeps", tiny_encoder)
    firsts = [a.text for a, _, _ in view.best_matches()]
    assert sorted(firsts) == sorted(set(firsts)) and set(firsts) == {"the", "cat", ",", "."}


def test_strongest_keeps_the_best_matched_tokens_in_text_order(tiny_encoder):
    view = token_similarity(" ".join(["cat"] * 70), " ".join(["dog"] * 50), tiny_encoder)
    small = view.strongest(30)
    assert small.matrix.shape == (30, 30) and len(small.tokens_a) == 30
    assert small.matrix.max() == pytest.approx(view.matrix.max())
