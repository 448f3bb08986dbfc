"""The sharded index (params {"shards": N}) meets the same contract as every kind, and works as a whole Index.

The vector-index contract is test_vector_kinds.py's own tests, imported here and run against
indexes split into four shards: pytest resolves their ``built`` fixture from this module.
"""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from simsearch import Index
from simsearch.errors import InvalidArgumentError
from simsearch.vectors import create_vector_index, load_vector_index
from simsearch.vectors.base import VectorIndex
from simsearch.vectors.sharded import ShardedIndex
from tests import test_vector_kinds as contract
from tests.test_vector_kinds import (  # noqa: F401 - the contract, collected again for sharded indexes
    test_a_retrained_ivf_index_sizes_its_cells_for_the_new_count_and_keeps_its_recall,
    test_add_after_build_makes_new_ids_findable,
    test_copy_is_independent_of_the_original,
    test_copy_of_hnsw_with_tombstones_keeps_them_and_does_not_share_them,
    test_count_is_number_of_vectors_built,
    test_filtered_ivf_search_returns_only_allowed_ids_close_to_brute_force,
    test_filtered_ivf_search_skips_removed_ids,
    test_flat_remove_then_search_matches_brute_force_over_remaining,
    test_flat_search_matches_brute_force_ids_and_scores,
    test_hnsw_remove_hides_ids_without_remove_ids,
    test_raising_nprobe_to_every_list_makes_ivf_exact,
    test_recall_at_10_against_brute_force_reaches_kind_threshold,
    test_removed_ids_are_never_returned_and_count_drops,
    test_retraining_keeps_the_settings_the_caller_chose,
    test_save_then_load_after_removes_keeps_removed_ids_hidden,
    test_save_then_load_gives_identical_results,
    test_scores_are_inner_products_of_unit_vectors,
    test_search_params_are_reported_and_kept_by_copy,
    test_search_returns_caller_ids_and_scores_best_first,
    test_unknown_or_bad_search_params_are_refused,
)

SHARDS = 4
ALL_KINDS, DIMENSION, K, N_VECTORS = contract.ALL_KINDS, contract.DIMENSION, contract.K, contract.N_VECTORS
exact_top_k = contract.exact_top_k
data = contract.data  # the same clustered vectors and held-out queries


@pytest.fixture(scope="module")
def built(data) -> dict[str, VectorIndex]:
    """Every kind split into four shards, built once (the contract tests copy before changing one)."""
    vectors, ids, _ = data
    indexes = {}
    for kind in ALL_KINDS:
        indexes[kind] = create_vector_index(kind, DIMENSION, len(vectors), {"shards": SHARDS})
        indexes[kind].build(vectors, ids)
    return indexes


@pytest.fixture(scope="module")
def sized():
    """An empty index of a kind sized for ``n`` vectors, in four shards (for the contract's compaction tests)."""
    return lambda kind, n, params=None: create_vector_index(kind, DIMENSION, n, {**(params or {}), "shards": SHARDS})


def test_every_kind_is_split_evenly_by_id_and_reports_its_shards(built):
    for kind, index in built.items():
        assert isinstance(index, ShardedIndex) and index.kind == kind
        assert index.params["shards"] == SHARDS
        assert [shard.count for shard in index._shards] == [N_VECTORS // SHARDS] * SHARDS


def test_save_writes_one_file_per_shard_and_loads_them_back(built, data, tmp_path):
    _, _, queries = data
    built["flat"].save(tmp_path / "vectors-1.faiss")
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "vectors-1.faiss",
        "vectors-1.shard-1.faiss",
        "vectors-1.shard-2.faiss",
        "vectors-1.shard-3.faiss",
    ]
    loaded = load_vector_index(tmp_path / "vectors-1.faiss", "flat", built["flat"].params)
    np.testing.assert_array_equal(loaded.search(queries, K)[1], built["flat"].search(queries, K)[1])


def test_filter_spanning_shards_is_exact_on_flat(built, data):
    vectors, ids, queries = data
    allowed = ids[::7]
    _, found = built["flat"].search(queries, K, allowed)
    expected = exact_top_k(vectors[::7], allowed, queries, K)[1]
    np.testing.assert_array_equal(found, expected)


def test_filter_matching_one_shard_or_none_pads_with_minus_one(built, data):
    _, ids, queries = data
    _, found = built["flat"].search(queries[:3], K, ids[:2])  # two ids, in two different shards
    assert set(found[:, :2].ravel()) == set(ids[:2]) and (found[:, 2:] == -1).all()
    _, found = built["flat"].search(queries[:3], K, np.array([], dtype=np.int64))
    assert (found == -1).all()


@pytest.mark.parametrize(
    "shards, message",
    [
        (0, "shards must be a whole number from 1 to 1024"),
        (True, "shards must be a whole number"),
        (5000, "from 1 to 1024"),
    ],
)
def test_bad_shard_counts_are_refused(shards, message):
    with pytest.raises(InvalidArgumentError, match=message):
        create_vector_index("flat", DIMENSION, 100, {"shards": shards})


def test_more_shards_than_documents_is_refused():
    with pytest.raises(InvalidArgumentError, match="shards=8 needs at least 8 documents"):
        create_vector_index("flat", DIMENSION, 5, {"shards": 8})


# --- a whole Index, sharded -----------------------------------------------------------------


def test_sharded_index_gives_the_unsharded_results_through_add_delete_filters_and_reopen(
    tiny_model, index_dir, animals
):
    from simsearch import load_encoder

    encoder = load_encoder(tiny_model)
    records = animals * 1 + [{"id": f"x{i}", "text": f"filler sentence {i}", "category": "other"} for i in range(40)]
    plain = Index.build("plain", records, encoder=encoder, kind="flat", index_dir=index_dir)
    sharded = Index.build("sharded", records, encoder=encoder, kind="flat", params={"shards": 3}, index_dir=index_dir)
    for index in (plain, sharded):
        index.add([{"id": "new", "text": "A kitten naps in the sun.", "category": "pets"}])
        index.delete(["a2", "x3"])
    queries = ["a sleeping cat", "money and markets", "hiking up a mountain"]
    reopened = Index.open("sharded", index_dir=index_dir, encoder=encoder)
    for filters in (None, {"category": "pets"}):
        expected = [[hit.id for hit in hits] for hits in plain.search_batch(queries, 5, filters)]
        assert [[hit.id for hit in hits] for hits in reopened.search_batch(queries, 5, filters)] == expected
    assert reopened.manifest.params == {"shards": 3} and len(reopened) == len(plain) == 47
    assert reopened.check()["ok"]


def test_cli_build_with_shards_records_them(tiny_model, index_dir, tmp_path):
    from simsearch.cli import app

    source = tmp_path / "texts.txt"
    source.write_text("\n".join(f"sentence {i} about {'cats' if i % 2 else 'rain'}" for i in range(30)) + "\n")
    result = CliRunner().invoke(
        app,
        [
            "build",
            "s",
            "--input",
            str(source),
            "--model",
            tiny_model,
            "--kind",
            "hnsw",
            "--shards",
            "2",
            "--index-dir",
            str(index_dir),
            "--quiet",
        ],
    )
    assert result.exit_code == 0, result.output
    assert Index.open("s", index_dir=index_dir).manifest.params["shards"] == 2
    bad = CliRunner().invoke(
        app,
        ["build", "t", "--input", str(source), "--model", tiny_model, "--shards", "0", "--index-dir", str(index_dir)],
    )
    assert bad.exit_code == 1 and "shards must be a whole number from 1 to 1024" in bad.output
    assert not (index_dir / "t").exists()
