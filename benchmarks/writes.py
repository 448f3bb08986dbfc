"""What one write costs: add, upsert and delete latency and bytes written, readers catching up, searches under a writer.

Issue 20's benchmark, written against the public API only, so it runs on today's
copy-on-write storage (the baseline) and unchanged on the segmented one (base + delta +
tombstones + compaction); what only the new storage has (``Index.compact``, the
``base_vectors``/``delta_vectors``/``dead_vectors`` info keys) is measured when present
and reported "n/a (not in this version)" otherwise.

Encoders, named in every table row:
- storage path (``static-384``): the base is the first N sentences of
  ../shared/data/wikipedia_sentences encoded by a random-weight StaticEmbedding model at
  dimension 384 over the default model's WordPiece vocabulary (a bag of random token
  vectors: about 10,000 sentences/s here, against about 50/s for the real model on this
  shared 2-core machine, which would need hours for 1M). Vectors have the default model's
  dimension, so the FAISS and SQLite work is the real work; each add encodes its text
  with this model (about 1 ms).
- real model (``all-MiniLM-L6-v2``): an index of ``--real-model-size`` documents built
  with the default model, reopened as a user would (``Index.open``, its own query encoder),
  and written one document at a time: encoding included, the issue's 25 ms target. The
  default size is the issue's 100k; at about 50 sentences/s on this shared machine that
  build alone takes over half an hour, so the recorded run used 1,000 (the encoding part
  does not depend on N; the storage part at N is the static-384 rows').

For each size and kind, in one process (and its peers, benchmarks/writes_peer.py):
raw FAISS on the index's own vector file (same kind, same parameters) against quiet
``search_vectors``; one-document add, upsert and delete (p50/p99, bytes per operation from
/proc/self/io: write_bytes, wchar second); a reader process's first search after each write
against its search with nothing new; searches while a writer process adds a document every
50 ms, against the quiet ones; a bulk add of ``--bulk-fraction`` of N against building the
same documents; compaction. Chroma, LanceDB and Qdrant's local mode get the same vectors
(benchmarks/writes_competitors.py, under ``--competitors-python``). Ratios are against
the baselines of the same run.

    python benchmarks/writes.py --sizes 100000 --kinds flat hnsw --ops 40 --rounds 10 --queries 200 \\
        --writer-seconds 10 --real-model-size 1000 --competitors-python BENCHVENV/bin/python \\
        --json benchmarks/results/writes-100k.json
    python benchmarks/writes.py --sizes 1000000 --kinds flat --ops 10 --rounds 5 --queries 100 \\
        --real-model-size 0 --json benchmarks/results/writes-1m.json
    python benchmarks/writes.py --smoke --json /tmp/writes-smoke.json      # seconds; what the test runs
    python benchmarks/writes.py --markdown benchmarks/results/writes-100k.json \\
        --compare benchmarks/results/writes-100k-before.json benchmarks/results/writes-100k.json
    (the same tables on the command line; the docs page draws them from the result files at build time,
    docs_hooks/writes_page.py. It also shows writes-100k-hnsw-repeat.json: the hnsw half of the first command
    run again with ``--kinds hnsw --real-model-size 0``, to show how far a p99 of 200 searches moves between runs,
    and writes-real-20k.json: ``--sizes --kinds flat --ops 40 --real-model-size 20000``, the default model alone)

The ``-before`` files are the copy-on-write storage's run on this machine (each file's command says how it was
made); ``--compare`` lines a run up with its before, figure by figure. The 100k "after" run passed
``--competitors-max 0``: the competitors' figures are the before run's (they do not depend on simsearch).

BENCHVENV: a venv with ``pip install chromadb lancedb qdrant-client`` (simsearch's ``[bench]`` extra); a separate
one because chromadb would downgrade a package fastapi needs. Without it the competitors are skipped, each with a line.
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

import numpy as np
from measure import latency_summary, process_io, time_queries, timed_ops  # benchmarks/measure.py
from writes_report import print_tables, render_markdown

REPO = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent
WIKI = REPO.parent / "shared" / "data" / "wikipedia_sentences" / "sentences.tsv.gz"
RESULTS = HERE / "results" / "writes.json"
NOT_HERE = "n/a (not in this version)"
STATIC = "static-384 (random StaticEmbedding, 384-d)"
REAL = "all-MiniLM-L6-v2"


def wiki_rows(path: Path, count: int) -> list[dict]:
    """The first ``count`` sentences (the file holds 1,000,000); past its end the texts repeat under new ids."""
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        lines = itertools.islice(handle, 1, count + 1)
        rows = [{"id": cells[0], "text": cells[3]} for cells in (line.rstrip("\n").split("\t", 3) for line in lines)]
    return rows + [{"id": f"again-{i}", "text": rows[i % len(rows)]["text"]} for i in range(count - len(rows))]


def write_static_encoder(folder: Path, dimension: int = 384, seed: int = 0) -> Path:
    """A sentence-transformers folder of one random StaticEmbedding over the default model's vocabulary."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.models import StaticEmbedding
    from tokenizers import Tokenizer

    from simsearch.encoders.models import default_model_path

    torch.manual_seed(seed)
    tokenizer = Tokenizer.from_file(str(default_model_path() / "tokenizer.json"))
    SentenceTransformer(modules=[StaticEmbedding(tokenizer, embedding_dim=dimension)]).save(str(folder))
    return folder


