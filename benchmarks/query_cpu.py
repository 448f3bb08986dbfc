"""Where one query's time goes, in-process: wall and CPU per query, per stage, and encoding batched.

Uses the load benchmark's cached index of Wikipedia sentences (`python benchmarks/load.py` builds it)
and its held-out queries cut to their first words. Run it twice to compare ONNX threads per call:

    python benchmarks/query_cpu.py                          # ONNX Runtime's default: a thread per core
    SIMSEARCH_ONNX_THREADS=1 python benchmarks/query_cpu.py # one thread per call, as `simsearch serve` runs
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchmarks/load.py, beside this script

from load import NAME, read_corpus  # noqa: E402

from simsearch import Index  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=100_000, help="the cached load index's size")
    parser.add_argument("--query-words", type=int, default=6)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    queries = [" ".join(q.split()[: args.query_words]) for q in read_corpus(args.docs, 500, 10).queries]
    index = Index.open(NAME, index_dir=Path(tempfile.gettempdir()) / "simsearch-bench" / f"load-{args.docs}")
    for query in queries:  # ONNX Runtime's first runs at each new length are slow
        index.search(query, 10, mode="dense")
    stages = {"encode": 0.0, "candidates": 0.0, "fetch": 0.0}
    cpu, wall = time.process_time(), time.perf_counter()
    for query in queries:
        timings = index.query([query], 10, mode="dense").timings
        stages["encode"] += timings.encode_ms
        stages["candidates"] += timings.candidates_ms
        stages["fetch"] += timings.fetch_ms
    n = len(queries)
    wall_ms, cpu_ms = (time.perf_counter() - wall) / n * 1000, (time.process_time() - cpu) / n * 1000
    split = ", ".join(f"{name} {total / n:.2f} ms" for name, total in stages.items())
    print(f"search: wall {wall_ms:.2f} ms, CPU {cpu_ms:.2f} ms per query; {split}")
    for batch in (1, 4, 8):
        cpu, wall = time.process_time(), time.perf_counter()
        for start in range(0, n, batch):
            index.encoder.encode(queries[start : start + batch], batch_size=4)
        print(
            f"encode {batch} at a time: wall {(time.perf_counter() - wall) / n * 1000:.2f} ms, "
            f"CPU {(time.process_time() - cpu) / n * 1000:.2f} ms per query"
        )


if __name__ == "__main__":
    main()
