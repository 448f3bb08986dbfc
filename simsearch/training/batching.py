"""Training batches of pairs of similar length, so CPU time goes to text rather than padding.

The tokenizer pads every batch to its longest text. Short STS-style sentences vary a
lot in length, so random batches spend a large share of each forward and backward pass
on padding. Sorting a random pool of pairs by length before cutting it into batches,
then shuffling the batches, keeps each epoch random while most padding disappears.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import torch
from sentence_transformers.base.sampler import DefaultBatchSampler

if TYPE_CHECKING:
    from datasets import Dataset

POOL_BATCHES = 64  # batches per sorted pool: larger pools pad less but mix less


class LengthBucketBatchSampler(DefaultBatchSampler):
    """Random pools of ``POOL_BATCHES`` batches, each pool sorted by pair length; batch order shuffled."""

    def __init__(
        self,
        dataset: Dataset,
        batch_size: int,
        drop_last: bool,
        valid_label_columns: list[str] | None = None,
        generator: torch.Generator | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__(
            dataset,
            batch_size=batch_size,
            drop_last=drop_last,
            valid_label_columns=valid_label_columns,
            generator=generator,
            seed=seed,
        )
        text_columns = [c for c in dataset.column_names if c not in (valid_label_columns or [])]
        columns = [list(dataset[c]) for c in text_columns]  # materialised: row access on a lazy Column is slow
        self.lengths = [sum(len(column[row]) for column in columns) for row in range(len(dataset))]

    def __iter__(self) -> Iterator[list[int]]:
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        order = torch.randperm(len(self.lengths), generator=generator).tolist()
        pool_size = self.batch_size * POOL_BATCHES
        batches: list[list[int]] = []
        for start in range(0, len(order), pool_size):
            pool = sorted(order[start : start + pool_size], key=self.lengths.__getitem__)
            batches += [pool[i : i + self.batch_size] for i in range(0, len(pool), self.batch_size)]
        if self.drop_last:
            batches = [batch for batch in batches if len(batch) == self.batch_size]
        for position in torch.randperm(len(batches), generator=generator).tolist():
            yield batches[position]
