"""The SQLite store on a real file: row ids as vector ids, fetch, delete, id reservation, refusals,
metadata filters and facets, sampling, and schema migrations from stores written before versions existed."""

from __future__ import annotations

import json
import os
import sqlite3

import numpy as np
import pytest

from simsearch.errors import CorruptIndexError, FormatVersionError, InputError, InvalidArgumentError
from simsearch.ingest.corpus import Document
from simsearch.store import SCHEMA_VERSION, Facet, Store, StoredDocument


@pytest.fixture
def store(tmp_path):
    store = Store(tmp_path / "store.sqlite")
    yield store
    store.close()


def insert(store: Store, documents: list[Document], first_row_id: int | None = None) -> list[int]:
    """Insert in one transaction, as the index does."""
    store.begin()
    row_ids = store.insert(documents, first_row_id)
    store.commit()
    return row_ids


def delete(store: Store, row_ids: list[int]) -> None:
    store.begin()
    store.delete(row_ids)
    store.commit()


def test_insert_returns_row_ids_counting_from_one(store):
    row_ids = insert(store, [Document("first", "a"), Document("second", "b"), Document("third", "c")])
    assert row_ids == [1, 2, 3]
    assert store.count() == 3


def test_documents_without_id_get_their_row_id_as_id(store):
    row_ids = insert(store, [Document("named", "n1"), Document("unnamed"), Document("also unnamed")])
    fetched = store.fetch(row_ids)
    assert [fetched[r].id for r in row_ids] == ["n1", "2", "3"]
    assert store.row_ids_for(["2", "3"]) == {"2": 2, "3": 3}


def test_fetch_returns_text_and_metadata_by_row_id(store):
    metadata = {"category": "pets", "year": 2021, "tags": ["a", "b"], "score": 0.5, "missing": None}
    [row_id] = insert(store, [Document("The cat sleeps.", "c1", metadata)])
    assert store.fetch([row_id]) == {
        row_id: StoredDocument(row_id=row_id, id="c1", text="The cat sleeps.", metadata=metadata)
    }


def test_fetch_leaves_out_unknown_and_negative_row_ids(store):
    insert(store, [Document("only one", "x")])
    assert list(store.fetch([1, 99, -1])) == [1]
    assert store.fetch([]) == {}


def test_lookups_of_more_ids_than_one_statement_binds_find_them_all(store):
    row_ids = insert(store, [Document(f"text {i}") for i in range(1200)])
    fetched = store.fetch(row_ids)
    assert len(fetched) == 1200
    assert fetched[1200].text == "text 1199"
    ids = [str(row_id) for row_id in row_ids]
    assert store.row_ids_for(ids) == dict(zip(ids, row_ids))
    assert len(store.texts_of(row_ids)) == len(store.texts_and_metadata(ids)) == 1200
    assert store.texts_and_metadata(ids)["1200"].text == store.texts_of(row_ids)[1200] == "text 1199"
    assert store.vector_ids_of(row_ids).tolist() == row_ids


def test_delete_removes_rows_and_leaves_the_others(store):
    insert(store, [Document("one", "a"), Document("two", "b"), Document("three", "c")])
    delete(store, [1, 3])
    assert store.count() == 1
    assert list(store.fetch([1, 2, 3])) == [2]
    assert store.row_ids_for(["a", "b", "c"]) == {"b": 2}


def test_deleted_row_id_is_never_reused(store):
    insert(store, [Document("one"), Document("two"), Document("three")])
    delete(store, [3])
    assert insert(store, [Document("four")]) == [4]
    assert store.fetch([4])[4].id == "4"
    assert store.next_row_id() == 5


def test_deleted_row_id_is_not_reused_after_reopening(tmp_path):
    path = tmp_path / "store.sqlite"
    first = Store(path)
    insert(first, [Document("one"), Document("two")])
    delete(first, [2])
    first.close()
    reopened = Store(path)
    try:
        assert insert(reopened, [Document("three")]) == [3]
    finally:
        reopened.close()


