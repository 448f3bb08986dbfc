"""Near-duplicate groups found through the index itself: k nearest neighbours of every document.

Comparing every pair (sentence-transformers' ``paraphrase_mining``) costs n² similarities;
here the pairs come from the kNN self-join (simsearch.neighbours.knn), n searches, and
pairs at or above the threshold are joined into connected components. Documents with the
very same text are always grouped, whatever the kind found, because the store groups them
by text.

A group's ``score`` is the lowest cosine between any two of its members: in a chain
a ~ b ~ c it can fall below the threshold, which tells the reader the group is loose.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from simsearch.atomic import replacing
from simsearch.errors import InvalidArgumentError
from simsearch.neighbours.knn import DEFAULT_NEIGHBOURS, documents_to_join, neighbour_pairs, stored_vectors

if TYPE_CHECKING:
    from simsearch.store import Store, StoredDocument
    from simsearch.vectors import VectorIndex

# all-MiniLM-L6-v2 on STS-B train pairs (>= 4.5 duplicate, else not): the highest threshold that still
# finds 80% of the duplicates (recall 0.825, precision 0.32 against STS-B's hard same-topic negatives,
# 0.78 against pairs scored < 3; best F1 would be 0.89 at recall 0.65). `python benchmarks/dedup_threshold.py`.
DEFAULT_THRESHOLD = 0.83
# hnsw's search breadth for dedup's kNN pass. Pairs at or above the threshold are each other's closest
# neighbours, which a narrow walk finds; a query's default breadth (256 at 1M) is sized for recall@10 of
# any query. On benchmarks/dedup.py's 100k corpus (neighbour_pairs timed at three settings, one process,
# 2026-11-24): efSearch 64 and 32 find the same 96,015 pairs, 16 loses 7 of them; 32 takes 59% of 64's time.
DEDUP_EF_SEARCH = 32
CORPUS_SUFFIXES = (".csv", ".jsonl", ".parquet")


@dataclass(frozen=True)
class DuplicateGroup:
    """Documents that say the same thing: ids and texts in row order, ``score`` the lowest cosine inside."""

    ids: list[str]
    texts: list[str]
    score: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_threshold(threshold: float) -> float:
    """``threshold`` when it is a cosine in (0, 1]; else a one-line error."""
    if not 0 < threshold <= 1:
        raise InvalidArgumentError(
            f"threshold must be above 0 and at most 1 (got {threshold}); the default is {DEFAULT_THRESHOLD}."
        )
    return float(threshold)


def duplicate_groups(
    vectors: VectorIndex,
    store: Store,
    encode: Callable[[list[str]], np.ndarray],
    threshold: float | None = None,
    k: int = DEFAULT_NEIGHBOURS,
) -> list[DuplicateGroup]:
    """Groups of near-duplicates, largest first (ties: tightest first).

    ``encode`` re-encodes texts for kinds that cannot give their vectors back (the IVF kinds);
    ``k`` neighbours per document bound how many a document can pull in directly (groups can
    still grow larger through chains).
    """
    threshold = check_threshold(DEFAULT_THRESHOLD if threshold is None else threshold)
    row_ids = documents_to_join(store, k, "duplicates")
    vectors_of = stored_vectors(vectors, store, encode)
    with narrow_search(vectors, DEDUP_EF_SEARCH):
        first, second = neighbour_pairs(vectors, row_ids, vectors_of, threshold, k)
    for same_text in store.duplicate_text_row_ids():
        positions = np.searchsorted(row_ids, same_text)
        first = np.concatenate([first, positions[:-1]])
        second = np.concatenate([second, positions[1:]])
    groups = [row_ids[members] for members in components(len(row_ids), first, second)]
    return _described(groups, store, vectors_of)


@contextmanager
def narrow_search(vectors: VectorIndex, ef_search: int) -> Iterator[None]:
    """For the block, an hnsw index searches at most ``ef_search`` wide; other kinds are left as they are.

    It changes the shared index object, so a search another thread runs on it meanwhile is narrower
    too (lower recall, never wrong results); dedup runs alone in the CLI.
    """
    before = vectors.params.get("ef_search")
    if before is None or before <= ef_search:
        yield
        return
    vectors.set_search_params(ef_search=ef_search)
    try:
        yield
    finally:
        vectors.set_search_params(ef_search=before)


def write_without_duplicates(
    groups: list[DuplicateGroup], documents: Iterable[StoredDocument], output: str | Path, overwrite: bool = False
) -> tuple[int, int]:
    """Write ``documents`` (id, text, metadata columns) less the extra members of each group: (kept, removed).

    A group keeps its first id, the one with the smallest row id (the earliest added), since
    ``DuplicateGroup.ids`` are in row order. The output is .csv, .jsonl or .parquet, written
    to a temporary file and renamed into place; an existing file is refused unless ``overwrite``.
    """
    from simsearch.atomic import check_output
    from simsearch.ingest.writers import write_rows

    output = check_output(output, overwrite, CORPUS_SUFFIXES)
    removed = {id_ for group in groups for id_ in group.ids[1:]}
    rows = [
        {"id": doc.id, "text": doc.text, **{k: v for k, v in doc.metadata.items() if k not in ("id", "text")}}
        for doc in documents
        if doc.id not in removed
    ]
    with replacing(output) as temporary:
        write_rows(rows, temporary, output.suffix.lower())
    return len(rows), len(removed)


def components(size: int, first: np.ndarray, second: np.ndarray) -> list[np.ndarray]:
    """Connected components with at least two members, as sorted position arrays (scipy's union of edges)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    graph = coo_matrix((np.ones(len(first), dtype=np.int8), (first, second)), shape=(size, size))
    _, labels = connected_components(graph, directed=False)
    order = np.argsort(labels, kind="stable")
    bounds = np.flatnonzero(np.diff(labels[order])) + 1
    return [members for members in np.split(order, bounds) if len(members) > 1]


def _described(
    groups: list[np.ndarray], store: Store, vectors_of: Callable[[np.ndarray], np.ndarray]
) -> list[DuplicateGroup]:
    documents = store.fetch(np.concatenate(groups).tolist()) if groups else {}
    described = []
    for members in groups:
        found = [documents[int(i)] for i in members]
        described.append(
            DuplicateGroup(
                [doc.id for doc in found], [doc.text for doc in found], round(lowest_similarity(vectors_of(members)), 4)
            )
        )
    return sorted(described, key=lambda group: (-len(group.ids), -group.score))


def lowest_similarity(vectors: np.ndarray, block: int = 2048) -> float:
    """The lowest cosine between two rows of unit ``vectors``, computed in blocks so a big group fits in memory."""
    lowest = 1.0
    for start in range(0, len(vectors), block):
        lowest = min(lowest, float((vectors[start : start + block] @ vectors.T).min()))
    return min(lowest, 1.0)
