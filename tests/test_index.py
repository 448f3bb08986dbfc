"""The Python API on a tiny random BERT: build, open, search, add, delete, rebuild, refusals."""

from __future__ import annotations

import json
import sqlite3
from concurrent.futures import ThreadPoolExecutor

import pytest

from simsearch import Document, Index, describe_index, drop_index, list_indexes, load_encoder
from simsearch.errors import (
    CorruptIndexError,
    FormatVersionError,
    IndexExistsError,
    IndexNotFoundError,
    InputError,
    InvalidArgumentError,
    ModelMismatchError,
    StaleWriterError,
)


@pytest.fixture
def tiny_encoder(tiny_model):
    return load_encoder(tiny_model)


@pytest.fixture
def built(tiny_encoder, index_dir, animals) -> Index:
    return Index.build("animals", animals, encoder=tiny_encoder, index_dir=index_dir)


def test_search_returns_own_text_first_with_descending_cosine(built, animals):
    for row in animals:
        hits = built.search(row["text"], k=5, mode="dense")
        assert hits[0].id == row["id"]
        assert hits[0].score == pytest.approx(1.0, abs=1e-4)
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
        assert hits[0].metadata == {"category": row["category"]}


def test_reopened_index_gives_identical_results(built, tiny_encoder, index_dir):
    before = built.search("a dog in the park", k=8)
    after = Index.open("animals", index_dir=index_dir, encoder=tiny_encoder).search("a dog in the park", k=8)
    assert [(h.id, round(h.score, 5)) for h in before] == [(h.id, round(h.score, 5)) for h in after]


def test_search_batch_matches_single_searches(built):
    queries = ["rain on the trail", "baking bread", "share prices"]
    batch = built.search_batch(queries, k=3)
    assert [[h.id for h in hits] for hits in batch] == [[h.id for h in built.search(q, k=3)] for q in queries]


def test_query_reports_stage_timings_that_add_up_and_the_hits_of_search_batch(built):
    queries = ["rain on the trail", "baking bread", "share prices"]
    result = built.query(queries, k=3)
    assert result.hits == built.search_batch(queries, k=3)
    timings = result.timings
    stages = timings.encode_ms + timings.candidates_ms + timings.fetch_ms
    assert min(timings.encode_ms, timings.candidates_ms, timings.fetch_ms) >= 0
    assert stages <= timings.total_ms <= stages + 5  # validation is the only untimed stage


def test_a_bare_string_is_not_a_list_of_queries(built):
    with pytest.raises(InvalidArgumentError, match="list of strings"):
        built.query("cats")


def test_build_reports_progress_through_one_callback(tiny_encoder, index_dir, animals):
    calls = []
    Index.build(
        "progress",
        animals,
        encoder=tiny_encoder,
        index_dir=index_dir,
        on_progress=lambda done, total: calls.append((done, total)),
    )
    assert calls and calls[-1] == (8, 8)


def test_describe_index_reads_the_manifest_without_opening(built, index_dir):
    manifest = describe_index("animals", index_dir)
    assert (manifest.name, manifest.count, manifest.kind) == ("animals", 8, "flat")
    assert manifest.build_id == built.manifest.build_id


def test_on_disk_layout_has_manifest_faiss_and_sqlite(built, index_dir):
    folder = index_dir / "animals"
    names = sorted(p.name for p in folder.iterdir() if not p.name.endswith(("-wal", "-shm")))  # SQLite's WAL, open
    assert names == ["manifest.json", "store.sqlite", "vectors-1.faiss"]
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["kind"] == "flat" and manifest["count"] == 8
    assert manifest["model"]["dimension"] == 32 and manifest["model"]["pooling"] == "mean"
    assert len(manifest["model"]["fingerprint"]) == 16