def test_reserve_row_ids_below_makes_the_next_id_start_there(store):
    insert(store, [Document("one"), Document("two")])
    store.begin()
    store.reserve_row_ids_below(100)
    store.commit()
    assert store.next_row_id() == 100
    assert insert(store, [Document("after the gap")]) == [100]


def test_reserve_row_ids_below_works_on_an_empty_store(store):
    store.begin()
    store.reserve_row_ids_below(50)
    store.commit()
    assert insert(store, [Document("first")]) == [50]


def test_insert_with_first_row_id_keeps_given_ids(store):
    assert insert(store, [Document("a"), Document("b")], first_row_id=10) == [10, 11]
    assert store.fetch([10, 11])[11].id == "11"
    assert store.next_row_id() == 12


def test_insert_rows_copies_ids_unchanged(tmp_path, store):
    insert(store, [Document("one", "a", {"k": 1}), Document("two"), Document("three", "c")])
    delete(store, [2])
    copy = Store(tmp_path / "copy.sqlite")
    try:
        copy.begin()
        for batch in store.iter_documents():
            copy.insert_rows(batch)
        copy.commit()
        assert copy.fetch([1, 3]) == store.fetch([1, 3])
    finally:
        copy.close()


def test_duplicate_user_id_is_refused_naming_the_id(store):
    insert(store, [Document("first", "dup")])
    store.begin()
    with pytest.raises(InputError, match="'dup' is already in the index"):
        store.insert([Document("second", "dup")])
    store.rollback()
    assert store.count() == 1
    assert store.fetch([1])[1].text == "first"


def test_rollback_discards_the_whole_transaction(store):
    insert(store, [Document("kept", "k")])
    store.begin()
    store.insert([Document("dropped 1", "d1"), Document("dropped 2", "d2")])
    store.rollback()
    assert store.count() == 1
    assert store.row_ids_for(["k", "d1", "d2"]) == {"k": 1}


def test_automatic_numbering_skips_a_number_taken_as_an_explicit_id(store):
    insert(store, [Document("named two", "2")])
    assert insert(store, [Document("numbered")]) == [3]  # row 2 would be numbered "2": skipped
    assert insert(store, [Document("numbered again")]) == [4]  # and every later add goes on numbering
    assert store.row_ids_for(["2", "3", "4"]) == {"2": 1, "3": 3, "4": 4}


def test_automatic_numbering_skips_a_number_named_later_in_the_same_batch(store):
    assert insert(store, [Document("numbered"), Document("named one", "1"), Document("numbered too")]) == [2, 3, 4]
    assert [store.fetch([r])[r].id for r in (2, 3, 4)] == ["2", "1", "4"]  # "1" was kept for the named text


def test_iter_documents_batches_cover_all_rows_in_row_id_order(store):
    insert(store, [Document(f"text {i}", f"id{i}") for i in range(10)])
    delete(store, [4])
    batches = list(store.iter_documents(batch_size=3))
    assert [len(batch) for batch in batches] == [3, 3, 3]
    row_ids = [doc.row_id for batch in batches for doc in batch]
    assert row_ids == [1, 2, 3, 5, 6, 7, 8, 9, 10]
    assert [doc.id for doc in batches[0]] == ["id0", "id1", "id2"]


def test_iter_documents_of_an_empty_store_yields_nothing(store):
    assert list(store.iter_documents()) == []


def test_meta_values_round_trip_and_default_when_absent(store):
    assert store.meta("generation") is None
    assert store.meta("generation", "0") == "0"
    store.set_meta("generation", "3")
    store.set_meta("generation", "4")
    assert store.meta("generation") == "4"


def test_data_survives_closing_and_reopening(tmp_path):
    path = tmp_path / "store.sqlite"
    first = Store(path)
    insert(first, [Document("persisted", "p", {"x": 1})])
    first.set_meta("generation", "1")
    first.close()
    reopened = Store(path)
    try:
        assert reopened.fetch([1])[1] == StoredDocument(1, "p", "persisted", {"x": 1})
        assert reopened.meta("generation") == "1"
    finally:
        reopened.close()