def single_rows(queries: np.ndarray) -> list[np.ndarray]:
    """Each query vector as a one-row matrix, the shape a single-query search takes."""
    return [queries[row : row + 1] for row in range(len(queries))]


def timed_call(call: Callable[[], object]) -> tuple[object, float, float]:
    """``call()``'s result, seconds, and megabytes written (write_bytes)."""
    before = process_io()
    started = time.perf_counter()
    result = call()
    seconds = time.perf_counter() - started
    return result, seconds, (process_io()["write_bytes"] - before["write_bytes"]) / 1e6


def ratio(numerator: float, denominator: float) -> float | None:
    return round(numerator / denominator, 2) if denominator > 0 else None


def base_files(folder: Path) -> list[Path]:
    """The folder's FAISS files, the one searched last: the segmented storage's bases ``vectors-G.faiss`` by
    generation G (a build leaves G's base beside nothing older; ``delta-G.f32`` is plain rows, not FAISS), else
    the copy-on-write storage's files by size."""
    bases = [path for path in folder.glob("vectors-*.faiss") if path.stem.removeprefix("vectors-").isdigit()]
    if bases:
        return sorted(bases, key=lambda path: int(path.stem.removeprefix("vectors-")))
    return sorted(folder.glob("*.faiss"), key=lambda path: path.stat().st_size)


def raw_faiss_search(folder: Path, params: dict) -> Callable[[np.ndarray], object] | None:
    """A search on the build folder's base file (``base_files``) read by plain FAISS (the same graph and
    vectors, ``ef_search`` as the index uses it), or None when the folder holds none."""
    import faiss

    files = base_files(folder)
    if not files:
        return None
    index = faiss.read_index(str(files[-1]))
    inner = faiss.downcast_index(index.index) if hasattr(index, "id_map") else index
    if hasattr(inner, "hnsw") and "ef_search" in params:
        inner.hnsw.efSearch = int(params["ef_search"])
    return lambda queries: index.search(queries, 10)


def start_peer(*arguments: str) -> subprocess.Popen:
    """benchmarks/writes_peer.py in a new process, importing the same simsearch; returns once it said ready."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    peer = subprocess.Popen(
        [sys.executable, str(HERE / "writes_peer.py"), *arguments],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    if peer.stdout.readline().strip() != "ready":
        peer.kill()
        raise RuntimeError(f"writes_peer.py {arguments[0]} did not start (its error is printed above)")
    return peer


def reader_catch_up(home: Path, name: str, index, texts: list[str], queries_file: Path) -> dict:
    """Another process's first search after each of our adds, against its search when nothing changed."""
    reader = start_peer("reader", str(home), name, str(queries_file))

    def ask() -> dict:
        reader.stdin.write("search\n")
        reader.stdin.flush()
        return json.loads(reader.stdout.readline())

    steady, first, read = [], [], []
    for number, text in enumerate(texts):
        steady.append(ask()["ms"] / 1000)
        index.add([{"id": f"reader-{number}", "text": text}])
        answer = ask()
        first.append(answer["ms"] / 1000)
        read.append(answer["rchar"])
    reader.stdin.write("quit\n")
    reader.stdin.close()
    reader.wait(timeout=60)
    first_summary, steady_summary = latency_summary(first), latency_summary(steady)
    return {
        "rounds": len(texts),
        "first": first_summary,
        "steady": steady_summary,
        "first_p50_vs_steady": ratio(first_summary["p50_ms"], steady_summary["p50_ms"]),
        "read_mb": round(float(np.mean(read)) / 1e6, 3),
    }


