"""The HTTP routes of `simsearch serve` and the handlers that turn every failure into one JSON line.

Request bodies are pydantic models with strict types (a number is not a text, ``true``
is not a k) and no unknown fields, so a typo is reported rather than ignored. Each route
calls the public Index API and shapes its answer; the rules live in the package.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Callable
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictStr
from starlette.exceptions import HTTPException as StarletteHTTPException

from simsearch.encoders.onnx_encoder import session_threads
from simsearch.errors import (
    CorruptIndexError,
    IndexBusyError,
    IndexNotFoundError,
    InvalidArgumentError,
    SimsearchError,
    StaleWriterError,
)
from simsearch.query.search import DEFAULT_MODE
from simsearch.version import __version__

if TYPE_CHECKING:
    from simsearch.serving.server import OpenIndexes, SharedModel


class UnknownDocumentError(SimsearchError):
    """No document has the id asked for (answered 404)."""


class UnauthorizedError(SimsearchError):
    """The request lacks the API key, or carries a wrong one (answered 401)."""


_STATUS: dict[type[SimsearchError], int] = {
    IndexNotFoundError: 404, UnknownDocumentError: 404, UnauthorizedError: 401, IndexBusyError: 409,
    StaleWriterError: 409,  # the index was rebuilt under the request: the retry reopens it
}


def status_for(error: SimsearchError) -> int:
    """The HTTP code of a SimsearchError: 404 / 409 / 401 where one fits, 500 for damage, else 400."""
    if isinstance(error, CorruptIndexError):
        return 500
    return next((code for kind, code in _STATUS.items() if isinstance(error, kind)), 400)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class SearchBody(_Strict):
    query: StrictStr | None = Field(None, description="One query; answered as {hits, timings}.")
    queries: list[StrictStr] | None = Field(None, description="Several queries, one encoder pass: {results}.")
    k: int = Field(10, ge=1, description="Hits per query.")
    filters: dict[str, Any] | None = Field(None, description='Metadata: {"category": "music"}, a list of values, '
                                           'or operators {"year": {"gte": 2000, "lt": 2010}}, {"lang": {"ne": "fr"}}.')
    mode: StrictStr = Field(DEFAULT_MODE, description="dense, lexical or hybrid.")
    min_score: float | None = Field(None, description="Drop hits scoring below this (hybrid: the fused score).")
    rerank: bool | None = Field(None, description="true: re-rank with the server's --rerank cross-encoder (else the "
                                "index's default); false: never; omitted: the index's default re-ranker, if any.")
    rerank_depth: int | None = Field(None, ge=1, description="First-stage hits re-ranked per query (>= k; default 50).")


class RerankDocument(BaseModel):
    text: StrictStr


class RerankBody(BaseModel):  # Cohere clients send extra fields (model, return_documents): allowed
    query: StrictStr
    documents: list[StrictStr | RerankDocument]
    top_n: int | None = Field(None, ge=1, description="Return only the best top_n.")


class DocumentBody(_Strict):
    id: StrictStr | None = None
    text: StrictStr
    metadata: dict[str, Any] = Field(default_factory=dict)


class DocumentsBody(_Strict):
    documents: list[DocumentBody]
    upsert: bool = Field(True, description="Replace documents whose ids exist; false refuses them instead.")


class SyncBody(_Strict):
    documents: list[DocumentBody]


class IdsBody(_Strict):
    ids: list[StrictStr]


class EmbeddingsBody(BaseModel):  # OpenAI clients send extra fields (encoding_format, user): allowed
    input: StrictStr | list[StrictStr]
    model: StrictStr | None = None


class SimilarityBody(_Strict):
    a: StrictStr
    b: StrictStr


def add_routes(app: FastAPI, indexes: OpenIndexes, shared: SharedModel, api_key: str | None,
               names: Callable[[], list[str]]) -> None:
    def require_key(request: Request) -> None:
        if api_key is None:
            return
        given = request.headers.get("authorization", "")
        scheme, _, token = given.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), api_key.encode()):
            raise UnauthorizedError("missing or wrong API key; send the header 'Authorization: Bearer KEY'.")

    guarded = {"dependencies": [Depends(require_key)]}

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/info", **guarded)
    def info() -> dict[str, Any]:
        return {"version": __version__, "models_loaded": indexes.models(), "embedding_model": shared.requested
                or "default", "indexes": names(), "worker_pid": os.getpid(),
                "micro_batching": indexes.batching_figures(), "onnx_threads_per_call": session_threads()}

    @app.get("/indexes", **guarded)
    def list_all() -> dict[str, list[str]]:
        return {"indexes": names()}

    @app.get("/indexes/{name}", **guarded)
    def describe(name: str) -> dict[str, Any]:
        return indexes.get(name).info()

    @app.post("/indexes/{name}/search", **guarded)
    def search(name: str, body: SearchBody) -> JSONResponse:
        if (body.query is None) == (body.queries is None):
            raise InvalidArgumentError('send either "query" (one text) or "queries" (a list), not both or neither.')
        if body.queries is not None and not body.queries:
            raise InvalidArgumentError('"queries" is empty; send at least one query.')
        texts = [body.query] if body.query is not None else body.queries
        index = indexes.get(name)
        rerank = body.rerank if body.rerank is not True else shared.reranker or index.manifest.reranker or True
        result = index.query(texts, body.k, body.filters, body.mode,  # type: ignore[arg-type]
                             min_score=body.min_score, rerank=rerank, rerank_depth=body.rerank_depth)
        hits = [[hit.to_dict() for hit in found] for found in result.hits]
        timings = asdict(result.timings)
        # Plain JSON values already: answered as they are, skipping FastAPI's generic re-encoding of every hit.
        return JSONResponse({"hits": hits[0], "timings": timings} if body.query is not None
                            else {"results": hits, "timings": timings})

    @app.post("/indexes/{name}/documents", **guarded)
    def add(name: str, body: DocumentsBody) -> dict[str, Any]:
        if not body.documents:
            raise InvalidArgumentError('"documents" is empty; send at least one {"id", "text", "metadata"}.')
        index = indexes.get(name)
        rows = [{**doc.metadata, "text": doc.text, "id": doc.id} for doc in body.documents]
        ids = index.add(rows, upsert=body.upsert)
        indexes.compact_when_due(index)
        return {"ids": ids, "count": len(index)}

    @app.post("/indexes/{name}/sync", **guarded)
    def sync(name: str, body: SyncBody) -> dict[str, Any]:
        index = indexes.get(name)
        report = index.sync([{**doc.metadata, "text": doc.text, "id": doc.id} for doc in body.documents])
        indexes.compact_when_due(index)
        return {**asdict(report), "summary": str(report), "count": len(index)}

    @app.post("/indexes/{name}/compact", **guarded)
    def compact(name: str) -> dict[str, Any]:
        return indexes.get(name).compact()

    @app.delete("/indexes/{name}/documents", **guarded)
    def delete(name: str, body: IdsBody) -> dict[str, Any]:
        index = indexes.get(name)
        unknown = [i for i in body.ids if i not in index.known_ids(body.ids)]
        if unknown:
            raise UnknownDocumentError(f"unknown ids in index {name!r}: {', '.join(map(repr, unknown[:5]))}; "
                                       "nothing was deleted.")
        deleted = index.delete(body.ids)
        indexes.compact_when_due(index)
        return {"deleted": deleted, "count": len(index)}

    @app.get("/indexes/{name}/documents/{id:path}", **guarded)
    def get(name: str, id: str) -> dict[str, Any]:
        document = indexes.get(name).get(id)
        if document is None:
            raise UnknownDocumentError(f"no document with id {id!r} in index {name!r}; search it to see its ids.")
        return {"id": document.id, "text": document.text, "metadata": document.metadata}

    @app.post("/v1/embeddings", **guarded)
    def embeddings(body: EmbeddingsBody) -> dict[str, Any]:
        texts = [body.input] if isinstance(body.input, str) else body.input
        if not texts:
            raise InvalidArgumentError('"input" is empty; send a text or a list of texts.')
        encoder = shared.check_name(body.model)
        vectors = encoder.encode(texts)
        tokens = sum(encoder.token_counts(texts))
        return {"object": "list", "model": encoder.info.name,
                "data": [{"object": "embedding", "index": i, "embedding": vector.tolist()}
                         for i, vector in enumerate(vectors)],
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}

    @app.post("/similarity", **guarded)
    def similarity(body: SimilarityBody) -> dict[str, Any]:
        encoder = shared.get()
        return {"cosine": encoder.similarity(body.a, body.b), "model": encoder.info.name}


    @app.post("/rerank", **guarded)
    def rerank(body: RerankBody) -> dict[str, Any]:
        """Cohere's rerank shape: the documents' indexes with their scores, best first."""
        from simsearch.query.reranking import load_reranker

        if shared.reranker is None:
            raise InvalidArgumentError("this server has no re-ranker; start it with `simsearch serve --rerank DIR` "
                                       "(a folder made by `simsearch train --cross-encoder`).")
        if not body.query.strip():
            raise InvalidArgumentError('"query" is empty; send the text to rank the documents against.')
        texts = [doc if isinstance(doc, str) else doc.text for doc in body.documents]
        reranker = load_reranker(shared.reranker)
        scores = reranker.rerank_scores(body.query, texts).tolist() if texts else []
        order = sorted(range(len(texts)), key=lambda i: -scores[i])[: body.top_n]
        return {"results": [{"index": i, "relevance_score": scores[i]} for i in order], "model": reranker.name}


def add_error_handlers(app: FastAPI) -> None:
    """Every failure as ``{"error": one line, "type": ...}``: the package's own, bad bodies, unknown routes."""
    @app.exception_handler(SimsearchError)
    def simsearch_error(_request: Request, error: SimsearchError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if status_for(error) == 401 else None
        return JSONResponse({"error": error.message_for("http"), "type": type(error).__name__},
                            status_code=status_for(error), headers=headers)

    @app.exception_handler(RequestValidationError)
    def bad_body(request: Request, error: RequestValidationError) -> JSONResponse:
        first = error.errors()[0] if error.errors() else {}
        if "json" not in request.headers.get("content-type", "json"):  # curl -d sends a form's type
            return _error(415, "the body must be JSON; send the header 'Content-Type: application/json' "
                               "(curl --json).", "NotJSON")
        if first.get("type") == "json_invalid":
            return _error(400, "the body is not valid JSON; send a JSON object.", "InvalidJSON")
        where = ".".join(str(part) for part in first.get("loc", ()) if part != "body") or "body"
        return _error(422, f"{where}: {first.get('msg', 'invalid')}; see /docs for the expected body.",
                      "InvalidBody")

    @app.exception_handler(StarletteHTTPException)
    def http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        if error.status_code == 404:
            return _error(404, f"no route {request.method} {request.url.path}; see /docs for the routes.",
                          "UnknownRoute")
        if error.status_code == 405:
            return _error(405, f"{request.method} is not allowed on {request.url.path}; see /docs.",
                          "MethodNotAllowed")
        return _error(error.status_code, str(error.detail), "HTTPError")

    @app.exception_handler(Exception)
    def unexpected(_request: Request, error: Exception) -> JSONResponse:  # a bug: logged with its traceback
        return _error(500, f"internal error ({type(error).__name__}); the server log has the details.",
                      "InternalError")


def _error(status: int, message: str, kind: str) -> JSONResponse:
    return JSONResponse({"error": message, "type": kind}, status_code=status)