def test_file_that_is_not_sqlite_is_refused_as_corrupt(tmp_path):
    path = tmp_path / "store.sqlite"
    path.write_bytes(os.urandom(8192))
    with pytest.raises(CorruptIndexError, match="store.sqlite is damaged"):
        Store(path)


def test_sqlite_file_with_a_foreign_documents_table_is_refused_as_corrupt_on_open(tmp_path):
    path = tmp_path / "store.sqlite"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE documents (something_else TEXT)")
    db.commit()
    db.close()
    with pytest.raises(CorruptIndexError, match="damaged"):  # migration 2 reads its text column to fill FTS5
        Store(path)
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == 0  # the migration rolled back
    db.close()


# --- metadata filters --------------------------------------------------------------------


@pytest.fixture
def shelf(store) -> Store:
    """Six documents whose ``flag`` is true, false, 1, 0, JSON null or absent."""
    insert(
        store,
        [
            Document("true", "t", {"flag": True, "kind": "a"}),
            Document("false", "f", {"flag": False, "kind": "a"}),
            Document("one", "one", {"flag": 1, "kind": "b"}),
            Document("zero", "zero", {"flag": 0, "kind": "b"}),
            Document("null", "n", {"flag": None, "kind": "c"}),
            Document("absent", "x", {"kind": "c"}),
        ],
    )
    return store


def matching_ids(store: Store, filters) -> list[str]:
    """The user ids matching ``filters``, in row-id order (no document here is chunked: vector id = row id)."""
    vector_ids = store.matching_vector_ids(filters)
    assert vector_ids.dtype == np.int64
    documents = store.fetch(vector_ids.tolist())
    return [documents[r].id for r in vector_ids.tolist()]


def test_filter_value_none_matches_json_null_and_absent_column(shelf):
    assert matching_ids(shelf, {"flag": None}) == ["n", "x"]


def test_filter_booleans_match_json_booleans_and_not_the_numbers_one_and_zero(shelf):
    assert matching_ids(shelf, {"flag": True}) == ["t"]
    assert matching_ids(shelf, {"flag": False}) == ["f"]


def test_filter_numbers_do_not_match_json_booleans(shelf):
    assert matching_ids(shelf, {"flag": 1}) == ["one"]
    assert matching_ids(shelf, {"flag": [0, 1]}) == ["one", "zero"]


def test_filter_list_may_mix_none_with_values(shelf):
    assert matching_ids(shelf, {"flag": [None, True, 0]}) == ["t", "zero", "n", "x"]


def test_filter_columns_must_all_match(shelf):
    assert matching_ids(shelf, {"kind": ["a", "c"], "flag": [False, None]}) == ["f", "n", "x"]


def test_no_filter_conditions_match_every_document(shelf):
    assert len(shelf.matching_vector_ids({})) == 6


def test_filter_on_a_column_no_document_has_is_refused_by_name(shelf):
    with pytest.raises(InvalidArgumentError, match="'colour'"):
        shelf.matching_vector_ids({"colour": None})


@pytest.mark.parametrize(
    "filters, message",
    [
        ({"kind": []}, "lists no values"),
        ({'ki"nd': "a"}, "plain column name"),
        ({"kind": [{"nested": 1}]}, "strings, numbers, booleans or None"),
        ({"kind": {"nested": 1}}, "unknown filter operator 'nested' on 'kind'; valid: eq, ne, gt, gte, lt, lte"),
    ],
)
def test_malformed_filters_are_refused(shelf, filters, message):
    with pytest.raises(InvalidArgumentError, match=message):
        shelf.matching_vector_ids(filters)


# --- facets and sampling -----------------------------------------------------------------


