"""Load on `simsearch serve`: queries/s and p50/p99 latency at concurrency 1, 8 and 32, with and without a writer.

The server runs as a child process on 127.0.0.1 (a free port) over an index of real
sentences from ../shared/data/wikipedia_sentences (evenly spread over the 1M rows, built
once with the onnx backend and cached under the temp folder: simsearch-bench/load-N).
Clients are threads, each with one keep-alive connection, sending held-out sentences as
queries; the writer thread adds one document every 100 ms through the same server and
deletes what it added afterwards. Every phase stops after --requests requests or
--seconds seconds, whichever comes first. Beside the server, in the same run: the same
searches made one at a time through the in-process API, and a few through one CLI process
per query. Any non-200 answer or broken connection counts as an error.

Target (issue 11): at concurrency 8 the server answers at least 2x the queries/s of the
in-process searches made one at a time, at a p99 under 50 ms.

    python benchmarks/load.py                     # 100k documents (the build takes minutes once)
    python benchmarks/load.py --quick             # 5k documents, short phases: proves it works
    python benchmarks/load.py --docs 20000 --workers 2 --mode hybrid
    python benchmarks/load.py --query-words 6     # short queries, as people type them
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import itertools
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from measure import latency_summary, time_queries  # benchmarks/measure.py, beside this script

from simsearch import Index, load_encoder
from simsearch.errors import IndexNotFoundError

REPO = Path(__file__).resolve().parent.parent
SENTENCES = REPO.parent / "shared" / "data" / "wikipedia_sentences" / "sentences.tsv.gz"
NAME = "wiki"
CONCURRENCY = (1, 8, 32)
WRITE_EVERY_S = 0.1


@dataclass
class Corpus:
    documents: list[dict]
    queries: list[str]  # held out of the index
    extra: list[str]  # texts the writer adds


def read_corpus(docs: int, queries: int, extra: int) -> Corpus:
    """Rows spread evenly over the file (it is in article order); every n-th of them held out as a query."""
    with gzip.open(SENTENCES, "rt", encoding="utf-8") as handle:
        lines = handle.readlines()[1:]
    wanted = docs + queries + extra
    picked = lines[:: max(1, len(lines) // wanted)][:wanted]
    rows = [line.rstrip("\n").split("\t", 3) for line in picked]
    held = set(range(0, len(rows), max(1, len(rows) // (queries + extra)))[: queries + extra])
    documents = [
        {"id": r[0], "text": r[3], "page_id": int(r[1]), "title": r[2]} for i, r in enumerate(rows) if i not in held
    ][:docs]
    others = [rows[i][3] for i in sorted(held)]
    return Corpus(documents, others[:queries], others[queries:])


def cached_index(corpus: Corpus) -> tuple[Path, float | None]:
    """The benchmark index (built now unless a copy of this size is cached); seconds the build took, or None."""
    home = Path(tempfile.gettempdir()) / "simsearch-bench" / f"load-{len(corpus.documents)}"
    try:
        if len(Index.open(NAME, index_dir=home)) == len(corpus.documents):
            return home, None
    except IndexNotFoundError:
        pass
    started = time.perf_counter()
    Index.build(NAME, corpus.documents, encoder=load_encoder(backend="onnx"), index_dir=home, overwrite=True)
    return home, time.perf_counter() - started


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def server(home: Path, workers: int) -> Iterator[int]:
    """`simsearch serve` over ``home`` on a free loopback port, stopped (with its workers) on exit."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "simsearch",
        "serve",
        "--port",
        str(port),
        "--index-dir",
        str(home),
        "--workers",
        str(workers),
    ]
    child = subprocess.Popen(
        command,
        cwd=REPO,
        env=os.environ | {"HF_HUB_OFFLINE": "1", "SIMSEARCH_API_KEY": ""},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while request(http.client.HTTPConnection("127.0.0.1", port, timeout=5), "GET", "/health")[0] != 200:
            if child.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.2)
        yield port
    finally:
        os.killpg(child.pid, signal.SIGTERM)
        child.wait(60)


