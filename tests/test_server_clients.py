"""The server driven by third-party clients as their users call them: openai, langchain-openai and cohere.

Each client talks to a real uvicorn server on 127.0.0.1 (tiny models), offline.
"""

from __future__ import annotations

import base64

import numpy as np
import pytest

from simsearch import Index, load_encoder
from simsearch.serving.app import create_app
from tests.test_server import KEY, serving

openai = pytest.importorskip("openai")
cohere = pytest.importorskip("cohere")


@pytest.fixture(scope="module")
def url(tmp_path_factory, tiny_model, cross_encoder):
    """A server with the API key KEY, the tiny model for /v1/embeddings and the tiny cross-encoder."""
    home = tmp_path_factory.mktemp("clients") / "indexes"
    Index.build(
        "animals", ["A cat sleeps.", "Rates rose."], encoder=load_encoder(tiny_model), kind="flat", index_dir=home
    )
    with serving(create_app(home, KEY, tiny_model, rerank=cross_encoder)) as running:
        yield running


@pytest.fixture(scope="module")
def openai_client(url):
    return openai.OpenAI(base_url=f"{url}/v1", api_key=KEY, max_retries=0)


@pytest.fixture(scope="module")
def local(tiny_model):
    return load_encoder(tiny_model, backend="onnx")  # the server's query runtime: the same vectors


TEXTS = ["A cat sleeps on the sill.", "Interest rates rose again."]


def test_openai_client_gets_the_models_vectors_by_default_as_base64(openai_client, local):
    answer = openai_client.embeddings.create(input=TEXTS, model="default")  # the client asks for base64
    vectors = np.array([row.embedding for row in answer.data], dtype=np.float32)
    np.testing.assert_allclose(vectors, local.encode(TEXTS), atol=1e-5)
    assert answer.usage.prompt_tokens == answer.usage.total_tokens == sum(local.token_counts(TEXTS))
    assert answer.model == "model"  # the folder's name, not its path on the server


def test_base64_is_little_endian_float32_and_float_is_a_list(openai_client, local):
    raw = openai_client.embeddings.with_raw_response.create(
        input="a cat", model="default", encoding_format="base64"
    ).http_response.json()
    decoded = np.frombuffer(base64.b64decode(raw["data"][0]["embedding"]), dtype="<f4")
    np.testing.assert_allclose(decoded, local.encode(["a cat"])[0], atol=1e-5)
    floats = openai_client.embeddings.create(input="a cat", model="default", encoding_format="float")
    np.testing.assert_allclose(floats.data[0].embedding, decoded, atol=1e-6)


def test_dimensions_other_than_the_models_are_refused_in_openais_shape(openai_client, local):
    assert (
        len(openai_client.embeddings.create(input="x", model="default", dimensions=local.dimension).data[0].embedding)
        == local.dimension
    )
    with pytest.raises(openai.BadRequestError) as refused:
        openai_client.embeddings.create(input="x", model="default", dimensions=8)
    body = refused.value.body
    assert refused.value.status_code == 400 and body["param"] == "dimensions" and "not trained" in body["message"]
    assert "not trained to be cut to 8" in str(refused.value)  # the client shows the message


@pytest.mark.parametrize("ids", [[101, 2023, 102], [[101, 2023], [101, 102]]])
def test_token_ids_are_refused_with_the_langchain_fix(openai_client, ids):
    with pytest.raises(openai.BadRequestError) as refused:
        openai_client.embeddings.create(input=ids, model="default")
    assert refused.value.body["param"] == "input" and "check_embedding_ctx_length=False" in str(refused.value)