def test_facets_list_scalar_columns_with_few_values_most_frequent_first(store):
    insert(
        store,
        [
            Document(
                f"text {i}",
                metadata={
                    "colour": "red" if i < 3 else "blue",
                    "done": i % 2 == 0,
                    "note": f"free {i}",
                    "same": 1,
                    "tags": ["x"],
                },
            )
            for i in range(8)
        ],
    )
    facets = {facet.column: facet for facet in store.facets(max_values=5)}
    assert set(facets) == {"colour", "done"}  # note: 8 values; same: one value; tags: not a scalar
    assert facets["colour"] == Facet("colour", ["blue", "red"], [5, 3])
    assert facets["done"] == Facet("done", [False, True], [4, 4])


def test_sample_documents_is_seeded_in_row_id_order_and_all_when_small(store):
    insert(store, [Document(f"text {i}") for i in range(20)])
    delete(store, [5])

    def sampled(size: int, seed: int = 0) -> list[int]:
        return [document.row_id for document in store.sample_documents(size, seed)]

    every = sampled(50)
    assert every == [i for i in range(1, 21) if i != 5]
    sample = sampled(6, seed=3)
    assert len(sample) == 6 and sample == sorted(sample)
    assert set(sample) <= set(every)
    assert sampled(6, seed=3) == sample
    assert sampled(6, seed=4) != sample


# --- schema versions ---------------------------------------------------------------------


def write_store_as_first_release(path) -> None:
    """Exactly what simsearch wrote before schema versions: these tables, rows, user_version 0."""
    db = sqlite3.connect(path, isolation_level=None)
    db.executescript("""
        CREATE TABLE IF NOT EXISTS documents (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            ext_id TEXT NOT NULL UNIQUE,
            text TEXT NOT NULL,
            metadata TEXT NOT NULL DEFAULT '{}'
        );
        CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    """)
    rows = [(1, "a", "first text", {"lang": "en"}), (2, "b", "second text", {}), (3, "3", "third", {"n": 2})]
    db.executemany(
        "INSERT INTO documents (id, ext_id, text, metadata) VALUES (?, ?, ?, ?)",
        [(i, e, t, json.dumps(m)) for i, e, t, m in rows],
    )
    db.execute("DELETE FROM documents WHERE id = 2")
    db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('generation', '4')")
    db.close()


def test_store_from_before_schema_versions_is_migrated_and_reads_unchanged(tmp_path):
    path = tmp_path / "store.sqlite"
    write_store_as_first_release(path)
    store = Store(path)
    try:
        assert store.schema_version == SCHEMA_VERSION >= 1
        assert store.fetch([1, 2, 3]) == {
            1: StoredDocument(1, "a", "first text", {"lang": "en"}),
            3: StoredDocument(3, "3", "third", {"n": 2}),
        }
        assert store.meta("generation") == "4"
        assert store.next_row_id() == 4  # the deleted id 2 and the sequence survive
        assert insert(store, [Document("fourth")]) == [4]
    finally:
        store.close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    db.close()


def test_new_store_starts_at_the_current_schema_version(store):
    assert store.schema_version == SCHEMA_VERSION


def test_opening_a_current_store_writes_nothing(tmp_path):
    path = tmp_path / "store.sqlite"
    Store(path).close()
    before = (path.stat().st_mtime_ns, path.read_bytes())
    store = Store(path)
    store.fetch([1])
    store.close()
    assert (path.stat().st_mtime_ns, path.read_bytes()) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["store.sqlite"]


def test_store_from_a_newer_simsearch_is_refused_naming_the_fix(tmp_path):
    path = tmp_path / "store.sqlite"
    Store(path).close()
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(FormatVersionError, match="upgrade simsearch") as info:
        Store(path)
    assert "\n" not in str(info.value)


def test_a_failing_migration_leaves_the_store_as_it_was(tmp_path, monkeypatch):
    from simsearch.store import schema

    path = tmp_path / "store.sqlite"
    write_store_as_first_release(path)
    broken = (*schema._MIGRATIONS, ("CREATE TABLE extra (x TEXT)", "THIS IS NOT SQL"))
    monkeypatch.setattr(schema, "_MIGRATIONS", broken)
    monkeypatch.setattr(schema, "SCHEMA_VERSION", len(broken))
    with pytest.raises(CorruptIndexError):
        Store(path)
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == 0  # migration 1 rolled back with the rest
    assert not db.execute("SELECT 1 FROM sqlite_master WHERE name = 'extra'").fetchall()
    assert db.execute("SELECT count(*) FROM documents").fetchone()[0] == 2
    db.close()


