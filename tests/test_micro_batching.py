"""MicroBatchingEncoder: concurrent callers' queries encoded in one model call, each caller given its own rows."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from simsearch import Index, load_encoder
from simsearch.encoders.micro_batching import MicroBatchingEncoder
from simsearch.errors import InvalidArgumentError

QUERIES = [
    "a cat on the mat",
    "interest rates",
    "knead the dough for ten minutes",
    "rain",
    "the summit at dawn",
    "a dog fetches a ball",
    "stock market news today",
    "basil",
]


@pytest.fixture(scope="module")
def inner(tiny_model):
    return load_encoder(tiny_model)


def encode_concurrently(encoder, texts: list[list[str]]) -> list[np.ndarray | Exception]:
    results: list[np.ndarray | Exception] = [None] * len(texts)  # type: ignore[list-item]

    def call(position: int) -> None:
        try:
            results[position] = encoder.encode(texts[position])
        except Exception as error:  # noqa: BLE001 - handed back to the test to inspect
            results[position] = error

    threads = [threading.Thread(target=call, args=(i,)) for i in range(len(texts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


def test_concurrent_queries_are_encoded_in_one_call_and_each_caller_gets_its_own_rows(inner):
    batching = MicroBatchingEncoder(inner, max_batch=len(QUERIES), max_wait_ms=10_000)  # waits for all eight
    try:
        results = encode_concurrently(batching, [[query] for query in QUERIES])
    finally:
        batching.close()
    assert (batching.batches, batching.texts) == (1, len(QUERIES))
    for query, vectors in zip(QUERIES, results):
        np.testing.assert_allclose(vectors, inner.encode([query]), atol=1e-5)


def test_callers_with_several_texts_get_them_in_order(inner):
    batching = MicroBatchingEncoder(inner, max_batch=8, max_wait_ms=10_000)
    try:
        first, second = encode_concurrently(batching, [QUERIES[:3], QUERIES[3:8]])
    finally:
        batching.close()
    assert batching.batches == 1
    np.testing.assert_allclose(np.vstack([first, second]), inner.encode(QUERIES), atol=1e-5)


def test_one_callers_bad_text_fails_only_that_caller(inner):
    batching = MicroBatchingEncoder(inner, max_batch=2, max_wait_ms=10_000)
    try:
        bad, good = encode_concurrently(batching, [[None], ["a cat on the mat"]])
    finally:
        batching.close()
    assert isinstance(bad, TypeError)
    np.testing.assert_allclose(good, inner.encode(["a cat on the mat"]), atol=1e-5)


def test_large_calls_and_imports_bypass_the_batcher(inner):
    batching = MicroBatchingEncoder(inner, max_batch=4)
    progress: list[tuple[int, int]] = []
    np.testing.assert_allclose(batching.encode(QUERIES), inner.encode(QUERIES), atol=1e-6)
    batching.encode(QUERIES[:2], on_progress=lambda done, total: progress.append((done, total)))
    assert batching.batches == 0 and progress == [(2, 2)]
    assert batching.info == inner.info and batching.backend == inner.backend


def test_an_index_searches_through_a_batching_encoder(inner, tiny_model, index_dir, animals):
    Index.build("animals", animals, encoder=inner, index_dir=index_dir)
    batching = MicroBatchingEncoder(inner)
    try:
        index = Index.open("animals", index_dir=index_dir, encoder=batching)
        expected = Index.open("animals", index_dir=index_dir, encoder=inner).search_batch(QUERIES[:2], 3, mode="dense")
        assert index.search_batch(QUERIES[:2], 3, mode="dense") == expected
        assert batching.batches == 1
    finally:
        batching.close()


def test_bad_settings_are_refused(inner):
    with pytest.raises(InvalidArgumentError, match="max_batch >= 1"):
        MicroBatchingEncoder(inner, max_batch=0)
