"""The memory-saving ivfsq kind, the benchmark's smoke mode, and faiss-gpu against CPU (gpu marker)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from simsearch.vectors import create_vector_index, load_vector_index
from tests.conftest import REPO, SHARED_DATA


def clustered_unit_vectors(count: int, dimension: int = 64, seed: int = 0) -> np.ndarray:
    """Points around 50 centres, like sentence embeddings (uniform random vectors have no neighbours)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(50, dimension))
    vectors = centres[rng.integers(0, 50, count)] + 0.3 * rng.normal(size=(count, dimension))
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def recall_at_10(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth)]))


def test_ivfsq_stores_a_byte_per_dimension_and_keeps_recall(tmp_path):
    vectors = clustered_unit_vectors(4000)
    ids = np.arange(100, 4100, dtype=np.int64)
    exact = create_vector_index("flat", 64, len(vectors))
    exact.build(vectors, ids)
    index = create_vector_index("ivfsq", 64, len(vectors), {"nprobe": 16})
    index.build(vectors, ids)
    queries = vectors[:200] + 0.01
    truth = exact.search(queries, 10)[1]
    assert recall_at_10(index.search(queries, 10)[1], truth) >= 0.9
    path = tmp_path / "v.faiss"
    index.save(path)
    assert path.stat().st_size / len(vectors) < 64 + 40  # one byte a dimension plus id and list overhead
    loaded = load_vector_index(path, "ivfsq", index.params)
    loaded.remove(ids[:10])
    assert loaded.count == len(vectors) - 10
    assert not set(loaded.search(vectors[:5], 10)[1].ravel()) & set(ids[:10].tolist())


@pytest.mark.slow
def test_benchmark_smoke_mode_runs_and_writes_figures(tiny_model, tmp_path):
    if not (SHARED_DATA / "wikipedia_sentences").exists() or not (SHARED_DATA / "stsb").exists():
        pytest.skip("shared wikipedia_sentences / stsb data not present")
    out = tmp_path / "bench"
    subprocess.run(
        [
            sys.executable,
            str(REPO / "benchmarks" / "performance.py"),
            "--smoke",
            "--model",
            tiny_model,
            "--out",
            str(out),
        ],
        check=True,
        capture_output=True,
        cwd=REPO,
    )
    report = json.loads((out / "performance.json").read_text())
    assert report["encoding"][0]["system"].startswith("plain stack")
    systems = {row["system"] for row in report["search"]}
    assert {"plain stack (ST + IndexFlatIP)", "simsearch hnsw", "simsearch ivfsq"} <= systems
    assert all(0 <= row["recall_at_10"] <= 1 for row in report["search"])
    for figure in ("encoding.png", "latency.png", "recall_qps.png"):
        assert (out / figure).stat().st_size > 1000


@pytest.mark.gpu
def test_gpu_exact_search_equals_cpu():
    import faiss

    from simsearch.vectors.gpu import gpu_count

    if gpu_count() == 0:
        pytest.skip("needs faiss-gpu and a CUDA GPU")
    vectors = clustered_unit_vectors(5000, 128)
    cpu = faiss.IndexFlatIP(128)
    cpu.add(vectors)
    on_gpu = create_vector_index("flat", 128, len(vectors))  # builds and searches on the GPU when one is there
    on_gpu.build(vectors, np.arange(len(vectors), dtype=np.int64))
    cpu_scores, cpu_ids = cpu.search(vectors[:100], 10)
    gpu_scores, gpu_ids = on_gpu.search(vectors[:100], 10)
    np.testing.assert_array_equal(gpu_ids, cpu_ids)
    np.testing.assert_allclose(gpu_scores, cpu_scores, atol=1e-4)
