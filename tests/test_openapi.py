"""/openapi.json tells the truth: codes, bodies, the key, the constraints; and schemathesis finds no lie in it.

The fuzz test runs the schemathesis CLI (its default checks, every operation, bounded
examples, a fixed seed so CI is repeatable) against a live server on 127.0.0.1, with and
without an API key; tests/schemathesis_hooks.py holds the two search rules JSON Schema
cannot state.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from simsearch import Index, load_encoder
from simsearch.serving.app import create_app
from tests.test_server import KEY, call, serving

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module", params=[KEY, None], ids=["key", "no-key"])
def live(request, tmp_path_factory, tiny_model, cross_encoder):
    """(url, key, home): a server over index "animals", with or without the API key."""
    home = tmp_path_factory.mktemp("openapi") / "indexes"
    rows = [
        {"id": f"d{i}", "text": text, "topic": topic, "year": 2000 + i}
        for i, (text, topic) in enumerate(
            [("The cat sleeps.", "pets"), ("Rates rose.", "money"), ("Bake the bread.", "food")]
        )
    ]
    Index.build("animals", rows, encoder=load_encoder(tiny_model), kind="flat", index_dir=home)
    with serving(create_app(home, request.param, tiny_model, rerank=cross_encoder)) as url:
        yield url, request.param, home


def schema_of(url: str, key: str | None) -> dict:
    status, schema = call(url, "GET", "/openapi.json", key=key)
    assert status == 200, schema
    return schema


def status_of(url: str, path: str, key: str | None) -> int:
    connection = http.client.HTTPConnection(url.removeprefix("http://"), timeout=30)
    connection.request("GET", path, headers={"Authorization": f"Bearer {key}"} if key else {})
    status = connection.getresponse().status
    connection.close()
    return status


def test_every_operation_documents_its_error_codes_with_the_real_body(live):
    url, key, _ = live
    schema = schema_of(url, key)
    shapes = {"ErrorBody": {"error", "type"}, "OpenAIErrorBody": {"error"}, "CohereErrorBody": {"message"}}
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            codes = set(operation["responses"]) - {"200"}
            if path == "/health":
                assert codes == set()
                continue
            assert ("401" in codes) == (key is not None), (method, path)
            if "requestBody" in operation:
                assert {"413", "415"} <= codes and codes & {"400", "422"}, (method, path)
            if "{name}" in path:
                assert {"404", "500"} <= codes, (method, path)
            for code in codes:
                body = operation["responses"][code]["content"]["application/json"]["schema"]["$ref"].rsplit("/")[-1]
                assert set(schema["components"]["schemas"][body]["required"]) == shapes[body]
    assert "409" in schema["paths"]["/indexes/{name}/documents"]["post"]["responses"]


def test_the_key_is_a_bearer_scheme_and_the_schema_needs_it(live):
    url, key, _ = live
    schema = schema_of(url, key)
    schemes = schema.get("components", {}).get("securitySchemes", {})
    if key is None:
        assert schemes == {} and status_of(url, "/docs", key=None) == 200
        return
    assert list(schemes.values()) == [{"type": "http", "scheme": "bearer", "description": "The server's API key."}]
    search = schema["paths"]["/indexes/{name}/search"]["post"]
    assert search["security"] == [{name: []} for name in schemes]
    assert "security" not in schema["paths"]["/health"]["get"]
    assert call(url, "GET", "/openapi.json", key=None)[0] == 401
    assert status_of(url, "/docs", key=None) == 401 and status_of(url, "/docs", key) == 200


def test_the_constraints_are_in_the_schema(live):
    url, key, _ = live
    bodies = schema_of(url, key)["components"]["schemas"]
    search = bodies["SearchBody"]
    assert search["oneOf"] == [{"required": ["query"]}, {"required": ["queries"]}]
    assert search["additionalProperties"] is False
    assert search["properties"]["mode"]["enum"] == ["dense", "lexical", "hybrid"]
    assert search["properties"]["k"]["minimum"] == 1 and search["properties"]["k"]["maximum"] == 2**53 - 1
    assert search["properties"]["queries"]["minItems"] == 1
    assert bodies["DocumentsBody"]["properties"]["documents"]["minItems"] == 1
    embeddings = bodies["EmbeddingsBody"]["properties"]
    assert embeddings["encoding_format"]["enum"] == ["float", "base64"]
    assert embeddings["dimensions"]["anyOf"][0]["enum"] == [32]  # the tiny model's dimension


def test_a_request_without_the_key_is_refused_before_its_body_is_read(live):
    url, key, _ = live
    if key is None:
        pytest.skip("no key on this server")
    assert call(url, "POST", "/indexes/animals/search", raw=b"{not json", key=None)[0] == 401
    connection = http.client.HTTPConnection(url.removeprefix("http://"), timeout=30)
    connection.putrequest("POST", "/indexes/animals/documents")
    connection.putheader("Content-Length", str(5 * 1024 * 1024))
    connection.endheaders(b'{"documents": [')  # the other 5 MB never come: the answer cannot wait for them
    response = connection.getresponse()
    assert response.status == 401 and response.getheader("WWW-Authenticate") == "Bearer"
    connection.close()


def test_a_405_lists_every_method_of_the_path(live):
    url, key, _ = live
    connection = http.client.HTTPConnection(url.removeprefix("http://"), timeout=30)
    connection.request("PUT", "/indexes/animals/documents", headers={"Authorization": f"Bearer {key}"})
    response = connection.getresponse()
    assert response.status == 405 and response.getheader("Allow") == "DELETE, POST"
    assert json.loads(response.read())["type"] == "MethodNotAllowed"
    connection.close()


def test_no_answer_reveals_a_server_path(live, tiny_model, cross_encoder):
    url, key, home = live
    answers = [
        call(url, "GET", "/indexes/animals", key=key),
        call(url, "GET", "/info", key=key),
        call(url, "POST", "/rerank", {"query": "pets", "documents": ["a cat"]}, key=key),
        call(url, "POST", "/similarity", {"a": "x", "b": "y"}, key=key),
        call(url, "POST", "/v1/embeddings", {"input": "x", "model": "gpt-4"}, key=key),
    ]
    assert answers[2][1]["model"] == Path(cross_encoder).name
    for _status, answer in answers:
        text = json.dumps(answer)
        assert str(home) not in text and tiny_model not in text and cross_encoder not in text, text
        assert "/tmp" not in text and str(Path.home()) not in text, text


def test_errors_from_the_package_are_cut_to_file_names():
    from simsearch.serving.errors import hide_paths

    assert (
        hide_paths("/srv/data/indexes/notes/manifest.json is missing; rebuild it")
        == "manifest.json is missing; rebuild it"
    )
    assert hide_paths("cross-encoder 'C:\\models\\ce' has 2 outputs") == "cross-encoder 'ce' has 2 outputs"
    assert hide_paths("see /docs for the routes") == "see /docs for the routes"


@pytest.mark.slow
def test_schemathesis_finds_nothing_over_every_operation(live, tmp_path):
    url, key, _ = live
    st = shutil.which("st", path=str(Path(sys.executable).parent)) or shutil.which("st")
    if st is None:
        pytest.skip("schemathesis is not installed (pip install -e '.[dev]')")
    command = [
        st,
        "run",
        f"{url}/openapi.json",
        "--max-examples",
        "25",
        "--seed",
        "20261206",
        "--workers",
        "2",
        "--no-color",
        "--report-dir",
        str(tmp_path),
    ]
    if key is not None:
        command += ["-H", f"Authorization: Bearer {key}"]
    environment = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": "schemathesis_hooks",
        "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
    }
    run = subprocess.run(command, capture_output=True, text=True, timeout=300, env=environment, cwd=tmp_path)
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    operations = sum(len(methods) for methods in schema_of(url, key)["paths"].values())
    assert f"Selected: {operations}/{operations}" in run.stdout and f"Tested: {operations}" in run.stdout
