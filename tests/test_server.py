"""`simsearch serve`, driven over real HTTP: uvicorn on a free loopback port, in a thread stopped by the test."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from simsearch import Client, Document, Index, load_encoder
from simsearch.errors import IndexBusyError, IndexNotFoundError, InputError, InvalidArgumentError
from simsearch.index.layout import writer_lock
from simsearch.serving.app import create_app

KEY = "s3cret-key"


@pytest.fixture(scope="module")
def encoder(tiny_model):
    return load_encoder(tiny_model)


@contextmanager
def serving(app) -> Iterator[str]:
    """``app`` on uvicorn on a free loopback port, in a thread, until the block ends; yields its url."""
    import uvicorn

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    running = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not running.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        running.should_exit = True
        thread.join(10)


@pytest.fixture
def server(tmp_path, encoder, animals, tiny_model):
    """A running server over index "animals" (flat, tiny model), with the API key KEY; yields its url."""
    home = tmp_path / "indexes"
    Index.build("animals", animals, encoder=encoder, kind="flat", index_dir=home)
    with serving(create_app(home, KEY, tiny_model)) as url:
        yield url, home


def call(
    url: str, method: str, path: str, body=None, key: str | None = KEY, raw: bytes | None = None
) -> tuple[int, dict]:
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(url + path, data=data, method=method)
    form = raw is not None and raw.startswith(b"query=")
    request.add_header("Content-Type", "application/x-www-form-urlencoded" if form else "application/json")
    if key:
        request.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as failure:
        return failure.code, json.loads(failure.read())


def test_health_needs_no_key_and_every_other_route_does(server):
    url, _ = server
    assert call(url, "GET", "/health", key=None) == (200, {"status": "ok"})
    status, answer = call(url, "GET", "/indexes", key=None)
    assert status == 401 and "Authorization: Bearer" in answer["error"]
    assert call(url, "GET", "/indexes", key="wrong")[0] == 401
    assert call(url, "GET", "/indexes") == (200, {"indexes": ["animals"]})
    status, info = call(url, "GET", "/info")
    assert status == 200 and info["version"] and "indexes" in info
    status, described = call(url, "GET", "/indexes/animals")
    assert status == 200 and described["count"] == 8 and described["kind"] == "flat"


def test_search_batch_and_filters_match_the_in_process_index(server, encoder):
    url, home = server
    index = Index.open("animals", index_dir=home, encoder=encoder)
    status, answer = call(
        url, "POST", "/indexes/animals/search", {"query": "a cat on the sill", "k": 3, "mode": "dense"}
    )
    assert status == 200 and set(answer["timings"]) == {
        "encode_ms",
        "candidates_ms",
        "fetch_ms",
        "total_ms",
        "rerank_ms",
    }
    assert [hit["id"] for hit in answer["hits"]] == [
        hit.id for hit in index.search("a cat on the sill", 3, mode="dense")
    ]
    status, batch = call(
        url,
        "POST",
        "/indexes/animals/search",
        {"queries": ["dogs", "money"], "k": 2, "filters": {"category": "finance"}},
    )
    assert status == 200 and len(batch["results"]) == 2
    assert all(hit["metadata"]["category"] == "finance" for found in batch["results"] for hit in found)


def test_concurrent_searches_are_batched_and_each_gets_its_own_hits(server):
    url, home = server
    index = Index.open("animals", index_dir=home)
    queries = [
        "a sleepy cat",
        "stock prices",
        "bread dough",
        "mountain rain",
        "a dog and a ball",
        "basil sauce",
        "interest rates",
        "sunrise summit",
    ] * 2
    expected = {query: [hit.id for hit in index.search(query, 3, mode="dense")] for query in queries}
    answers: dict[int, tuple[int, dict]] = {}

    def ask(number: int) -> None:
        answers[number] = call(
            url, "POST", "/indexes/animals/search", {"query": queries[number], "k": 3, "mode": "dense"}
        )

    threads = [threading.Thread(target=ask, args=(number,)) for number in range(len(queries))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    for number, query in enumerate(queries):
        status, answer = answers[number]
        assert status == 200 and [hit["id"] for hit in answer["hits"]] == expected[query]
    batching = call(url, "GET", "/info")[1]["micro_batching"]
    assert batching["queries"] >= len(queries) and 1 <= batching["batches"] <= batching["queries"]


def test_search_body_takes_filter_operators_and_min_score(server):
    url, home = server
    index = Index.open("animals", index_dir=home)  # the server's query runtime (onnx): the same scores
    body = {"query": "cats", "k": 8, "mode": "dense", "filters": {"category": {"ne": "pets"}}}
    status, answer = call(url, "POST", "/indexes/animals/search", body)
    assert status == 200 and {hit["id"] for hit in answer["hits"]} == {"a3", "a4", "a5", "a6", "a7", "a8"}
    threshold = answer["hits"][2]["score"]
    status, answer = call(url, "POST", "/indexes/animals/search", {**body, "min_score": threshold})
    assert status == 200 and [hit["id"] for hit in answer["hits"]] == [
        hit.id for hit in index.search("cats", 8, body["filters"], "dense", min_score=threshold)
    ]
    assert len(answer["hits"]) == 3
    status, answer = call(url, "POST", "/indexes/animals/search", {**body, "filters": {"category": {"like": "p%"}}})
    assert status == 422 and "unknown filter operator 'like' on 'category'" in answer["error"]
    assert call(url, "POST", "/indexes/animals/search", {**body, "min_score": "high"})[0] == 422


def test_upsert_replaces_then_get_and_delete(server):
    url, _ = server
    status, added = call(
        url,
        "POST",
        "/indexes/animals/documents",
        {
            "documents": [
                {"id": "a1", "text": "A parrot repeats every word it hears.", "metadata": {"category": "birds"}},
                {"id": "n1", "text": "Owls hunt at night.", "metadata": {"category": "birds"}},
            ]
        },
    )
    assert status == 200 and added == {"ids": ["a1", "n1"], "count": 9}
    assert call(url, "GET", "/indexes/animals/documents/a1") == (
        200,
        {"id": "a1", "text": "A parrot repeats every word it hears.", "metadata": {"category": "birds"}},
    )
    status, refused = call(
        url, "POST", "/indexes/animals/documents", {"documents": [{"id": "n1", "text": "again"}], "upsert": False}
    )
    assert status == 409 and "upsert" in refused["error"]
    assert call(url, "DELETE", "/indexes/animals/documents", {"ids": ["n1", "a2"]}) == (200, {"deleted": 2, "count": 7})
    assert call(url, "GET", "/indexes/animals/documents/n1")[0] == 404
    status, answer = call(url, "DELETE", "/indexes/animals/documents", {"ids": ["a3", "nope"]})
    assert status == 404 and "'nope'" in answer["error"]
    assert call(url, "GET", "/indexes/animals")[1]["count"] == 7  # nothing deleted by the refused call


def test_embeddings_answer_in_openais_shape(server, encoder):
    url, _ = server
    status, answer = call(
        url, "POST", "/v1/embeddings", {"input": ["a cat", "a dog"], "model": "default", "encoding_format": "float"}
    )
    assert status == 200 and answer["object"] == "list"
    assert [row["index"] for row in answer["data"]] == [0, 1]
    assert {row["object"] for row in answer["data"]} == {"embedding"}
    assert len(answer["data"][0]["embedding"]) == encoder.dimension
    assert answer["usage"]["prompt_tokens"] == answer["usage"]["total_tokens"] > 0
    assert call(url, "POST", "/v1/embeddings", {"input": "one text"})[1]["data"][0]["index"] == 0
    assert call(url, "POST", "/v1/embeddings", {"input": "x", "model": "gpt-4"})[0] == 400
    status, similar = call(url, "POST", "/similarity", {"a": "a cat", "b": "a cat"})
    assert status == 200 and similar["cosine"] == pytest.approx(1.0, abs=1e-4)


@pytest.mark.parametrize(
    ("method", "path", "body", "raw", "code"),
    [
        ("POST", "/indexes/animals/search", None, b"{not json", 400),
        ("POST", "/indexes/animals/search", {"query": "x", "k": 0}, None, 422),
        ("POST", "/indexes/animals/search", {"query": "x", "k": 2.5}, None, 422),
        ("POST", "/indexes/animals/search", {"query": "x", "k": "3"}, None, 422),
        ("POST", "/indexes/animals/search", {"query": 7}, None, 422),
        ("POST", "/indexes/animals/search", {"queries": []}, None, 422),
        ("POST", "/indexes/animals/search", {"query": "   "}, None, 422),
        ("POST", "/indexes/animals/search", {"query": "x", "queries": ["y"]}, None, 422),
        ("POST", "/indexes/animals/search", {"query": "x", "mode": "fuzzy"}, None, 422),
        ("POST", "/indexes/animals/search", {"query": "?!", "mode": "lexical"}, None, 400),
        ("POST", "/indexes/animals/search", {"query": "x", "k": 3, "rerank_depth": 2, "rerank": True}, None, 400),
        ("POST", "/indexes/animals/search", {"query": "x", "kk": 3}, None, 422),
        ("POST", "/indexes/nothere/search", {"query": "x"}, None, 404),
        ("GET", "/indexes/bad%20name!", None, None, 422),
        ("GET", "/indexes/a..b", None, None, 422),
        ("GET", "/no/such/route", None, None, 404),
        ("POST", "/indexes/animals/search", None, b"query=x", 415),
        ("GET", "/indexes/animals/documents/zzz", None, None, 404),
        ("POST", "/indexes/animals/documents", {"documents": [{"id": "q", "text": 5}]}, None, 422),
        ("POST", "/indexes/animals/documents", {"documents": [{"text": "x", "metadata": {"id": 3}}]}, None, 422),
        (
            "POST",
            "/indexes/animals/documents",
            {"documents": [{"id": "q", "text": "x"}, {"id": "q", "text": "y"}]},
            None,
            409,
        ),
        ("POST", "/indexes/animals/documents", {"documents": []}, None, 422),
    ],
)
def test_bad_input_gets_one_line_and_the_right_code(server, method, path, body, raw, code):
    url, _ = server
    status, answer = call(url, method, path, body, raw=raw)
    assert status == code, answer
    assert set(answer) == {"error", "type"} and "\n" not in answer["error"] and "Traceback" not in answer["error"]
    assert call(url, "GET", "/indexes/animals")[1]["count"] == 8  # the server keeps serving, nothing changed


def test_a_body_over_the_cap_is_refused_before_it_is_read(server):
    import http.client

    url, _ = server
    connection = http.client.HTTPConnection(url.removeprefix("http://"), timeout=30)
    connection.putrequest("POST", "/indexes/animals/documents")
    connection.putheader("Content-Length", str(11 * 1024 * 1024))
    connection.putheader("Authorization", f"Bearer {KEY}")
    connection.endheaders(b'{"documents": [')  # the server answers without waiting for the other 11 MB
    response = connection.getresponse()
    assert response.status == 413 and "smaller batches" in json.loads(response.read())["error"]
    connection.close()
    assert call(url, "GET", "/indexes/animals")[1]["count"] == 8


def test_a_second_writer_is_told_to_try_again(server):
    url, home = server
    with writer_lock(home, "animals"):
        status, answer = call(url, "POST", "/indexes/animals/documents", {"documents": [{"text": "new"}]})
    assert status == 409 and "try again" in answer["error"]
    assert call(url, "POST", "/indexes/animals/documents", {"documents": [{"text": "new"}]})[0] == 200


def test_a_rebuild_while_serving_is_picked_up_with_no_failed_request(server, encoder):
    url, home = server
    failures, answered, stop = [], [], threading.Event()

    def keep_searching() -> None:
        while not stop.is_set():
            status, answer = call(url, "POST", "/indexes/animals/search", {"query": "rain on the trail", "k": 3})
            (answered if status == 200 and len(answer["hits"]) == 3 else failures).append((status, answer))

    searchers = [threading.Thread(target=keep_searching) for _ in range(2)]
    for searcher in searchers:
        searcher.start()
    try:
        time.sleep(0.3)
        index = Index.open("animals", index_dir=home, encoder=encoder)
        index.add([{"id": "z1", "text": "Snow closed the mountain pass."}])
        index.rebuild(kind="hnsw")
        time.sleep(0.5)
    finally:
        stop.set()
        for searcher in searchers:
            searcher.join(30)
    assert failures == [] and len(answered) > 2
    described = call(url, "GET", "/indexes/animals")[1]
    assert described["kind"] == "hnsw" and described["count"] == 9
    assert call(url, "GET", "/indexes/animals/documents/z1")[0] == 200


def test_the_client_has_the_index_methods(server, encoder):
    url, home = server
    remote = Client(url, api_key=KEY).index("animals")
    local = Index.open("animals", index_dir=home)  # the server's query runtime (onnx): the same scores
    assert remote.search("a cat", 3, mode="dense") == local.search("a cat", 3, mode="dense")
    assert len(remote.search_batch(["a", "b"], 2)) == 2
    assert remote.add([{"id": "c1", "text": "A hamster runs in its wheel.", "kind": "pet"}]) == ["c1"]
    with pytest.raises(InputError, match="upsert"):
        remote.add([{"id": "c1", "text": "again"}])
    remote.add([{"id": "c1", "text": "A hamster sleeps all day.", "kind": "pet"}], upsert=True)
    got = remote.get("c1")
    assert (got.id, got.text, got.metadata) == ("c1", "A hamster sleeps all day.", {"kind": "pet"})
    assert remote.get("nope") is None
    assert remote.delete(["c1"]) == 1 and len(remote) == 8
    with pytest.raises(IndexNotFoundError):
        Client(url, api_key=KEY, index="missing").search("x")
    with pytest.raises(IndexBusyError), writer_lock(home, "animals"):
        remote.delete(["a1"])


def test_upsert_and_get_in_process(tmp_path, encoder, animals):
    index = Index.build("animals", animals, encoder=encoder, kind="flat", index_dir=tmp_path)
    assert index.add([{"id": "a1", "text": "Replaced text.", "category": "new"}], upsert=True) == ["a1"]
    assert len(index) == 8 and index.known_ids(["a1"]) == {"a1"}
    stored = index.get("a1")
    assert (stored.text, stored.metadata) == ("Replaced text.", {"category": "new"})
    assert index.get("missing") is None
    assert Index.open("animals", index_dir=tmp_path).check()["ok"]


# --- re-ranking: POST /rerank (Cohere's shape) and "rerank" on search ------------------------------


@pytest.fixture
def rerank_server(tmp_path, encoder, animals, tiny_model, cross_encoder):
    """Like ``server``, started with --rerank (the tiny cross-encoder) and no API key."""
    home = tmp_path / "indexes"
    Index.build("animals", animals, encoder=encoder, kind="flat", index_dir=home)
    with serving(create_app(home, None, tiny_model, rerank=cross_encoder)) as url:
        yield url


def test_rerank_route_answers_in_cohere_shape_best_first(rerank_server, cross_encoder):
    from simsearch.query import load_reranker

    documents = ["The cat sleeps.", "Rates rose again.", "A dog fetches the ball."]
    status, body = call(
        rerank_server,
        "POST",
        "/rerank",
        {
            "model": "any",
            "query": "pets",
            "documents": [documents[0], {"text": documents[1]}, documents[2]],
            "top_n": 2,
        },
        key=None,
    )
    assert status == 200, body
    expected = load_reranker(cross_encoder).rerank_scores("pets", documents)
    best = sorted(range(3), key=lambda i: -expected[i])[:2]
    assert [r["index"] for r in body["results"]] == best
    assert [r["relevance_score"] for r in body["results"]] == pytest.approx([float(expected[i]) for i in best])


def test_search_with_rerank_true_uses_the_servers_reranker(rerank_server):
    status, body = call(
        rerank_server, "POST", "/indexes/animals/search", {"query": "a pet", "k": 3, "rerank": True}, key=None
    )
    assert status == 200 and len(body["hits"]) == 3 and all("first_score" in hit for hit in body["hits"])
    assert body["timings"]["rerank_ms"] > 0
    status, body = call(
        rerank_server,
        "POST",
        "/indexes/animals/search",
        {"query": "a pet", "k": 3, "rerank": True, "rerank_depth": 2},
        key=None,
    )
    assert status == 400 and "re-rank depth (2) is below" in body["error"]


def test_client_reranks_with_the_servers_cross_encoder(rerank_server):
    remote = Client(rerank_server, index="animals")
    plain = remote.search("a pet", k=3)
    reranked = remote.search("a pet", k=3, rerank=True)
    assert all(hit.first_score is None for hit in plain) and all(hit.first_score is not None for hit in reranked)
    assert [hit.score for hit in reranked] == sorted((hit.score for hit in reranked), reverse=True)
    assert [len(found) for found in remote.search_batch(["a pet", "rates"], k=2, rerank=True, rerank_depth=4)] == [2, 2]
    with pytest.raises(InvalidArgumentError, match="re-rank depth"):
        remote.search("a pet", k=3, rerank=True, rerank_depth=2)
    with pytest.raises(InvalidArgumentError, match="serve --rerank DIR"):
        remote.search("a pet", rerank="models/ce")


def test_rerank_without_a_reranker_is_a_400_naming_the_fix(server):
    url, _ = server
    status, body = call(url, "POST", "/rerank", {"query": "pets", "documents": ["a cat"]})
    assert status == 400 and "simsearch serve --rerank DIR" in body["error"]
    status, body = call(url, "POST", "/indexes/animals/search", {"query": "pets", "rerank": True})
    assert status == 400 and "no default re-ranker" in body["error"]


def test_concurrent_clients_adding_one_document_each_all_succeed(server):
    url, home = server
    answers: list[tuple[int, dict]] = []

    def add_one(number: int) -> None:
        answers.append(
            call(
                url,
                "POST",
                "/indexes/animals/documents",
                {"documents": [{"id": f"c{number}", "text": f"concurrent note number {number}"}]},
            )
        )

    threads = [threading.Thread(target=add_one, args=(number,)) for number in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert sorted(status for status, _ in answers) == [200] * 16, answers
    index = Index.open("animals", index_dir=home)
    assert len(index) == 24 and index.known_ids([f"c{n}" for n in range(16)]) == {f"c{n}" for n in range(16)}
    assert index.check()["ok"]


def test_sync_and_compact_routes(server, animals):
    url, home = server
    documents = [
        {"id": row["id"], "text": row["text"], "metadata": {"category": row["category"]}}
        for row in animals
        if row["id"] != "a8"
    ]
    documents[0]["text"] = "The cat now sleeps on the sofa."  # a1: re-encoded
    documents[1]["metadata"] = {"category": "dogs"}  # a2: metadata only
    documents.append({"id": "n1", "text": "A parrot repeats every word it hears."})
    status, report = call(url, "POST", "/indexes/animals/sync", {"documents": documents})
    assert status == 200, report
    assert report["summary"] == "1 added, 2 changed, 1 removed, 5 unchanged" and report["count"] == 8
    status, figures = call(url, "POST", "/indexes/animals/compact")
    assert status == 200 and figures["compacted"] and figures["base_vectors"] == 8
    status, described = call(url, "GET", "/indexes/animals")
    assert (described["delta_vectors"], described["dead_vectors"], described["base_vectors"]) == (0, 0, 8)
    status, hits = call(
        url, "POST", "/indexes/animals/search", {"query": "The cat now sleeps on the sofa.", "k": 1, "mode": "dense"}
    )
    assert hits["hits"][0]["id"] == "a1"
    status, bad = call(url, "POST", "/indexes/animals/sync", {"documents": []})
    assert status == 400 and "no rows" in bad["error"]
    client = Client(url, KEY).index("animals")
    flat = [{"id": doc["id"], "text": doc["text"], **doc.get("metadata", {})} for doc in documents[:-1]]
    assert str(client.sync(flat)) == "0 added, 0 changed, 1 removed, 7 unchanged"
    assert client.compact()["dropped"] == 1 and len(client) == 7


@pytest.mark.parametrize("number", [b"1e999", b"-1e999", b"Infinity", b"NaN"])
def test_a_non_finite_metadata_number_is_a_400_and_filters_keep_working(server, number):
    url, _ = server
    raw = b'{"documents": [{"id": "x1", "text": "An odd one.", "metadata": {"v": ' + number + b"}}]}"
    status, answer = call(url, "POST", "/indexes/animals/documents", raw=raw)
    assert status == 400 and "field 'v' of document 'x1'" in answer["error"], answer
    status, found = call(url, "POST", "/indexes/animals/search", {"query": "cat", "filters": {"category": "pets"}})
    assert status == 200 and len(found["hits"]) == 2


def test_the_client_refuses_an_infinite_metadata_number_before_sending_it(server):
    url, _ = server
    with pytest.raises(InputError, match="field 'v' of document 'x2' is inf"):
        Client(url, KEY, "animals").add([{"id": "x2", "text": "Odd.", "v": float("inf")}])
    assert call(url, "GET", "/indexes/animals")[1]["count"] == 8


def test_an_unknown_index_is_a_404_whose_hint_speaks_http_not_python(server):
    url, _ = server
    status, answer = call(url, "POST", "/indexes/nothere/search", {"query": "cats"})
    assert status == 404 and "GET /indexes" in answer["error"] and "simsearch build nothere" in answer["error"]
    assert "Index.build" not in answer["error"] and "texts)" not in answer["error"]


def test_a_refused_add_tells_an_http_caller_the_body_field(server):
    url, _ = server
    status, answer = call(
        url, "POST", "/indexes/animals/documents", {"documents": [{"id": "a1", "text": "again"}], "upsert": False}
    )
    assert status == 409 and 'send "upsert": true' in answer["error"] and "upsert=True" not in answer["error"]


def test_the_client_gets_a_document_without_the_servers_row_id(server):
    url, _ = server
    got = Client(url, KEY, "animals").get("a1")
    assert got == Document("The cat sleeps on the warm windowsill.", "a1", {"category": "pets"})
    assert not hasattr(got, "row_id")
