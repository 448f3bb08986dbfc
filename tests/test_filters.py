"""Metadata facets and filtered search through an index: real SQLite json_extract and a FAISS IDSelector."""

from __future__ import annotations

import numpy as np
import pytest

from simsearch import Index, load_encoder
from simsearch.errors import InvalidArgumentError


@pytest.fixture
def zoo(tiny_model, index_dir, animals) -> Index:
    rows = [
        {**row, "legs": 4 if row["category"] == "pets" else 0, "note": f"free text {i}"}
        for i, row in enumerate(animals)
    ]
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
    Index.build(
        "many",
        texts,
        encoder=load_encoder(tiny_model),
        index_dir=index_dir,
        batch_size=16,
        on_progress=lambda done, total: calls.append((done, total)),
    )
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


# --- operators: ranges, not-equal, on typed metadata read from a CSV -------------------------------------------

YEARS = {"a1": "1995", "a2": "2001", "a3": "2005", "a4": "2009", "a5": "2010", "a6": "2015", "a7": "", "a8": "1999"}
LANGS = {"a1": "en", "a2": "fr", "a3": "en", "a4": "de", "a5": "fr", "a6": "en", "a7": "en", "a8": "en"}


@pytest.fixture
def dated(tiny_model, index_dir, animals, tmp_path) -> Index:
    """The animals from a CSV with a numeric ``year`` (a7 has none), a ``lang`` and a decimal ``rating``."""
    import csv

    path = tmp_path / "dated.csv"
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["id", "text", "category", "year", "lang", "rating"])
        for i, row in enumerate(animals):
            writer.writerow(
                [row["id"], row["text"], row["category"], YEARS[row["id"]], LANGS[row["id"]], f"{i / 2:.1f}"]
            )
    from simsearch import read_corpus

    return Index.build("dated", read_corpus(path), encoder=load_encoder(tiny_model), index_dir=index_dir)


def found_ids(index: Index, filters, mode="dense") -> set[str]:
    return {hit.id for hit in index.search("cats and markets", k=8, filters=filters, mode=mode)}


def test_csv_numbers_are_stored_as_json_numbers(dated):
    assert dated.get("a2").metadata == {"category": "pets", "year": 2001, "lang": "fr", "rating": 0.5}
    assert dated.get("a1").metadata["rating"] == 0.0 and isinstance(dated.get("a1").metadata["rating"], float)
    assert dated.get("a7").metadata["year"] is None  # empty in a numeric column: not set


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"year": {"gte": 2005}}, {"a3", "a4", "a5", "a6"}),
        ({"year": {"gt": 2005}}, {"a4", "a5", "a6"}),
        ({"year": {"lt": 2001}}, {"a1", "a8"}),
        ({"year": {"lte": 2001}}, {"a1", "a2", "a8"}),
        ({"year": {"gte": 2000, "lt": 2010}}, {"a2", "a3", "a4"}),
        ({"year": {"gte": 2001.5, "lte": 2009.0}}, {"a3", "a4"}),
        ({"rating": {"gt": 2.5}}, {"a7", "a8"}),
        ({"lang": {"ne": "en"}}, {"a2", "a4", "a5"}),
        ({"lang": {"ne": ["en", "fr"]}}, {"a4"}),
        ({"year": {"ne": 2001}}, {"a1", "a3", "a4", "a5", "a6", "a7", "a8"}),  # the missing year is "not 2001"
        ({"year": {"ne": None}}, {"a1", "a2", "a3", "a4", "a5", "a6", "a8"}),
        ({"year": {"eq": [1995, 2015]}}, {"a1", "a6"}),
        ({"lang": {"gte": "e", "lt": "f"}}, {"a1", "a3", "a6", "a7", "a8"}),  # strings compare as strings
        ({"year": {"gte": 2000, "ne": 2005}, "lang": "fr"}, {"a2", "a5"}),
    ],
)
def test_each_operator_keeps_exactly_the_matching_documents(dated, filters, expected):
    assert found_ids(dated, filters) == expected


@pytest.mark.parametrize("mode", ["lexical", "hybrid"])
def test_operators_filter_lexical_and_hybrid_search_alike(dated, mode):
    filters = {"year": {"gte": 2000, "lt": 2010}, "lang": {"ne": "de"}}
    hits = dated.search("the cat sleeps; the stock market fell; a dog fetches", k=8, filters=filters, mode=mode)
    assert {hit.id for hit in hits} == {"a2", "a3"}


