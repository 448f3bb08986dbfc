"""Groups of documents about the same thing, found through the index's own kNN search.

sentence-transformers' ``community_detection`` compares every pair (n² cosines). Here the
cost is that of dedup: each document asks the vector index for its ``k`` nearest neighbours
(n searches, the kNN self-join of simsearch.neighbours.knn), and the clustering works on
those lists alone:

1. centres: the document with the most neighbours at or above ``threshold`` starts a cluster
   and takes its unclaimed neighbours; then the next most connected unclaimed one, and so
   on (community detection's rule, over kNN lists instead of a full similarity matrix);
2. growth: an unclaimed document joins the cluster of its nearest claimed neighbour at or
   above the threshold, repeated until nothing moves, so a cluster can outgrow ``k``;
3. clusters smaller than ``min_size`` are dissolved: their documents stay unclustered.

Connected components at a low threshold were the other candidate; one chain of
borderline pairs joins two topics into one giant component, whereas here a document
joins one cluster through its single best link, and centres are chosen densest first.

A cluster's label is its most central sentence (the member closest to the normalised
mean) and its most telling words: frequent in the cluster, rare in the corpus
(document frequency in the cluster x log(corpus size / document frequency)).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from simsearch.errors import InvalidArgumentError
from simsearch.neighbours.dedup import check_threshold
from simsearch.neighbours.knn import DEFAULT_NEIGHBOURS, documents_to_join, neighbour_lists, stored_vectors

if TYPE_CHECKING:
    from simsearch.store import Store
    from simsearch.vectors import VectorIndex

# all-MiniLM-L6-v2 on the shipped demo.csv (8 topics x 40 sentences): 0.4 gives clusters of
# purity 0.97 covering most documents; 0.3 starts merging topics (tests/test_cluster.py).
DEFAULT_CLUSTER_THRESHOLD = 0.4
DEFAULT_MIN_SIZE = 3
CLUSTER_COLUMN = "cluster"  # the metadata key a stored clustering writes (replacing any user column of that name)
_WORDS_PER_LABEL = 5
_WORD = re.compile(r"[^\W\d_][\w'-]*[^\W_]")
_GROWTH_ROUNDS = 100


@dataclass(frozen=True)
class Cluster:
    """One cluster: ``number`` (1 = largest), ``label`` (its number and top words, as stored in
    metadata), ``words``, the ``central`` document's id and text, ``size`` and member ``ids`` in row order."""

    number: int
    label: str
    words: list[str]
    central_id: str
    central_text: str
    size: int
    ids: list[str]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_min_size(min_size: int) -> int:
    """``min_size`` when it is at least 2; else a one-line error."""
    if min_size < 2:
        raise InvalidArgumentError(
            f"the smallest cluster size must be at least 2 (got {min_size}); the default is {DEFAULT_MIN_SIZE}."
        )
    return int(min_size)


def cluster_documents(
    vectors: VectorIndex,
    store: Store,
    encode: Callable[[list[str]], np.ndarray],
    threshold: float | None = None,
    min_size: int = DEFAULT_MIN_SIZE,
    k: int = DEFAULT_NEIGHBOURS,
) -> tuple[list[Cluster], dict[int, str]]:
    """Clusters, largest first, and each clustered row id's label (what a stored clustering writes)."""
    threshold = check_threshold(DEFAULT_CLUSTER_THRESHOLD if threshold is None else threshold)
    min_size = check_min_size(min_size)
    row_ids = documents_to_join(store, k, "clusters")
    vectors_of = stored_vectors(vectors, store, encode)
    labels = cluster_labels(neighbour_lists(vectors, row_ids, vectors_of, threshold, k), min_size)
    clusters, labelled = _described(labels, row_ids, store, vectors_of)
    return clusters, labelled


def cluster_labels(neighbours: np.ndarray, min_size: int) -> np.ndarray:
    """A cluster number per position (0 = largest cluster, -1 = none) from kNN lists: centres, growth, pruning."""
    size = len(neighbours)
    labels = np.full(size, -1, dtype=np.int64)
    valid = neighbours >= 0
    degree = valid.sum(axis=1)
    count = 0
    for centre in np.argsort(-degree, kind="stable"):
        if degree[centre] + 1 < min_size:
            break  # sorted by degree: no later document can start a big enough cluster
        if labels[centre] >= 0:
            continue
        free = neighbours[centre][valid[centre]]
        free = free[labels[free] < 0]
        if len(free) + 1 < min_size:
            continue
        labels[centre] = labels[free] = count
        count += 1
    for _ in range(_GROWTH_ROUNDS):
        waiting = np.flatnonzero(labels < 0)
        joined = np.where(valid[waiting], labels[np.maximum(neighbours[waiting], 0)], -1)
        has = (joined >= 0).any(axis=1)
        if not has.any():
            break
        first = np.argmax(joined >= 0, axis=1)  # the nearest claimed neighbour
        labels[waiting[has]] = joined[has, first[has]]
    sizes = np.bincount(labels[labels >= 0], minlength=count)
    ranked = np.argsort(-sizes, kind="stable")
    renumber = np.full(count + 1, -1, dtype=np.int64)  # the last slot maps -1 to -1
    kept = ranked[sizes[ranked] >= min_size]
    renumber[kept] = np.arange(len(kept))
    return renumber[labels]


def corpus_words(text: str) -> set[str]:
    """The distinct lower-case words of ``text`` worth a label: letters first and last, no stop words."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return {word for word in _WORD.findall(text.lower()) if len(word) > 2 and word not in ENGLISH_STOP_WORDS}


def _described(
    labels: np.ndarray, row_ids: np.ndarray, store: Store, vectors_of: Callable[[np.ndarray], np.ndarray]
) -> tuple[list[Cluster], dict[int, str]]:
    clustered = labels >= 0
    if not clustered.any():
        return [], {}
    in_cluster: dict[int, int] = dict(zip(row_ids[clustered].tolist(), labels[clustered].tolist()))
    frequency: Counter[str] = Counter()
    cluster_frequency: list[Counter[str]] = [Counter() for _ in range(int(labels.max()) + 1)]
    texts: dict[int, tuple[str, str]] = {}
    documents = 0
    for batch in store.iter_documents():  # one pass over the texts: corpus and cluster word counts
        for doc in batch:
            document_words = corpus_words(doc.text)
            frequency.update(document_words)
            documents += 1
            if (number := in_cluster.get(doc.row_id)) is not None:
                cluster_frequency[number].update(document_words)
                texts[doc.row_id] = (doc.id, doc.text)
    clusters, labelled = [], {}
    for number, counts in enumerate(cluster_frequency):
        members = row_ids[labels == number]
        member_vectors = vectors_of(members)
        centre = member_vectors.mean(axis=0)
        central = int(members[int(np.argmax(member_vectors @ centre))])
        words = [
            word
            for word, _ in sorted(
                counts.items(), key=lambda item: (-item[1] * math.log(documents / frequency[item[0]]), item[0])
            )[:_WORDS_PER_LABEL]
        ]
        label = f"{number + 1}: {' '.join(words[:3])}".strip()
        clusters.append(
            Cluster(number + 1, label, words, *texts[central], len(members), [texts[int(i)][0] for i in members])
        )
        labelled.update(dict.fromkeys(members.tolist(), label))
    return clusters, labelled
