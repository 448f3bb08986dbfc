"""Scoring pairs: a cross-encoder reads the query and each candidate together and scores the pair.

A bi-encoder embeds every text alone, which is what makes the first stage fast; a
cross-encoder (BERT over ``[CLS] query [SEP] text [SEP]``) sees both at once and orders
near-ties better, but costs a forward pass per pair, so it only re-scores the first
stage's best few dozen candidates.

The cross-encoder runs in ONNX Runtime like the encoders (simsearch.encoders.onnx_export:
exported with torch once, cached beside the model and keyed by its files), so a search
process re-ranks without importing torch. Loading and choosing one is simsearch.query.rerankers.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from simsearch.encoders.onnx_export import FP32_FILE, INT8_FILE, TOKENIZER_FILE, read_meta
from simsearch.errors import InvalidArgumentError
from simsearch.query.blend import Blend, blended

if TYPE_CHECKING:
    from simsearch.encoders import Encoder

BATCH_SIZE = 16  # pairs per forward pass; pairs are sorted by length first, so little padding
VECTOR_CACHE = 20_000  # blend vectors kept per re-ranker (384 floats each: ~30 MB for the default model)


class Reranker:
    """A cross-encoder in ONNX Runtime, plus the bi-encoder of its blend. Thread-safe.

    Scores are comparable across queries: the blended probability (0-1 when unblended).
    """

    def __init__(
        self, folder: Path, export: Path, blend: Blend, blend_encoder: Encoder | None, quantized: bool = True
    ) -> None:
        from simsearch.encoders.onnx_encoder import load_session, load_tokenizer

        self.folder, self.blend = folder, blend
        self._meta = read_meta(export)
        self._lock = threading.Lock()
        self._tokenizer = load_tokenizer(export / TOKENIZER_FILE, self._meta)
        self._tokenizer.no_padding()  # each batch is padded to its own longest pair in _run
        self.quantized = quantized
        # int8 runs one pair at a time on one thread each, the runs side by side (_each_alone); fp32 batches
        # use every core for each batch
        self._session = load_session(export / (INT8_FILE if quantized else FP32_FILE), threads=1 if quantized else 0)
        self._blend_encoder = blend_encoder
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()  # the blend's text vectors, most recent last

    @property
    def name(self) -> str:
        return str(self.folder)

    def rerank_scores(self, query: str, texts: Sequence[str]) -> np.ndarray:
        """One score per text for this query, higher is better."""
        return self.pair_scores([query] * len(texts), texts)

    def pair_scores(self, firsts: Sequence[str], seconds: Sequence[str], batch_size: int = BATCH_SIZE) -> np.ndarray:
        """The blended score of each (first, second) pair, in order."""
        probabilities = self.probabilities(firsts, seconds, batch_size)
        cosines = self._cosines(firsts, seconds) if self.blend.active else None
        return blended(probabilities, cosines, self.blend)

    def probabilities(self, firsts: Sequence[str], seconds: Sequence[str], batch_size: int = BATCH_SIZE) -> np.ndarray:
        """The cross-encoder's own score per pair (its activation applied: sigmoid for one logit), unblended."""
        if len(firsts) != len(seconds):
            raise InvalidArgumentError(f"got {len(firsts)} first texts and {len(seconds)} second texts; pair them up.")
        pairs = list(zip(firsts, seconds))
        with self._lock:  # a Tokenizer's padding/truncation state is shared; sessions are thread-safe
            encoded = self._tokenizer.encode_batch(pairs) if pairs else []
        logits = self._each_alone(encoded) if self.quantized else self._batched(encoded, batch_size)
        return 1 / (1 + np.exp(-logits)) if self._meta["activation"] == "sigmoid" else logits

    def _batched(self, encoded: list, batch_size: int) -> np.ndarray:
        """One logit per pair, fp32 batches of pairs of similar length (little padding)."""
        order = np.argsort([len(e.ids) for e in encoded], kind="stable")
        logits = np.zeros(len(encoded), dtype=np.float32)
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            logits[rows] = self._run([encoded[i] for i in rows])
        return logits

    def _each_alone(self, encoded: list) -> np.ndarray:
        """One logit per pair, one pair a run. int8 activations are scaled per run, so a pair batched with
        others could score up to 0.12 apart from alone (STS-B dev); alone, its score is its own. A 40-piece
        pair splits badly across threads, so the runs go side by side, one thread each (50 pairs on 2 cores:
        269 ms one after another, 165 ms side by side; benchmarks/rerank_int8.py)."""
        return np.array(list(_pool().map(lambda item: self._run([item])[0], encoded)), dtype=np.float32)

    def _run(self, encoded: list) -> np.ndarray:
        """One logit per encoded pair: the batch padded to its longest pair and run through the session."""
        width = max(len(e.ids) for e in encoded)
        feeds = {
            "input_ids": np.full((len(encoded), width), self._meta["pad_token_id"], dtype=np.int64),
            "attention_mask": np.zeros((len(encoded), width), dtype=np.int64),
            "token_type_ids": np.zeros((len(encoded), width), dtype=np.int64),
        }
        for row, item in enumerate(encoded):
            feeds["input_ids"][row, : len(item.ids)] = item.ids
            feeds["attention_mask"][row, : len(item.ids)] = 1
            feeds["token_type_ids"][row, : len(item.ids)] = item.type_ids
        return self._session.run(None, {name: feeds[name] for name in self._meta["inputs"]})[0][:, 0]

    @property
    def blend_fingerprint(self) -> str | None:
        """The fingerprint of the bi-encoder whose cosines the blend mixes in; None when unblended."""
        return self._blend_encoder.info.fingerprint if self._blend_encoder is not None else None

    def remember(self, texts: Sequence[str], vectors: np.ndarray, fingerprint: str) -> None:
        """Keep vectors a caller already has (a search's query vectors, an index's stored ones) for the blend,
        so those texts are not encoded again; ignored unless ``fingerprint`` is the blend model's own."""
        if fingerprint == self.blend_fingerprint:
            self._keep(texts, vectors)

    def _keep(self, texts: Sequence[str], vectors: np.ndarray) -> None:
        with self._lock:
            for text, vector in zip(texts, vectors):
                self._vectors[text] = vector
                self._vectors.move_to_end(text)
            while len(self._vectors) > VECTOR_CACHE:
                self._vectors.popitem(last=False)

    def _cosines(self, firsts: Sequence[str], seconds: Sequence[str]) -> np.ndarray:
        """The blend's cosines; texts seen lately (the same documents come back query after query) are not
        encoded again."""
        vectors = self._blend_vectors(list(dict.fromkeys([*firsts, *seconds])))
        return np.array([float(vectors[a] @ vectors[b]) for a, b in zip(firsts, seconds)])

    def _blend_vectors(self, texts: list[str]) -> dict[str, np.ndarray]:
        with self._lock:
            found = {text: self._vectors[text] for text in texts if text in self._vectors}
            for text in found:
                self._vectors.move_to_end(text)
        missing = [text for text in texts if text not in found]
        if missing:
            found.update(zip(missing, self._blend_encoder.encode(missing)))  # type: ignore[union-attr]
            self._keep(missing, np.stack([found[text] for text in missing]))
        return found


@lru_cache(maxsize=1)
def _pool() -> ThreadPoolExecutor:
    """One pool for every re-ranker in the process: ONNX Runtime releases the GIL, so runs share the cores."""
    return ThreadPoolExecutor(max_workers=os.cpu_count() or 1, thread_name_prefix="simsearch-rerank")
