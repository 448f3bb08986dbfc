"""`simsearch serve`: the indexes over HTTP (FastAPI on uvicorn), JSON in and out.

Routes are plain ``def`` functions, so FastAPI runs each in its thread pool: encoding and
searching never block the event loop, and searches run side by side (Index and Encoder
are safe to share between threads). The queries of concurrent searches are encoded
together (``MicroBatchingEncoder``), then each request finds its candidates and fetches
its hits on its own. Open indexes are kept in ``OpenIndexes`` and
reopened when a rebuild or another process changed them; a request holding the old
object finishes on it, so a swap fails no request. Every failure is answered as
``{"error": "one line naming the fix", "type": "ErrorClass"}`` with a 4xx code
(a damaged index: 500), never a traceback.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from simsearch.encoders.micro_batching import MicroBatchingEncoder
from simsearch.encoders.onnx_encoder import THREADS_VARIABLE
from simsearch.errors import InvalidArgumentError, ModelMismatchError
from simsearch.extras import missing_extra_error
from simsearch.index.index import Index
from simsearch.index.layout import check_name, describe_index, index_home, list_indexes
from simsearch.index.manifest import Manifest, load_own_encoder
from simsearch.version import __version__

if TYPE_CHECKING:
    from fastapi import FastAPI

    from simsearch.encoders import Backend, Encoder

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 10 * 1024 * 1024  # a bigger request is refused (413) before it is parsed
# Idle seconds a kept-alive connection stays open (uvicorn's own default is 5, nginx's 75): a client's pooled
# connection outlives a pause such as another worker loading a model for its first add.
KEEP_ALIVE_S = 75
# Routes running at once (the rest wait on the event loop). Starlette's 40 threads fight over the
# GIL when each holds a query: on the 2-core test machine, 32 concurrent searches answered 109 q/s
# with 40 threads and 139 q/s with 8 (benchmarks/load.py-style phases, a busy machine: indicative).
ROUTE_THREADS = max(8, 2 * (os.cpu_count() or 1))


def read_api_key(path: Path | None) -> str | None:
    """The API key: the first line of ``path``, else $SIMSEARCH_API_KEY, else None (no key required)."""
    if path is not None:
        try:
            key = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise InvalidArgumentError(f"cannot read the API key file {path} ({exc.strerror}); "
                                       "give a readable file holding the key.") from None
        if not key:
            raise InvalidArgumentError(f"the API key file {path} is empty; write the key into it.")
        return key
    return os.environ.get("SIMSEARCH_API_KEY") or None


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

    def get(self, name: str) -> Index:
        check_name(name)
        with self._lock:
            index = self._open.get(name)
            if index is None or index.is_stale():
                index = self._opened(name)  # the old object stays usable for requests still running on it
                self._open[name] = index
            return index

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

                self._encoder = (load_query_encoder(self.requested) if self.backend is None
                                 else load_encoder(self.requested, backend=self.backend))
            return self._encoder

    def check_name(self, asked: str | None) -> Encoder:
        """The model, when ``asked`` is None, "default" or its own name (OpenAI clients always send one)."""
        encoder = self.get()
        names = {"default", encoder.info.name, Path(encoder.info.name).name}
        if asked is not None and asked not in names:
            raise InvalidArgumentError(f"unknown model {asked!r}; this server embeds with "
                                       f"{encoder.info.name!r}: send that, \"default\", or no model.")
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


def create_app(index_dir: str | Path | None = None, api_key: str | None = None,
               model: str | None = None, backend: Backend | None = None, rerank: str | None = None) -> FastAPI:
    """The FastAPI application over the indexes in ``index_dir``; ``api_key`` guards every route but /health.

    ``backend`` runs the queries and /v1/embeddings (default: the model's fp32 ONNX export, else torch);
    ``rerank`` is the cross-encoder folder behind /rerank and searches sent with ``"rerank": true``.
    """
    try:
        from fastapi import FastAPI
    except ImportError:
        raise missing_extra_error("serve", "the HTTP server") from None
    from simsearch.serving.routes import add_error_handlers, add_routes

    if rerank is not None:
        from simsearch.query.reranking import check_cross_encoder

        rerank = str(check_cross_encoder(rerank))  # a wrong folder stops the server at start, not at a request
    indexes, shared = OpenIndexes(index_dir, backend), SharedModel(model, backend, rerank)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        from anyio import to_thread

        to_thread.current_default_thread_limiter().total_tokens = ROUTE_THREADS
        yield
        indexes.close()

    app = FastAPI(title="simsearch", version=__version__, lifespan=lifespan,
                  description="Sentence-similarity search over simsearch indexes.")
    add_routes(app, indexes, shared, api_key, lambda: list_indexes(indexes.home))
    add_error_handlers(app)
    app.add_middleware(BodyLimit, limit=MAX_BODY_BYTES)
    return app


def app_from_environment() -> FastAPI:
    """The app of one worker, made from the settings `run_server` put in the environment (uvicorn's factory)."""
    settings = ServerSettings.from_environment()
    return create_app(settings.index_dir, settings.api_key, settings.model, settings.backend, settings.rerank)


class BodyLimit:
    """Refuse a request body over ``limit`` bytes with 413, by its Content-Length or, chunked, as it arrives."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None:
            if not length.isdigit() or int(length) > self.limit:
                await self._refuse(send)
                return
            await self.app(scope, receive, send)
            return
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.limit:
                await self._refuse(send)
                return
            more = message.get("more_body", False)
        replayed = False

        async def replay() -> dict:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": b"".join(chunks), "more_body": False}

        await self.app(scope, replay, send)

    async def _refuse(self, send: Any) -> None:
        from starlette.responses import JSONResponse

        response = JSONResponse({"error": f"the request body is over {self.limit // (1024 * 1024)} MB; "
                                          "send the documents in smaller batches.", "type": "BodyTooLarge"},
                                status_code=413)
        await response({"type": "http"}, _no_receive, send)


async def _no_receive() -> dict:
    return {"type": "http.disconnect"}


def run_server(host: str, port: int, settings: ServerSettings, workers: int = 1) -> None:
    """Serve until interrupted: uvicorn with ``workers`` processes sharing the port.

    Every worker opens the indexes itself; a write through one is seen by the others at
    their next request (an index reopens when stale), and two writers at once get 409.
    """
    try:
        import uvicorn
    except ImportError:
        raise missing_extra_error("serve", "the HTTP server") from None
    if workers < 1:
        raise InvalidArgumentError(f"workers must be at least 1 (got {workers}).")
    if settings.rerank is not None:
        from simsearch.query.reranking import check_cross_encoder

        check_cross_encoder(settings.rerank)  # a wrong folder stops the server here, before any worker starts
    settings.to_environment()
    # Concurrent requests, not threads inside one model call, use the cores: on 2 cores, 8 concurrent
    # short queries over 100k documents got 223 q/s from one worker with one ONNX thread per call and
    # 173 q/s with one per core (README, "Under load"). Workers inherit it; a value set by the user stays.
    os.environ.setdefault(THREADS_VARIABLE, "1")
    uvicorn.run(f"{__name__}:app_from_environment", factory=True, host=host, port=port, workers=workers,
                log_level="info", timeout_keep_alive=KEEP_ALIVE_S)
