"""The encoder family: one interface (base.Encoder), two runtimes, one factory (``load_encoder``).

``torch`` is the reference. ``onnx`` runs the same fp32 graph in ONNX Runtime
(vectors equal to torch's within 1e-5, faster, and no torch import at query
time). ``onnx-int8`` quantises the weights to 8 bits: faster again, vectors
within about 0.01 cosine of torch's.

All backends of one model share its fingerprint, so an index built with one may
be searched with another: fp32 backends give the same ranking; with int8 the
query vectors are approximate, so scores shift by ~0.01 and close ties may swap.
The manifest records which backend built the index, and that backend is used
for queries unless the caller picks another.

Importing this package imports neither torch nor onnxruntime; ``load_encoder`` imports
the one runtime asked for.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path
from typing import Literal, get_args

from simsearch.encoders.base import Encoder, ModelInfo
from simsearch.encoders.models import (
    DEFAULT_MODEL,
    POOLING_MODES,
    PoolingMode,
    build_sentence_transformer,
    check_pooling,
    model_fingerprint,
    resolve_model,
)
from simsearch.encoders.torch_encoder import TorchEncoder
from simsearch.errors import InvalidArgumentError, MissingDependencyError

log = logging.getLogger(__name__)

Backend = Literal["torch", "onnx", "onnx-int8"]
BACKENDS: tuple[Backend, ...] = get_args(Backend)


def check_backend(backend: str) -> Backend:
    """``backend`` itself when it names a runtime; else a one-line error listing the valid names."""
    if backend not in BACKENDS:
        raise InvalidArgumentError(f"unknown encoder backend {backend!r}; valid: {', '.join(BACKENDS)}.")
    return backend


def load_encoder(
    model: str | Path | None = None, pooling: PoolingMode | None = None, backend: Backend = "torch"
) -> Encoder:
    """Load (and cache per process) a model: the default, a local folder or a hub id.

    ``pooling`` applies to plain transformer checkpoints (mean when not given). The
    onnx backends export a local model folder once and then load without importing
    torch. The same arguments give the same Encoder object, shared by every caller
    in the process (encoders are thread-safe).
    """
    return _load_cached(
        str(model) if model is not None else DEFAULT_MODEL, check_pooling(pooling), check_backend(backend)
    )


@lru_cache(maxsize=8)
def _load_cached(model: str, pooling: PoolingMode | None, backend: Backend) -> Encoder:
    name, source = resolve_model(model)
    if backend == "torch":
        return _load_torch(name, source, pooling)
    from simsearch.encoders.onnx_encoder import load_onnx_encoder

    return load_onnx_encoder(name, source, pooling, quantized=backend == "onnx-int8")


def load_query_encoder(model: str | Path | None = None, pooling: PoolingMode | None = None) -> Encoder:
    """The runtime queries use unless a caller picks one: the model's fp32 ONNX export, else torch.

    The export gives torch's vectors within 1e-5 and starts without importing torch, so a
    new process answers its first query in well under a second. A model that cannot be
    exported (a hub id, modules other than Transformer + Pooling + Normalize, no
    onnxruntime) runs on torch, and the process says so once. Cached like ``load_encoder``.
    """
    return _query_cached(str(model) if model is not None else DEFAULT_MODEL, check_pooling(pooling))


@lru_cache(maxsize=8)
def _query_cached(model: str, pooling: PoolingMode | None) -> Encoder:
    from simsearch.encoders.onnx_export import NotExportableError

    try:
        return _load_cached(model, pooling, "onnx")
    except (NotExportableError, MissingDependencyError) as why:
        _say_torch_runs_queries(model, why)
        return _load_cached(model, pooling, "torch")


def prepare_query_encoder(model: str, pooling: PoolingMode | None = None) -> None:
    """Export ``model`` to ONNX now (once; cached), so the first query after a build starts fast.

    A model that cannot be exported is only logged: its queries will run on torch.
    """
    from simsearch.encoders.onnx_encoder import require_runtime
    from simsearch.encoders.onnx_export import NotExportableError, find_or_export

    try:
        require_runtime()
        find_or_export(*resolve_model(model), check_pooling(pooling), quantized=False)
    except (NotExportableError, MissingDependencyError) as why:
        _say_torch_runs_queries(model, why)


def _say_torch_runs_queries(model: str, why: Exception) -> None:
    # The error's reason without its fix: the fix (use torch) is what happens now.
    _warn_once(model, str(why).split("; ")[0])


@lru_cache(maxsize=32)
def _warn_once(model: str, reason: str) -> None:
    log.warning("queries with model %s run on torch, which starts in seconds rather than under one: %s", model, reason)


def _load_torch(name: str, source: str, pooling: PoolingMode | None) -> Encoder:
    st_model = build_sentence_transformer(name, source, pooling)
    fingerprint = model_fingerprint(st_model)
    if st_model.device.type == "cuda":
        st_model.half()  # fp16 doubles GPU throughput; the fingerprint is taken from the fp32 weights
    log.info("loaded model %s on %s", name, st_model.device)
    return TorchEncoder(st_model, name, fingerprint)


__all__ = [
    "BACKENDS",
    "DEFAULT_MODEL",
    "POOLING_MODES",
    "Backend",
    "Encoder",
    "ModelInfo",
    "PoolingMode",
    "check_backend",
    "load_encoder",
    "load_query_encoder",
    "prepare_query_encoder",
]
