"""``POST /v1/embeddings`` as OpenAI's API answers it, so the ``openai`` package and langchain-openai work unchanged.

What differs from OpenAI, on purpose:

- ``dimensions`` other than the model's own is refused (400, ``param: "dimensions"``). The
  models simsearch serves are not Matryoshka-trained: a vector's first coordinates carry no
  more of its meaning than the rest, so a cut and re-normalised vector is a worse vector that
  looks like a valid one. Ask for the full dimension, or leave ``dimensions`` out.
- Token-id arrays (``input`` as ``[int]`` or ``[[int]]``) are refused (400, ``param: "input"``).
  The ids were made by the client's tokenizer (langchain-openai uses tiktoken's ``cl100k_base``,
  OpenAI's, not this model's WordPiece), so no decoding here could be trusted; langchain-openai
  sends texts with ``OpenAIEmbeddings(check_embedding_ctx_length=False)``.
- A body that breaks the schema is a 400 (as OpenAI answers), not FastAPI's 422.
"""

from __future__ import annotations

import base64
from typing import Annotated, Any, Literal

import numpy as np
from fastapi import FastAPI
from pydantic import BeforeValidator, Field, StrictStr

from simsearch.serving.bodies import Count, Strict
from simsearch.serving.errors import FieldError, documented, public_name
from simsearch.serving.state import SharedModel

TOKEN_IDS_REFUSED = (
    "input holds token ids; this server embeds texts, tokenized by its own model (ids made by "
    "another tokenizer, such as tiktoken's, cannot be read back faithfully): send the texts "
    "(langchain-openai: OpenAIEmbeddings(check_embedding_ctx_length=False))"
)


def _refuse_token_ids(value: Any) -> Any:
    items = value if isinstance(value, list) else []
    if any(isinstance(item, int) and not isinstance(item, bool) or isinstance(item, list) for item in items):
        raise ValueError(TOKEN_IDS_REFUSED)
    return value


class EmbeddingsBody(Strict):
    input: Annotated[StrictStr | Annotated[list[StrictStr], Field(min_length=1)], BeforeValidator(_refuse_token_ids)]
    model: StrictStr | None = Field(None, description='The server\'s model name, "default", or null.')
    encoding_format: Literal["float", "base64"] = Field(
        "float", description="float: lists of numbers; base64: each vector's little-endian float32 bytes."
    )
    dimensions: Count | None = Field(None, description="Only the model's own dimension (it is not Matryoshka-trained).")
    user: StrictStr | None = Field(None, description="Accepted and unused, as a log tag is elsewhere.")


def add_openai_routes(app: FastAPI, shared: SharedModel, guard: dict[str, Any]) -> None:
    key_codes = (401,) if guard else ()
    state_the_model(app, shared)

    @app.post("/v1/embeddings", responses=documented(key_codes + (400, 413, 415), "openai"), **guard)
    def embeddings(body: EmbeddingsBody) -> dict[str, Any]:
        texts = [body.input] if isinstance(body.input, str) else body.input
        encoder = shared.check_name(body.model)
        if body.dimensions is not None and body.dimensions != encoder.dimension:
            raise FieldError(
                "dimensions",
                f"this model gives {encoder.dimension}-dimensional vectors and was not "
                f"trained to be cut to {body.dimensions}; send dimensions="
                f"{encoder.dimension} or leave it out.",
            )
        vectors = encoder.encode(texts)
        tokens = sum(encoder.token_counts(texts))
        return {
            "object": "list",
            "model": public_name(encoder.info.name),
            "data": [
                {"object": "embedding", "index": i, "embedding": encoded(vector, body.encoding_format)}
                for i, vector in enumerate(vectors)
            ],
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }


def state_the_model(app: FastAPI, shared: SharedModel) -> None:
    """Make /openapi.json give ``model`` and ``dimensions`` as the values this server takes.

    They depend on the model, so the schema is completed the first time it is asked for (loading the model).
    """
    plain = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = plain()  # FastAPI's own: builds app.openapi_schema, returns that same dict
        fields = schema["components"]["schemas"]["EmbeddingsBody"]["properties"]
        encoder = shared.get()
        fields["model"]["anyOf"] = [
            {"type": "string", "enum": ["default", public_name(encoder.info.name)]},
            {"type": "null"},
        ]
        fields["dimensions"]["anyOf"] = [{"type": "integer", "enum": [encoder.dimension]}, {"type": "null"}]
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def encoded(vector: np.ndarray, encoding_format: str) -> list[float] | str:
    """A vector as OpenAI sends it: a list of floats, or base64 of its little-endian float32 bytes."""
    if encoding_format == "base64":
        return base64.b64encode(vector.astype("<f4").tobytes()).decode("ascii")
    return vector.tolist()
