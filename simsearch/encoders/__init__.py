"""Encoder backends: the same model weights, run by torch or by ONNX Runtime.

``torch`` is the reference. ``onnx`` runs the same fp32 graph in ONNX Runtime
(vectors equal to torch's within 1e-5, faster, and no torch import at query
time). ``onnx-int8`` quantises the weights to 8 bits: faster again, vectors
within about 0.01 cosine of torch's.

All backends of one model share its fingerprint, so an index built with one may
be searched with another: fp32 backends give the same ranking; with int8 the
query vectors are approximate, so scores shift by ~0.01 and close ties may swap.
The manifest records which backend built the index, and that backend is used
for queries unless the caller picks another.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, get_args

from simsearch.errors import InvalidArgumentError

if TYPE_CHECKING:
    from simsearch.encoder import Encoder

EncoderBackend = Literal["torch", "onnx", "onnx-int8"]
ENCODER_BACKENDS: tuple[str, ...] = get_args(EncoderBackend)


def check_backend(backend: str) -> str:
    if backend not in ENCODER_BACKENDS:
        raise InvalidArgumentError(f"unknown encoder backend {backend!r}; valid: {', '.join(ENCODER_BACKENDS)}.")
    return backend


def load_fast_encoder(name: str, source: str, pooling: str | None, backend: str) -> Encoder:
    """An ONNX Runtime encoder for a resolved model (see simsearch.encoder.resolve_model)."""
    from simsearch.encoders.onnx_encoder import load_onnx_encoder

    return load_onnx_encoder(name, source, pooling, quantized=check_backend(backend) == "onnx-int8")


__all__ = ["ENCODER_BACKENDS", "EncoderBackend", "check_backend", "load_fast_encoder"]
