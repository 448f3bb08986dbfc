"""Timing helpers shared by the benchmark scripts, so every table measures latency the same way."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np


def time_queries(search: Callable[[Any], Any], queries: Sequence[Any]) -> dict[str, float]:
    """Median, 99th-percentile and mean wall time of ``search(query)`` per query (a text, a vector), in milliseconds.

    One untimed call first: the first query pays lazy initialisation (thread pools,
    ONNX sessions, SQLite page cache) that no later query sees.
    """
    search(queries[0])
    timings = []
    for query in queries:
        started = time.perf_counter()
        search(query)
        timings.append(time.perf_counter() - started)
    return latency_summary(timings)


def latency_summary(seconds: Sequence[float]) -> dict[str, float]:
    """p50, p99 and mean of durations given in seconds, as milliseconds rounded to 0.01."""
    ms = 1000 * np.asarray(seconds, dtype=np.float64)
    return {
        "p50_ms": round(float(np.percentile(ms, 50)), 2),
        "p99_ms": round(float(np.percentile(ms, 99)), 2),
        "mean_ms": round(float(ms.mean()), 2),
    }


def process_io() -> dict[str, int]:
    """This process's I/O counters (Linux ``/proc/self/io``), all threads together.

    ``wchar``/``rchar``: bytes handed to write/read calls, page cache or not; ``write_bytes``:
    bytes this process sent towards the disk, counted when it dirties a page (so before
    writeback, and nothing on tmpfs); ``read_bytes``: bytes really fetched from the disk.
    """
    with open("/proc/self/io", encoding="ascii") as handle:
        return {key: int(value) for key, value in (line.split(": ") for line in handle if ": " in line)}


def timed_ops(operation: Callable[[int], object], count: int) -> dict[str, float]:
    """Latency of ``operation(i)`` for i < count, and the mean megabytes each wrote (write_bytes; wchar)."""
    seconds, written, handed = [], [], []
    for number in range(count):
        before = process_io()
        started = time.perf_counter()
        operation(number)
        seconds.append(time.perf_counter() - started)
        after = process_io()
        written.append(after["write_bytes"] - before["write_bytes"])
        handed.append(after["wchar"] - before["wchar"])
    return {
        **latency_summary(seconds),
        "write_mb": round(float(np.mean(written)) / 1e6, 4),
        "wchar_mb": round(float(np.mean(handed)) / 1e6, 4),
    }
