"""The rerank stage: a search's first hits re-scored by a cross-encoder, the k best kept.

The stage gets everything it needs from the pipeline once: the queries, their vectors and the
hits. When the re-ranker's blend uses the index's own model, the vectors this search already
holds are handed to it first, so the blend encodes none of them again.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from simsearch.query.pair_scoring import Reranker
from simsearch.query.results import Hit
from simsearch.query.target import SearchTarget


def reranked_hits(
    reranker: Reranker,
    target: SearchTarget,
    queries: list[str],
    query_vectors: np.ndarray | None,
    hits: list[list[Hit]],
    k: int,
) -> list[list[Hit]]:
    """``hits`` re-scored by ``reranker``, the k best of each query (see ``rerank_hits``)."""
    share_known_vectors(reranker, target, queries, query_vectors, hits)
    return rerank_hits(reranker, queries, hits, k)


def rerank_hits(reranker: Reranker, queries: list[str], hits: list[list[Hit]], k: int) -> list[list[Hit]]:
    """Each query's candidates re-scored by the cross-encoder (one batched pass), the k best by its score.

    ``first_score`` keeps the first stage's score; ties keep the first stage's order.
    """
    firsts = [query for query, found in zip(queries, hits) for _ in found]
    # a long document is judged by the window that matched: the cross-encoder reads as few pieces as the encoder
    texts = [hit.passage or hit.text for found in hits for hit in found]
    scores = iter(reranker.pair_scores(firsts, texts).tolist())
    rescored = [[replace(hit, score=next(scores), first_score=hit.score) for hit in found] for found in hits]
    return [sorted(found, key=lambda hit: -hit.score)[:k] for found in rescored]


def share_known_vectors(
    reranker: Reranker,
    target: SearchTarget,
    queries: list[str],
    query_vectors: np.ndarray | None,
    hits: list[list[Hit]],
) -> None:
    """Give the re-ranker's blend the vectors this search already holds, when the blend's bi-encoder is the
    index's model: the queries' and the stored vectors of hits read whole, so none is encoded again.

    A document split into windows is read by its matched window and has no vector of its whole text,
    so it is left to the blend to encode; so are the hits of kinds that keep no vectors (IVF).
    """
    if (
        reranker.blend_fingerprint is None
        or target.encoder is None
        or not target.exact_vectors
        or reranker.blend_fingerprint != target.encoder.info.fingerprint
    ):
        return  # lexical mode on a fresh index has no model loaded; int8 vectors are not the blend's
    fingerprint = reranker.blend_fingerprint
    if query_vectors is not None:
        reranker.remember(queries, query_vectors, fingerprint)
    texts = {hit.id: hit.text for found in hits for hit in found if hit.passage is None}
    row_ids = target.store.row_ids_for(list(texts))
    split = {row_id for row_id, _, _ in target.store.passages_of(list(row_ids.values())).values()}
    whole = {id: row_id for id, row_id in row_ids.items() if row_id not in split}
    try:  # a row another process added after these vectors were loaded is not among them: encode instead
        vectors = target.vectors.reconstruct(np.array(list(whole.values()), dtype=np.int64)) if whole else None
    except RuntimeError:
        vectors = None
    if vectors is not None:
        reranker.remember([texts[id] for id in whole], vectors, fingerprint)
