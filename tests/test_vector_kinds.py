"""Every FAISS backend against an exact brute-force reference, plus remove, save/load, copy and kind choice.

The vectors are clustered (as sentence embeddings are): on uniform random vectors in 64
dimensions every point is about as far from every other, and approximate indexes look broken.
"""

from __future__ import annotations

import numpy as np
import pytest

from simsearch.errors import InvalidArgumentError
from simsearch.vectors import (
    CLASSES,
    EXACT_SEARCH_LIMIT,
    KINDS,
    choose_kind,
    create_vector_index,
    load_vector_index,
    shard_path,
)
from simsearch.vectors.base import VectorIndex

DIMENSION = 64
N_VECTORS = 4000
N_CENTRES = 40
N_QUERIES = 100
K = 10
ID_OFFSET = 1000  # caller ids differ from positions, so a backend returning positions fails
ALL_KINDS = ("flat", "hnsw", "ivf", "ivfpq", "ivfsq")
IVF_KINDS = ("ivf", "ivfpq", "ivfsq")
MIN_RECALL = {"flat": 1.0, "hnsw": 0.9, "ivf": 0.9, "ivfpq": 0.5, "ivfsq": 0.9}


def normalised(vectors: np.ndarray) -> np.ndarray:
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def clustered_unit_vectors(rng: np.random.Generator, centres: np.ndarray, n: int, noise: float) -> np.ndarray:
    labels = rng.integers(len(centres), size=n)
    return normalised(centres[labels] + noise * rng.standard_normal((n, centres.shape[1])))


