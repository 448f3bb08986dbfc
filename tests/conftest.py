"""Shared fixtures: a tiny random-weight BERT for fast tests, the real default model, temp index homes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"
DEMO_CSV = REPO / "simsearch" / "data" / "demo.csv"


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    """A plain 2-layer BERT (no pooling config) with random weights and the real WordPiece vocab.

    initializer_range 0.2 (not BERT's 0.02) keeps random sentence vectors apart enough to rank.
    """
    from simsearch.testing import write_tiny_bert

    return write_tiny_bert(tmp_path_factory.mktemp("tiny-bert"), initializer_range=0.2)


@pytest.fixture(scope="session")
def tiny_model(tiny_checkpoint, tmp_path_factory) -> str:
    """The tiny BERT saved as a sentence-transformers folder (Transformer + mean Pooling + Normalize)."""
    from simsearch import load_encoder

    folder = tmp_path_factory.mktemp("tiny-st") / "model"
    load_encoder(tiny_checkpoint, "mean").model.save(str(folder))
    return str(folder)


@pytest.fixture(scope="session")
def default_encoder():
    from simsearch import load_encoder

    return load_encoder()


@pytest.fixture
def index_dir(tmp_path) -> Path:
    return tmp_path / "indexes"


@pytest.fixture
def animals() -> list[dict]:
    """A small corpus with ids and a category, for index mechanics."""
    texts = [
        ("a1", "The cat sleeps on the warm windowsill.", "pets"),
        ("a2", "A dog fetches the ball in the park.", "pets"),
        ("a3", "The stock market fell sharply on Monday.", "finance"),
        ("a4", "Interest rates rose again this quarter.", "finance"),
        ("a5", "Fresh basil makes the tomato sauce better.", "cooking"),
        ("a6", "Knead the dough for ten minutes before baking.", "cooking"),
        ("a7", "The hikers reached the summit at sunrise.", "outdoors"),
        ("a8", "Heavy rain flooded the mountain trail.", "outdoors"),
    ]
    return [{"id": i, "text": t, "category": c} for i, t, c in texts]


@pytest.fixture(scope="session")
def cross_encoder(tiny_checkpoint, tmp_path_factory) -> str:
    """The tiny random BERT with a fresh one-output head, saved as a sentence-transformers CrossEncoder
    (scores arbitrary but fixed): the re-ranker of the rerank, server and UI tests."""
    from sentence_transformers import CrossEncoder

    folder = tmp_path_factory.mktemp("tiny-ce") / "ce"
    CrossEncoder(str(tiny_checkpoint), num_labels=1, max_length=128).save_pretrained(str(folder))
    return str(folder)
