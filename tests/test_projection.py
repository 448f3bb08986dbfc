"""The 2-D embedding map: sampling, PCA, metadata carried to every point."""

from __future__ import annotations

import numpy as np
import pytest

from simsearch import Index, load_encoder
from simsearch.errors import InvalidArgumentError
from simsearch.tools.projection import embedding_map


@pytest.fixture
def zoo(tiny_model, index_dir, animals) -> Index:
    return Index.build("zoo", animals, encoder=load_encoder(tiny_model), index_dir=index_dir)


def test_map_has_one_point_per_document_with_metadata(zoo, animals):
    projected = embedding_map(zoo, method="pca")
    assert projected.method == "pca" and not projected.sampled and projected.total == 8
    assert {p.id for p in projected.points} == {row["id"] for row in animals}
    assert all(p.metadata["category"] for p in projected.points)
    assert projected.explained[0] >= projected.explained[1] > 0


def test_pca_axes_are_the_leading_variance_directions(zoo):
    projected = embedding_map(zoo, method="pca")
    xy = np.array([[p.x, p.y] for p in projected.points])
    vectors = zoo.vectors([p.id for p in projected.points])
    centred = vectors - vectors.mean(axis=0)
    total = (centred**2).sum()
    assert (xy**2).sum(axis=0)[0] / total == pytest.approx(projected.explained[0], rel=1e-3)


def test_large_index_is_sampled_reproducibly(zoo):
    first, second = embedding_map(zoo, sample=3, method="pca"), embedding_map(zoo, sample=3, method="pca")
    assert first.sampled and len(first.points) == 3
    assert [p.id for p in first.points] == [p.id for p in second.points]


def test_ivf_index_map_falls_back_to_encoding(tiny_model, index_dir, animals):
    index = Index.build("zi", animals, encoder=load_encoder(tiny_model), index_dir=index_dir, kind="ivf")
    assert len(embedding_map(index, method="pca").points) == 8


def test_unknown_method_is_refused(zoo):
    with pytest.raises(InvalidArgumentError, match="valid: auto, pca, tsne, umap"):
        embedding_map(zoo, method="mds")


def test_tsne_keeps_clusters_together_where_pca_blurs_them():
    from simsearch.tools.projection import _pca, _tsne

    rng = np.random.default_rng(0)
    centres = rng.standard_normal((8, 128)).astype(np.float32)
    labels = np.repeat(np.arange(8), 30)
    vectors = centres[labels] + rng.normal(0, 0.35, (len(labels), 128)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)

    def neighbour_purity(xy: np.ndarray) -> float:
        distances = np.linalg.norm(xy[:, None] - xy[None], axis=2)
        np.fill_diagonal(distances, np.inf)
        return float(np.mean(labels[distances.argmin(axis=1)] == labels))

    assert neighbour_purity(_tsne(vectors, 0)) > 0.95
    assert neighbour_purity(_tsne(vectors, 0)) > neighbour_purity(_pca(vectors)[0])


def test_auto_prefers_a_clustering_projection_when_the_sample_is_big_enough(tiny_model, tmp_path):
    index = Index.build(
        "many", [f"text number {n}" for n in range(60)], encoder=load_encoder(tiny_model), index_dir=tmp_path
    )
    assert embedding_map(index, method="auto").method in ("umap", "tsne")
