"""The Siamese BERT run by ONNX Runtime: same vectors as torch (fp32) or close to them (int8), faster.

We keep this hand-written path rather than sentence-transformers' own ONNX backend
because it keeps torch out of query time: searching needs only ``onnxruntime``,
``tokenizers`` and numpy (a new ``simsearch search`` process starts without importing
torch). Torch and sentence-transformers are imported only to export the model the
first time, or when a caller asks for ``.model`` (the SentenceTransformer, for token views).
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from simsearch.encoders.base import Encoder, ModelInfo, WordPieces
from simsearch.encoders.models import PoolingMode, build_sentence_transformer
from simsearch.encoders.onnx_export import FP32_FILE, INT8_FILE, TOKENIZER_FILE, find_or_export, read_meta
from simsearch.errors import InvalidArgumentError, MissingDependencyError, fix

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)

THREADS_VARIABLE = "SIMSEARCH_ONNX_THREADS"


class OnnxEncoder(Encoder):
    """An Encoder whose forward pass runs in ONNX Runtime; pooling and normalisation in numpy."""

    def __init__(self, folder: Path, source: str, quantized: bool) -> None:
        meta = read_meta(folder)
        super().__init__(
            ModelInfo(
                name=meta["name"],
                fingerprint=meta["fingerprint"],
                dimension=meta["dimension"],
                pooling=meta["pooling"],
                max_seq_length=meta["max_seq_length"],
            ),
            backend="onnx-int8" if quantized else "onnx",
        )
        self._meta, self._source = meta, source
        self._model_lock = threading.Lock()
        self._st_model: SentenceTransformer | None = None
        self._tokenizer = load_tokenizer(folder / TOKENIZER_FILE, meta)
        self._session = load_session(folder / (INT8_FILE if quantized else FP32_FILE))

    @property
    def model(self) -> SentenceTransformer:
        """The torch SentenceTransformer of the same weights, loaded on first use (slow: imports torch)."""
        with self._model_lock:  # two first callers must not load two models
            if self._st_model is None:
                is_sentence_model = (Path(self._source) / "modules.json").exists()
                pooling: PoolingMode | None = None if is_sentence_model else self.info.pooling  # type: ignore[assignment]
                self._st_model = build_sentence_transformer(self.name, self._source, pooling)
        return self._st_model

    def token_counts(self, texts: list[str]) -> list[int]:
        with self.lock:  # truncation is tokenizer state: switch it off and back on under the lock
            self._tokenizer.no_truncation()
            try:
                encoded = self._tokenizer.encode_batch(self._prepared(texts))
            finally:
                self._tokenizer.enable_truncation(self.info.max_seq_length)
        return [sum(e.attention_mask) for e in encoded]  # padding is not length

    def word_pieces(self, texts: list[str]) -> list[WordPieces]:
        """The pieces from this runtime's own tokenizer, so splitting a long text never imports torch.

        Lower-casing by hand (``do_lower_case``) keeps offsets only while it keeps lengths; a
        text whose lower case is longer or shorter ('İ') is asked of the model's own tokenizer.
        """
        prepared = self._prepared(texts)
        if any(len(low) != len(text) for low, text in zip(prepared, texts)):
            return super().word_pieces(texts)
        with self.lock:  # padding and truncation are tokenizer state: off for this call, then back on
            self._tokenizer.no_truncation()
            self._tokenizer.no_padding()
            try:
                encoded = self._tokenizer.encode_batch(prepared, add_special_tokens=False)
            finally:
                limit_and_pad(self._tokenizer, self._meta)
        return [WordPieces(list(e.offsets), list(e.word_ids)) for e in encoded]

    def embed_batch(self, texts: list[str]) -> np.ndarray:
        with self.lock:  # a Tokenizer's padding/truncation state is shared; sessions are thread-safe
            encoded = self._tokenizer.encode_batch(self._prepared(texts))
        ids = np.array([e.ids for e in encoded], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
        feeds = {
            "input_ids": ids,
            "attention_mask": mask,
            "token_type_ids": np.array([e.type_ids for e in encoded], dtype=np.int64),
        }
        hidden = self._session.run(None, {n: feeds[n] for n in self._meta["inputs"]})[0]
        pooled = pool(hidden, mask, self.info.pooling)
        return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)

    def _prepared(self, texts: list[str]) -> list[str]:
        return [t.lower() for t in texts] if self._meta["do_lower_case"] else list(texts)


def pool(hidden: np.ndarray, mask: np.ndarray, mode: str) -> np.ndarray:
    """Token vectors (batch, tokens, dim) to sentence vectors, ignoring padding, as sentence-transformers does."""
    if mode == "cls":
        return hidden[:, 0].astype(np.float32)
    weights = mask[:, :, None].astype(np.float32)
    if mode == "max":
        return np.where(weights > 0, hidden, -1e9).max(axis=1).astype(np.float32)
    return ((hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)).astype(np.float32)


def load_onnx_encoder(name: str, source: str, pooling: PoolingMode | None, quantized: bool) -> OnnxEncoder:
    """Export ``source`` (from ``resolve_model``) once if needed, then load it into ONNX Runtime."""
    require_runtime()
    folder = find_or_export(name, source, pooling, quantized)
    encoder = OnnxEncoder(folder, source, quantized)
    log.info("loaded model %s with ONNX Runtime (%s) from %s", name, encoder.backend, folder)
    return encoder


def load_tokenizer(path: Path, meta: dict):
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(path))
    limit_and_pad(tokenizer, meta)
    return tokenizer


def limit_and_pad(tokenizer, meta: dict) -> None:
    """Set a tokenizer up for a model call: cut at the model's limit, pad a batch to its longest text."""
    tokenizer.enable_truncation(int(meta["max_seq_length"]))
    tokenizer.enable_padding(pad_id=int(meta["pad_token_id"]), pad_token=meta["pad_token"])


def load_session(path: Path, threads: int | None = None):
    """An ONNX Runtime session; ``threads`` per call, by default ``session_threads()`` (0: one per core)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = session_threads() if threads is None else threads
    # Idle worker threads would otherwise spin for a while after each call, stealing cores from FAISS.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def session_threads() -> int:
    """Threads each ONNX session spreads one call over: $SIMSEARCH_ONNX_THREADS, else 0 (one per core).

    One caller at a time is served best by every core; a server answering many requests at
    once is served better by one thread per call and the calls side by side (`simsearch
    serve` sets 1: README, "Under load"), because a short query splits badly across threads.
    """
    value = os.environ.get(THREADS_VARIABLE, "").strip()
    if not value:
        return 0
    if not value.isdigit():
        raise InvalidArgumentError(
            f"{THREADS_VARIABLE}={value!r} is not a whole number; set it to the threads "
            "each model call may use (1 or more), or unset it to use every core."
        )
    return int(value)


def require_runtime() -> None:
    """Refuse early, with an install hint, when onnxruntime or tokenizers is missing."""
    try:
        import onnxruntime  # noqa: F401
        import tokenizers  # noqa: F401
    except ImportError:
        raise MissingDependencyError(
            f"the onnx backends need onnxruntime; pip install onnxruntime, or {fix('backend_torch')}."
        ) from None
