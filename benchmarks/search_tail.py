"""Where a quiet search's tail comes from: the vector search, the store fetch, or the garbage collector.

Issue 20's target: quiet ``search_vectors`` p99 within 3x of raw FAISS's on the same index.
This script splits each single-query search of an index built like benchmarks/writes.py's
(static-384 encoder over wikipedia_sentences) into the stages ``search_encoded`` times
itself (candidates from the segmented vectors, then the stored rows), beside raw FAISS on
the same base file, under three collector settings in one process: as Python runs by
default, with ``gc.disable()``, and with ``gc.freeze()`` after the index is open (objects
alive then are never scanned again). A ``gc.callbacks`` hook counts the collections that
ran inside a timed search and how long they took.

    python benchmarks/search_tail.py --size 100000 --kind hnsw --queries 2000 --json /tmp/search-tail.json

The stage split reads the index's own vectors and store (``Index._vectors``, ``Index._store``):
a diagnostic, not an API.
"""

from __future__ import annotations

import argparse
import gc
import json
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from measure import latency_summary, time_queries  # benchmarks/measure.py, beside this script
from writes import WIKI, base_files, ratio, raw_faiss_search, single_rows, wiki_rows, write_static_encoder


class CollectorWatch:
    """Seconds each garbage collection took, and which generation, while ``watching``."""

    def __init__(self) -> None:
        self.pauses: list[tuple[int, float]] = []
        self._started = 0.0

    def __call__(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.pauses.append((info["generation"], time.perf_counter() - self._started))

    @contextmanager
    def watching(self) -> Iterator[CollectorWatch]:
        gc.callbacks.append(self)
        try:
            yield self
        finally:
            gc.callbacks.remove(self)


def staged_searches(index, queries: np.ndarray) -> dict:
    """Each query's total, candidates and fetch time, and the collections that ran inside it."""
    from simsearch.query import search_encoded

    vectors, store = index._vectors(), index._store
    search_encoded(vectors, store, queries[:1], 10)
    totals, candidates, fetches, collected = [], [], [], []
    watch = CollectorWatch()
    with watch.watching():
        for row in range(len(queries)):
            before = len(watch.pauses)
            started = time.perf_counter()
            _, candidates_ms, fetch_ms = search_encoded(vectors, store, queries[row : row + 1], 10)
            totals.append(time.perf_counter() - started)
            candidates.append(candidates_ms / 1000)
            fetches.append(fetch_ms / 1000)
            collected.append(len(watch.pauses) > before)
    slowest = np.asarray(totals) >= np.percentile(totals, 99)
    gc_seconds = [seconds for _, seconds in watch.pauses]
    return {
        "total": latency_summary(totals),
        "candidates": latency_summary(candidates),
        "fetch": latency_summary(fetches),
        "searches_with_a_collection": int(sum(collected)),
        "slowest_1pct": int(slowest.sum()),
        "slowest_1pct_with_a_collection": int((slowest & np.asarray(collected)).sum()),
        "collections": len(watch.pauses),
        "collections_by_generation": {g: sum(1 for gen, _ in watch.pauses if gen == g) for g in (0, 1, 2)},
        "longest_collection_ms": round(1000 * max(gc_seconds), 2) if gc_seconds else 0.0,
    }


def measure(index, queries: np.ndarray) -> dict:
    """Raw FAISS and the staged search under each collector setting, interleaved so load drifts hit all alike."""
    raw = raw_faiss_search(Path(index.info()["path"]), index.manifest.params)
    figures: dict = {"raw_faiss": time_queries(raw, single_rows(queries))}
    figures["gc_default"] = staged_searches(index, queries)
    gc.disable()
    try:
        figures["gc_disabled"] = staged_searches(index, queries)
    finally:
        gc.enable()
    gc.collect()
    gc.freeze()
    try:
        figures["gc_frozen"] = staged_searches(index, queries)
    finally:
        gc.unfreeze()
    figures["raw_faiss_again"] = time_queries(raw, single_rows(queries))
    raw_p99 = max(figures["raw_faiss"]["p99_ms"], 1e-9)
    for setting in ("gc_default", "gc_disabled", "gc_frozen"):
        figures[setting]["p99_vs_raw_faiss"] = ratio(figures[setting]["total"]["p99_ms"], raw_p99)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--kind", default="hnsw")
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--corpus", type=Path, default=WIKI)
    parser.add_argument("--work-dir", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    from simsearch import Index, load_encoder

    rows = wiki_rows(args.corpus, args.size + args.queries)
    with tempfile.TemporaryDirectory(dir=args.work_dir) as folder:
        encoder = load_encoder(write_static_encoder(Path(folder) / "static-384"))
        queries = encoder.encode([row["text"] for row in rows[args.size :]])
        built = Index.build("tail", rows[: args.size], encoder=encoder, kind=args.kind, index_dir=folder)
        index = Index.open("tail", index_dir=folder, encoder=encoder)
        assert base_files(Path(built.info()["path"])), "no vectors-G.faiss in the build folder"
        results = {"size": args.size, "kind": args.kind, "queries": args.queries, **measure(index, queries)}
    print(json.dumps(results, indent=2))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
