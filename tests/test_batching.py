"""Length-bucketed training batches: every pair once an epoch, little padding, a new order each epoch."""

from __future__ import annotations

import random

import pytest
from datasets import Dataset

from simsearch.training.batching import LengthBucketBatchSampler


def pairs_dataset(count: int, seed: int = 0) -> Dataset:
    rng = random.Random(seed)
    first = ["w " * rng.randint(1, 40) for _ in range(count)]
    second = ["w " * rng.randint(1, 40) for _ in range(count)]
    return Dataset.from_dict({"sentence1": first, "sentence2": second, "score": [0.5] * count})


@pytest.mark.parametrize("drop_last", [False, True])
def test_every_pair_comes_once_per_epoch_and_len_counts_the_batches(drop_last):
    sampler = LengthBucketBatchSampler(
        pairs_dataset(1000), batch_size=16, drop_last=drop_last, valid_label_columns=["score"]
    )
    batches = list(sampler)
    assert len(batches) == len(sampler) == (62 if drop_last else 63)
    seen = [i for batch in batches for i in batch]
    assert len(seen) == len(set(seen))
    assert len(seen) == (992 if drop_last else 1000)


def test_batches_pad_far_less_than_random_batches():
    dataset = pairs_dataset(2000)
    sampler = LengthBucketBatchSampler(dataset, batch_size=16, drop_last=False, valid_label_columns=["score"])
    lengths = sampler.lengths

    def padded(batches: list[list[int]]) -> int:
        return sum(max(lengths[i] for i in batch) * len(batch) for batch in batches)

    order = list(range(len(lengths)))
    random.Random(1).shuffle(order)
    random_batches = [order[i : i + 16] for i in range(0, len(order), 16)]
    assert padded(list(sampler)) < 0.7 * padded(random_batches)


def test_each_epoch_has_its_own_order_and_a_seed_repeats_it():
    sampler = LengthBucketBatchSampler(
        pairs_dataset(500), batch_size=8, drop_last=False, valid_label_columns=["score"], seed=3
    )
    first = list(sampler)
    assert list(sampler) == first
    sampler.set_epoch(1)
    assert list(sampler) != first
