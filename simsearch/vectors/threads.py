"""How many OpenMP threads one FAISS search call uses: one, when it carries a single query.

FAISS spreads a search over its queries, so one query gains nothing from a thread team but pays
for waking it, and while the other core is busy (another process writing) the team's barrier
waits for a thread to be scheduled. Measured on 2 cores: searches of a 100k hnsw index while a
second process added a document every 50 ms had a p99 of 2.84 ms with the default team and
1.41 ms with one thread (quiet: 0.95 and 0.82 ms; `benchmarks/writes.py`, run with and without
OMP_NUM_THREADS=1); one query over 100k flat vectors took 14.2 ms p50 with two threads, 10.7 ms
with one. OpenMP keeps the count per calling thread, so only the searching thread is affected:
builds and batches of queries keep every core.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import faiss


@contextmanager
def threads_for(n_queries: int) -> Iterator[None]:
    """Run the block's FAISS calls on one thread when they carry one query; leave the count alone otherwise."""
    if n_queries != 1:
        yield
        return
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)