def request(
    connection: http.client.HTTPConnection, method: str, path: str, body: dict | None = None
) -> tuple[int, dict]:
    """One request on a kept-alive connection; (0, {}) when the connection broke."""
    try:
        connection.request(
            method, path, json.dumps(body) if body is not None else None, {"Content-Type": "application/json"}
        )
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    except (OSError, http.client.HTTPException, ValueError):
        connection.close()  # the next request reconnects
        return 0, {}


@dataclass
class Phase:
    """What one load phase saw."""

    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    writes: int = 0
    write_errors: int = 0
    seconds: float = 0.0


def run_phase(
    port: int, queries: list[str], concurrency: int, body: dict, limit: int, seconds: float, extra: Iterator[str] | None
) -> Phase:
    """``concurrency`` clients searching until ``limit`` requests or ``seconds``; a writer too when ``extra``."""
    phase, numbers, lock = Phase(), itertools.count(), threading.Lock()
    deadline = time.monotonic() + seconds
    stop = threading.Event()

    def client() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while (number := next(numbers)) < limit and time.monotonic() < deadline:
            started = time.perf_counter()
            status, answer = request(
                connection, "POST", f"/indexes/{NAME}/search", {**body, "query": queries[number % len(queries)]}
            )
            elapsed = time.perf_counter() - started
            with lock:
                if status == 200 and answer.get("hits"):
                    phase.latencies.append(elapsed)
                else:
                    phase.errors += 1
        connection.close()

    written: list[str] = []

    def writer() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while not stop.wait(WRITE_EVERY_S):
            document = {"id": f"load-writer-{len(written)}", "text": next(extra), "metadata": {"source": "writer"}}
            status, _ = request(connection, "POST", f"/indexes/{NAME}/documents", {"documents": [document]})
            if status == 200:
                written.append(document["id"])
            else:
                phase.write_errors += 1
        if written and request(connection, "DELETE", f"/indexes/{NAME}/documents", {"ids": written})[0] != 200:
            phase.write_errors += 1
        phase.writes = len(written)
        connection.close()

    background = threading.Thread(target=writer) if extra is not None else None
    if background is not None:
        background.start()
    started = time.perf_counter()
    clients = [threading.Thread(target=client) for _ in range(concurrency)]
    for thread in clients:
        thread.start()
    for thread in clients:
        thread.join()
    phase.seconds = time.perf_counter() - started
    stop.set()
    if background is not None:
        background.join()
    return phase