def exact_top_k(vectors: np.ndarray, ids: np.ndarray, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Brute-force inner-product reference: (scores, ids), best first."""
    scores = queries @ vectors.T
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(scores, order, axis=1), ids[order]


def recall_at_k(found: np.ndarray, expected: np.ndarray) -> float:
    hits = sum(len(set(f) & set(e)) for f, e in zip(found.tolist(), expected.tolist(), strict=True))
    return hits / expected.size


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(vectors, ids, queries): unit vectors round 40 centres, ids from ID_OFFSET, held-out queries."""
    rng = np.random.default_rng(0)
    centres = normalised(rng.standard_normal((N_CENTRES, DIMENSION)))
    vectors = clustered_unit_vectors(rng, centres, N_VECTORS, noise=0.06)
    queries = clustered_unit_vectors(rng, centres, N_QUERIES, noise=0.06)
    ids = np.arange(ID_OFFSET, ID_OFFSET + N_VECTORS, dtype=np.int64)
    return vectors, ids, queries


def build(kind: str, vectors: np.ndarray, ids: np.ndarray) -> VectorIndex:
    index = create_vector_index(kind, DIMENSION, len(vectors))
    index.build(vectors, ids)
    return index


@pytest.fixture(scope="module")
def built(data) -> dict[str, VectorIndex]:
    """One index per kind over the whole data set, built once: IVF-PQ training takes seconds.

    Tests that change an index work on ``fresh_copy`` so these stay as built.
    """
    vectors, ids, _ = data
    return {kind: build(kind, vectors, ids) for kind in ALL_KINDS}


def fresh_copy(built: dict[str, VectorIndex], kind: str) -> VectorIndex:
    return built[kind].copy()


@pytest.fixture(scope="module")
def sized():
    """An empty index of a kind sized for ``n`` vectors (test_sharded.py's splits it into shards)."""
    return lambda kind, n, params=None: create_vector_index(kind, DIMENSION, n, params)


def compacted_through_files(index: VectorIndex, path, vectors, ids, retrain_from=None) -> VectorIndex:
    """What compaction does: each part saved as the generation's file (or shard file), then the whole loaded."""
    params = index.params
    for number, part in enumerate(index.compacted_parts(vectors, ids, retrain_from)):
        part.save(shard_path(path, number))
        params = {**params, **part.params}
    return load_vector_index(path, index.kind, params)


# --- search quality ----------------------------------------------------------------------


def test_flat_search_matches_brute_force_ids_and_scores(built, data):
    vectors, ids, queries = data
    scores, found = built["flat"].search(queries, K)
    expected_scores, expected_ids = exact_top_k(vectors, ids, queries, K)
    np.testing.assert_array_equal(found, expected_ids)
    np.testing.assert_allclose(scores, expected_scores, atol=1e-5)


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_recall_at_10_against_brute_force_reaches_kind_threshold(built, data, kind):
    vectors, ids, queries = data
    _, found = built[kind].search(queries, K)
    _, expected = exact_top_k(vectors, ids, queries, K)
    assert recall_at_k(found, expected) >= MIN_RECALL[kind]


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_search_returns_caller_ids_and_scores_best_first(built, data, kind):
    vectors, ids, queries = data
    scores, found = built[kind].search(queries, K)
    assert found.shape == scores.shape == (N_QUERIES, K)
    assert found.dtype == np.int64
    assert np.isin(found, ids).all()
    assert (np.diff(scores, axis=1) <= 1e-6).all()


@pytest.mark.parametrize("kind", ("flat", "hnsw", "ivf"))
def test_scores_are_inner_products_of_unit_vectors(built, data, kind):
    vectors, ids, queries = data
    scores, found = built[kind].search(queries, K)
    exact = np.einsum("qd,qkd->qk", queries, vectors[found - ID_OFFSET])
    np.testing.assert_allclose(scores, exact, atol=1e-5)


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_count_is_number_of_vectors_built(built, kind):
    assert built[kind].count == N_VECTORS


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_add_after_build_makes_new_ids_findable(built, data, kind):
    vectors, _, _ = data
    index = fresh_copy(built, kind)
    new_vectors = vectors[:50] * -1  # far from every built vector, so each is its own best hit
    new_ids = np.arange(10**9, 10**9 + 50, dtype=np.int64)
    index.add(new_vectors, new_ids)
    assert index.count == N_VECTORS + 50
    _, found = index.search(new_vectors, 1)
    assert (found[:, 0] == new_ids).mean() >= 0.9


# --- remove ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_removed_ids_are_never_returned_and_count_drops(built, data, kind):
    vectors, ids, _ = data
    index = fresh_copy(built, kind)
    removed = ids[::4]
    index.remove(removed)
    assert index.count == N_VECTORS - len(removed)
    # searching for the removed vectors themselves is the hardest case: each was its own best hit
    _, found = index.search(vectors[::4], K)
    assert not np.isin(found, removed).any()
    assert (found[:, 0] >= 0).all()


def test_hnsw_remove_hides_ids_without_remove_ids(built, data):
    vectors, ids, queries = data
    index = fresh_copy(built, "hnsw")
    _, before = index.search(queries, K)
    best = before[:, 0]
    index.remove(best)
    _, after = index.search(queries, K)
    assert not np.isin(after, best).any()
    # the graph itself is untouched: the ids are hidden by a tombstone filter, not deleted
    assert index.count == N_VECTORS - len(np.unique(best))


def test_flat_remove_then_search_matches_brute_force_over_remaining(built, data):
    vectors, ids, queries = data
    index = fresh_copy(built, "flat")
    keep = np.ones(N_VECTORS, dtype=bool)
    keep[::3] = False
    index.remove(ids[~keep])
    _, found = index.search(queries, K)
    _, expected = exact_top_k(vectors[keep], ids[keep], queries, K)
    np.testing.assert_array_equal(found, expected)


# --- save / load -------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_save_then_load_gives_identical_results(built, data, tmp_path, kind):
    _, _, queries = data
    index = built[kind]
    path = tmp_path / f"{kind}.faiss"
    index.save(path)
    loaded = load_vector_index(path, kind, index.params)
    assert loaded.count == index.count
    assert loaded.params == index.params
    scores, found = index.search(queries, K)
    loaded_scores, loaded_found = loaded.search(queries, K)
    np.testing.assert_array_equal(loaded_found, found)
    np.testing.assert_allclose(loaded_scores, scores, atol=1e-6)


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_save_then_load_after_removes_keeps_removed_ids_hidden(built, data, tmp_path, kind):
    vectors, ids, queries = data
    index = fresh_copy(built, kind)
    removed = ids[1::5]
    index.remove(removed)
    path = tmp_path / f"{kind}.faiss"
    index.save(path)
    loaded = load_vector_index(path, kind, index.params)
    assert loaded.count == N_VECTORS - len(removed)
    scores, found = index.search(queries, K)
    loaded_scores, loaded_found = loaded.search(queries, K)
    np.testing.assert_array_equal(loaded_found, found)
    np.testing.assert_allclose(loaded_scores, scores, atol=1e-6)
    _, found_removed = loaded.search(vectors[1::5], K)
    assert not np.isin(found_removed, removed).any()


def test_save_writes_through_a_temporary_file_and_leaves_none_behind(built, tmp_path):
    path = tmp_path / "flat.faiss"
    built["flat"].save(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["flat.faiss"]


def test_load_with_unknown_kind_is_refused(tmp_path):
    with pytest.raises(InvalidArgumentError, match="unknown index kind 'annoy'"):
        load_vector_index(tmp_path / "x.faiss", "annoy", {})


# --- copy --------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_copy_is_independent_of_the_original(built, data, kind):
    vectors, ids, queries = data
    original = fresh_copy(built, kind)
    scores, found = original.search(queries, K)

    copy = original.copy()
    copy.remove(found[:, 0])
    copy.add(-vectors[:10], np.arange(10**9, 10**9 + 10, dtype=np.int64))

    assert original.count == N_VECTORS
    after_scores, after_found = original.search(queries, K)
    np.testing.assert_array_equal(after_found, found)
    np.testing.assert_allclose(after_scores, scores, atol=1e-6)
    assert copy.count == N_VECTORS - len(np.unique(found[:, 0])) + 10
    _, copy_found = copy.search(queries, K)
    assert not np.isin(copy_found, found[:, 0]).any()


def test_copy_of_hnsw_with_tombstones_keeps_them_and_does_not_share_them(built, data):
    vectors, ids, _ = data
    original = fresh_copy(built, "hnsw")
    original.remove(ids[:10])
    copy = original.copy()
    assert copy.count == original.count == N_VECTORS - 10
    copy.remove(ids[10:20])
    assert original.count == N_VECTORS - 10
    _, found = original.search(vectors[10:20], 1)
    np.testing.assert_array_equal(found[:, 0], ids[10:20])
    _, found = copy.search(vectors[:20], K)
    assert not np.isin(found, ids[:20]).any()


# --- kind choice and refusals ------------------------------------------------------------


def test_auto_picks_flat_up_to_exact_search_limit_and_hnsw_above():
    assert choose_kind("auto", 10) == "flat"
    assert choose_kind("auto", EXACT_SEARCH_LIMIT) == "flat"
    assert choose_kind("auto", EXACT_SEARCH_LIMIT + 1) == "hnsw"


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_named_kind_is_kept_whatever_the_size(kind):
    assert choose_kind(kind, 5) == kind
    assert choose_kind(kind, 10 * EXACT_SEARCH_LIMIT) == kind


def test_create_with_auto_gives_the_chosen_backend():
    assert create_vector_index("auto", DIMENSION, 100).kind == "flat"
    assert create_vector_index("auto", DIMENSION, EXACT_SEARCH_LIMIT + 1).kind == "hnsw"


def test_unknown_kind_is_refused_listing_valid_kinds():
    with pytest.raises(InvalidArgumentError, match="unknown index kind 'annoy'") as info:
        create_vector_index("annoy", DIMENSION, 100)
    assert all(kind in str(info.value) for kind in KINDS)


def test_ivfpq_with_too_few_documents_is_refused():
    with pytest.raises(InvalidArgumentError, match="ivfpq needs at least 256 documents"):
        create_vector_index("ivfpq", DIMENSION, 100)


def test_ivf_with_more_cells_than_documents_is_refused():
    with pytest.raises(InvalidArgumentError, match="nlist=50"):
        create_vector_index("ivf", DIMENSION, 20, {"nlist": 50})


def test_ivfpq_with_subquantizers_not_dividing_dimension_is_refused():
    with pytest.raises(InvalidArgumentError, match="must divide the dimension"):
        create_vector_index("ivfpq", DIMENSION, N_VECTORS, {"m": 7})


def test_params_override_defaults_and_are_reported():
    index = create_vector_index("hnsw", DIMENSION, 100, {"ef_search": 128})
    assert index.params == {"m": 32, "ef_construction": 80, "ef_search": 128}


def test_hnsw_searches_wider_as_the_corpus_grows():
    breadth = [create_vector_index("hnsw", DIMENSION, n).params["ef_search"] for n in (10_000, 300_000, 1_000_000)]
    assert breadth == [64, 128, 256]


def test_ivf_probes_at_least_32_lists():
    assert create_vector_index("ivf", DIMENSION, 10_000).params == {"nlist": 256, "nprobe": 32}
    assert create_vector_index("ivf", DIMENSION, 100_000).params == {"nlist": 1264, "nprobe": 79}


def test_selective_filter_on_hnsw_returns_the_exact_best_matches():
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(5000, DIMENSION)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = np.arange(5000, dtype=np.int64)
    index = create_vector_index("hnsw", DIMENSION, len(vectors), {"ef_search": 8})
    index.build(vectors, ids)
    allowed = ids[::250]  # 20 documents scattered over the graph
    queries = vectors[:5] + 0.05
    scores, found = index.search(queries, 10, allowed)
    brute = queries @ vectors[allowed].T
    expected = allowed[np.argsort(-brute, axis=1)[:, :10]]
    assert (found == expected).all()
    assert np.allclose(scores, np.sort(brute, axis=1)[:, ::-1][:, :10], atol=1e-5)


def test_filter_matching_fewer_than_k_pads_with_minus_one():
    vectors = np.eye(DIMENSION, dtype=np.float32)[:8]
    index = create_vector_index("flat", DIMENSION, 8)
    index.build(vectors, np.arange(10, 18, dtype=np.int64))
    _, found = index.search(vectors[:1], 5, np.array([11, 12], dtype=np.int64))
    assert sorted(found[0][:2]) == [11, 12] and list(found[0][2:]) == [-1, -1, -1]


# --- filtered search on IVF kinds (FAISS IDSelector inside the probed lists) ----------------


@pytest.mark.parametrize("kind", IVF_KINDS)
def test_filtered_ivf_search_returns_only_allowed_ids_close_to_brute_force(built, data, kind):
    vectors, ids, queries = data
    keep = np.zeros(N_VECTORS, dtype=bool)
    keep[::3] = True  # a third of every cluster: the probed lists still hold plenty of matches
    scores, found = built[kind].search(queries, K, ids[keep])
    assert np.isin(found, ids[keep]).all()
    _, expected = exact_top_k(vectors[keep], ids[keep], queries, K)
    assert recall_at_k(found, expected) >= MIN_RECALL[kind]
    assert (np.diff(scores, axis=1) <= 1e-6).all()


def test_filtered_ivf_search_with_every_list_probed_is_exact(data):
    vectors, ids, queries = data
    index = build("ivf", vectors, ids)
    index.set_search_params(nprobe=index.params["nlist"])
    allowed = ids[7::40]  # 100 documents scattered over every cluster
    scores, found = index.search(queries, K, allowed)
    expected_scores, expected = exact_top_k(vectors[7::40], allowed, queries, K)
    np.testing.assert_array_equal(found, expected)
    np.testing.assert_allclose(scores, expected_scores, atol=1e-5)


@pytest.mark.parametrize("kind", IVF_KINDS)
def test_filtered_ivf_search_skips_removed_ids(built, data, kind):
    vectors, ids, queries = data
    index = fresh_copy(built, kind)
    allowed = ids[::2]
    index.remove(allowed[::2])
    _, found = index.search(queries, K, allowed)
    assert np.isin(found[found >= 0], allowed[1::2]).all()


# --- search knobs ------------------------------------------------------------------------


def test_raising_nprobe_to_every_list_makes_ivf_exact(built, data):
    vectors, ids, queries = data
    index = fresh_copy(built, "ivf")
    index.set_search_params(nprobe=index.params["nlist"])
    _, found = index.search(queries, K)
    np.testing.assert_array_equal(found, exact_top_k(vectors, ids, queries, K)[1])


def test_search_params_are_reported_and_kept_by_copy(built):
    index = fresh_copy(built, "hnsw")
    index.set_search_params(ef_search=200)
    assert index.params["ef_search"] == 200
    assert index.copy().params == index.params


@pytest.mark.parametrize(
    "kind, params, message",
    [
        ("flat", {"nprobe": 4}, "kind flat has no search setting 'nprobe'; valid: none"),
        ("hnsw", {"nprobe": 4}, "valid: ef_search"),
        ("ivfsq", {"ef_search": 4}, "valid: nprobe"),
        ("ivf", {"nprobe": 0}, "positive integer"),
    ],
)
def test_unknown_or_bad_search_params_are_refused(built, kind, params, message):
    with pytest.raises(InvalidArgumentError, match=message):
        fresh_copy(built, kind).set_search_params(**params)


def test_kinds_are_the_index_kind_literal_and_each_has_a_backend():
    assert KINDS == ("auto", *CLASSES)


# --- compaction -----------------------------------------------------------------------------

# The vectors an index is built (and trained) from before it grows past twice that.
FIRST = 1500
# Re-training decodes the stored codes: exact for ivf, to the 8-bit step for ivfsq, the PQ approximation for
# ivfpq, which re-quantising cannot undo. Recall@10 measured here (seed 0), kept / re-trained / built from the
# exact vectors: ivfsq 0.975 / 0.970 / 0.984; ivfpq 0.526 / 0.521 / 0.606, in four shards 0.467 / 0.464 / 0.547.
MIN_RECALL_RETRAINED = {**MIN_RECALL, "ivfpq": 0.42}


@pytest.mark.parametrize("kind", IVF_KINDS)
def test_a_retrained_ivf_index_sizes_its_cells_for_the_new_count_and_keeps_its_recall(sized, data, tmp_path, kind):
    vectors, ids, queries = data
    index = sized(kind, FIRST)
    index.build(vectors[:FIRST], ids[:FIRST])
    index.add(vectors[FIRST:2500], ids[FIRST:2500])  # added into the cells learnt from the first 1,500
    view = index.without(ids[:100])  # dead since: dropped by the compaction
    kept = compacted_through_files(view, tmp_path / "kept.faiss", vectors[2500:], ids[2500:])
    fresh = compacted_through_files(view, tmp_path / "fresh.faiss", vectors[2500:], ids[2500:], retrain_from=FIRST)
    assert kept.params == index.params and kept.count == fresh.count == N_VECTORS - 100
    assert fresh.params == sized(kind, N_VECTORS - 100).params != index.params  # as a build of 3,900 would choose
    assert fresh.ids().tolist() == ids[100:].tolist()
    expected = exact_top_k(vectors[100:], ids[100:], queries, K)[1]
    recall, recall_kept = (recall_at_k(each.search(queries, K)[1], expected) for each in (fresh, kept))
    assert recall >= MIN_RECALL_RETRAINED[kind] and recall >= recall_kept - 0.02, (recall, recall_kept)


def test_retraining_keeps_the_settings_the_caller_chose(sized, data, tmp_path):
    vectors, ids, _ = data
    index = sized("ivf", FIRST, {"nlist": 16})
    index.build(vectors[:FIRST], ids[:FIRST])
    fresh = compacted_through_files(index, tmp_path / "fresh.faiss", vectors[FIRST:], ids[FIRST:], retrain_from=FIRST)
    assert (fresh.params["nlist"], fresh.params["nprobe"]) == (16, 16) and fresh.count == N_VECTORS


def test_a_single_query_searches_on_one_openmp_thread_and_batches_keep_the_team():
    import threading

    import faiss

    from simsearch.vectors.threads import threads_for

    own = faiss.omp_get_max_threads()
    inside, other_ready, other_seen = threading.Event(), threading.Event(), []

    def other_thread():
        faiss.omp_set_num_threads(3)  # its own count, which the searching thread must not change
        other_ready.set()
        inside.wait(10)
        other_seen.append(faiss.omp_get_max_threads())

    other = threading.Thread(target=other_thread)
    other.start()
    other_ready.wait(10)
    faiss.omp_set_num_threads(2)
    try:
        with threads_for(1):
            assert faiss.omp_get_max_threads() == 1
            inside.set()
            other.join()
        assert other_seen == [3]
        assert faiss.omp_get_max_threads() == 2
        with threads_for(8):
            assert faiss.omp_get_max_threads() == 2
    finally:
        faiss.omp_set_num_threads(own)
