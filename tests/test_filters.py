"""Metadata facets and filtered search through an index: real SQLite json_extract and a FAISS IDSelector."""

from __future__ import annotations

import numpy as np
import pytest

from simsearch import Index, load_encoder
from simsearch.errors import InvalidArgumentError


@pytest.fixture
def zoo(tiny_model, index_dir, animals) -> Index:
    rows = [{**row, "legs": 4 if row["category"] == "pets" else 0, "note": f"free text {i}"}
            for i, row in enumerate(animals)]
    return Index.build("zoo", rows, encoder=load_encoder(tiny_model), index_dir=index_dir)


def test_facets_offer_low_cardinality_columns_with_counts(zoo):
    facets = {facet.column: facet for facet in zoo.facets(max_values=5)}
    assert set(facets) == {"category", "legs"}  # "note" has 8 distinct values > 5
    assert sorted(facets["category"].values) == ["cooking", "finance", "outdoors", "pets"]
    assert facets["category"].counts == [2, 2, 2, 2]
    assert facets["legs"].values == [0, 4] and facets["legs"].counts == [6, 2]


def test_filtered_flat_search_returns_exactly_the_best_matching_documents(zoo, animals):
    query = "The stock market fell sharply on Monday."
    unfiltered = zoo.search(query, k=8)
    hits = zoo.search(query, k=2, filters={"category": "pets"})
    expected = [h.id for h in unfiltered if h.metadata["category"] == "pets"][:2]
    assert [h.id for h in hits] == expected
    assert all(h.metadata["category"] == "pets" for h in hits)


def test_filter_with_several_values_and_columns(zoo):
    hits = zoo.search("cats", k=8, filters={"category": ["pets", "cooking"], "legs": 0})
    assert {h.metadata["category"] for h in hits} == {"cooking"}
    assert len(hits) == 2


def test_filter_none_finds_documents_without_the_column_or_with_null(tiny_model, index_dir, animals):
    rows = [{**row, "reviewed": None} if row["id"] == "a2" else row for row in animals]
    rows[0] = {**rows[0], "reviewed": True}
    rows[2] = {**rows[2], "reviewed": 1}
    index = Index.build("nulls", rows, encoder=load_encoder(tiny_model), index_dir=index_dir)
    unreviewed = index.search("cats", k=8, filters={"reviewed": None})
    assert {h.id for h in unreviewed} == {"a2", "a4", "a5", "a6", "a7", "a8"}
    assert [h.id for h in index.search("cats", k=8, filters={"reviewed": True})] == ["a1"]
    assert [h.id for h in index.search("cats", k=8, filters={"reviewed": 1})] == ["a3"]


def test_filter_matching_nothing_returns_no_hits(zoo):
    assert zoo.search("cats", k=5, filters={"category": "astronomy"}) == []


def test_unknown_filter_column_is_refused_by_name(zoo):
    with pytest.raises(InvalidArgumentError, match="'colour'"):
        zoo.search("cats", filters={"colour": "red"})


def test_filter_on_hnsw_skips_tombstoned_documents(tiny_model, index_dir, animals):
    index = Index.build("hz", animals, encoder=load_encoder(tiny_model), index_dir=index_dir, kind="hnsw")
    index.delete(["a1"])
    hits = index.search("The cat sleeps on the warm windowsill.", k=5, filters={"category": "pets"})
    assert [h.id for h in hits] == ["a2"]


def test_build_reports_progress_to_callback(tiny_model, index_dir):
    calls = []
    texts = [f"sentence number {i}" for i in range(300)]
    Index.build("many", texts, encoder=load_encoder(tiny_model), index_dir=index_dir, batch_size=16,
                on_progress=lambda done, total: calls.append((done, total)))
    assert calls[-1] == (300, 300) and len(calls) > 1
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)


def test_rebuild_reports_progress_to_callback(zoo):
    calls = []
    zoo.rebuild(on_progress=lambda done, total: calls.append((done, total)))
    assert calls[-1] == (8, 8)


def test_stored_vectors_match_a_fresh_encoding(zoo):
    vectors = zoo.vectors(["a3", "a1"])
    fresh = zoo.encoder.encode(["The stock market fell sharply on Monday.", "The cat sleeps on the warm windowsill."])
    np.testing.assert_allclose(vectors, fresh, atol=1e-5)
