"""Encoding throughput, end-to-end query latency, recall vs speed, memory and cold start, each beside
a baseline measured in the same run: the plain stack (SentenceTransformer.encode in torch fp32,
batch 32, + a faiss.IndexFlatIP, texts in a Python list).

    flock /tmp/simsearch-heavy.lock python benchmarks/performance.py            # full run, ~20 min on 2 cores
    python benchmarks/performance.py --smoke --out /tmp/bench                   # seconds; what CI runs

Corpus: sentences of ../shared/data/wikipedia_sentences, evenly sampled. Only ``--real`` of them are
encoded (2 cores cannot encode 1M in reasonable time); larger sizes are grown from those real
vectors plus Gaussian noise (each copy renormalised, cosine ~0.9 to its source) and say so in the output.
Queries are other wiki sentences, encoded inside the timed loop (end to end = encode + search + fetch texts).
"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import itertools
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from simsearch.encoders import Encoder, load_encoder  # noqa: E402
from simsearch.encoders.models import default_model_path  # noqa: E402
from simsearch.ingest.corpus import Document  # noqa: E402
from simsearch.query import SearchTarget, run_query  # noqa: E402
from simsearch.store import Store  # noqa: E402
from simsearch.testing import noisy_copies  # noqa: E402
from simsearch.vectors import create_vector_index  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_plots import draw_plots  # noqa: E402
from measure import time_queries  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
DATA = REPO.parent / "shared" / "data"
RESULTS = REPO / "benchmarks" / "results"
CACHE = Path(os.environ.get("SIMSEARCH_CACHE", Path.home() / ".cache" / "simsearch")) / "bench"
NOISE = 0.5  # norm of the noise added to a real vector before renormalising: cosine ~0.89 to its source
BACKENDS = ("onnx", "onnx-int8", "torch")


def main() -> None:
    args = parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    smoke = args.smoke
    report: dict = {
        "machine": machine(),
        "date": time.strftime("%Y-%m-%d"),
        "smoke": smoke,
        "noise": NOISE,
        "real_vectors": args.real,
    }
    model = args.model or str(default_model_path())
    report["encoding"] = encoding_benchmark(model, pairs=64 if smoke else None)
    print_table("Encoding (STS-B dev sentences)", report["encoding"])
    sys.stdout.flush()
    sizes = [int(s) for s in args.sizes.split(",")]
    report["search"], report["curves"] = search_benchmark(model, sizes, args.real, args.queries, args.backend, smoke)
    print_table("Query latency end to end (encode + search + fetch), recall@10 vs exact", report["search"])
    report["cold_start"] = (
        cold_start_benchmark(runs=3, backends=("onnx", "torch"), plain=True)
        if not smoke
        else cold_start_benchmark(runs=1, backends=("onnx",), plain=False)
    )
    print_table("Cold `simsearch search` on the demo index (new process)", report["cold_start"])
    (out / "performance.json").write_text(json.dumps(report, indent=2))
    draw_plots(report, out)
    print(f"\nwrote {out / 'performance.json'} and plots in {out}")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, a few seconds; for CI")
    parser.add_argument("--sizes", default="10000,100000,1000000", help="corpus sizes, comma separated")
    parser.add_argument("--real", type=int, default=50_000, help="wiki sentences actually encoded")
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--backend", default="onnx-int8", help="encoder backend for the search rows")
    parser.add_argument("--out", default=str(RESULTS))
    parser.add_argument("--model", help="model folder [default: all-MiniLM-L6-v2]; the smoke test passes a tiny one")
    args = parser.parse_args()
    if args.smoke:
        args.sizes, args.real, args.queries = "1000,3000", 1000, 20
    return args


# --- encoding -----------------------------------------------------------------------------
def encoding_benchmark(model: str, pairs: int | None) -> list[dict]:
    """Sentences/s and STS-B dev Spearman for the plain stack and for each backend."""
    from sentence_transformers import SentenceTransformer

    first, second, gold = stsb_dev(pairs)
    texts = first + second
    plain = SentenceTransformer(model, device="cpu")
    rows = [
        encode_row(
            "plain stack (torch fp32)",
            texts,
            gold,
            lambda t: plain.encode(t, batch_size=32, normalize_embeddings=True, convert_to_numpy=True),
        )
    ]
    for backend in BACKENDS:
        encoder = load_encoder(model, backend=backend)
        rows.append(encode_row(f"simsearch {backend}", texts, gold, lambda t, e=encoder: e.encode(t, batch_size=32)))
    base = rows[0]
    for row in rows:
        row["speedup"] = round(row["sentences_per_s"] / base["sentences_per_s"], 2)
        row["spearman_delta"] = round(row["stsb_spearman"] - base["stsb_spearman"], 2)
    return rows


def encode_row(system: str, texts: list[str], gold: np.ndarray, encode) -> dict:
    encode(texts[:32])  # warm-up: first call pays lazy initialisation
    started = time.perf_counter()
    vectors = np.asarray(encode(texts), dtype=np.float32)
    seconds = time.perf_counter() - started
    half = len(texts) // 2
    cosine = (vectors[:half] * vectors[half:]).sum(axis=1)
    return {
        "system": system,
        "sentences": len(texts),
        "sentences_per_s": round(len(texts) / seconds, 1),
        "stsb_spearman": round(100 * spearman(cosine, gold), 2),
    }


def stsb_dev(pairs: int | None) -> tuple[list[str], list[str], np.ndarray]:
    with open(DATA / "stsb" / "dev.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))[:pairs]
    return [r["sentence1"] for r in rows], [r["sentence2"] for r in rows], np.array([float(r["score"]) for r in rows])


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr(a, b).statistic)


# --- search -------------------------------------------------------------------------------
def search_benchmark(model: str, sizes: list[int], real: int, n_queries: int, backend: str, smoke: bool):
    sentences = wiki_sentences(real + n_queries, spread=not smoke)
    texts, queries = sentences[:real], sentences[real:]
    encoder = load_encoder(model, backend=backend)
    base_vectors = cached_vectors(texts, encoder)
    query_vectors = encoder.encode(queries)
    from sentence_transformers import SentenceTransformer

    plain_model = SentenceTransformer(model, device="cpu")
    rows, curves = [], []
    for size in sizes:
        vectors = noisy_copies(base_vectors, size, noise=NOISE)
        truth = exact_neighbours(vectors, query_vectors)
        rows.append(plain_stack_row(plain_model, vectors, texts, queries, truth, size, real))
        print(json.dumps(rows[-1]), flush=True)
        with tempfile.TemporaryDirectory() as tmp:
            store = filled_store(Path(tmp) / "store.sqlite", texts, size)
            for kind, params in kinds_for(size, smoke):
                row, index = kind_row(kind, params, vectors, store, encoder, queries, query_vectors, truth, Path(tmp))
                rows.append({**row, "real_vectors": min(real, size)})
                print(json.dumps(rows[-1]), flush=True)  # partial results survive an interrupted run
                if size == max(sizes) or size == 100_000:
                    curves += knob_curve(kind, index, query_vectors, truth, size)
                del index
            store.close()
        del vectors
    return rows, curves


def kinds_for(size: int, smoke: bool) -> list[tuple[str, dict | None]]:
    """Which kinds run at each size; IVF kinds at 1M use 1,024 lists so k-means trains in under a minute."""
    if smoke:
        return [("flat", None), ("hnsw", None), ("ivfsq", None)]
    if size >= 1_000_000:
        return [("hnsw", None), ("ivfsq", {"nlist": 1024, "nprobe": 64})]
    return [("flat", None), ("hnsw", None), ("ivf", None), ("ivfsq", None), ("ivfpq", None)]


def kind_row(kind, params, vectors, store, encoder, queries, query_vectors, truth, tmp: Path):
    ids = np.arange(len(vectors), dtype=np.int64)  # the store's row ids (filled_store starts at 0)
    started = time.perf_counter()
    index = create_vector_index(kind, vectors.shape[1], len(vectors), params)
    index.build(vectors, ids)
    build_s = time.perf_counter() - started
    path = tmp / f"{kind}.faiss"
    index.save(path)
    bytes_per_doc = path.stat().st_size / len(vectors)
    path.unlink()
    _, found = index.search(query_vectors, 10)
    recall = recall_at_10(found, truth)
    target = SearchTarget(encoder, index, store)  # the same query pipeline Index.search runs
    latency = time_queries(lambda q: run_query(target, [q], 10), queries)
    row = {
        "system": f"simsearch {kind}",
        "documents": len(vectors),
        "params": index.params,
        "build_s": round(build_s, 1),
        "bytes_per_doc": round(bytes_per_doc),
        "recall_at_10": round(recall, 3),
        "queries": len(queries),
        **latency,
    }
    return row, index


def plain_stack_row(model, vectors, texts, queries, truth, size, real) -> dict:
    import faiss

    started = time.perf_counter()
    flat = faiss.IndexFlatIP(vectors.shape[1])
    flat.add(vectors)
    build_s = time.perf_counter() - started
    timed = queries if size < 1_000_000 else queries[:100]  # 150 ms a query at 1M: 100 give a stable p50

    def search(query: str):
        q = model.encode([query], normalize_embeddings=True, convert_to_numpy=True)
        _, found = flat.search(q, 10)
        return [texts[i % len(texts)] for i in found[0]]

    latency = time_queries(search, timed)
    return {
        "system": "plain stack (ST + IndexFlatIP)",
        "documents": size,
        "params": {},
        "build_s": round(build_s, 1),
        "bytes_per_doc": 4 * vectors.shape[1],
        "recall_at_10": 1.0,
        "queries": len(timed),
        **latency,
        "real_vectors": min(real, size),
    }


def knob_curve(kind: str, index, query_vectors: np.ndarray, truth: np.ndarray, size: int) -> list[dict]:
    """Recall@10 and batched queries/s as the kind's main search knob moves (ef_search, nprobe).

    The knob is turned on the built index (``set_search_params``), so one build gives the whole curve.
    """
    if not index.search_knobs:
        return []
    knob = index.search_knobs[0]
    points = []
    for value in (8, 16, 32, 64, 128, 256):
        index.set_search_params(**{knob: value})
        started = time.perf_counter()
        _, found = index.search(query_vectors, 10)
        seconds = time.perf_counter() - started
        points.append(
            {
                "kind": kind,
                "documents": size,
                "knob": knob,
                "value": value,
                "recall_at_10": round(recall_at_10(found, truth), 3),
                "qps": round(len(query_vectors) / seconds),
            }
        )
    return points


def exact_neighbours(vectors: np.ndarray, queries: np.ndarray) -> np.ndarray:
    import faiss

    flat = faiss.IndexFlatIP(vectors.shape[1])
    flat.add(vectors)
    return flat.search(queries, 10)[1]


def recall_at_10(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(t)) / len(t) for f, t in zip(found, truth)]))


def wiki_sentences(count: int, spread: bool) -> list[str]:
    """``count`` sentences spread evenly over the 1M rows (the file is in article order), or the first ones."""
    with gzip.open(DATA / "wikipedia_sentences" / "sentences.tsv.gz", "rt", encoding="utf-8") as handle:
        lines = list(handle) if spread else list(itertools.islice(handle, count + 1))
        rows = [line.rstrip("\n").split("\t", 3)[3] for line in lines[1:]]
    step = max(1, len(rows) // count)
    return rows[::step][:count]


def cached_vectors(texts: list[str], encoder: Encoder) -> np.ndarray:
    """Real embeddings of the corpus sample, cached on disk between runs (keyed by count and model)."""
    sample = hashlib.sha256("\n".join(texts).encode()).hexdigest()[:12]
    path = CACHE / f"wiki-{len(texts)}-{sample}-{encoder.info.fingerprint}-{encoder.backend}.npy"
    if path.exists():
        return np.load(path)
    vectors = encoder.encode(texts, batch_size=64)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors)
    return vectors


def filled_store(path: Path, texts: list[str], size: int) -> Store:
    store = Store(path)
    store.begin()
    store.insert([Document(text=texts[i % len(texts)], id=str(i)) for i in range(size)], first_row_id=0)
    store.commit()
    return store


# --- cold start -----------------------------------------------------------------------------
def cold_start_benchmark(runs: int, backends: tuple[str, ...], plain: bool) -> list[dict]:
    """New-process wall time of `simsearch search` on the demo corpus, per encoder backend, and of the plain stack."""
    simsearch = [sys.executable, "-m", "simsearch"]
    demo = REPO / "simsearch" / "data" / "demo.csv"
    rows = []
    with tempfile.TemporaryDirectory() as home:
        for backend in backends:
            subprocess.run(
                [
                    *simsearch,
                    "build",
                    f"demo-{backend}",
                    "-i",
                    str(demo),
                    "--backend",
                    backend,
                    "--index-dir",
                    home,
                    "-q",
                ],
                check=True,
            )
            command = [*simsearch, "search", f"demo-{backend}", "a quiet place to read", "-k", "3", "--index-dir", home]
            rows.append({"system": f"simsearch search (index built with {backend})", **wall_times(command, runs)})
    if not plain:
        return rows
    plain = (
        "import csv, faiss; from sentence_transformers import SentenceTransformer; "
        f"m = SentenceTransformer({str(default_model_path())!r}, device='cpu'); "
        f"texts = [r['text'] for r in csv.DictReader(open({str(demo)!r}))]; "
        "index = faiss.IndexFlatIP(384); index.add(m.encode(texts, normalize_embeddings=True)); "
        "print(texts[index.search(m.encode(['a quiet place to read'], normalize_embeddings=True), 3)[1][0][0]])"
    )
    rows.append(
        {
            "system": "plain stack script (encodes the demo corpus too)",
            **wall_times([sys.executable, "-c", plain], runs),
        }
    )
    return rows


def wall_times(command: list[str], runs: int) -> dict:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return {"runs": runs, "median_s": round(float(np.median(times)), 2), "max_s": round(max(times), 2)}


# --- output -----------------------------------------------------------------------------
def machine() -> dict:
    import faiss
    import onnxruntime

    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "")
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "faiss": faiss.__version__,
        "onnxruntime": onnxruntime.__version__,
    }


def print_table(title: str, rows: list[dict]) -> None:
    print(f"\n{title}")
    if not rows:
        return
    columns = [c for c in rows[0] if c != "params"]
    widths = {c: max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in columns}
    print("  ".join(c.ljust(widths[c]) for c in columns))
    for row in rows:
        print("  ".join(str(row.get(c, "")).ljust(widths[c]) for c in columns))


if __name__ == "__main__":
    main()