# --- metadata that JSON cannot hold ------------------------------------------------------


def poison(store: Store, row_id: int, metadata_text: str) -> None:
    """Write a metadata text as an older simsearch did (``Infinity``, ``NaN``), behind the store's back."""
    with sqlite3.connect(store.path) as db:
        db.execute("UPDATE documents SET metadata = ? WHERE id = ?", (metadata_text, row_id))


@pytest.mark.parametrize("value", [float("inf"), float("-inf"), float("nan"), [1, {"deep": float("inf")}]])
def test_store_refuses_to_write_a_non_finite_metadata_number(store, value):
    store.begin()
    with pytest.raises(InputError, match="'v1'.*infinite or NaN"):
        store.insert([Document("text", "v1", {"v": value})])
    store.rollback()
    assert store.count() == 0


def test_a_filtered_search_over_a_row_written_with_infinity_names_that_row_not_a_rebuild(shelf):
    poison(shelf, 3, '{"flag": Infinity, "kind": "b"}')
    with pytest.raises(CorruptIndexError) as refused:
        shelf.matching_vector_ids({"kind": "a"})
    message = str(refused.value)
    assert "document 'one' (row 3)" in message and "delete" in message and "rebuild" not in message


def test_fetching_a_row_written_with_nan_names_that_row(shelf):
    poison(shelf, 2, '{"flag": NaN}')
    with pytest.raises(CorruptIndexError, match=r"document 'f' \(row 2\): not valid JSON"):
        shelf.fetch([2])
    assert shelf.fetch([1])[1].metadata == {"flag": True, "kind": "a"}  # the other rows read as before


def test_bad_metadata_rows_lists_every_unusable_row(shelf):
    assert shelf.bad_metadata_rows() == []
    poison(shelf, 1, '{"v": Infinity}')
    poison(shelf, 4, '{"v": 1e999}')
    poison(shelf, 5, "[1, 2]")
    assert [(row_id, id) for row_id, id, _ in shelf.bad_metadata_rows()] == [(1, "t"), (4, "zero"), (5, "n")]


# --- filters the store cannot answer ------------------------------------------------------


@pytest.mark.parametrize("filters", [{"flag": 2**63}, {"flag": {"gte": -(2**63) - 1}}, {"flag": [1, 10**30]}])
def test_filter_value_past_64_bit_integers_is_refused(shelf, filters):
    with pytest.raises(InvalidArgumentError, match="past 64-bit integers"):
        shelf.matching_vector_ids(filters)


def test_filter_value_at_the_64_bit_limit_is_answered(shelf):
    assert matching_ids(shelf, {"flag": {"lt": 2**63 - 1}}) == ["one", "zero"]


@pytest.mark.parametrize("filters", [{"flag": float("inf")}, {"flag": {"lt": float("nan")}}])
def test_non_finite_filter_value_is_refused(shelf, filters):
    with pytest.raises(InvalidArgumentError, match="not a finite number"):
        shelf.matching_vector_ids(filters)


def test_text_bound_on_a_column_of_numbers_is_refused_naming_its_type(store):
    insert(store, [Document(f"text {year}", metadata={"year": year}) for year in (1999, 2000, 2001)])
    with pytest.raises(InvalidArgumentError, match=r"'year' \(holding numbers\) with gte '2000'; give a number"):
        store.matching_vector_ids({"year": {"gte": "2000"}})
    assert len(store.matching_vector_ids({"year": {"gte": 2000}})) == 2


def test_number_bound_on_a_column_of_text_is_refused_naming_its_type(shelf):
    with pytest.raises(InvalidArgumentError, match=r"'kind' \(holding text\) with lt 5; give text"):
        shelf.matching_vector_ids({"kind": {"lt": 5}})