def search_under_writer(
    home: Path, name: str, index, encoder_dir: Path, texts_file: Path, queries: np.ndarray, seconds: float, quiet: dict
) -> dict:
    """Our searches while a writer process adds a document every 50 ms, against ``quiet`` (same run)."""
    writer = start_peer("writer", str(home), name, str(encoder_dir), str(texts_file), str(seconds), "0.05")
    writer.stdin.write("go\n")
    writer.stdin.flush()
    timings = []
    while writer.poll() is None:
        row = len(timings) % len(queries)
        started = time.perf_counter()
        index.search_vectors(queries[row : row + 1], k=10)
        timings.append(time.perf_counter() - started)
    report = json.loads(writer.stdout.read().strip().splitlines()[-1])
    loaded = latency_summary(timings)
    return {
        "searches": len(timings),
        "search": loaded,
        "p50_vs_quiet": ratio(loaded["p50_ms"], quiet["p50_ms"]),
        "p99_vs_quiet": ratio(loaded["p99_ms"], quiet["p99_ms"]),
        "writer": report,
    }


def bulk_against_build(index, rows: list[dict], encoder, kind: str, home: Path) -> dict:
    """One ``add`` of ``rows`` to the big index against building an index of just ``rows``."""
    from simsearch import Index

    _, add_seconds, add_mb = timed_call(lambda: index.add(rows, batch_size=256))
    _, build_seconds, build_mb = timed_call(
        lambda: Index.build(f"bulk-{kind}", rows, encoder=encoder, kind=kind, batch_size=256, index_dir=home)
    )
    return {
        "documents": len(rows),
        "add_s": round(add_seconds, 2),
        "build_s": round(build_seconds, 2),
        "add_vs_build": ratio(add_seconds, build_seconds),
        "add_write_mb": round(add_mb, 1),
        "build_write_mb": round(build_mb, 1),
    }


def storage_state(index) -> dict:
    info = index.info()
    return {key: info.get(key, NOT_HERE) for key in ("count", "base_vectors", "delta_vectors", "dead_vectors")}


def sync_to_base(index, rows: list[dict], changed: list[str]) -> dict | str:
    """Time ``Index.sync`` back to the base rows with the first ``len(changed)`` texts changed, where this version
    has it: every document the measurements added goes, the deleted ones come back, the changed ones re-encode."""
    if not hasattr(index, "sync"):
        return NOT_HERE
    records = [{**row, "text": changed[i]} if i < len(changed) else row for i, row in enumerate(rows)]
    report, seconds, written = timed_call(lambda: index.sync(records))
    counts = {field: getattr(report, field) for field in ("added", "changed", "removed", "unchanged")}
    return {"seconds": round(seconds, 2), "write_mb": round(written, 1), "changed": len(changed), "report": counts}


def compaction(index, queries: np.ndarray) -> dict | str:
    """Time ``Index.compact()`` and the quiet searches after it, where this version has it."""
    if not hasattr(index, "compact"):
        return NOT_HERE
    before = storage_state(index)
    report, seconds, written = timed_call(index.compact)
    return {
        "seconds": round(seconds, 2),
        "write_mb": round(written, 1),
        "before": before,
        "report": report,
        "quiet_after": time_queries(lambda q: index.search_vectors(q, k=10), single_rows(queries)),
    }


class Extras:
    """Texts beyond the base, handed out in order so no two measurements add the same id."""

    def __init__(self, texts: list[str]) -> None:
        self.texts, self.used = texts, 0

    def take(self, count: int) -> list[str]:
        taken = self.texts[self.used : self.used + count]
        self.used += count
        return taken


