"""What a request must pass before any route reads it: the API key, then the body's size.

Both are plain ASGI middleware, so a request without the key, or with a body over the cap,
is answered before a byte of its body is read or parsed (a dependency would run after FastAPI
has parsed the JSON). /health stays open for load balancers; with a key set, everything else
needs it, /docs and /openapi.json included (the schema names the indexes' routes and fields).
"""

from __future__ import annotations

import hmac
from typing import Any

from simsearch.serving.errors import error_response

MAX_BODY_BYTES = 10 * 1024 * 1024  # a bigger request is refused (413) before it is parsed
OPEN_PATHS = frozenset({"/health"})


class RequireKey:
    """Refuse (401) every request but /health that lacks ``Authorization: Bearer KEY``."""

    def __init__(self, app: Any, key: str) -> None:
        self.app, self.key = app, key.encode()

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS or self._has_key(scope):
            await self.app(scope, receive, send)
            return
        response = error_response(
            scope["path"],
            401,
            "missing or wrong API key; send the header 'Authorization: Bearer KEY'.",
            "UnauthorizedError",
            headers={"WWW-Authenticate": "Bearer"},
        )
        await response(scope, _no_receive, send)

    def _has_key(self, scope: dict) -> bool:
        given = dict(scope["headers"]).get(b"authorization", b"")
        scheme, _, token = given.partition(b" ")
        return scheme.lower() == b"bearer" and hmac.compare_digest(token.strip(), self.key)


class BodyLimit:
    """Refuse a request body over ``limit`` bytes with 413, by its Content-Length or, chunked, as it arrives."""

    def __init__(self, app: Any, limit: int = MAX_BODY_BYTES) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None:
            if not length.isdigit() or int(length) > self.limit:
                await self._refuse(scope, send)
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
                await self._refuse(scope, send)
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

    async def _refuse(self, scope: dict, send: Any) -> None:
        response = error_response(
            scope["path"],
            413,
            f"the request body is over {self.limit // (1024 * 1024)} MB; send the documents in smaller batches.",
            "BodyTooLarge",
        )
        await response(scope, _no_receive, send)


async def _no_receive() -> dict:
    return {"type": "http.disconnect"}
