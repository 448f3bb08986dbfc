"""The FastAPI application of `simsearch serve`: the shared state, the guards, the routes and the error handlers.

Routes are plain ``def`` functions, so FastAPI runs each in its thread pool: encoding and
searching never block the event loop, and searches run side by side (Index and Encoder
are safe to share between threads). The queries of concurrent searches are encoded
together (``MicroBatchingEncoder``), then each request finds its candidates and fetches
its hits on its own. Open indexes are kept in ``OpenIndexes`` and reopened when a rebuild
or another process changed them; a request holding the old object finishes on it, so a
swap fails no request. Every failure is one JSON body with a 4xx code (a damaged index:
500), never a traceback (``serving.errors``).

Imports flow one way: app -> *_routes -> bodies, state, errors; guards -> errors.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from simsearch.extras import missing_extra_error
from simsearch.index.layout import list_indexes
from simsearch.serving.state import OpenIndexes, ServerSettings, SharedModel
from simsearch.version import __version__

if TYPE_CHECKING:
    from fastapi import FastAPI

    from simsearch.encoders import Backend

# Routes running at once (the rest wait on the event loop). Starlette's 40 threads fight over the
# GIL when each holds a query: on the 2-core test machine, 32 concurrent searches answered 109 q/s
# with 40 threads and 139 q/s with 8 (benchmarks/load.py-style phases, a busy machine: indicative).
ROUTE_THREADS = max(8, 2 * (os.cpu_count() or 1))


def create_app(
    index_dir: str | Path | None = None,
    api_key: str | None = None,
    model: str | None = None,
    backend: Backend | None = None,
    rerank: str | None = None,
) -> FastAPI:
    """The FastAPI application over the indexes in ``index_dir``; ``api_key`` guards every route but /health.

    ``backend`` runs the queries and /v1/embeddings (default: the model's fp32 ONNX export, else torch);
    ``rerank`` is the cross-encoder folder behind the rerank routes and searches sent with ``"rerank": true``.
    With a key, /docs and /openapi.json need it too, and the schema declares it as an HTTP bearer scheme.
    """
    try:
        from fastapi import FastAPI
    except ImportError:
        raise missing_extra_error("serve", "the HTTP server") from None
    from simsearch.serving.cohere_routes import add_cohere_routes
    from simsearch.serving.errors import add_error_handlers
    from simsearch.serving.guards import BodyLimit, RequireKey
    from simsearch.serving.index_routes import add_index_routes
    from simsearch.serving.openai_routes import add_openai_routes

    if rerank is not None:
        from simsearch.query import check_cross_encoder

        rerank = str(check_cross_encoder(rerank))  # a wrong folder stops the server at start, not at a request
    indexes, shared = OpenIndexes(index_dir, backend), SharedModel(model, backend, rerank)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        from anyio import to_thread

        to_thread.current_default_thread_limiter().total_tokens = ROUTE_THREADS
        yield
        indexes.close()

    app = FastAPI(
        title="simsearch",
        version=__version__,
        lifespan=lifespan,
        description="Sentence-similarity search over simsearch indexes.",
    )
    guard = key_declaration(api_key)
    add_index_routes(app, indexes, shared, guard, lambda: list_indexes(indexes.home))
    add_openai_routes(app, shared, guard)
    add_cohere_routes(app, shared, guard)
    add_error_handlers(app)
    drop_fastapis_validation_body(app)
    app.add_middleware(BodyLimit)
    if api_key is not None:
        app.add_middleware(RequireKey, key=api_key)  # added last, so it runs first: before the body is read
    return app


def drop_fastapis_validation_body(app: FastAPI) -> None:
    """Leave FastAPI's stock 422 out of /openapi.json: no route answers with it.

    FastAPI documents a 422 ``HTTPValidationError`` on every route with parameters unless the
    route lists its own 422; ours list the body they really send (``serving.errors``), and the
    OpenAI route answers a bad body with 400, as OpenAI does.
    """
    plain = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = plain()  # FastAPI's own: builds app.openapi_schema, returns that same dict
        for operations in schema["paths"].values():
            for operation in operations.values():
                stock = operation["responses"].get("422", {}).get("content", {}).get("application/json", {})
                if stock.get("schema", {}).get("$ref", "").endswith("/HTTPValidationError"):
                    del operation["responses"]["422"]
        for name in ("HTTPValidationError", "ValidationError"):
            schema["components"]["schemas"].pop(name, None)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def key_declaration(api_key: str | None) -> dict[str, Any]:
    """Route arguments that declare the bearer key in the OpenAPI schema (none without a key).

    The check itself is ``guards.RequireKey``, which answers before the body is read; this
    dependency only puts ``HTTPBearer`` on each guarded operation, so it never refuses anything.
    """
    if api_key is None:
        return {}
    from fastapi import Security
    from fastapi.security import HTTPBearer

    return {"dependencies": [Security(HTTPBearer(auto_error=False, description="The server's API key."))]}


def app_from_environment() -> FastAPI:
    """The app of one worker, made from the settings `run_server` put in the environment (uvicorn's factory)."""
    settings = ServerSettings.from_environment()
    return create_app(settings.index_dir, settings.api_key, settings.model, settings.backend, settings.rerank)