def measure_storage(
    home: Path,
    rows: list[dict],
    extra: Extras,
    kind: str,
    encoder,
    encoder_dir: Path,
    queries: np.ndarray,
    args: argparse.Namespace,
) -> dict:
    """Every storage-path figure for one size and kind, on an index built with the static encoder."""
    from simsearch import Index

    n, name = len(rows), f"writes-{kind}"
    index, build_seconds, build_mb = timed_call(
        lambda: Index.build(name, rows, encoder=encoder, kind=kind, batch_size=1024, index_dir=home)
    )
    print(f"  built {n} {kind} in {build_seconds:.1f} s", flush=True)
    raw = raw_faiss_search(Path(index.info()["path"]), index.manifest.params)
    raw_figures = time_queries(raw, single_rows(queries)) if raw is not None else NOT_HERE
    quiet = time_queries(lambda q: index.search_vectors(q, k=10), single_rows(queries))
    ops = args.ops
    adds, upserts = extra.take(ops), extra.take(ops)
    add = timed_ops(lambda i: index.add([{"id": f"one-{i}", "text": adds[i]}]), ops)
    upsert = timed_ops(lambda i: index.add([{"id": rows[i]["id"], "text": upserts[i]}], upsert=True), ops)
    delete = timed_ops(lambda i: index.delete([rows[n - 1 - i]["id"]]), ops)
    print(f"  one-document add p50 {add['p50_ms']} ms, {add['write_mb']} MB written", flush=True)
    queries_file = home / "queries.npy"
    np.save(queries_file, queries)
    reader = reader_catch_up(home, name, index, extra.take(args.rounds), queries_file)
    texts_file = home / f"writer-{kind}.json"
    texts_file.write_text(json.dumps(extra.take(int(args.writer_seconds / 0.05) + 1)), encoding="utf-8")
    under_writer = search_under_writer(home, name, index, encoder_dir, texts_file, queries, args.writer_seconds, quiet)
    bulk_rows = [{"id": f"bulk-{i}", "text": text} for i, text in enumerate(extra.take(int(n * args.bulk_fraction)))]
    bulk = bulk_against_build(index, bulk_rows, encoder, kind, home) if bulk_rows else NOT_HERE
    state = storage_state(index)
    sync = sync_to_base(index, rows, extra.take(ops))
    return {
        "documents": n,
        "kind": kind,
        "encoder": STATIC,
        "build_s": round(build_seconds, 2),
        "build_write_mb": round(build_mb, 1),
        "raw_faiss": raw_figures,
        "quiet": quiet,
        "quiet_p99_vs_raw_faiss": ratio(quiet["p99_ms"], raw_figures["p99_ms"]) if raw else None,
        "add": add,
        "upsert": upsert,
        "delete": delete,
        "reader_after_write": reader,
        "under_writer": under_writer,
        "bulk": bulk,
        "state_after_writes": state,
        "sync": sync,
        "compaction": compaction(index, queries),
    }


def measure_real_model(home: Path, rows: list[dict], extra: Extras, kind: str, ops: int) -> dict:
    """One-document writes with the default model, encoding included, on an index it built."""
    from simsearch import Index, load_encoder

    name = f"real-{kind}"
    _, build_seconds, _ = timed_call(
        lambda: Index.build(name, rows, encoder=load_encoder(backend="onnx"), kind=kind, index_dir=home)
    )
    index = Index.open(name, index_dir=home)  # as a server or a second CLI call: the index's own query encoder
    index.search("warm up the encoder", k=10)
    adds, upserts = extra.take(ops), extra.take(ops)
    encode_one = timed_ops(lambda i: index.encoder.encode([adds[i]]), ops)
    return {
        "documents": len(rows),
        "kind": kind,
        "encoder": f"{REAL} ({index.encoder.backend})",
        "build_s": round(build_seconds, 2),
        "encode_one": encode_one,
        "add": timed_ops(lambda i: index.add([{"id": f"real-{i}", "text": adds[i]}]), ops),
        "upsert": timed_ops(lambda i: index.add([{"id": rows[i]["id"], "text": upserts[i]}], upsert=True), ops),
        "delete": timed_ops(lambda i: index.delete([rows[-1 - i]["id"]]), ops),
    }


def measure_competitors(
    home: Path, rows: list[dict], extra: Extras, encoder, queries: np.ndarray, args: argparse.Namespace
) -> list[dict]:
    """Chroma, LanceDB and Qdrant (local) on the static encoder's vectors of the same texts, in a subprocess."""
    data = home / "competitors"
    data.mkdir(parents=True, exist_ok=True)
    texts = [row["text"] for row in rows]
    more = extra.take(2 * args.ops)
    np.save(data / "base.npy", encoder.encode(texts, batch_size=1024))
    np.save(data / "extra.npy", encoder.encode(more))
    np.save(data / "queries.npy", queries)
    (data / "texts.json").write_text(json.dumps(texts + more), encoding="utf-8")
    done = subprocess.run(
        [
            args.competitors_python,
            str(HERE / "writes_competitors.py"),
            str(data),
            str(data / "out.json"),
            "--ops",
            str(args.ops),
        ],
        cwd=HERE,
    )
    measured = json.loads((data / "out.json").read_text()) if (data / "out.json").exists() else []
    if done.returncode != 0:  # the stores measured before the failure still count
        measured.append({"system": "competitors", "skipped": f"writes_competitors.py exited with {done.returncode}"})
    return measured


def save(results: dict, target: Path | None) -> None:
    """Write the results so far: a run stopped part-way (a time limit, a crash) keeps what it measured."""
    if target is not None:
        target.write_text(json.dumps(results, indent=2, default=str) + "\n")  # compact()/sync() reports as given


