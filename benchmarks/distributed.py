"""Build throughput with the local engine and with the Ray engine on this machine, and Ray's overhead.

For each size, the first N sentences of ../shared/data/wikipedia_sentences are built into a
flat index twice in this process: ``engine=local`` (the baseline: the encoder's own batches
here) and ``engine=ray`` (a local Ray with this machine's cores, ``--workers`` encoder actors).
Ray is started once and its start is reported apart; each Ray build includes starting its
actors and loading the model in each, as a CLI build does. Printed: sentences/s for each
engine and the overhead ratio (Ray build seconds / local build seconds; above 1 is slower).

    nice -n 10 python benchmarks/distributed.py [--sizes 10000 50000 100000] [--workers 2] [--backend torch]
        [--gpus-per-worker 1]
    nice -n 10 python benchmarks/distributed.py --memory     # bytes a document per index kind (docs/scale.md)
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import os
import platform
import tempfile
import time
from datetime import date
from pathlib import Path

from simsearch import Index, load_encoder
from simsearch.index.engines import build_engine

REPO = Path(__file__).resolve().parent.parent
WIKI = REPO.parent / "shared" / "data" / "wikipedia_sentences" / "sentences.tsv.gz"
RESULTS = REPO / "benchmarks" / "results" / "distributed.json"


def wiki_rows(count: int) -> list[dict]:
    """The first ``count`` sentences with their ids (the file is in article order)."""
    with gzip.open(WIKI, "rt", encoding="utf-8") as handle:
        lines = itertools.islice(handle, 1, count + 1)
        return [{"id": cells[0], "text": cells[3]} for cells in (line.rstrip("\n").split("\t", 3) for line in lines)]


def timed_build(name: str, rows: list[dict], encoder, home: Path, engine=None) -> float:
    started = time.perf_counter()
    Index.build(name, rows, encoder=encoder, kind="flat", index_dir=home, engine=engine)
    return time.perf_counter() - started


def bytes_per_document(count: int = 50_000, dimension: int = 384) -> None:
    """Saved-file bytes per document of every kind at the default model's dimension, default parameters."""
    import numpy as np

    from simsearch.testing import unit_vectors
    from simsearch.vectors import create_vector_index

    vectors, ids = unit_vectors(count, dimension), np.arange(count, dtype=np.int64)
    with tempfile.TemporaryDirectory() as folder:
        for kind in ("flat", "hnsw", "ivf", "ivfsq", "ivfpq"):
            index = create_vector_index(kind, dimension, count)
            index.build(vectors, ids)
            index.save(Path(folder) / f"{kind}.faiss")
            size = (Path(folder) / f"{kind}.faiss").stat().st_size
            print(f"{kind:>6} {size / count:>9.1f} bytes/document at {count} x {dimension}  {index.params}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 50_000, 100_000])
    parser.add_argument("--workers", type=int, default=None, help="Ray encoder actors [default: one per core]")
    parser.add_argument("--backend", default="torch", help="encoder runtime: torch, onnx or onnx-int8")
    parser.add_argument("--gpus-per-worker", type=float, default=None, help="GPUs for each Ray encoder actor")
    parser.add_argument("--memory", action="store_true", help="only print bytes/document per index kind")
    args = parser.parse_args()
    if args.memory:
        bytes_per_document()
        return

    from simsearch.index.distributed import start_ray

    encoder = load_encoder(backend=args.backend)
    started = time.perf_counter()
    start_ray()
    ray_start = time.perf_counter() - started
    print(f"ray start: {ray_start:.1f} s (once; a CLI build pays it each time)")
    print(f"{'texts':>8} {'local s':>8} {'local/s':>8} {'ray s':>8} {'ray/s':>8} {'overhead':>9}")
    rows_out = []
    engine = build_engine("ray", workers=args.workers, gpus_per_worker=args.gpus_per_worker)
    with tempfile.TemporaryDirectory() as folder, engine as ray_engine:
        home = Path(folder)
        for size in args.sizes:
            rows = wiki_rows(size)
            local = timed_build(f"local-{size}", rows, encoder, home)
            on_ray = timed_build(f"ray-{size}", rows, encoder, home, ray_engine)
            row = {
                "texts": len(rows),
                "local_seconds": round(local, 1),
                "local_per_second": round(len(rows) / local),
                "ray_seconds": round(on_ray, 1),
                "ray_per_second": round(len(rows) / on_ray),
                "overhead_ratio": round(on_ray / local, 2),
                "ray_workers": ray_engine.workers,
            }
            rows_out.append(row)
            print(
                f"{row['texts']:>8} {local:>8.1f} {row['local_per_second']:>8} {on_ray:>8.1f} "
                f"{row['ray_per_second']:>8} {row['overhead_ratio']:>8.2f}x",
                flush=True,
            )
    import ray

    ray.shutdown()
    RESULTS.write_text(
        json.dumps(
            {
                "date": date.today().isoformat(),
                "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
                "backend": args.backend,
                "ray_start_seconds": round(ray_start, 1),
                "command": "nice -n 10 python benchmarks/distributed.py --sizes " + " ".join(map(str, args.sizes)),
                "rows": rows_out,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"wrote {RESULTS.relative_to(REPO)}")


if __name__ == "__main__":
    main()
