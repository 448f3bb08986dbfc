"""Dynamic micro-batching: the queries of concurrent callers encoded together, in one encode call.

Each model call has a fixed cost besides its tokens. A server answering many clients at
once therefore wraps its encoder in ``MicroBatchingEncoder``: each caller's texts join a
queue, one thread takes what has queued (waiting up to ``max_wait_ms`` for more, until
``max_batch`` texts are in), encodes them together and hands every caller its own rows.
Callers block only their own thread, so the search stages that follow (candidates,
fetch) still run per request and side by side. text-embeddings-inference and Infinity
batch the same way.

The texts of one batch are sorted by length and run in model calls of ``sub_batch``
texts, because a call pads every text to its longest. CPU per query on the 2-core test
machine (ONNX, all-MiniLM-L6-v2; busy, so indicative): 6-word queries 5.4 ms one at a
time, 3.5 ms from 32 at once in sorted calls of 4, 4.5 ms in one padded call of 32;
whole Wikipedia sentences (21 words) 10.7 ms, 9.7 ms and 14.9 ms.

By default the batcher waits for nobody: the queries that arrive while one batch is
being encoded form the next, so a lone query pays no delay and a busy server batches by
itself. Waiting 2 or 5 ms gave no more queries/s at concurrency 8 or 32 on the test
machine, only slower answers at concurrency 1 (benchmarks/load.py).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from simsearch.encoders.base import Encoder
from simsearch.errors import InvalidArgumentError
from simsearch.progress import ProgressCallback

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

DEFAULT_MAX_BATCH = 32
DEFAULT_MAX_WAIT_MS = 0.0
DEFAULT_SUB_BATCH = 4


@dataclass
class _Request:
    """One caller's texts, and where the batcher leaves its vectors (or the error) before setting ``done``."""

    texts: list[str]
    done: threading.Event = field(default_factory=threading.Event)
    vectors: np.ndarray | None = None
    error: Exception | None = None


class MicroBatchingEncoder(Encoder):
    """``inner``, with concurrent ``encode`` calls of small batches merged into one model call.

    Thread-safe. Vectors equal those of ``inner.encode`` called alone (the rows do not
    depend on their batch mates beyond float rounding: padding is masked out). ``batches``
    counts the encode calls made for callers and ``texts`` the texts they held. A call
    with more than ``max_batch`` texts, or with a progress callback (an import, not a
    query), goes straight to ``inner``. ``close()`` stops the batching thread.
    """

    def __init__(
        self,
        inner: Encoder,
        max_batch: int = DEFAULT_MAX_BATCH,
        max_wait_ms: float = DEFAULT_MAX_WAIT_MS,
        sub_batch: int = DEFAULT_SUB_BATCH,
    ) -> None:
        if max_batch < 1 or sub_batch < 1 or max_wait_ms < 0:
            raise InvalidArgumentError(
                f"micro-batching needs max_batch >= 1, sub_batch >= 1 and max_wait_ms >= 0 "
                f"(got {max_batch}, {sub_batch} and {max_wait_ms})."
            )
        super().__init__(inner.info, inner.backend)
        self.inner, self.max_batch, self.max_wait = inner, max_batch, max_wait_ms / 1000
        self.sub_batch = sub_batch
        self._queue: queue.Queue[_Request | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._starting = threading.Lock()
        self.batches = 0  # batches encoded for callers, and the texts they held: their ratio is the mean batch size
        self.texts = 0

    def encode(
        self, texts: Sequence[str], batch_size: int = 64, on_progress: ProgressCallback | None = None
    ) -> np.ndarray:
        if on_progress is not None or len(texts) > self.max_batch or not texts:
            return self.inner.encode(texts, batch_size, on_progress)
        request = _Request(list(texts))
        self._ensure_thread()
        self._queue.put(request)
        request.done.wait()
        if request.error is not None:
            raise request.error
        return request.vectors  # type: ignore[return-value]

    def embed_batch(self, texts: list[str]) -> np.ndarray:
        return self.inner.embed_batch(texts)

    def token_counts(self, texts: list[str]) -> list[int]:
        return self.inner.token_counts(texts)

    @property
    def model(self) -> SentenceTransformer:
        return self.inner.model

    @property
    def lock(self) -> threading.Lock:
        return self.inner.lock  # token views and searches share the inner model, hence its lock

    def close(self) -> None:
        """Stop the batching thread once the queued requests are answered (a later encode restarts it)."""
        with self._starting:
            if self._thread is not None:
                self._queue.put(None)
                self._thread.join()
                self._thread = None

    def _ensure_thread(self) -> None:
        with self._starting:
            if self._thread is None:
                self._thread = threading.Thread(target=self._serve, name="simsearch-micro-batcher", daemon=True)
                self._thread.start()

    def _serve(self) -> None:
        while (first := self._queue.get()) is not None:
            batch, stop = self._collect(first)
            self._encode_together(batch)
            if stop:
                return

    def _collect(self, first: _Request) -> tuple[list[_Request], bool]:
        """``first`` and whatever joins it within the wait or up to the batch size; True when told to stop."""
        batch, size = [first], len(first.texts)
        deadline = time.monotonic() + self.max_wait
        while size < self.max_batch:
            try:
                request = self._queue.get(timeout=max(deadline - time.monotonic(), 0))
            except queue.Empty:
                break
            if request is None:
                return batch, True
            batch.append(request)
            size += len(request.texts)
        return batch, False

    def _encode_together(self, batch: list[_Request]) -> None:
        texts = [text for request in batch for text in request.texts]
        try:
            vectors = self.inner.encode(texts, batch_size=self.sub_batch)  # sorted by length, then cut
        except Exception as error:
            if len(batch) > 1:  # one caller's bad text must not fail its batch mates: each again, alone
                for request in batch:
                    self._encode_together([request])
            else:  # the caller raises it, in its own thread
                batch[0].error = error
                batch[0].done.set()
            return
        self.batches, self.texts = self.batches + 1, self.texts + len(texts)
        start = 0
        for request in batch:
            request.vectors = vectors[start : start + len(request.texts)]
            start += len(request.texts)
            request.done.set()
