"""`simsearch serve`: the indexes over HTTP (FastAPI on uvicorn), JSON in and out.

Routes are plain ``def`` functions, so FastAPI runs each in its thread pool: encoding and
searching never block the event loop, and searches run side by side (Index and Encoder
are safe to share between threads). Open indexes are kept in ``OpenIndexes`` and
reopened when a rebuild or another process changed them; a request holding the old
object finishes on it, so a swap fails no request. Every failure is answered as
``{"error": "one line naming the fix", "type": "ErrorClass"}`` with a 4xx code
(a damaged index: 500), never a traceback.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from simsearch.errors import InvalidArgumentError, MissingDependencyError, ModelMismatchError
from simsearch.index import Index
from simsearch.layout import check_name, index_home, list_indexes
from simsearch.version import __version__

if TYPE_CHECKING:
    from fastapi import FastAPI

    from simsearch.encoders import Encoder

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 10 * 1024 * 1024  # a bigger request is refused (413) before it is parsed


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

    A reopened index keeps the model its predecessor loaded when the fingerprint still
    matches, so a rebuild or an add by another process never reloads the model.
    """

    def __init__(self, index_dir: str | Path | None) -> None:
        self.home = index_home(index_dir)
        self._open: dict[str, Index] = {}
        self._lock = threading.Lock()

    def get(self, name: str) -> Index:
        check_name(name)
        with self._lock:
            index = self._open.get(name)
            if index is None or index.is_stale():
                index = self._reopened(name, index)
                self._open[name] = index
            return index

    def models(self) -> list[str]:
        with self._lock:
            return sorted({index.manifest.model["name"] for index in self._open.values()})

    def _reopened(self, name: str, old: Index | None) -> Index:
        if old is not None:  # the old object stays usable for requests still running on it
            try:
                return Index.open(name, index_dir=self.home, encoder=old.encoder)
            except ModelMismatchError:
                pass  # rebuilt with another model
        index = Index.open(name, index_dir=self.home)
        index.encoder  # noqa: B018 - loaded once here, not inside the first search
        return index


class SharedModel:
    """The model behind /v1/embeddings and /similarity: loaded on first use, once."""

    def __init__(self, model: str | None, reranker: str | None = None) -> None:
        self.requested = model
        self.reranker = reranker  # the cross-encoder folder behind /rerank and search's "rerank": true
        self._encoder: Encoder | None = None
        self._lock = threading.Lock()

    def get(self) -> Encoder:
        with self._lock:
            if self._encoder is None:
                from simsearch.encoders import load_encoder

                self._encoder = load_encoder(self.requested)
            return self._encoder

    def check_name(self, asked: str | None) -> Encoder:
        """The model, when ``asked`` is None, "default" or its own name (OpenAI clients always send one)."""
        encoder = self.get()
        names = {"default", encoder.info.name, Path(encoder.info.name).name}
        if asked is not None and asked not in names:
            raise InvalidArgumentError(f"unknown model {asked!r}; this server embeds with "
                                       f"{encoder.info.name!r}: send that, \"default\", or no model.")
        return encoder


def create_app(index_dir: str | Path | None = None, api_key: str | None = None,
               model: str | None = None, rerank: str | None = None) -> FastAPI:
    """The FastAPI application over the indexes in ``index_dir``; ``api_key`` guards every route but /health."""
    try:
        from fastapi import FastAPI
    except ImportError:
        raise MissingDependencyError("the server needs FastAPI: pip install fastapi uvicorn") from None
    from simsearch.server_routes import add_error_handlers, add_routes

    app = FastAPI(title="simsearch", version=__version__,
                  description="Sentence-similarity search over simsearch indexes.")
    if rerank is not None:
        from simsearch.reranking import check_cross_encoder

        rerank = str(check_cross_encoder(rerank))  # a wrong folder stops the server at start, not at a request
    indexes, shared = OpenIndexes(index_dir), SharedModel(model, rerank)
    add_routes(app, indexes, shared, api_key, lambda: list_indexes(indexes.home))
    add_error_handlers(app)
    app.add_middleware(BodyLimit, limit=MAX_BODY_BYTES)
    return app


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


def run_server(host: str, port: int, index_dir: str | Path | None, api_key: str | None,
               model: str | None = None, rerank: str | None = None) -> None:
    """Serve until interrupted (uvicorn, one process)."""
    try:
        import uvicorn
    except ImportError:
        raise MissingDependencyError("the server needs uvicorn: pip install uvicorn") from None
    uvicorn.run(create_app(index_dir, api_key, model, rerank), host=host, port=port, log_level="info")
