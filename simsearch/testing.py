"""Small, fast stand-ins for real data, shared by the test suite and the benchmarks' smoke runs.

A tiny random-weight BERT (2 layers, 32 dimensions) with the default model's real
WordPiece vocabulary loads in well under a second, so tests can exercise the whole
path (tokenizer, transformer, pooling, FAISS, SQLite) without the real model's cost.
Synthetic unit vectors stand in for encoded corpora where only the index is measured.
Importing this module imports nothing heavy; torch loads inside ``write_tiny_bert``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


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
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=64, max_position_embeddings=128,
                        initializer_range=initializer_range)
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