def cli_seconds(home: Path, queries: list[str], body: dict) -> list[float]:
    """Wall time of one `simsearch search` process per query (the model and index load every time)."""
    times = []
    for query in queries:
        started = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "simsearch",
                "search",
                NAME,
                query,
                "-k",
                str(body["k"]),
                "--mode",
                body["mode"],
                "--index-dir",
                str(home),
            ],
            cwd=REPO,
            check=True,
            env=os.environ | {"HF_HUB_OFFLINE": "1"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        times.append(time.perf_counter() - started)
    return times


def row(
    client: str, concurrency: str, writer: str, requests: int, qps: float, p50: float, p99: float, errors: int | str
) -> str:
    return f"| {client} | {concurrency} | {writer} | {requests} | {qps:.0f} | {p50:.1f} | {p99:.1f} | {errors} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=100_000, help="documents in the index (default 100k)")
    parser.add_argument("--quick", action="store_true", help="5k documents (unless --docs), short phases")
    parser.add_argument("--requests", type=int, help="most requests per phase (default 3000, quick 300)")
    parser.add_argument("--seconds", type=float, help="most seconds per phase (default 20, quick 5)")
    parser.add_argument("--workers", type=int, default=1, help="server processes (serve --workers)")
    parser.add_argument("--mode", default="dense", help="search mode of every query (default dense)")
    parser.add_argument("-k", type=int, default=10, help="hits per query")
    parser.add_argument("--cli-queries", type=int, help="CLI processes, one query each (default 5, quick 2)")
    parser.add_argument(
        "--query-words",
        type=int,
        default=0,
        help="cut each query to its first N words (default: the whole held-out sentence)",
    )
    args = parser.parse_args()
    docs = 5_000 if args.quick and "--docs" not in sys.argv else args.docs
    limit = args.requests or (300 if args.quick else 3000)
    seconds = args.seconds or (5.0 if args.quick else 20.0)
    cli_count = args.cli_queries if args.cli_queries is not None else (2 if args.quick else 5)
    body = {"k": args.k, "mode": args.mode}

    corpus = read_corpus(docs, queries=200 if args.quick else 500, extra=2000)
    if args.query_words:
        corpus.queries = [" ".join(query.split()[: args.query_words]) for query in corpus.queries]
    home, build_seconds = cached_index(corpus)
    built = (
        f"built now in {build_seconds:.0f} s (onnx backend)"
        if build_seconds is not None
        else "cached from an earlier run"
    )
    print(
        f"index: {docs} wikipedia sentences in {home} ({built}); {len(corpus.queries)} held-out queries, "
        f"{f'their first {args.query_words} words, ' if args.query_words else ''}"
        f"mode {args.mode}, k {args.k}; {platform.machine()}, {os.cpu_count()} cores; server workers {args.workers}"
    )

    # Both sides see every query once before timing: ONNX Runtime's first runs at each new text length are slow.
    index = Index.open(NAME, index_dir=home)
    for query in corpus.queries:
        index.search(query, args.k, mode=args.mode)
    in_process = time_queries(lambda q: index.search(q, args.k, mode=args.mode), corpus.queries)
    index.close()
    lines = [
        row(
            "in-process API, one at a time",
            "1",
            "no",
            len(corpus.queries),
            1000 / in_process["mean_ms"],
            in_process["p50_ms"],
            in_process["p99_ms"],
            0,
        )
    ]
    extra = iter(corpus.extra * 100)
    server_figures: dict[tuple[int, bool], dict] = {}
    with server(home, args.workers) as port:
        run_phase(port, corpus.queries, 4, body, len(corpus.queries), 120, None)  # warm-up, as in-process
        for with_writer in (False, True):
            for concurrency in CONCURRENCY:
                phase = run_phase(
                    port, corpus.queries, concurrency, body, limit, seconds, extra if with_writer else None
                )
                figures = latency_summary(phase.latencies) if phase.latencies else {"p50_ms": 0, "p99_ms": 0}
                qps = len(phase.latencies) / phase.seconds
                server_figures[(concurrency, with_writer)] = {"qps": qps, **figures}
                writer = f"yes ({phase.writes} adds, {phase.write_errors} errors)" if with_writer else "no"
                lines.append(
                    row(
                        "server (HTTP)",
                        str(concurrency),
                        writer,
                        len(phase.latencies) + phase.errors,
                        qps,
                        figures["p50_ms"],
                        figures["p99_ms"],
                        phase.errors,
                    )
                )
        info = request(http.client.HTTPConnection("127.0.0.1", port, timeout=10), "GET", "/info")[1]
    if cli_count:
        times = cli_seconds(home, corpus.queries[:cli_count], body)
        lines.append(
            row(
                "CLI, one process per query",
                "1",
                "no",
                cli_count,
                1 / statistics.median(times),
                1000 * statistics.median(times),
                1000 * max(times),
                0,
            )
        )

    print("\n| client | concurrency | writer | requests | queries/s | p50 ms | p99 ms | errors |")
    print("|---|---|---|---|---|---|---|---|")
    print("\n".join(lines))
    batching = info.get("micro_batching", {})
    if batching.get("batches"):
        print(
            f"\nmicro-batching (the last worker asked): {batching['queries']} queries encoded in "
            f"{batching['batches']} model calls, {batching['queries'] / batching['batches']:.1f} per call"
        )
    eight = server_figures[(8, False)]
    ratio = eight["qps"] / (1000 / in_process["mean_ms"])
    meets = ratio >= 2 and eight["p99_ms"] < 50
    print(
        f"target at concurrency 8: {ratio:.1f}x the in-process queries/s (>= 2x), p99 {eight['p99_ms']:.1f} ms "
        f"(< 50 ms): {'met' if meets else 'missed'}"
    )


if __name__ == "__main__":
    main()
