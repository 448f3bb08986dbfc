"""Shared fixtures: a tiny random-weight BERT for fast tests, the real default model, temp index homes, the demo
index built once per worker and handed to each module as its own copy; the longest files scheduled first."""

from __future__ import annotations

import os
import shutil
from collections import Counter
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
if os.environ.get("PYTEST_XDIST_WORKER"):
    # Each of the two workers of `make test` gets one core: torch, FAISS (both OpenMP) and ONNX Runtime would
    # otherwise each start a thread per core, four busy threads on two cores. Set before any of them loads;
    # the processes a test starts inherit it.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("SIMSEARCH_ONNX_THREADS", "1")

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"
DEMO_CSV = REPO / "simsearch" / "data" / "demo.csv"

# The files that take longest, longest first. pytest-xdist's loadfile hands out whole files in collection
# order (with --no-loadscope-reorder, as the Makefile runs it), so the long ones start at once and the short
# ones fill in around them, instead of a long file starting last and running alone on one worker.
# Seconds per file, `pytest -n 2 --dist loadfile --durations=60` on the shared 2-core machine at load 10-18,
# before test_train ran its CLI in-process: distributed 630 (a Ray session and its actors), install 197,
# browser 186, writes_benchmark 133, readme 96, performance_kinds 81, features_benchmark 75, dedup 69,
# adapt_benchmark 68, browser_anatomy 67; train 273 then, about 60 now (its benchmark smoke run).
# Files not listed follow, most tests first (xdist's own default order).
LONGEST_FIRST = (
    "test_distributed.py",
    "test_install.py",
    "test_browser.py",
    "test_writes_benchmark.py",
    "test_readme.py",
    "test_performance_kinds.py",
    "test_features_benchmark.py",
    "test_train.py",
    "test_dedup.py",
    "test_adapt_benchmark.py",
    "test_browser_anatomy.py",
)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Files in LONGEST_FIRST order, then by test count; a file's own tests keep their order."""
    rank = {name: position for position, name in enumerate(LONGEST_FIRST)}
    tests_in = Counter(item.path for item in items)
    items.sort(key=lambda item: (rank.get(item.path.name, len(rank)), -tests_in[item.path], str(item.path)))


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


@pytest.fixture(scope="session")
def demo_template(default_encoder, tmp_path_factory) -> Path:
    """The demo corpus built with the real default model, once per worker; never written: each module copies it."""
    from simsearch import Index, read_corpus

    home = tmp_path_factory.mktemp("demo-template") / "indexes"
    Index.build("demo", read_corpus(DEMO_CSV), encoder=default_encoder, index_dir=home).close()
    return home


@pytest.fixture(scope="module")
def demo_home(demo_template, tmp_path_factory) -> Path:
    """A home holding the module's own copy of the demo index (real default model): a module may write to it.

    Building it costs seconds (320 texts through MiniLM); copying it, milliseconds. ``symlinks=True`` keeps the
    index's name a link to its build folder, as the link swap left it.
    """
    home = tmp_path_factory.mktemp("demo") / "indexes"
    shutil.copytree(demo_template, home, symlinks=True)
    return home


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
