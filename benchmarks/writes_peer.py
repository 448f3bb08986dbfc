"""The other process of benchmarks/writes.py: a reader that holds an index open, or a writer on a timer.

Both open the index through the public API, as a server worker or a second CLI would,
say ``ready`` on stdout once open, and then wait for the parent:

    python benchmarks/writes_peer.py reader INDEX_DIR NAME QUERIES.npy
        stdin ``search``: one timed search_vectors, answered with a JSON line (ms and the
        bytes this process read for it); ``quit``: exit.
    python benchmarks/writes_peer.py writer INDEX_DIR NAME ENCODER_DIR TEXTS.json SECONDS INTERVAL_S
        stdin ``go``: add one document every INTERVAL_S for SECONDS (the next add starts
        at once when one runs late), then print one JSON line with the adds' timings.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
from measure import latency_summary, process_io  # benchmarks/measure.py, beside this script

from simsearch import Index, load_encoder


def serve_reader(index_dir: str, name: str, queries_file: str) -> None:
    """Answer ``search`` lines with the time and bytes read of one search, until ``quit``."""
    index = Index.open(name, index_dir=index_dir)
    queries = np.load(queries_file)
    index.search_vectors(queries[:1], k=10)  # the open's own first search is not what is measured
    print("ready", flush=True)
    for turn, line in enumerate(sys.stdin):
        if line.strip() != "search":
            break
        query = queries[turn % len(queries)][None, :]
        before = process_io()
        started = time.perf_counter()
        index.search_vectors(query, k=10)
        seconds = time.perf_counter() - started
        after = process_io()
        print(
            json.dumps(
                {
                    "ms": 1000 * seconds,
                    "rchar": after["rchar"] - before["rchar"],
                    "read_bytes": after["read_bytes"] - before["read_bytes"],
                }
            ),
            flush=True,
        )


def run_writer(index_dir: str, name: str, encoder_dir: str, texts_file: str, seconds: float, interval: float) -> None:
    """Add one document per ``interval`` for ``seconds`` once told ``go``; print how many and how long each took."""
    index = Index.open(name, index_dir=index_dir, encoder=load_encoder(encoder_dir))
    texts = json.loads(Path(texts_file).read_text(encoding="utf-8"))
    index.encoder.encode(texts[:1])  # load the encoder's lazy parts before the clock starts
    print("ready", flush=True)
    sys.stdin.readline()
    timings: list[float] = []
    started = time.perf_counter()
    planned = int(seconds / interval)
    for number in range(planned):
        wait = started + number * interval - time.perf_counter()
        if wait > 0:
            time.sleep(wait)
        if time.perf_counter() - started >= seconds:
            break
        began = time.perf_counter()
        index.add([{"id": f"writer-{number}", "text": texts[number % len(texts)]}])
        timings.append(time.perf_counter() - began)
    print(json.dumps({"adds_done": len(timings), "adds_planned": planned, "add": latency_summary(timings)}), flush=True)


def main() -> None:
    role, arguments = sys.argv[1], sys.argv[2:]
    if role == "reader":
        serve_reader(*arguments)
    elif role == "writer":
        index_dir, name, encoder_dir, texts_file, seconds, interval = arguments
        run_writer(index_dir, name, encoder_dir, texts_file, float(seconds), float(interval))
    else:
        raise SystemExit(f"unknown role {role!r}; valid: reader, writer")


if __name__ == "__main__":
    main()
