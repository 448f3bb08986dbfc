"""What every request of `simsearch serve` shares: the API key, the open indexes, the embedding model, the settings.

Routes read these; nothing here knows about HTTP, so the route modules import it and it imports none of them.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from simsearch.encoders.micro_batching import MicroBatchingEncoder
from simsearch.errors import InvalidArgumentError, ModelMismatchError, SimsearchError
from simsearch.index.index import Index
from simsearch.index.layout import check_name, describe_index, index_home
from simsearch.index.manifest import Manifest, load_own_encoder
from simsearch.serving.errors import FieldError, public_name

if TYPE_CHECKING:
    from simsearch.encoders import Backend, Encoder


def read_api_key(path: Path | None) -> str | None:
    """The API key: the first line of ``path``, else $SIMSEARCH_API_KEY, else None (no key required)."""
    if path is not None:
        try:
            key = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise InvalidArgumentError(
                f"cannot read the API key file {path} ({exc.strerror}); give a readable file holding the key."
            ) from None
        if not key:
            raise InvalidArgumentError(f"the API key file {path} is empty; write the key into it.")
        return key
    return os.environ.get("SIMSEARCH_API_KEY") or None


log = logging.getLogger(__name__)


class OpenIndexes:
    """Indexes opened once and shared by every request; one reopened when ``is_stale()`` (thread-safe).

    Each model is loaded once and wrapped in one ``MicroBatchingEncoder``, shared by every
    index built with it and by their reopened successors, so a rebuild or an add by
    another process never reloads the model, and the queries of concurrent requests are
    encoded together. ``backend`` picks the query runtime (default: the fp32 ONNX export).
    """

    def __init__(self, index_dir: str | Path | None, backend: Backend | None = None) -> None:
        self.home = index_home(index_dir)
        self.backend = backend
        self._open: dict[str, Index] = {}
        self._batching: dict[Encoder, MicroBatchingEncoder] = {}  # each loaded model's one batcher
        self._lock = threading.Lock()
        self._compacting: set[str] = set()  # names with a background compaction running

    def get(self, name: str) -> Index:
        check_name(name)
        with self._lock:
            index = self._open.get(name)
            if index is None or index.is_stale():
                index = self._opened(name)  # the old object stays usable for requests still running on it
                self._open[name] = index
            return index

    def compact_when_due(self, index: Index) -> None:
        """After a write: compact in a background thread when the thresholds passed, one at a time per index,
        so the request that tipped it over answers at once (simsearch.index.compaction)."""
        with self._lock:
            if index.name in self._compacting or not index.compaction_due():
                return
            self._compacting.add(index.name)

        def run() -> None:
            try:
                index.compact()
            except SimsearchError as error:  # e.g. rebuilt meanwhile: the next write tries again
                log.warning("compacting %r failed: %s", index.name, error)
            finally:
                with self._lock:
                    self._compacting.discard(index.name)

        threading.Thread(target=run, name=f"simsearch-compact-{index.name}", daemon=True).start()

    def models(self) -> list[str]:
        with self._lock:
            return sorted({index.manifest.model["name"] for index in self._open.values()})

    def batching_figures(self) -> dict[str, int]:
        """Batches encoded for queries and the queries they held: their ratio is the mean batch size."""
        with self._lock:
            encoders = list(self._batching.values())
        return {"batches": sum(e.batches for e in encoders), "queries": sum(e.texts for e in encoders)}

    def close(self) -> None:
        """Stop the batching threads (at shutdown)."""
        with self._lock:
            for encoder in self._batching.values():
                encoder.close()

    def _opened(self, name: str) -> Index:
        attempts = 3  # a rebuild with another model may land between reading the manifest and opening the build
        while True:
            attempts -= 1
            try:
                return Index.open(name, index_dir=self.home, encoder=self._batched(describe_index(name, self.home)))
            except ModelMismatchError:
                if not attempts:
                    raise

    def _batched(self, manifest: Manifest) -> MicroBatchingEncoder:
        encoder = load_own_encoder(manifest, self.backend)  # cached per process: one load per model
        if encoder not in self._batching:
            self._batching[encoder] = MicroBatchingEncoder(encoder)
        return self._batching[encoder]


class SharedModel:
    """The model behind /v1/embeddings and /similarity: loaded on first use, once."""

    def __init__(self, model: str | None, backend: Backend | None = None, reranker: str | None = None) -> None:
        self.requested, self.backend = model, backend
        self.reranker = reranker  # the cross-encoder folder behind /rerank and search's "rerank": true
        self._encoder: Encoder | None = None
        self._lock = threading.Lock()

    def get(self) -> Encoder:
        with self._lock:
            if self._encoder is None:
                from simsearch.encoders import load_encoder, load_query_encoder

                self._encoder = (
                    load_query_encoder(self.requested)
                    if self.backend is None
                    else load_encoder(self.requested, backend=self.backend)
                )
            return self._encoder

    def check_name(self, asked: str | None) -> Encoder:
        """The model, when ``asked`` is None, "default" or its own name (OpenAI clients always send one)."""
        encoder = self.get()
        shown = public_name(encoder.info.name)
        if asked is not None and asked not in {"default", encoder.info.name, shown}:
            raise FieldError(
                "model",
                f'unknown model {asked!r}; this server embeds with {shown!r}: send that, "default", or no model.',
            )
        return encoder


@dataclass(frozen=True)
class ServerSettings:
    """What every worker process of one `simsearch serve` needs, passed to each as JSON in the environment."""

    index_dir: str | None = None
    api_key: str | None = None
    model: str | None = None
    backend: Backend | None = None
    rerank: str | None = None

    def to_environment(self) -> None:
        os.environ[_SETTINGS_VARIABLE] = json.dumps(asdict(self))

    @classmethod
    def from_environment(cls) -> ServerSettings:
        return cls(**json.loads(os.environ.get(_SETTINGS_VARIABLE, "{}")))


_SETTINGS_VARIABLE = "SIMSEARCH_SERVE_SETTINGS"
