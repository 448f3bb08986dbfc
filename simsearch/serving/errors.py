"""Every failure of the server as one JSON body, in the shape the calling client reads.

simsearch's own routes answer ``{"error": "one line naming the fix", "type": "ErrorClass"}``;
the OpenAI routes (``/v1/embeddings`` and any other ``/v1/`` path that is not Cohere's)
answer ``{"error": {"message", "type", "param", "code"}}``, which the ``openai`` package
turns into its exception's message; the Cohere routes (``/v1/rerank``, ``/v2/rerank``) answer
``{"message": ...}`` as Cohere's API does. A damaged index is a 500, a bug a 500 whose
details stay in the server log; no message carries a server file path (``hide_paths``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import PurePath
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from simsearch.errors import (
    CorruptIndexError,
    IdConflictError,
    IndexBusyError,
    IndexNotFoundError,
    InvalidArgumentError,
    SimsearchError,
    StaleWriterError,
)

Family = Literal["simsearch", "openai", "cohere"]
COHERE_PATHS = ("/v1/rerank", "/v2/rerank")


class UnknownDocumentError(SimsearchError):
    """No document has the id asked for (answered 404)."""


class UnauthorizedError(SimsearchError):
    """The request lacks the API key, or carries a wrong one (answered 401)."""


class FieldError(InvalidArgumentError):
    """A request field the server cannot honour; ``param`` names it (OpenAI's error body carries it)."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(message)
        self.param = param


_STATUS: dict[type[SimsearchError], int] = {
    IndexNotFoundError: 404,
    UnknownDocumentError: 404,
    UnauthorizedError: 401,
    IndexBusyError: 409,
    IdConflictError: 409,
    StaleWriterError: 409,  # the index was rebuilt under the request: the retry reopens it
}


def status_for(error: SimsearchError) -> int:
    """The HTTP code of a SimsearchError: 404 / 409 / 401 where one fits, 500 for damage, else 400."""
    if isinstance(error, CorruptIndexError):
        return 500
    return next((code for kind, code in _STATUS.items() if isinstance(error, kind)), 400)


class ErrorBody(BaseModel):
    """simsearch's error body: one line naming the problem and the fix, and the error's class."""

    error: str = Field(description="One line: what is wrong and how to fix it.")
    type: str = Field(description="The error's class, e.g. InvalidArgumentError, IndexNotFoundError.")


class OpenAIErrorDetail(BaseModel):
    message: str
    type: str = Field(description="invalid_request_error, authentication_error or server_error.")
    param: str | None = Field(description="The request field at fault, when one is.")
    code: str | None = Field(description="simsearch's error class.")


class OpenAIErrorBody(BaseModel):
    """OpenAI's error body, so the ``openai`` package shows the message."""

    error: OpenAIErrorDetail


class CohereErrorBody(BaseModel):
    """Cohere's error body."""

    message: str


_BODY_MODELS: dict[Family, type[BaseModel]] = {
    "simsearch": ErrorBody,
    "openai": OpenAIErrorBody,
    "cohere": CohereErrorBody,
}
_MEANING = {
    400: "Bad request: malformed JSON or an argument the index refuses.",
    401: "Missing or wrong API key (send 'Authorization: Bearer KEY').",
    404: "No such index or document.",
    409: "Another writer holds the index, or the ids conflict: try again, or change the ids.",
    413: "The request body is over 10 MB.",
    415: "The body is not JSON.",
    422: "The body does not match the schema.",
    500: "The index is damaged (see the message).",
}


def documented(codes: tuple[int, ...], family: Family = "simsearch") -> dict[int | str, dict[str, Any]]:
    """The ``responses`` argument of a route: each error code it can answer, with that family's body."""
    return {code: {"model": _BODY_MODELS[family], "description": _MEANING[code]} for code in codes}


def family_of(path: str) -> Family:
    if path in COHERE_PATHS:
        return "cohere"
    return "openai" if path.startswith("/v1/") else "simsearch"


_OPENAI_TYPES = {401: "authentication_error", 500: "server_error"}


def error_response(
    path: str, status: int, message: str, kind: str, param: str | None = None, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """The error body for a request to ``path``, in its family's shape."""
    family = family_of(path)
    if family == "openai":
        kind_of_error = _OPENAI_TYPES.get(status, "invalid_request_error")
        body: dict[str, Any] = {"error": {"message": message, "type": kind_of_error, "param": param, "code": kind}}
    elif family == "cohere":
        body = {"message": message}
    else:
        body = {"error": message, "type": kind}
    return JSONResponse(body, status_code=status, headers=headers)


# An absolute path of two or more parts (/home/u/models/ce, C:\models\ce): shown by its last part only.
_PATH = re.compile(r"(?<![\w.~-])(?:[A-Za-z]:\\|/)(?:[^\s'\"/\\,;:()]+[/\\])+([^\s'\"/\\,;:()]+)")


def hide_paths(message: str) -> str:
    """``message`` with every absolute file path cut to its last part: a client learns no server folders."""
    return _PATH.sub(lambda match: match.group(1), message)


def public_name(name: str | None) -> str | None:
    """A model or folder's name as clients see it: a local folder by its last part, never the server's path."""
    if name is None or not PurePath(name).is_absolute():
        return name  # a hub name such as sentence-transformers/all-MiniLM-L6-v2 is no secret
    return PurePath(name).name


def allowed_methods(request: Request) -> list[str]:
    """Every method some route takes on this path (Starlette's own Allow names only the first route's)."""
    from starlette.routing import Match

    methods: set[str] = set()
    for route in request.app.router.routes:
        if route.matches(request.scope)[0] != Match.NONE:
            methods.update(getattr(route, "methods", None) or ())
    return sorted(methods)


def add_error_handlers(app: FastAPI) -> None:
    """Every failure as one JSON body: the package's own, bad bodies, unknown routes and methods, bugs."""

    @app.exception_handler(SimsearchError)
    def simsearch_error(request: Request, error: SimsearchError) -> JSONResponse:
        status = status_for(error)
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return error_response(
            request.url.path,
            status,
            hide_paths(error.message_for("http")),
            type(error).__name__,
            param=getattr(error, "param", None),
            headers=headers,
        )

    @app.exception_handler(RequestValidationError)
    def bad_body(request: Request, error: RequestValidationError) -> JSONResponse:
        path = request.url.path
        first = error.errors()[0] if error.errors() else {}
        if "json" not in request.headers.get("content-type", "json"):  # curl -d sends a form's type
            return error_response(
                path,
                415,
                "the body must be JSON; send the header 'Content-Type: application/json' (curl --json).",
                "NotJSON",
            )
        if first.get("type") == "json_invalid":
            return error_response(path, 400, "the body is not valid JSON; send a JSON object.", "InvalidJSON")
        where = [str(part) for part in first.get("loc", ()) if part != "body"]
        message = str(first.get("msg", "invalid")).removeprefix("Value error, ")
        status = 400 if family_of(path) == "openai" else 422  # OpenAI answers every malformed request with 400
        return error_response(
            path,
            status,
            f"{'.'.join(where) or 'body'}: {message}; see /docs for the expected body.",
            "InvalidBody",
            param=where[0] if where else None,
        )

    @app.exception_handler(StarletteHTTPException)
    def http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        path = request.url.path
        if error.status_code == 404:
            return error_response(
                path, 404, f"no route {request.method} {path}; see /docs for the routes.", "UnknownRoute"
            )
        if error.status_code == 405:  # RFC 9110: a 405 lists the methods the path takes
            return error_response(
                path,
                405,
                f"{request.method} is not allowed on {path}; see /docs.",
                "MethodNotAllowed",
                headers={"Allow": ", ".join(allowed_methods(request))},
            )
        return error_response(path, error.status_code, str(error.detail), "HTTPError", headers=error.headers)

    @app.exception_handler(Exception)
    def unexpected(request: Request, error: Exception) -> JSONResponse:  # a bug: logged with its traceback
        return error_response(
            request.url.path,
            500,
            f"internal error ({type(error).__name__}); the server log has the details.",
            "InternalError",
        )