def test_add_and_delete_keep_ids_stable(built, tiny_encoder, index_dir):
    built.add([{"id": "b1", "text": "Parrots can learn to repeat words."}, "An unnamed text gets a number."])
    assert len(built) == 10
    assert built.search("An unnamed text gets a number.", k=1)[0].id == "10"
    assert built.delete(["a3", "a1"]) == 2
    reopened = Index.open("animals", index_dir=index_dir)
    assert len(reopened) == 8
    assert reopened.search("Parrots can learn to repeat words.", k=1)[0].id == "b1"
    found = {h.id for h in reopened.search("The stock market fell sharply on Monday.", k=10)}
    assert "a3" not in found and "a1" not in found
    reopened.add(["Another numbered text."])
    assert reopened.search("Another numbered text.", k=1)[0].id == "11"  # ids of deleted rows are never reused


def test_add_with_existing_id_is_refused_and_changes_nothing(built):
    with pytest.raises(InputError, match="a2"):
        built.add([{"id": "a2", "text": "A second text under a taken id."}])
    assert len(built) == 8 and built.info()["count"] == 8


def test_delete_unknown_id_deletes_nothing(built):
    with pytest.raises(InputError, match="zzz"):
        built.delete(["a1", "zzz"])
    assert len(built) == 8


def test_hnsw_index_supports_delete_by_tombstone(tiny_encoder, index_dir, animals):
    index = Index.build("graph", animals, encoder=tiny_encoder, kind="hnsw", index_dir=index_dir)
    index.delete(["a2"])
    reopened = Index.open("graph", index_dir=index_dir)
    assert len(reopened) == 7
    assert "a2" not in {h.id for h in reopened.search("A dog fetches the ball in the park.", k=8)}


def test_rebuild_keeps_ids_and_results_and_can_change_kind(built, index_dir):
    built.delete(["a8"])
    expected = [[h.id for h in hits] for hits in built.search_batch(["cats", "money", "cooking"], k=4)]
    new = built.rebuild(kind="hnsw")
    assert new.manifest.kind == "hnsw" and len(new) == 7
    assert [[h.id for h in hits] for hits in new.search_batch(["cats", "money", "cooking"], k=4)] == expected
    assert [[h.id for h in hits] for hits in built.search_batch(["cats", "money", "cooking"], k=4)] == expected
    new.add(["after rebuild"])
    assert new.search("after rebuild", k=1)[0].id == "9"  # row 8 (a8) was deleted: its id is not reused
    assert len(list((index_dir / ".builds").iterdir())) == 1


def test_old_handle_refuses_writes_after_rebuild(built):
    built.rebuild()
    with pytest.raises(StaleWriterError, match="open it again"):
        built.add(["too late"])


def test_threads_search_concurrently_with_same_results(built):
    queries = ["cats", "dogs", "money", "rates", "sauce", "bread", "summit", "rain"] * 6
    expected = [[h.id for h in built.search(q, k=3)] for q in queries]
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda q: [h.id for h in built.search(q, k=3)], queries))
    assert results == expected


def test_list_and_drop(built, index_dir):
    assert list_indexes(index_dir) == ["animals"]
    drop_index("animals", index_dir)
    assert list_indexes(index_dir) == []
    assert not any((index_dir / ".builds").iterdir())


def test_existing_name_refused_unless_overwrite(built, tiny_encoder, index_dir):
    with pytest.raises(IndexExistsError, match="rebuild"):
        Index.build("animals", ["x"], encoder=tiny_encoder, index_dir=index_dir)
    replaced = Index.build("animals", ["only one"], encoder=tiny_encoder, index_dir=index_dir, overwrite=True)
    assert len(replaced) == 1


@pytest.mark.parametrize("name", ["../evil", "a/b", "..", "", ".hidden", "sp ace", "x" * 65])
def test_unsafe_index_names_are_refused(tiny_encoder, index_dir, name):
    with pytest.raises(InvalidArgumentError, match="invalid index name"):
        Index.build(name, ["text"], encoder=tiny_encoder, index_dir=index_dir)
    assert not index_dir.exists() or not any(index_dir.glob("**/manifest.json"))


def test_unknown_index_lists_known_ones(built, index_dir):
    with pytest.raises(IndexNotFoundError, match="known: animals"):
        Index.open("nope", index_dir=index_dir)