def test_a_numeric_range_never_matches_text_values(tiny_model, index_dir, animals):
    rows = [{**row, "year": 2005 if i % 2 else "n/a"} for i, row in enumerate(animals)]
    index = Index.build("mixed", rows, encoder=load_encoder(tiny_model), index_dir=index_dir)
    assert found_ids(index, {"year": {"gte": 1000}}) == {"a2", "a4", "a6", "a8"}
    assert found_ids(index, {"year": {"gte": "a"}}) == {"a1", "a3", "a5", "a7"}


@pytest.mark.parametrize(
    ("filters", "fragments"),
    [
        ({"year": {"gtee": 2000}}, ["'gtee'", "valid: eq, ne, gt, gte, lt, lte"]),
        ({"year": {}}, ["no operators", "valid: eq, ne"]),
        ({"year": {"gte": True}}, ["give a number or a string"]),
        ({"year": {"lt": None}}, ["give a number or a string"]),
        ({"year": {"gte": 2000, "lt": "2010"}}, ["mix numbers and strings"]),
        ({"year": {"ne": []}}, ["lists no values"]),
        ({"year": {"eq": {"x": 1}}}, ["cannot filter on value"]),
        ({"year": {"gte": "2000"}}, ["'year' (holding numbers)", "give a number"]),
        ({"year": 2**64}, ["past 64-bit integers"]),
    ],
)
def test_bad_operators_are_refused_with_the_valid_ones(dated, filters, fragments):
    with pytest.raises(InvalidArgumentError) as refused:
        dated.search("cats", filters=filters)
    for fragment in fragments:
        assert fragment in str(refused.value)


def test_min_score_drops_hits_below_it_after_ranking(dated):
    hits = dated.search("The cat sleeps on the warm windowsill.", k=8, mode="dense")
    threshold = (hits[2].score + hits[3].score) / 2
    kept = dated.search("The cat sleeps on the warm windowsill.", k=8, mode="dense", min_score=threshold)
    assert kept == hits[:3]
    assert dated.search("cats", k=8, mode="dense", min_score=1.5) == []


@pytest.mark.parametrize("mode", ["lexical", "hybrid"])
def test_min_score_compares_with_the_modes_own_score(dated, mode):
    hits = dated.search("the cat sleeps", k=8, mode=mode)
    # a BM25 score or a fused one, not a cosine; just below the best, as a batch's vectors differ in the last bits
    threshold = hits[0].score - 1e-3
    assert dated.search("the cat sleeps", k=8, mode=mode, min_score=threshold) == [
        h for h in hits if h.score >= threshold
    ]
    batch = dated.search_batch(["the cat sleeps", "stock market"], k=8, mode=mode, min_score=threshold)
    assert [h.id for h in batch[0]] == [h.id for h in hits if h.score >= threshold]


@pytest.mark.parametrize("bad", ["0.5", float("nan"), True])
def test_min_score_must_be_a_number(dated, bad):
    with pytest.raises(InvalidArgumentError, match="minimum score must be a number"):
        dated.search("cats", min_score=bad)


def test_repr_is_one_line_with_name_count_kind_and_model(dated, tiny_model):
    assert repr(dated) == f"Index('dated', 8 documents, kind=flat, model={tiny_model!r})"


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet"])
def test_jsonl_and_parquet_metadata_is_stored_with_its_types(tiny_model, index_dir, animals, tmp_path, suffix):
    import json

    import pandas as pd

    from simsearch import read_corpus

    rows = [{**row, "year": 1990 + i, "price": i + 0.5, "sold": i % 2 == 0} for i, row in enumerate(animals)]
    path = tmp_path / f"typed{suffix}"
    if suffix == ".jsonl":
        path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    else:
        pd.DataFrame(rows).to_parquet(path, index=False)
    index = Index.build("typed", read_corpus(path), encoder=load_encoder(tiny_model), index_dir=index_dir)
    metadata = index.get("a2").metadata
    assert metadata == {"category": "pets", "year": 1991, "price": 1.5, "sold": False}
    assert [type(metadata[key]) for key in ("year", "price", "sold")] == [int, float, bool]
    assert found_ids(index, {"sold": True, "price": {"lt": 4}}) == {"a1", "a3"}
    assert found_ids(index, {"year": {"gte": 1996}}) == {"a7", "a8"}
