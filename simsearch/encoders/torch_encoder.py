"""The Siamese BERT run by torch through sentence-transformers: the reference runtime."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from simsearch.encoders.base import Encoder, ModelInfo
from simsearch.encoders.models import pooling_of

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer


class TorchEncoder(Encoder):
    """An Encoder over an in-memory SentenceTransformer.

    ``load_encoder`` makes one from a model on disk; training wraps the model it is
    changing to evaluate it between epochs. ``fingerprint`` is what an index records
    (``simsearch.encoders.models.model_fingerprint``, taken from fp32 weights).
    """

    def __init__(self, model: SentenceTransformer, name: str, fingerprint: str) -> None:
        super().__init__(ModelInfo(name=name, fingerprint=fingerprint, dimension=int(model.get_embedding_dimension()),
                                   pooling=pooling_of(model), max_seq_length=int(model.max_seq_length)),
                         backend="torch")
        self._model = model

    @property
    def model(self) -> SentenceTransformer:
        return self._model

    def embed_batch(self, texts: list[str]) -> np.ndarray:
        with self.lock:  # tokenizers and torch modules are not safe under concurrent calls
            vectors = self._model.encode(texts, batch_size=len(texts), convert_to_numpy=True,
                                         show_progress_bar=False)
        vectors = np.asarray(vectors, dtype=np.float32)
        return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)

    def token_counts(self, texts: list[str]) -> list[int]:
        with self.lock:
            encoded = self._model.tokenizer(texts, add_special_tokens=True, verbose=False)
        return [len(ids) for ids in encoded["input_ids"]]
