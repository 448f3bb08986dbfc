"""The Siamese encoder's interface: texts in, L2-normalised float32 vectors out.

Both sides of every comparison (documents at build time, queries at search time)
go through the same ``Encoder``, which is what makes cosine similarity between
them meaningful. Vectors are always unit length, so FAISS inner product equals
cosine similarity. A runtime subclass supplies only ``embed_batch`` (one padded
batch to unit vectors) and ``token_counts`` (for truncation warnings);
chunking, progress callbacks, similarity and truncation counting are built here once.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from simsearch.errors import InvalidArgumentError
from simsearch.progress import ProgressCallback

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

    from simsearch.encoders import Backend

_CHUNK = 1024  # texts per progress step: small enough to report often, large enough to batch well


@dataclass(frozen=True)
class ModelInfo:
    """What an index records about its model, so a different model can be refused later."""

    name: str
    fingerprint: str
    dimension: int
    pooling: str
    max_seq_length: int
    normalize: bool = True

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class WordPieces:
    """One text's word pieces: ``spans[i]`` is piece i's [start, end) in the text, ``words[i]`` its word's number."""

    spans: list[tuple[int, int]]
    words: list[int | None]


class Encoder(ABC):
    """Encodes texts into unit vectors with one model; safe to call from several threads."""

    def __init__(self, info: ModelInfo, backend: Backend) -> None:
        self.info = info
        self.name = info.name
        self.backend: Backend = backend  # which runtime computes the vectors (see simsearch.encoders)
        self._lock = threading.Lock()

    @abstractmethod
    def embed_batch(self, texts: list[str]) -> np.ndarray:
        """Unit vectors, shape (len(texts), dimension) float32, for one batch the runtime pads together."""

    @abstractmethod
    def token_counts(self, texts: list[str]) -> list[int]:
        """How many tokens (special tokens included, before truncation) the model would read for each text."""

    @property
    @abstractmethod
    def model(self) -> SentenceTransformer:
        """The torch SentenceTransformer of these weights, for token-level views (simsearch.tools.tokens)."""

    def word_pieces(self, texts: list[str]) -> list[WordPieces]:
        """Each text's word pieces as the model reads them, special tokens left out and nothing truncated:
        their character spans and word numbers (for splitting long texts, simsearch.ingest.chunking).

        This default asks the torch model's fast tokenizer; a runtime with its own tokenizer overrides it.
        """
        tokenizer = self.model.tokenizer
        with self.lock:
            encoded = tokenizer(list(texts), add_special_tokens=False, return_offsets_mapping=True, verbose=False)
        return [
            WordPieces([tuple(span) for span in encoded["offset_mapping"][row]], encoded.word_ids(row))
            for row in range(len(texts))
        ]

    @property
    def dimension(self) -> int:
        return self.info.dimension

    @property
    def lock(self) -> threading.Lock:
        """Held while the model or its tokenizer runs: neither is safe under concurrent calls.

        Token views (simsearch.tools.tokens) share a model with searches, so they take this lock too.
        """
        return self._lock

    def encode(
        self, texts: Sequence[str], batch_size: int = 64, on_progress: ProgressCallback | None = None
    ) -> np.ndarray:
        """Return an (n, dimension) float32 array of unit vectors, one row per text, in input order.

        Texts longer than the model's maximum sequence length are truncated by the
        model; callers that index documents should warn with ``count_truncated``.
        ``on_progress(done, total)`` is called after each step of at most 1,024 texts.
        """
        if batch_size < 1:
            raise InvalidArgumentError(f"batch size must be at least 1 (got {batch_size}).")
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        step = _CHUNK if on_progress is None else min(_CHUNK, 4 * batch_size)  # a watched bar should move often
        for start in range(0, len(texts), step):
            chunk = list(texts[start : start + step])
            out[start : start + len(chunk)] = self._encode_chunk(chunk, batch_size)
            if on_progress is not None:
                on_progress(start + len(chunk), len(texts))
        return out

    def similarity(self, a: str, b: str) -> float:
        """Cosine similarity of two texts, in [-1, 1]."""
        vectors = self.encode([a, b])
        return float(vectors[0] @ vectors[1])

    def count_truncated(self, texts: Sequence[str]) -> int:
        """How many texts have more tokens (special tokens included) than the model reads."""
        limit = self.info.max_seq_length
        total = 0
        for start in range(0, len(texts), _CHUNK):
            total += sum(count > limit for count in self.token_counts(list(texts[start : start + _CHUNK])))
        return total

    def _encode_chunk(self, texts: list[str], batch_size: int) -> np.ndarray:
        # Longest first, so each batch pads to similar lengths; rows go back to input order.
        order = np.argsort([-len(text) for text in texts], kind="stable")
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        for start in range(0, len(texts), batch_size):
            rows = order[start : start + batch_size]
            out[rows] = self.embed_batch([texts[i] for i in rows])
        return out
