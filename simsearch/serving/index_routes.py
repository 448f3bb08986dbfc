"""simsearch's own routes: health, the indexes, search, documents, similarity.

Each route calls the public Index API and shapes its answer; the rules live in the package.
Every route lists the error codes it can answer (``documented``) so /openapi.json tells the truth.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict
from typing import Any, cast

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from simsearch.encoders.onnx_encoder import session_threads
from simsearch.errors import IdConflictError
from simsearch.serving.bodies import DocumentsBody, IdsBody, IndexName, SearchBody, SimilarityBody, SyncBody
from simsearch.serving.errors import UnknownDocumentError, documented, public_name
from simsearch.serving.state import OpenIndexes, SharedModel
from simsearch.version import __version__

READ = (404, 422, 500)  # 422: an invalid index name; 500: a damaged index
BODY = (400, 413, 415, 422)  # 400: not JSON at all, or a value the index refuses; 422: off the schema


def add_index_routes(
    app: FastAPI, indexes: OpenIndexes, shared: SharedModel, guard: dict[str, Any], names: Callable[[], list[str]]
) -> None:
    """The routes on ``app``; ``guard`` holds the route arguments that declare the API key (empty without one)."""
    key_codes = (401,) if guard else ()

    @app.get("/health", summary="Liveness: answers without a key")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/info", responses=documented(key_codes), **guard)
    def info() -> dict[str, Any]:
        return {
            "version": __version__,
            "models_loaded": [public_name(name) for name in indexes.models()],
            "embedding_model": public_name(shared.requested) or "default",
            "indexes": names(),
            "worker_pid": os.getpid(),
            "micro_batching": indexes.batching_figures(),
            "onnx_threads_per_call": session_threads(),
        }

    @app.get("/indexes", responses=documented(key_codes), **guard)
    def list_all() -> dict[str, list[str]]:
        return {"indexes": names()}

    @app.get("/indexes/{name}", responses=documented(key_codes + READ), **guard)
    def describe(name: IndexName) -> dict[str, Any]:
        return public_description(indexes.get(name).info())

    @app.post("/indexes/{name}/search", responses=documented(key_codes + READ + BODY), **guard)
    def search(name: IndexName, body: SearchBody) -> JSONResponse:
        # SearchBody's validator lets exactly one of query and queries through, so queries is a list here.
        texts = [body.query] if body.query is not None else cast(list[str], body.queries)
        index = indexes.get(name)
        rerank = body.rerank if body.rerank is not True else shared.reranker or index.manifest.reranker or True
        result = index.query(
            texts,
            body.k,
            body.filters_as_sent(),
            body.mode,
            min_score=body.min_score,
            rerank=rerank,
            rerank_depth=body.rerank_depth,
        )
        hits = [[hit.to_dict() for hit in found] for found in result.hits]
        timings = asdict(result.timings)
        # Plain JSON values already: answered as they are, skipping FastAPI's generic re-encoding of every hit.
        return JSONResponse(
            {"hits": hits[0], "timings": timings} if body.query is not None else {"results": hits, "timings": timings}
        )

    @app.post("/indexes/{name}/documents", responses=documented(key_codes + READ + (409,) + BODY), **guard)
    def add(name: IndexName, body: DocumentsBody) -> dict[str, Any]:
        index = indexes.get(name)
        refuse_repeated_ids([doc.id.strip() for doc in body.documents if doc.id is not None])
        rows = [{**doc.metadata, "text": doc.text, "id": doc.id} for doc in body.documents]
        ids = index.add(rows, upsert=body.upsert)
        indexes.compact_when_due(index)
        return {"ids": ids, "count": len(index)}

    @app.post("/indexes/{name}/sync", responses=documented(key_codes + READ + (409,) + BODY), **guard)
    def sync(name: IndexName, body: SyncBody) -> dict[str, Any]:
        index = indexes.get(name)
        refuse_repeated_ids([doc.id.strip() for doc in body.documents if doc.id is not None])
        report = index.sync([{**doc.metadata, "text": doc.text, "id": doc.id} for doc in body.documents])
        indexes.compact_when_due(index)
        return {**asdict(report), "summary": str(report), "count": len(index)}

    @app.post("/indexes/{name}/compact", responses=documented(key_codes + READ), **guard)
    def compact(name: IndexName) -> dict[str, Any]:
        return indexes.get(name).compact()

    @app.delete("/indexes/{name}/documents", responses=documented(key_codes + READ + (409,) + BODY), **guard)
    def delete(name: IndexName, body: IdsBody) -> dict[str, Any]:
        index = indexes.get(name)
        unknown = [i for i in body.ids if i not in index.known_ids(body.ids)]
        if unknown:
            raise UnknownDocumentError(
                f"unknown ids in index {name!r}: {', '.join(map(repr, unknown[:5]))}; nothing was deleted."
            )
        deleted = index.delete(body.ids)
        indexes.compact_when_due(index)
        return {"deleted": deleted, "count": len(index)}

    @app.get("/indexes/{name}/documents/{id:path}", responses=documented(key_codes + READ), **guard)
    def get(name: IndexName, id: str) -> dict[str, Any]:
        document = indexes.get(name).get(id)
        if document is None:
            raise UnknownDocumentError(f"no document with id {id!r} in index {name!r}; search it to see its ids.")
        return {"id": document.id, "text": document.text, "metadata": document.metadata}

    @app.post("/similarity", responses=documented(key_codes + BODY), **guard)
    def similarity(body: SimilarityBody) -> dict[str, Any]:
        encoder = shared.get()
        return {"cosine": encoder.similarity(body.a, body.b), "model": public_name(encoder.info.name)}


def public_description(info: dict[str, Any]) -> dict[str, Any]:
    """An index's description for clients: its folder left out, its models named without server paths."""
    described = {key: value for key, value in info.items() if key != "path"}
    described["model"] = {**info["model"], "name": public_name(info["model"].get("name"))}
    described["reranker"] = public_name(info.get("reranker"))
    return described


def refuse_repeated_ids(ids: list[str]) -> None:
    repeated = sorted(i for i, times in Counter(ids).items() if times > 1)
    if repeated:
        raise IdConflictError(f"the request repeats ids {', '.join(map(repr, repeated[:5]))}; send each document once.")
