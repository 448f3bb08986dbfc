"""`simsearch cluster` and simsearch.neighbours.clustering: topics found through kNN lists, stored as metadata."""

from __future__ import annotations

import json
from collections import Counter
from importlib.resources import files

import numpy as np
import pytest

from simsearch import Index, load_encoder, read_corpus
from simsearch.neighbours.clustering import cluster_labels
from tests.test_cli import assert_one_line_error, run


def purity(clusters, category: dict[str, str]) -> float:
    """Share of clustered documents whose cluster's most common category is their own."""
    clustered = sum(found.size for found in clusters)
    return sum(Counter(category[i] for i in found.ids).most_common(1)[0][1] for found in clusters) / clustered


@pytest.fixture(scope="module")
def demo(default_encoder, demo_home):
    documents = read_corpus(files("simsearch") / "data" / "demo.csv").documents
    index = Index.open("demo", index_dir=demo_home, encoder=default_encoder)
    return index, {doc.id: doc.metadata["category"] for doc in documents}


def test_demo_topics_give_mostly_single_category_clusters(demo):
    index, category = demo
    clusters = index.clusters()
    # all-MiniLM-L6-v2, threshold 0.4: 35 clusters over 191 of 320 texts, purity 0.84 (2026-11-24)
    assert len(clusters) >= 8
    assert sum(found.size for found in clusters) >= 0.5 * len(category)
    assert purity(clusters, category) >= 0.8
    assert [found.size for found in clusters] == sorted((found.size for found in clusters), reverse=True)
    for found in clusters:
        assert found.central_id in found.ids and found.size == len(found.ids) >= 3
        assert found.words and found.label.startswith(f"{found.number}: ")
    assert len({i for found in clusters for i in found.ids}) == sum(found.size for found in clusters)


def test_the_most_central_sentence_is_closest_to_the_cluster_mean(demo):
    index, _ = demo
    found = index.clusters(save=False)[0]
    vectors = index.vectors(found.ids)
    assert found.ids[int(np.argmax(vectors @ vectors.mean(axis=0)))] == found.central_id


def test_stored_clusters_filter_search_offer_a_facet_and_survive_a_rebuild(demo):
    index, _ = demo
    clusters = index.clusters(min_size=8)  # few enough for a filter drop-down (at most 25 values)
    assert 2 <= len(clusters) <= 25
    largest = clusters[0]
    assert index.get(largest.ids[0]).metadata["cluster"] == largest.label
    hits = index.search("anything at all", k=50, filters={"cluster": largest.label}, mode="dense")
    assert {hit.id for hit in hits} == set(largest.ids)
    assert "cluster" in [facet.column for facet in index.facets()]
    rebuilt = index.rebuild()
    assert rebuilt.get(largest.ids[0]).metadata == index.get(largest.ids[0]).metadata
    stored = Counter(doc.metadata.get("cluster") for doc in rebuilt.documents())
    assert stored[None] == len(rebuilt) - sum(found.size for found in clusters)  # the unclustered carry no key


def test_clustering_again_replaces_the_stored_labels(demo, default_encoder):
    index = Index.open("demo", index_dir=demo[0].home, encoder=default_encoder)  # the current build, rebuilt or not
    index.clusters(min_size=3)
    fewer = index.clusters(min_size=10)
    labelled = {doc.id: doc.metadata.get("cluster") for doc in index.documents()}
    assert {label for label in labelled.values() if label} == {found.label for found in fewer}
    assert sum(label is not None for label in labelled.values()) == sum(found.size for found in fewer)
    index.clusters(min_size=3, save=False)
    assert {doc.id: doc.metadata.get("cluster") for doc in index.documents()} == labelled


def test_centres_take_their_neighbours_then_the_rest_join_their_nearest_claimed_neighbour():
    # 0 has neighbours 1, 2, 3; 4's only neighbour is 3 (claimed by 0's cluster), 5's is 6 and 6's is 5
    neighbours = np.array([[1, 2, 3], [0, -1, -1], [0, -1, -1], [0, 4, -1], [3, -1, -1], [6, -1, -1], [5, -1, -1]])
    assert cluster_labels(neighbours, min_size=3).tolist() == [0, 0, 0, 0, 0, -1, -1]
    assert cluster_labels(neighbours, min_size=2).tolist() == [0, 0, 0, 0, 0, 1, 1]


def test_cli_json_lines_and_readable_text(tiny_model, animals, index_dir):
    Index.build("animals", animals, encoder=load_encoder(tiny_model), index_dir=index_dir)
    lines = run(
        "cluster", "animals", "--json", "--threshold", "0.01", "--min-size", "2", index_dir=index_dir
    ).stdout.splitlines()
    found = [json.loads(line) for line in lines]
    assert found and {"number", "label", "words", "central_id", "central_text", "size", "ids"} <= set(found[0])
    text = run("cluster", "animals", "--threshold", "0.01", "--min-size", "2", "--no-save", index_dir=index_dir)
    assert text.stdout.startswith("cluster 1:") and "central: [" in text.stdout and "cluster" in text.stderr


@pytest.mark.parametrize(
    "option, value, fragment",
    [
        ("--threshold", "0", "threshold"),
        ("--threshold", "1.5", "threshold"),
        ("--threshold", "-0.2", "threshold"),
        ("--min-size", "1", "at least 2"),
    ],
)
def test_bad_threshold_or_min_size_is_one_line(option, value, fragment, index_dir):
    assert_one_line_error(run("cluster", "any", option, value, index_dir=index_dir, check=False), fragment)


def test_index_with_one_document_is_refused(tiny_model, index_dir):
    Index.build("single", ["only one"], encoder=load_encoder(tiny_model), index_dir=index_dir)
    assert_one_line_error(run("cluster", "single", index_dir=index_dir, check=False), "at least two")


def test_storing_clusters_moves_the_update_time_so_open_readers_reopen(tiny_model, animals, index_dir):
    from simsearch import describe_index

    Index.build("animals", animals, encoder=load_encoder(tiny_model), index_dir=index_dir)
    reader = Index.open("animals", index_dir=index_dir)  # a UI or server holding the index open
    before = describe_index("animals", index_dir).updated_at
    writer = Index.open("animals", index_dir=index_dir)
    writer.clusters(threshold=0.01, min_size=2)
    assert describe_index("animals", index_dir).updated_at > before
    assert reader.is_stale() and not writer.is_stale()
    reopened = Index.open("animals", index_dir=index_dir)
    assert any("cluster" in doc.metadata for doc in reopened.documents())
    writer.clusters(threshold=0.01, min_size=2, save=False)  # printing only changes nothing on disk
    assert not reopened.is_stale()


@pytest.mark.slow  # spawns processes or a Ray session: left to `make test`, out of `make check`
def test_benchmark_smoke_runs():
    import os
    import subprocess
    import sys

    from tests.conftest import REPO

    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "cluster.py"), "--smoke"],
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert result.returncode == 0, result.stderr
    row = json.loads(result.stdout.splitlines()[-1])
    assert row["documents"] == 2000 and row["clusters"] > 0 and "community_detection_s" in row
