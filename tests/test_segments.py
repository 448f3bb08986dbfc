"""Segmented vectors: adds append to a delta, deletes mark ids dead, readers follow by the tail, compaction folds."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest

from simsearch import Index, load_encoder
from simsearch.errors import CorruptIndexError

QUERIES = ["a dog in the park", "share prices", "baking bread", "rain on the trail"]
ROW_BYTES = 32 * 4  # the tiny model's 32 float32s


@pytest.fixture
def encoder(tiny_model):
    return load_encoder(tiny_model)


@pytest.fixture
def built(encoder, index_dir, animals) -> Index:
    return Index.build("animals", animals, encoder=encoder, index_dir=index_dir)


def ranked(index: Index, k: int = 8) -> list[list[tuple[str, float]]]:
    return [[(h.id, round(h.score, 4)) for h in hits] for hits in index.search_batch(QUERIES, k=k, mode="dense")]


def files(index: Index) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in index.folder.iterdir() if p.name.startswith(("vectors-", "delta-"))}


def test_an_add_appends_one_row_to_the_delta_and_rewrites_no_vector_file(built):
    base = files(built)["vectors-1.faiss"]
    built.add([{"id": "n1", "text": "A parrot repeats every word it hears."}])
    built.add([{"id": "n2", "text": "The ferry crosses the bay twice a day."}])
    after = files(built)
    assert after["vectors-1.faiss"] == base and len(after["delta-1.f32"]) == 2 * ROW_BYTES
    assert built.search("A parrot repeats every word it hears.", k=1, mode="dense")[0].id == "n1"
    info = built.info()
    assert (info["base_vectors"], info["delta_vectors"], info["dead_vectors"]) == (8, 2, 0)
    assert info["compacted_at"] is None and built.check()["ok"]


def test_delete_and_upsert_mark_ids_dead_and_change_no_vector_file(built):
    built.add([{"id": "n1", "text": "A parrot repeats every word it hears."}])
    before = files(built)
    built.delete(["a1", "n1"])
    built.add([{"id": "a2", "text": "Upserted: a puppy chases pigeons."}], upsert=True)
    after = files(built)
    assert after["vectors-1.faiss"] == before["vectors-1.faiss"]
    assert len(after["delta-1.f32"]) == 2 * ROW_BYTES  # only the upsert's new vector was appended
    found = [h.id for hits in built.search_batch(QUERIES, k=20, mode="dense") for h in hits]
    assert "a1" not in found and "n1" not in found and found.count("a2") == len(QUERIES)
    assert built.get("a2").text.startswith("Upserted")
    info = built.info()
    assert (info["count"], info["delta_vectors"], info["dead_vectors"]) == (7, 2, 3)  # a1, n1, a2's old vector
    assert built.check()["ok"]


def test_heavily_deleted_and_filtered_searches_still_return_k_live_hits(encoder, index_dir):
    rng = np.random.default_rng(3)
    words = ["river", "stone", "market", "engine", "garden", "violin", "harbour", "comet", "lantern", "meadow"]
    records = [
        {"id": f"d{i}", "text": " ".join(rng.choice(words, 6)), "group": "even" if i % 2 == 0 else "odd"}
        for i in range(300)
    ]
    for kind in ("flat", "hnsw"):
        index = Index.build(f"many-{kind}", records, encoder=encoder, index_dir=index_dir, kind=kind)
        index.delete([f"d{i}" for i in range(0, 240)])  # 80% dead, none compacted away
        index.add([{"id": f"late{i}", "text": " ".join(rng.choice(words, 6)), "group": "even"} for i in range(20)])
        hits = index.search("river stone market", k=25, mode="dense")
        assert len(hits) == 25 and all(int(h.id[1:]) >= 240 for h in hits if h.id.startswith("d"))
        even = index.search("river stone market", k=25, mode="dense", filters={"group": "even"})
        assert len(even) == 25 and {h.metadata["group"] for h in even} == {"even"}
        assert index.check()["ok"]


def test_an_open_reader_catches_up_by_the_tail_and_keeps_its_base(built, encoder, index_dir):
    reader = Index.open("animals", index_dir=index_dir, encoder=encoder)
    reader.search("warm up", k=1)
    base = reader._reader.generation.vectors.base
    built.add([{"id": "n1", "text": "A parrot repeats every word it hears."}])
    built.delete(["a3"])
    hits = reader.search("A parrot repeats every word it hears.", k=8, mode="dense")
    assert hits[0].id == "n1" and "a3" not in {h.id for h in hits}
    segments = reader._reader.generation.vectors
    assert segments.delta.size == 1 and segments.base.count == 7
    assert segments.base._cpu is base._cpu  # the FAISS data was not read again: only the tail


def test_results_match_a_fresh_build_of_the_same_documents(built, encoder, index_dir, animals):
    built.add([{"id": "n1", "text": "A parrot repeats every word it hears."}])
    built.delete(["a4"])
    built.add([{"id": "a5", "text": "Basil, garlic and olive oil make pesto."}], upsert=True)
    expected = [row for row in animals if row["id"] not in ("a4", "a5")] + [
        {"id": "n1", "text": "A parrot repeats every word it hears."},
        {"id": "a5", "text": "Basil, garlic and olive oil make pesto."},
    ]
    fresh = Index.build("fresh", expected, encoder=encoder, index_dir=index_dir)
    assert ranked(built) == ranked(fresh)
    built.compact()
    assert ranked(built) == ranked(fresh)


@pytest.mark.parametrize(
    "kind, params",
    [("flat", None), ("hnsw", None), ("ivf", {"nlist": 2}), ("flat", {"shards": 3}), ("hnsw", {"shards": 2})],
)
def test_compaction_folds_delta_and_dead_into_a_new_base_with_the_same_results(
    encoder, index_dir, animals, kind, params
):
    index = Index.build("zoo", animals, encoder=encoder, index_dir=index_dir, kind=kind, params=params)
    index.add([{"id": f"n{i}", "text": f"A new note number {i} about parrots and ferries."} for i in range(5)])
    index.delete(["a1", "n2"])
    before = ranked(index, k=11)
    figures = index.compact()
    assert figures["compacted"] and figures["generation"] == 2
    assert (figures["folded_in"], figures["dropped"], figures["base_vectors"]) == (4, 2, 11)
    names = sorted(p.name for p in index.folder.iterdir() if p.name.startswith(("vectors-", "delta-", ".")))
    assert all(name.startswith(("vectors-2.", "delta-2.")) for name in names), names
    assert ranked(index, k=11) == before
    info = index.info()
    assert (info["base_vectors"], info["delta_vectors"], info["dead_vectors"]) == (11, 0, 0)
    assert info["compacted_at"] is not None and index.check()["ok"]
    reopened = Index.open("zoo", index_dir=index_dir, encoder=encoder)
    assert ranked(reopened, k=11) == before and len(reopened) == 11


def test_writes_during_a_compaction_are_carried_into_the_new_generation(built, encoder, index_dir):
    from simsearch.index import compaction
    from simsearch.index.generations import load_generation
    from simsearch.index.layout import compaction_lock
    from simsearch.store import Store

    built.add([{"id": "n1", "text": "Folded: the parrot."}, {"id": "n2", "text": "Folded: the ferry."}])
    built.delete(["a1"])
    store = Store(built.folder / "store.sqlite")
    with compaction_lock(built.home, "animals"):  # held by compact(): writers keep its new files meanwhile
        snapshot = load_generation(built.folder, built.manifest, store)
        new_base = compaction._fold(built.folder, snapshot, None)  # the new base is built from the snapshot...
        built.add([{"id": "n3", "text": "Arrived meanwhile: the lighthouse."}])  # ...while writers go on
        built.add([{"id": "n4", "text": "Arrived and left meanwhile."}])
        built.delete(["n4", "a2", "n1"])
        handed = compaction._swap_in(built.home, built.folder, built.manifest, snapshot, new_base)
    store.close()
    reopened = Index.open("animals", index_dir=index_dir, encoder=encoder)
    assert sorted(d.id for d in reopened.documents()) == ["a3", "a4", "a5", "a6", "a7", "a8", "n2", "n3"]
    info = reopened.info()
    assert (info["base_vectors"], info["delta_vectors"], info["dead_vectors"]) == (9, 1, 2)  # n3; a2 and n1 dead
    assert reopened.search("Arrived meanwhile: the lighthouse.", k=1, mode="dense")[0].id == "n3"
    assert reopened.check()["ok"] and built.check()["ok"]
    assert (handed.vectors.figures(), handed.position) == (
        reopened._reader.generation.vectors.figures(),
        reopened._reader.generation.position,
    )
    assert handed.vectors.ids().tolist() == reopened._reader.generation.vectors.ids().tolist()


def test_compaction_is_due_past_five_percent_new_or_ten_percent_dead(encoder, index_dir, monkeypatch):
    from simsearch.index import compaction

    monkeypatch.setattr(compaction, "MIN_ROWS", 1)  # the shares at a size a test builds in a second
    records = [{"id": f"d{i}", "text": f"document number {i} of the corpus"} for i in range(100)]
    index = Index.build("due", records, encoder=encoder, index_dir=index_dir)
    index.add([{"id": f"n{i}", "text": f"new text {i}"} for i in range(5)])
    assert not index.compaction_due()  # 5 of 100: not past 5%
    index.add([{"id": "n5", "text": "one more"}])
    assert index.compaction_due()
    index.compact()
    assert not index.compaction_due()
    index.delete([f"d{i}" for i in range(10)])
    assert not index.compaction_due()  # 10 of 106
    index.delete(["d10"])
    assert index.compaction_due()


def _as_schema_3(folder) -> None:
    """The on-disk shape written before segments: store at schema 3 (no delta or dead tables), rollback journal."""
    db = sqlite3.connect(folder / "store.sqlite", isolation_level=None)
    db.execute("PRAGMA journal_mode = DELETE")
    db.executescript(
        "DROP TABLE delta; DROP TABLE dead; DELETE FROM meta WHERE key IN ('delta_rows', 'trained_count');"
        "PRAGMA user_version = 3;"
    )
    db.close()


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_an_index_written_before_segments_opens_unchanged_and_takes_writes(encoder, index_dir, animals, kind):
    index = Index.build("old", animals, encoder=encoder, index_dir=index_dir, kind=kind)
    index.delete(["a8"])  # hnsw: old code kept this as a tombstone side file; here a dead id folded by compaction
    index.compact()
    before = ranked(index, k=7)
    folder = index.folder
    index.close()
    _as_schema_3(folder)
    old = Index.open("old", index_dir=index_dir, encoder=encoder)
    assert old._store.schema_version == 4 and ranked(old, k=7) == before
    info = old.info()
    assert (info["base_vectors"], info["delta_vectors"], info["dead_vectors"]) == (7, 0, 0)
    old.add([{"id": "n1", "text": "A parrot repeats every word it hears."}])
    assert old.search("A parrot repeats every word it hears.", k=1, mode="dense")[0].id == "n1"
    assert old.check()["ok"]


def test_a_delta_cut_short_is_one_clear_error_naming_the_fix(built, index_dir):
    built.add([{"id": "n1", "text": "one"}, {"id": "n2", "text": "two"}])
    path = built.folder / "delta-1.f32"
    path.write_bytes(path.read_bytes()[: ROW_BYTES + 5])
    with pytest.raises(
        CorruptIndexError, match="delta file delta-1.f32 of index 'animals' holds 1 rows but 2 were committed.*rebuild"
    ) as error:
        Index.open("animals", index_dir=index_dir)
    assert "\n" not in str(error.value)


def test_garbage_past_the_committed_delta_is_ignored_and_cut_by_the_next_write(built, encoder, index_dir):
    built.add([{"id": "n1", "text": "one"}])
    before = ranked(built)
    path = built.folder / "delta-1.f32"
    with open(path, "ab") as handle:
        handle.write(b"\xff" * 1000)
    reopened = Index.open("animals", index_dir=index_dir, encoder=encoder)
    assert ranked(reopened) == before and reopened.check()["ok"]
    reopened.add([{"id": "n2", "text": "two"}])
    assert path.stat().st_size == 2 * ROW_BYTES
    assert reopened.search("two", k=1, mode="dense")[0].id == "n2" and reopened.check()["ok"]


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_segmented_search_equals_brute_force_over_the_live_vectors(kind):
    from simsearch.index.segments import Delta, SegmentedVectors
    from simsearch.vectors import create_vector_index

    rng = np.random.default_rng(7)
    vectors = rng.standard_normal((700, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = np.arange(1000, 1700, dtype=np.int64)  # offset from positions, so a mix-up fails
    base = create_vector_index(kind, 16, 500, {"ef_search": 600} if kind == "hnsw" else None)
    base.build(vectors[:500], ids[:500])
    delta_order = rng.permutation(np.arange(500, 700))  # delta ids out of order, as windows of long texts are
    segments = SegmentedVectors(base, Delta.empty(16), 0)
    for part in np.array_split(delta_order, 4):  # caught up by the tail, a few rows at a time
        segments = segments.extended(vectors[part], ids[part], np.zeros(0, dtype=np.int64))
    dead = np.concatenate([rng.choice(ids[:500], 120, replace=False), rng.choice(ids[500:], 40, replace=False)])
    segments = segments.extended(np.zeros((0, 16), np.float32), np.zeros(0, np.int64), dead)
    live = ~np.isin(ids, dead)
    queries = rng.standard_normal((5, 16)).astype(np.float32)
    allowed = rng.choice(ids, 300, replace=False)
    for allowed_ids in (None, allowed):
        usable = live if allowed_ids is None else live & np.isin(ids, allowed_ids)
        expected = ids[usable][np.argsort(-(queries @ vectors[usable].T), axis=1)[:, :10]]
        scores, found = segments.search(queries, 10, allowed_ids)
        assert found.tolist() == expected.tolist()
        assert np.all(np.diff(scores, axis=1) <= 1e-6)
    assert segments.count == int(live.sum()) and segments.ids().tolist() == sorted(ids[live].tolist())
    picked = ids[live][::37]
    assert np.allclose(segments.reconstruct(picked), vectors[np.searchsorted(ids, picked)])


@pytest.mark.slow
def test_the_default_model_finds_an_added_faq_entry_and_stops_finding_a_deleted_one(default_encoder, index_dir):
    faq = [
        {"id": "pay", "text": "How do I update my payment card?"},
        {"id": "ship", "text": "When will my order be shipped?"},
        {"id": "pass", "text": "I forgot my password, how can I reset it?"},
    ]
    index = Index.build("faq", faq, encoder=default_encoder, index_dir=index_dir)
    index.add([{"id": "return", "text": "How can I send an item back for a refund?"}])
    assert index.search("I want to return a product and get my money back", k=1, mode="dense")[0].id == "return"
    index.delete(["pass"])
    assert "pass" not in {h.id for h in index.search("reset my login password", k=3, mode="dense")}
    assert index.check()["ok"] and index.check()["sample_min_cosine"] > 0.99
