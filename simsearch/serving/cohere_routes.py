"""Re-ranking in Cohere's shapes: ``/v1/rerank`` and ``/v2/rerank`` as the ``cohere`` package calls them,
and simsearch's older ``/rerank``.

Every route scores with the server's ``--rerank`` cross-encoder, whatever ``model`` the client
names (Cohere's clients require one): the answer's ``meta`` and ``/rerank``'s ``model`` say which
folder answered, by its name only. ``relevance_score`` is the cross-encoder's own score: a
probability for a sigmoid head (as Cohere's are), the raw logit for an identity head. Options
this server cannot honour (``max_chunks_per_doc``, ``max_tokens_per_doc``, ranking on fields
other than ``text``) are left out of the schema, so sending them is a 400, not a silent no-op.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr

from simsearch.errors import InvalidArgumentError
from simsearch.serving.bodies import Count, NonBlank, Strict
from simsearch.serving.errors import documented, public_name
from simsearch.serving.state import SharedModel


class RerankDocument(Strict):
    text: StrictStr


class RerankBody(BaseModel):
    """simsearch's /rerank: Cohere's v1 fields; other fields (model, return_documents) are accepted and unused."""

    model_config = ConfigDict(strict=True, regex_engine="python-re")

    query: NonBlank
    documents: list[StrictStr | RerankDocument]
    top_n: Count | None = Field(None, description="Return only the best top_n.")


class CohereV1Body(Strict):
    model: StrictStr | None = Field(None, description="Any name: the server's --rerank cross-encoder answers.")
    query: NonBlank
    documents: list[StrictStr | RerankDocument]
    top_n: Count | None = Field(None, description="Return only the best top_n (default: all).")
    rank_fields: Annotated[list[Literal["text"]], Field(min_length=1, max_length=1)] | None = None
    return_documents: StrictBool = Field(False, description="true: each result carries its document.")


class CohereV2Body(Strict):
    model: StrictStr = Field(description="Any name: the server's --rerank cross-encoder answers.")
    query: NonBlank
    documents: list[StrictStr]
    top_n: Count | None = Field(None, description="Return only the best top_n (default: all).")


def add_cohere_routes(app: FastAPI, shared: SharedModel, guard: dict[str, Any]) -> None:
    key_codes = (401,) if guard else ()

    @app.post("/rerank", responses=documented(key_codes + (400, 413, 415, 422)), **guard)
    def rerank(body: RerankBody) -> dict[str, Any]:
        """Cohere's v1 shape: the documents' indexes with their scores, best first."""
        texts = [doc if isinstance(doc, str) else doc.text for doc in body.documents]
        ranked, name = ranking(shared, body.query, texts, body.top_n)
        return {"results": [{"index": i, "relevance_score": score} for i, score in ranked], "model": name}

    @app.post("/v1/rerank", responses=documented(key_codes + (400, 413, 415, 422), "cohere"), **guard)
    def rerank_v1(body: CohereV1Body) -> dict[str, Any]:
        texts = [doc if isinstance(doc, str) else doc.text for doc in body.documents]
        ranked, name = ranking(shared, body.query, texts, body.top_n)
        return {
            "id": str(uuid.uuid4()),
            "meta": meta("1", name),
            "results": [
                {
                    "index": i,
                    "relevance_score": score,
                    **({"document": {"text": texts[i]}} if body.return_documents else {}),
                }
                for i, score in ranked
            ],
        }

    @app.post("/v2/rerank", responses=documented(key_codes + (400, 413, 415, 422), "cohere"), **guard)
    def rerank_v2(body: CohereV2Body) -> dict[str, Any]:
        ranked, name = ranking(shared, body.query, body.documents, body.top_n)
        return {
            "id": str(uuid.uuid4()),
            "meta": meta("2", name),
            "results": [{"index": i, "relevance_score": score} for i, score in ranked],
        }


def ranking(
    shared: SharedModel, query: str, texts: list[str], top_n: int | None
) -> tuple[list[tuple[int, float]], str]:
    """The texts' (index, score) pairs best first, cut to ``top_n``, and the re-ranker's public name."""
    from simsearch.query import load_reranker

    if shared.reranker is None:
        raise InvalidArgumentError(
            "this server has no re-ranker; start it with `simsearch serve --rerank DIR` "
            "(a folder made by `simsearch train --cross-encoder`)."
        )
    reranker = load_reranker(shared.reranker)
    scores = reranker.rerank_scores(query, texts).tolist() if texts else []
    order = sorted(range(len(texts)), key=lambda i: -scores[i])[:top_n]
    return [(i, float(scores[i])) for i in order], public_name(reranker.name) or "reranker"


def meta(version: str, model: str) -> dict[str, Any]:
    """Cohere's ``meta``: the API version answered, and (an addition) the cross-encoder that scored."""
    return {"api_version": {"version": version}, "model": model}