@pytest.mark.parametrize("query", ["", "   ", "\n"])
def test_empty_query_is_refused(built, query):
    with pytest.raises(InvalidArgumentError, match="empty"):
        built.search(query)


@pytest.mark.parametrize("k", [0, -3])
def test_k_below_one_is_refused(built, k):
    with pytest.raises(InvalidArgumentError, match="k must be"):
        built.search("cats", k=k)


def test_truncated_vector_file_is_reported(built, index_dir):
    path = index_dir / "animals" / "vectors-1.faiss"
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(CorruptIndexError, match="damaged"):
        Index.open("animals", index_dir=index_dir)


def test_garbage_store_file_is_reported(built, index_dir):
    (index_dir / "animals" / "store.sqlite").write_bytes(b"not a database at all" * 100)
    with pytest.raises(CorruptIndexError, match="damaged"):
        Index.open("animals", index_dir=index_dir)


def test_truncated_store_file_is_reported(tiny_encoder, index_dir):
    Index.build(
        "big", [f"sentence number {i} about things" for i in range(3000)], encoder=tiny_encoder, index_dir=index_dir
    )
    path = index_dir / "big" / "store.sqlite"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 3])
    with pytest.raises(CorruptIndexError):
        Index.open("big", index_dir=index_dir).search("things", k=3)


def test_vectors_and_texts_out_of_step_are_reported(built, index_dir):
    db = sqlite3.connect(index_dir / "animals" / "store.sqlite")
    db.execute("DELETE FROM documents WHERE ext_id = 'a1'")
    db.commit()
    db.close()
    with pytest.raises(CorruptIndexError, match="8 vectors but 7 texts"):
        Index.open("animals", index_dir=index_dir)


def test_manifest_from_newer_format_is_refused(built, index_dir):
    path = index_dir / "animals" / "manifest.json"
    data = json.loads(path.read_text())
    data["format_version"] = 99
    path.write_text(json.dumps(data))
    with pytest.raises(FormatVersionError, match="upgrade simsearch"):
        Index.open("animals", index_dir=index_dir)


def test_broken_manifest_is_reported(built, index_dir):
    (index_dir / "animals" / "manifest.json").write_text("{not json")
    with pytest.raises(CorruptIndexError, match="not valid JSON"):
        Index.open("animals", index_dir=index_dir)


def test_same_weights_from_another_folder_are_accepted(built, tiny_checkpoint, index_dir):
    same_weights = load_encoder(tiny_checkpoint)  # plain checkpoint, mean pooling
    index = Index.open("animals", index_dir=index_dir, encoder=same_weights)
    assert index.search("cats", k=1)


def test_other_model_is_refused(built, default_encoder, index_dir):
    with pytest.raises(ModelMismatchError, match="dimension 384"):
        Index.open("animals", index_dir=index_dir, encoder=default_encoder)


def test_plain_checkpoint_pooling_choice_changes_vectors(tiny_checkpoint, index_dir):
    mean = load_encoder(tiny_checkpoint, "mean").encode(["one two three"])
    cls = load_encoder(tiny_checkpoint, "cls").encode(["one two three"])
    assert load_encoder(tiny_checkpoint, "cls").info.pooling == "cls"
    assert float(mean[0] @ cls[0]) < 0.999
    with pytest.raises(InvalidArgumentError, match="valid: mean, cls, max"):
        load_encoder(tiny_checkpoint, "avg")


def test_documents_and_plain_strings_are_accepted(tiny_encoder, index_dir):
    index = Index.build(
        "mixed",
        [Document("first text", "x1", {"lang": "en"}), "second text"],
        encoder=tiny_encoder,
        index_dir=index_dir,
    )
    hits = {h.id: h for h in index.search("first text", k=2)}
    assert hits["x1"].metadata == {"lang": "en"} and "2" in hits


def test_index_dir_defaults_to_simsearch_home(tiny_encoder, tmp_path, monkeypatch):
    monkeypatch.setenv("SIMSEARCH_HOME", str(tmp_path / "home"))
    Index.build("envhome", ["hello"], encoder=tiny_encoder)
    assert (tmp_path / "home" / "envhome" / "manifest.json").exists()
