"""`Client`: a running `simsearch serve`, with the same search, add, delete and get as `Index`.

Only the standard library (urllib), so a client machine needs neither FastAPI nor torch.
One Client talks to one index; code moves between in-process and remote by changing
``Index.open("docs")`` into ``Client(url).index("docs")`` (or ``Client(url, index="docs")``).
The server's errors come back as the same SimsearchError subclasses, with its one-line message.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from typing import Any

from simsearch import errors
from simsearch.index.building import Records, as_documents
from simsearch.index.syncing import SyncReport
from simsearch.ingest.corpus import Document
from simsearch.query import DEFAULT_MODE, Hit, SearchMode
from simsearch.store import Filters


class Client:
    """A simsearch server at ``url`` (``http://127.0.0.1:8000``); ``api_key`` is sent as a Bearer token.

    Thread-safe: each call is one independent HTTP request.
    """

    def __init__(self, url: str, api_key: str | None = None, index: str | None = None, timeout: float = 60.0) -> None:
        self.url, self.api_key, self.name, self.timeout = url.rstrip("/"), api_key, index, timeout

    def index(self, name: str) -> Client:
        """A Client for the index ``name`` on the same server."""
        return Client(self.url, self.api_key, name, self.timeout)

    def search(
        self,
        query: str,
        k: int = 10,
        filters: Filters | None = None,
        mode: SearchMode = DEFAULT_MODE,
        min_score: float | None = None,
        rerank: bool | None = None,
        rerank_depth: int | None = None,
    ) -> list[Hit]:
        """[Index.search][simsearch.Index.search] on the server. The cross-encoder is the server's, so ``rerank`` is
        a switch rather than a folder: True re-ranks with ``serve --rerank DIR`` (else the index's recorded one),
        False never re-ranks, None follows the index's default."""
        body = {"query": query, **_search_body(k, filters, mode, min_score, rerank, rerank_depth)}
        return [Hit(**hit) for hit in self._call("POST", self._path("search"), body)["hits"]]

    def search_batch(
        self,
        queries: Sequence[str],
        k: int = 10,
        filters: Filters | None = None,
        mode: SearchMode = DEFAULT_MODE,
        min_score: float | None = None,
        rerank: bool | None = None,
        rerank_depth: int | None = None,
    ) -> list[list[Hit]]:
        """[Index.search_batch][simsearch.Index.search_batch] on the server, in one request; ``rerank`` as in
        ``search``."""
        if isinstance(queries, str):
            raise errors.InvalidArgumentError("queries must be a list of strings; wrap a single query in a list.")
        body = {"queries": list(queries), **_search_body(k, filters, mode, min_score, rerank, rerank_depth)}
        return [[Hit(**hit) for hit in found] for found in self._call("POST", self._path("search"), body)["results"]]

    def add(self, records: Records, *, upsert: bool = False) -> list[str]:
        """[Index.add][simsearch.Index.add] on the server: the documents travel as JSON and are encoded there, so
        there is no ``batch_size`` or progress callback."""
        documents = [{"id": doc.id, "text": doc.text, "metadata": doc.metadata} for doc in as_documents(records)]
        return self._call("POST", self._path("documents"), {"documents": documents, "upsert": upsert})["ids"]

    def sync(self, records: Records) -> SyncReport:
        """[Index.sync][simsearch.Index.sync] on the server, in one request (no ``batch_size`` or progress callback)."""
        documents = [{"id": doc.id, "text": doc.text, "metadata": doc.metadata} for doc in as_documents(records)]
        answer = self._call("POST", self._path("sync"), {"documents": documents})
        return SyncReport(answer["added"], answer["changed"], answer["removed"], answer["unchanged"])

    def compact(self) -> dict[str, Any]:
        """[Index.compact][simsearch.Index.compact] on the server; the request returns when it has finished."""
        return self._call("POST", self._path("compact"))

    def delete(self, ids: Sequence[str]) -> int:
        """[Index.delete][simsearch.Index.delete] on the server."""
        if isinstance(ids, str | bytes):
            raise errors.InvalidArgumentError("ids must be a list of ids, not one string; wrap a single id in a list.")
        return self._call("DELETE", self._path("documents"), {"ids": [str(i) for i in ids]})["deleted"]

    def get(self, id: str) -> Document | None:
        """[Index.get][simsearch.Index.get] on the server, as a Document: the server keeps its row ids to itself."""
        try:
            found = self._call("GET", self._path("documents", urllib.parse.quote(str(id), safe="")))
        except UnknownDocument:
            return None
        return Document(text=found["text"], id=found["id"], metadata=found["metadata"])

    def info(self) -> dict[str, Any]:
        """[Index.info][simsearch.Index.info] as the server shows it: no ``path``, and models that live in server
        folders named by their folder name only."""
        return self._call("GET", self._path())

    def __len__(self) -> int:  # documents, as len(Index)
        return int(self.info()["count"])

    def _path(self, *parts: str) -> str:
        if self.name is None:
            raise errors.InvalidArgumentError("this Client names no index; use Client(url).index(NAME).")
        return "/".join(["/indexes", urllib.parse.quote(self.name, safe=""), *parts])

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if self.api_key:
            request.add_header("Authorization", f"Bearer {self.api_key}")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as failure:
            raise _as_error(failure) from None
        except urllib.error.URLError as failure:
            raise ServerUnreachableError(
                f"cannot reach the simsearch server at {self.url} ({failure.reason}); "
                "start it with `simsearch serve` or check the url."
            ) from None


def _search_body(
    k: int,
    filters: Filters | None,
    mode: SearchMode,
    min_score: float | None,
    rerank: bool | None,
    rerank_depth: int | None,
) -> dict[str, Any]:
    """The search arguments as the server reads them.

    A re-ranker lives on the server, so ``rerank`` is a switch, not a folder: True uses the
    server's ``--rerank`` cross-encoder (else the index's recorded one), False never
    re-ranks, None follows the index's default.
    """
    if rerank is not None and not isinstance(rerank, bool):
        raise errors.InvalidArgumentError(
            f"rerank must be True, False or None for a Client (got {rerank!r}); "
            "the cross-encoder is the server's (`simsearch serve --rerank DIR`)."
        )
    return {
        "k": k,
        "filters": filters,
        "mode": mode,
        "min_score": min_score,
        "rerank": rerank,
        "rerank_depth": rerank_depth,
    }


class UnknownDocument(errors.SimsearchError):
    """The server has no document with that id."""


class ServerUnreachableError(errors.SimsearchError):
    """Nothing answers at the client's url."""


def _as_error(failure: urllib.error.HTTPError) -> errors.SimsearchError:
    try:
        answer = json.loads(failure.read())
        message, kind = answer["error"], answer.get("type", "")
    except (ValueError, KeyError, TypeError):
        return errors.SimsearchError(f"the server answered {failure.code} {failure.reason}.")
    if kind == "UnknownDocumentError" and failure.code == 404 and message.startswith("no document"):
        return UnknownDocument(message)
    cls = getattr(errors, kind, None)
    if isinstance(cls, type) and issubclass(cls, errors.SimsearchError):
        return cls(message)
    return errors.InvalidArgumentError(message) if failure.code in (400, 422) else errors.SimsearchError(message)
