"""Small, fast stand-ins for real data, shared by the test suite and the benchmarks' smoke runs.

A tiny random-weight BERT (2 layers, 32 dimensions) with the default model's real
WordPiece vocabulary loads in well under a second, so tests can exercise the whole
path (tokenizer, transformer, pooling, FAISS, SQLite) without the real model's cost.
Synthetic unit vectors stand in for encoded corpora where only the index is measured,
and synthetic pair files for training data. ``serving_ui`` runs the real web UI
(`simsearch ui`) for the browser test and the UI latency benchmark. Importing this
module imports nothing heavy; torch loads inside ``write_tiny_bert``, pandas inside
the pair writers.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

# Pair files: each sentence names one word of a topic; two sentences are similar when their
# topics match. Training and evaluation files use different seeds, hence different pairings,
# so a rising evaluation figure means the model learnt the topics rather than the pairs.
TOPICS = {
    "animals": ["cat", "dog", "horse"],
    "food": ["bread", "cheese", "soup"],
    "weather": ["rain", "snow", "wind"],
    "music": ["guitar", "piano", "violin"],
}
_TEMPLATES = ["{}", "the {}", "a {}"]

# Debian's chromium, driven by Playwright (never Playwright's own browser download).
CHROMIUM = Path(os.environ.get("SIMSEARCH_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def write_tiny_bert(folder: Path, initializer_range: float = 0.02, seed: int = 0) -> Path:
    """Save a plain 2-layer BERT checkpoint (no pooling config) with random weights into ``folder``.

    ``initializer_range`` 0.02 is BERT's own and trains well; 0.2 keeps random sentence
    vectors further apart, which ranking tests need, but saturates attention so training
    collapses every sentence onto one vector.
    """
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    from simsearch.encoders.models import default_model_path

    folder = Path(folder)
    tokenizer = AutoTokenizer.from_pretrained(str(default_model_path()))
    tokenizer.model_max_length = 128
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
        initializer_range=initializer_range,
    )
    torch.manual_seed(seed)
    BertModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def unit_vectors(n: int, dimension: int, seed: int = 0) -> np.ndarray:
    """``n`` random float32 rows of unit length: uniformly spread directions."""
    vectors = np.random.default_rng(seed).standard_normal((n, dimension)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def noisy_copies(real: np.ndarray, size: int, noise: float = 0.5, seed: int = 0) -> np.ndarray:
    """``real`` first, then renormalised noisy copies of its rows up to ``size`` rows.

    With the default ``noise`` (the norm of the Gaussian noise added before
    renormalising) a copy keeps a cosine of about 0.89 to its source, so a grown
    corpus has real-looking neighbourhoods rather than uniform noise.
    """
    if size <= len(real):
        return np.ascontiguousarray(real[:size], dtype=np.float32)
    rng = np.random.default_rng(seed)
    out = np.empty((size, real.shape[1]), dtype=np.float32)
    out[: len(real)] = real
    for start in range(len(real), size, len(real)):
        block = real[: min(len(real), size - start)]
        noisy = block + rng.normal(0, noise / np.sqrt(real.shape[1]), block.shape).astype(np.float32)
        out[start : start + len(block)] = noisy / np.linalg.norm(noisy, axis=1, keepdims=True)
    return out


def sentence_pairs(count: int, seed: int) -> list[tuple[str, str, bool]]:
    """``count`` (sentence1, sentence2, same_topic) rows of ``TOPICS`` words, half of them the same topic."""
    rng = random.Random(seed)
    names = sorted(TOPICS)
    rows = []
    for i in range(count):
        first = rng.choice(names)
        second = first if i % 2 == 0 else rng.choice([n for n in names if n != first])
        rows.append(
            (
                rng.choice(_TEMPLATES).format(rng.choice(TOPICS[first])),
                rng.choice(_TEMPLATES).format(rng.choice(TOPICS[second])),
                first == second,
            )
        )
    return rows


def write_scored(path: Path, count: int, seed: int) -> Path:
    """A sentence1,sentence2,score CSV on the 0-5 STS scale (4-5 same topic, 0-1 different)."""
    import pandas as pd

    rng = random.Random(seed + 1)
    rows = [
        {"sentence1": a, "sentence2": b, "score": round(rng.uniform(4, 5) if same else rng.uniform(0, 1), 1)}
        for a, b, same in sentence_pairs(count, seed)
    ]
    pd.DataFrame(rows).to_csv(path, index=False)
    return Path(path)


def write_labelled(path: Path, count: int, seed: int) -> Path:
    """A sentence1,sentence2,label CSV: 1 same topic, 0 different."""
    import pandas as pd

    rows = [{"sentence1": a, "sentence2": b, "label": int(same)} for a, b, same in sentence_pairs(count, seed)]
    pd.DataFrame(rows).to_csv(path, index=False)
    return Path(path)


def write_anchors(path: Path, count: int, seed: int) -> Path:
    """An anchor,positive JSON-lines file of same-topic pairs (about ``count`` rows)."""
    import pandas as pd

    rows = [{"anchor": a, "positive": b} for a, b, same in sentence_pairs(2 * count, seed) if same]
    pd.DataFrame(rows).to_json(path, orient="records", lines=True)
    return Path(path)


def free_port() -> int:
    """A TCP port nobody listens on at the moment of asking (on the loopback interface)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_serving(url: str, server: subprocess.Popen, timeout: float = 90) -> None:
    """Return once Streamlit's health endpoint at ``url`` answers 200; raise if ``server`` exits or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the UI server exited with code {server.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"the UI server did not answer on {url} within {timeout:.0f} s")


def stop_server(server: subprocess.Popen) -> None:
    """SIGTERM to the server's process group (started with ``start_new_session``), SIGKILL after 30 s."""
    try:
        os.killpg(server.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()


@contextmanager
def serving_ui(home: Path, cwd: Path, host: str | None = None, stderr: Path | None = None) -> Iterator[str]:
    """`simsearch ui` serving the indexes in ``home`` on a free port, started in ``cwd``; yields its URL.

    The server imports the same simsearch as the caller (a source checkout under test,
    or an install): the caller's ``sys.path`` travels as PYTHONPATH. It runs in its own
    process group, so stopping it ends anything it started. ``host`` is passed as
    ``--host``; ``stderr`` names a file for what the command prints there.
    """
    port = free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    command = [sys.executable, "-m", "simsearch", "ui", "--port", str(port), "--index-dir", str(home)]
    if host is not None:
        command += ["--host", host]
    with open(stderr or os.devnull, "wb") as errors:
        server = subprocess.Popen(
            command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=errors, start_new_session=True
        )
    try:
        url = f"http://{host or '127.0.0.1'}:{port}"
        wait_until_serving(url, server)
        yield url
    finally:
        stop_server(server)


def listening_addresses(port: int) -> set[str]:
    """The local addresses of the TCP sockets listening on ``port`` (Linux: read from /proc/net/tcp{,6})."""
    import ipaddress

    found = set()
    for table, width in (("/proc/net/tcp", 4), ("/proc/net/tcp6", 16)):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            local, _, state = line.split()[1:4]
            address, hex_port = local.split(":")
            if state != "0A" or int(hex_port, 16) != port:  # 0A: LISTEN
                continue
            raw = bytes.fromhex(address)
            words = b"".join(raw[i : i + 4][::-1] for i in range(0, width, 4))  # the kernel prints host-order words
            found.add(str(ipaddress.ip_address(words)))
    return found
