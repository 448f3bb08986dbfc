"""The one place that decides whether FAISS work runs on GPUs.

faiss-gpu and faiss-cpu both install the ``faiss`` module; with faiss-gpu and
a visible GPU, indexes are cloned to all GPUs for build and search and copied
back to CPU form for saving, so files are portable between the two.
"""

from __future__ import annotations

import os
from functools import lru_cache

import faiss


@lru_cache(maxsize=1)
def gpu_count() -> int:
    """GPUs faiss can use; 0 with faiss-cpu, or when SIMSEARCH_NO_GPU=1 asks for CPU."""
    if os.environ.get("SIMSEARCH_NO_GPU") == "1" or not hasattr(faiss, "get_num_gpus"):
        return 0
    return int(faiss.get_num_gpus())


def to_gpu(index: faiss.Index) -> faiss.Index:
    options = faiss.GpuMultipleClonerOptions()
    options.shard = False  # replicate: every GPU answers whole queries
    return faiss.index_cpu_to_all_gpus(index, co=options)


def to_cpu(index: faiss.Index) -> faiss.Index:
    return faiss.index_gpu_to_cpu(index)
