"""A 2-D map of an index: sample its documents, project their vectors to the plane.

PCA (two leading directions of the centred vectors) is exact, deterministic and
fast, but two directions of a 384-dimensional space explain a few percent of its
variance, so clusters blur into noise. t-SNE (scikit-learn, installed with
sentence-transformers) keeps local neighbourhoods and shows clusters, at a few
seconds' cost for 2,000 points; UMAP does the same when ``umap-learn`` is
installed (not a dependency: numba and llvmlite add about 64 MB of wheels).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from simsearch.errors import InvalidArgumentError, MissingDependencyError

if TYPE_CHECKING:
    from simsearch.index.index import Index

log = logging.getLogger(__name__)

ProjectionMethod = Literal["auto", "pca", "tsne", "umap"]


@dataclass(frozen=True)
class MapPoint:
    id: str
    text: str
    x: float
    y: float
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class EmbeddingMap:
    """Projected sample of an index. ``explained`` is PCA's share of variance per axis (None for UMAP)."""

    points: list[MapPoint]
    method: str
    total: int
    explained: tuple[float, float] | None = None

    @property
    def sampled(self) -> bool:
        return len(self.points) < self.total


def umap_available() -> bool:
    try:
        import umap  # noqa: F401
    except ImportError:
        return False
    return True


def tsne_available() -> bool:
    try:
        import sklearn.manifold  # noqa: F401
    except ImportError:
        return False
    return True


def available_methods() -> list[str]:
    """The projections this install can compute, the one that shows clusters best first."""
    return [m for m, ok in (("umap", umap_available()), ("tsne", tsne_available()), ("pca", True)) if ok]


def embedding_map(index: Index, sample: int = 2_000, method: ProjectionMethod = "auto", seed: int = 0) -> EmbeddingMap:
    """Project up to ``sample`` documents of ``index`` (a seeded random sample when larger) to 2-D.

    ``auto`` uses UMAP when installed, else t-SNE, when the sample is big enough for them, else PCA.
    """
    if sample < 2:
        raise InvalidArgumentError(f"the map needs a sample of at least 2 documents (got {sample}).")
    total = len(index)
    if total < 2:
        raise InvalidArgumentError(f"index {index.name!r} has {total} document(s); a map needs at least 2.")
    ordered = index.sample_documents(sample, seed)
    vectors = index.vectors([doc.id for doc in ordered])
    chosen = _choose_method(method, len(ordered))
    if chosen == "umap":
        xy, explained = _umap(vectors, seed), None
    elif chosen == "tsne":
        xy, explained = _tsne(vectors, seed), None
    else:
        xy, explained = _pca(vectors)
    points = [MapPoint(doc.id, doc.text, float(x), float(y), doc.metadata) for doc, (x, y) in zip(ordered, xy)]
    return EmbeddingMap(points, chosen, total, explained)


def _choose_method(method: str, n: int) -> str:
    if method not in ("auto", "pca", "tsne", "umap"):
        raise InvalidArgumentError(f"unknown projection {method!r}; valid: auto, pca, tsne, umap.")
    if method == "umap" and not umap_available():
        raise MissingDependencyError("UMAP is not installed; pip install umap-learn, or use tsne or pca.")
    if method == "tsne" and not tsne_available():
        raise MissingDependencyError("t-SNE needs scikit-learn; pip install scikit-learn, or use pca.")
    if method == "auto":
        return available_methods()[0] if n >= 50 else "pca"
    return "pca" if n < 4 else method  # neighbourhood methods need a few points


def _pca(vectors: np.ndarray) -> tuple[np.ndarray, tuple[float, float]]:
    centred = vectors - vectors.mean(axis=0, keepdims=True)
    _, singular, directions = np.linalg.svd(centred, full_matrices=False)
    variance = singular**2
    share = variance / max(float(variance.sum()), 1e-12)
    xy = centred @ directions[:2].T
    if xy.shape[1] < 2:  # a single direction (two identical texts): put everything on the x axis
        xy = np.hstack([xy, np.zeros((len(xy), 2 - xy.shape[1]), dtype=xy.dtype)])
    shares = (float(share[0]), float(share[1]) if len(share) > 1 else 0.0)
    return xy, shares


def _tsne(vectors: np.ndarray, seed: int) -> np.ndarray:
    from sklearn.manifold import TSNE

    perplexity = float(min(30, max(1, (len(vectors) - 1) // 3)))
    reducer = TSNE(n_components=2, metric="cosine", init="pca", perplexity=perplexity, random_state=seed)
    return reducer.fit_transform(vectors.astype(np.float32))


def _umap(vectors: np.ndarray, seed: int) -> np.ndarray:
    import umap

    reducer = umap.UMAP(n_components=2, metric="cosine", random_state=seed, n_neighbors=min(15, len(vectors) - 1))
    return reducer.fit_transform(vectors)