def run(args: argparse.Namespace, target: Path | None) -> dict:
    from simsearch import load_encoder

    results: dict = {
        "date": date.today().isoformat(),
        "command": " ".join(["python", *sys.argv]),
        "machine": f"{platform.processor() or platform.machine()}, {len(os.sched_getaffinity(0))} cores",
        "mode": "smoke" if args.smoke else "full",
        "ops": args.ops,
        "storage": [],
        "real_model": [],
        "competitors": [],
        "load_average_at_start": round(os.getloadavg()[0], 1),
    }
    with tempfile.TemporaryDirectory(dir=args.work_dir) as folder:
        work = Path(folder)
        encoder_dir = write_static_encoder(work / "static-384")
        encoder = load_encoder(encoder_dir)
        for size in args.sizes:
            per_kind = 3 * args.ops + args.rounds + int(args.writer_seconds / 0.05) + 1 + int(size * args.bulk_fraction)
            rows = wiki_rows(args.corpus, size + args.queries + per_kind)
            base, rest = rows[:size], [row["text"] for row in rows[size:]]
            extra = Extras(rest)
            queries = encoder.encode(extra.take(args.queries))
            for kind in args.kinds:
                print(f"{size} documents, {kind}:", flush=True)
                home = work / f"{size}-{kind}"
                results["storage"].append(measure_storage(home, base, extra, kind, encoder, encoder_dir, queries, args))
                save(results, target)
                extra.used = args.queries  # each kind's index is new: the same extra texts serve again
            if size <= args.competitors_max:
                results["competitors"] += measure_competitors(
                    work / f"{size}-competitors", base, extra, encoder, queries, args
                )
                save(results, target)
        if args.real_model_size:
            rows = wiki_rows(args.corpus, args.real_model_size + 2 * args.ops)
            for kind in args.kinds:
                print(f"{args.real_model_size} documents, {kind}, real model:", flush=True)
                extra = Extras([row["text"] for row in rows[args.real_model_size :]])
                results["real_model"].append(
                    measure_real_model(work / f"real-{kind}", rows[: args.real_model_size], extra, kind, args.ops)
                )
                save(results, target)
    return results


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[100_000, 1_000_000], help="none: real model only")
    parser.add_argument("--kinds", nargs="+", default=["flat", "hnsw"])
    parser.add_argument("--ops", type=int, default=200, help="one-document operations per figure")
    parser.add_argument("--rounds", type=int, default=30, help="writes a reader process catches up with")
    parser.add_argument("--writer-seconds", type=float, default=15.0, help="how long the 50 ms writer runs")
    parser.add_argument("--queries", type=int, default=300, help="quiet searches per figure")
    parser.add_argument("--bulk-fraction", type=float, default=0.1, help="bulk add size, as a fraction of N")
    parser.add_argument(
        "--real-model-size", type=int, default=100_000, help="documents of the index the default model builds (0: skip)"
    )
    parser.add_argument(
        "--competitors-python",
        default=sys.executable,
        help="interpreter with chromadb, lancedb and qdrant-client (pip install simsearch[bench])",
    )
    parser.add_argument("--competitors-max", type=int, default=100_000, help="largest N given to the competitors")
    parser.add_argument("--corpus", type=Path, default=WIKI, help="wikipedia_sentences' sentences.tsv.gz")
    parser.add_argument("--work-dir", type=Path, default=None, help="where indexes go (not tmpfs: bytes are counted)")
    parser.add_argument("--json", type=Path, default=None, help=f"[default: {RESULTS.relative_to(REPO)}; smoke: none]")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: checks the script works in seconds")
    parser.add_argument(
        "--markdown", type=Path, nargs="+", help="print the docs page for these result files; measure nothing"
    )
    parser.add_argument(
        "--compare",
        type=Path,
        nargs=2,
        action="append",
        default=[],
        metavar=("BEFORE", "AFTER"),
        help="with --markdown: also show these two result files' figures side by side (repeatable)",
    )
    args = parser.parse_args()
    if args.smoke:
        args.sizes, args.ops, args.rounds, args.writer_seconds, args.queries = [1500], 4, 3, 1.5, 20
        args.real_model_size = min(args.real_model_size, 120)
    return args


def main() -> None:
    args = parse_args()
    if args.markdown:
        pairs = [(json.loads(before.read_text()), json.loads(after.read_text())) for before, after in args.compare]
        print(render_markdown([json.loads(path.read_text()) for path in args.markdown], pairs))
        return
    target = args.json or (None if args.smoke else RESULTS)
    results = run(args, target)
    print_tables(results)
    if target is not None:
        print(f"wrote {target}")


if __name__ == "__main__":
    main()