def test_openai_errors_carry_the_message_the_type_and_no_server_path(openai_client, url, tiny_model):
    with pytest.raises(openai.BadRequestError) as unknown:
        openai_client.embeddings.create(input="x", model="gpt-4")
    assert unknown.value.body["param"] == "model" and 'send that, "default"' in str(unknown.value)
    assert tiny_model not in str(unknown.value) and "'model'" in str(unknown.value)
    with pytest.raises(openai.BadRequestError, match="encoding_format"):
        openai_client.embeddings.create(input="x", model="default", encoding_format="bogus")  # type: ignore[arg-type]
    with pytest.raises(openai.AuthenticationError, match="Authorization: Bearer"):
        openai.OpenAI(base_url=f"{url}/v1", api_key="wrong", max_retries=0).embeddings.create(input="x", model="x")
    with pytest.raises(openai.NotFoundError, match="no route"):
        openai_client.chat.completions.create(model="default", messages=[{"role": "user", "content": "hi"}])


def test_langchain_openai_embeds_through_the_server(url, local):
    langchain = pytest.importorskip("langchain_openai")
    # check_embedding_ctx_length=False sends texts; the default sends tiktoken ids, which this server refuses
    # (and which tiktoken cannot make offline: it downloads its vocabulary first)
    embeddings = langchain.OpenAIEmbeddings(
        base_url=f"{url}/v1", api_key=KEY, model="default", check_embedding_ctx_length=False, max_retries=0
    )
    np.testing.assert_allclose(embeddings.embed_documents(TEXTS), local.encode(TEXTS), atol=1e-5)
    np.testing.assert_allclose(embeddings.embed_query(TEXTS[0]), local.encode(TEXTS[:1])[0], atol=1e-5)


def expected_order(cross_encoder, query, documents):
    from simsearch.query import load_reranker

    scores = load_reranker(cross_encoder).rerank_scores(query, documents)
    return sorted(range(len(documents)), key=lambda i: -scores[i]), scores


DOCUMENTS = ["The cat sleeps.", "Rates rose again.", "A dog fetches the ball.", "Bake the bread."]


def test_cohere_v1_client_reranks_with_the_servers_cross_encoder(url, cross_encoder):
    client = cohere.Client(api_key=KEY, base_url=url)
    order, scores = expected_order(cross_encoder, "pets", DOCUMENTS)
    answer = client.rerank(query="pets", documents=DOCUMENTS, top_n=3, model="rerank-v3.5", return_documents=True)
    assert [r.index for r in answer.results] == order[:3]
    assert [r.relevance_score for r in answer.results] == pytest.approx([float(scores[i]) for i in order[:3]])
    assert [r.document.text for r in answer.results] == [DOCUMENTS[i] for i in order[:3]]
    assert answer.id and answer.meta.api_version.version == "1"
    as_objects = client.rerank(query="pets", documents=[{"text": d} for d in DOCUMENTS], model="any")
    assert [r.index for r in as_objects.results] == order and as_objects.results[0].document is None


def test_cohere_v2_client_reranks_and_sees_errors(url, cross_encoder):
    client = cohere.ClientV2(api_key=KEY, base_url=url)
    order, _ = expected_order(cross_encoder, "money", DOCUMENTS)
    answer = client.rerank(model="rerank-v3.5", query="money", documents=DOCUMENTS, top_n=2)
    assert [r.index for r in answer.results] == order[:2] and answer.meta.api_version.version == "2"
    with pytest.raises(cohere.core.ApiError) as refused:
        client.rerank(model="rerank-v3.5", query="   ", documents=DOCUMENTS)
    assert refused.value.status_code == 422 and set(refused.value.body) == {"message"}
    assert "query" in refused.value.body["message"]
    with pytest.raises(cohere.core.ApiError) as unsupported:
        client.rerank(model="rerank-v3.5", query="money", documents=DOCUMENTS, max_tokens_per_doc=10)
    assert unsupported.value.status_code == 422 and "max_tokens_per_doc" in unsupported.value.body["message"]
    with pytest.raises(cohere.core.ApiError) as unauthorized:
        cohere.ClientV2(api_key="wrong", base_url=url).rerank(model="m", query="q", documents=["d"])
    assert unauthorized.value.status_code == 401
