"""The dense search goes deeper when the first k vectors are not k live documents: windows of one
document, or rows another writer deleted after this reader's vectors were loaded."""

from __future__ import annotations

import pytest

from simsearch import Index, load_encoder
from simsearch.query import search_encoded

ECHO = " ".join(["The violinist tuned her instrument."] * 120)  # many windows, all nearly one vector


@pytest.fixture(scope="module")
def tiny(tiny_model):
    return load_encoder(tiny_model)


@pytest.fixture
def echo_index(tiny, index_dir) -> Index:
    rows = [{"id": "echo", "text": ECHO, "shelf": "a"}] + [
        {"id": f"s{i}", "text": f"Short note {i} about a harbour.", "shelf": "ab"[i % 2]} for i in range(12)
    ]
    return Index.build("echo", rows, encoder=tiny, kind="flat", index_dir=index_dir)


def scored(hits) -> list[tuple[str, float]]:
    return [(hit.id, round(hit.score, 5)) for hit in hits]


@pytest.mark.parametrize("filters", [None, {"shelf": "a"}])
def test_a_stale_view_skips_rows_deleted_since_and_still_returns_k_live_documents(echo_index, tiny, index_dir, filters):
    stale = echo_index._vectors()  # the vectors as this reader loaded them, deleted rows and all
    query = tiny.encode(["The violinist tuned her instrument."])
    first, _, _ = search_encoded(stale, echo_index._store, query, 4, filters)
    assert first[0][0].id == "echo" and len({hit.id for hit in first[0]}) == 4  # windows collapsed to documents
    deleted = [hit.id for hit in first[0][:3]]
    Index.open("echo", index_dir=index_dir, encoder=tiny).delete(deleted)  # another writer
    hits, candidates_ms, fetch_ms = search_encoded(stale, echo_index._store, query, 4, filters)
    assert len(hits[0]) == 4 and not set(deleted) & {hit.id for hit in hits[0]}
    assert min(candidates_ms, fetch_ms) >= 0
    # exact search: the same four a reader that caught up finds
    assert scored(hits[0]) == scored(echo_index.search_vectors(query, k=4, filters=filters)[0])


def test_a_stale_view_returns_every_live_document_when_fewer_than_k_are_left(echo_index, tiny, index_dir):
    stale = echo_index._vectors()
    Index.open("echo", index_dir=index_dir, encoder=tiny).delete(["echo"] + [f"s{i}" for i in range(10)])
    hits, _, _ = search_encoded(stale, echo_index._store, tiny.encode(["a note about a harbour"]), 5)
    assert sorted(hit.id for hit in hits[0]) == ["s10", "s11"]
