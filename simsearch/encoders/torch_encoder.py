"""The Siamese BERT run by torch through sentence-transformers: the reference runtime."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from simsearch.encoders.base import Encoder, ModelInfo
from simsearch.encoders.models import pooling_of
from simsearch.errors import InvalidArgumentError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer


class TorchEncoder(Encoder):
    """An Encoder over an in-memory SentenceTransformer.

    ``load_encoder`` makes one from a model on disk; training wraps the model it is
    changing to evaluate it between epochs. ``fingerprint`` is what an index records
    (``simsearch.encoders.models.model_fingerprint``, taken from fp32 weights).
    """

    def __init__(self, model: SentenceTransformer, name: str, fingerprint: str) -> None:
        dimension = model.get_embedding_dimension()
        if dimension is None:  # no Pooling module: the model gives token vectors, not one vector a text
            raise InvalidArgumentError(
                f"model {name} gives no sentence vector of a fixed size; "
                "use a sentence-transformers model with a Pooling module, or a BERT folder."
            )
        super().__init__(
            ModelInfo(
                name=name,
                fingerprint=fingerprint,
                dimension=dimension,
                pooling=pooling_of(model),
                max_seq_length=sequence_limit(model),
            ),
            backend="torch",
        )
        self._model = model

    @property
    def model(self) -> SentenceTransformer:
        return self._model

    def embed_batch(self, texts: list[str]) -> np.ndarray:
        with self.lock:  # tokenizers and torch modules are not safe under concurrent calls
            vectors = self._model.encode(texts, batch_size=len(texts), convert_to_numpy=True, show_progress_bar=False)
        vectors = np.asarray(vectors, dtype=np.float32)
        return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)

    def token_counts(self, texts: list[str]) -> list[int]:
        tokenizer = self._model.tokenizer
        with self.lock:
            if hasattr(tokenizer, "encode_batch"):  # a bare tokenizers.Tokenizer: static embeddings
                return [len(encoded.ids) for encoded in tokenizer.encode_batch(texts)]
            encoded = tokenizer(texts, add_special_tokens=True, verbose=False)
        return [len(ids) for ids in encoded["input_ids"]]


NO_LIMIT = 2**31 - 1  # the sequence limit of a model that reads any length: texts are never cut or split


def sequence_limit(model: SentenceTransformer) -> int:
    """Word pieces the model reads; a model without a transformer (static embeddings) says infinity."""
    limit = model.max_seq_length
    return int(limit) if limit is not None and math.isfinite(limit) else NO_LIMIT
