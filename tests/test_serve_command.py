"""The real `simsearch serve` command in a child process: one worker and two, a key, writes and a CLI rebuild."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from simsearch import Index, load_encoder
from simsearch.index.layout import writer_lock

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parent.parent
KEY = "k3y-for-the-child"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def simsearch_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1", "SIMSEARCH_API_KEY": ""}


@contextmanager
def serving(home: Path, *options: str) -> Iterator[tuple[int, subprocess.Popen]]:
    """`simsearch serve` on a free loopback port until /health answers; stopped (and checked gone) on exit."""
    port = free_port()
    child = subprocess.Popen(
        [sys.executable, "-m", "simsearch", "serve", "--port", str(port), "--index-dir", str(home), *options],
        env=simsearch_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 90
        while call(port, "GET", "/health")[0] != 200:
            if child.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start: {child.stderr.read() if child.stderr else ''}")
            time.sleep(0.2)
        yield port, child
    finally:
        child.send_signal(signal.SIGTERM)
        try:
            child.wait(30)
        finally:
            group_gone = wait_for_group_to_exit(child.pid)
            if not group_gone:
                os.killpg(child.pid, signal.SIGKILL)
    # uvicorn shuts down gracefully, then re-raises the signal so the exit status tells how it ended
    assert child.returncode in (0, -signal.SIGTERM), child.stderr.read() if child.stderr else ""
    assert group_gone, "a server process outlived `simsearch serve`"


def wait_for_group_to_exit(group: int, seconds: float = 20) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


def call(
    port: int,
    method: str,
    path: str,
    body=None,
    key: str | None = KEY,
    connection: http.client.HTTPConnection | None = None,
) -> tuple[int, dict]:
    """One request; on ``connection`` when given (it stays open, so it stays with one worker)."""
    own = connection is None
    connection = connection or http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Content-Type": "application/json"} | ({"Authorization": f"Bearer {key}"} if key else {})
    try:
        connection.request(method, path, json.dumps(body) if body is not None else None, headers)
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    except ConnectionError:
        return 0, {}
    finally:
        if own:
            connection.close()


@pytest.fixture
def home(tmp_path, tiny_model, animals) -> Path:
    home = tmp_path / "indexes"
    Index.build("animals", animals, encoder=load_encoder(tiny_model), kind="flat", index_dir=home)
    return home


def test_serve_answers_over_http_guards_routes_with_the_key_and_stops_cleanly(home, tmp_path):
    key_file = tmp_path / "key.txt"
    key_file.write_text(KEY + "\n", encoding="utf-8")
    with serving(home, "--api-key-file", str(key_file)) as (port, _):
        assert call(port, "GET", "/health", key=None) == (200, {"status": "ok"})
        status, answer = call(port, "POST", "/indexes/animals/search", {"query": "a sleepy cat", "k": 3})
        assert status == 200 and len(answer["hits"]) == 3
        status, refused = call(port, "GET", "/indexes/animals", key=None)
        assert status == 401 and "Authorization: Bearer" in refused["error"]
        assert call(port, "GET", "/indexes/animals", key="wrong")[0] == 401
        status, described = call(port, "GET", "/indexes/animals")
        assert status == 200 and described["count"] == 8
        assert call(port, "GET", "/info")[1]["onnx_threads_per_call"] == 1  # requests, not threads, share the cores


def connections_to_each_worker(port: int, workers: int) -> dict[int, http.client.HTTPConnection]:
    """Open keep-alive connections until one reaches each worker (told apart by /info's worker_pid).

    A worker still starting (a busy machine) accepts nothing, so this keeps trying for a while.
    """
    found: dict[int, http.client.HTTPConnection] = {}
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        time.sleep(0.05)
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        pid = call(port, "GET", "/info", connection=connection)[1]["worker_pid"]
        if pid in found:
            connection.close()
        else:
            found[pid] = connection
        if len(found) == workers:
            return found
    raise AssertionError(f"only {len(found)} of {workers} workers answered new connections within 120 s")


def test_two_workers_see_each_others_writes_refuse_a_second_writer_and_survive_a_cli_rebuild(home):
    with serving(home, "--workers", "2") as (port, _):
        first, second = connections_to_each_worker(port, 2).values()
        for connection in (first, second):  # both workers have the index open before it changes
            assert call(port, "GET", "/indexes/animals", connection=connection)[1]["count"] == 8
        new = {"id": "w1", "text": "Owls hunt mice in the barn at night.", "metadata": {"category": "birds"}}
        assert call(port, "POST", "/indexes/animals/documents", {"documents": [new]}, connection=first)[0] == 200
        status, found = call(
            port, "POST", "/indexes/animals/search", {"query": new["text"], "k": 1, "mode": "dense"}, connection=second
        )
        assert status == 200 and found["hits"][0]["id"] == "w1"
        assert call(port, "DELETE", "/indexes/animals/documents", {"ids": ["w1"]}, connection=second)[0] == 200
        assert call(port, "GET", "/indexes/animals/documents/w1", connection=first)[0] == 404

        with writer_lock(home, "animals"):  # another writer holds the index: each worker says try again
            for connection in (first, second):
                status, busy = call(
                    port,
                    "POST",
                    "/indexes/animals/documents",
                    {"documents": [{"text": "refused"}]},
                    connection=connection,
                )
                assert status == 409 and "try again" in busy["error"]

        failures, answered, stop = [], [], threading.Event()

        def keep_searching() -> None:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            while not stop.is_set():
                status, answer = call(
                    port, "POST", "/indexes/animals/search", {"query": "rain", "k": 3}, connection=connection
                )
                (answered if status == 200 and len(answer["hits"]) == 3 else failures).append((status, answer))
            connection.close()

        searchers = [threading.Thread(target=keep_searching) for _ in range(3)]
        for searcher in searchers:
            searcher.start()
        try:
            rebuilt = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "simsearch",
                    "rebuild",
                    "animals",
                    "--kind",
                    "hnsw",
                    "--index-dir",
                    str(home),
                    "-q",
                ],
                env=simsearch_env(),
                capture_output=True,
                text=True,
                timeout=120,
            )
            time.sleep(0.5)
        finally:
            stop.set()
            for searcher in searchers:
                searcher.join(60)
        assert rebuilt.returncode == 0, rebuilt.stderr
        assert failures == [] and len(answered) > 3
        first.close()
        second.close()  # idle through the rebuild, past uvicorn's keep-alive: each worker is reached anew
        for connection in connections_to_each_worker(port, 2).values():
            assert call(port, "GET", "/indexes/animals", connection=connection)[1]["kind"] == "hnsw"
            connection.close()
