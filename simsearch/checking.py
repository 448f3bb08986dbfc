"""Is an index consistent? Texts and vectors compared from outside, as SQLite checks its own pages.

Three tests, cheapest first: the counts agree; the id sets agree (every stored text
has a vector under its row id and every vector a text); and a re-encoded sample of
the texts lies where the stored vectors say (only for kinds that keep the vectors:
flat and hnsw). The report is plain data, so the CLI prints it as text or JSON.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from simsearch.backends import VectorIndex
    from simsearch.store import Store

SAMPLE_SIZE = 32
# The index's own encoder re-encoding its own texts gives cosine 1.0 up to float noise (torch, onnx);
# onnx-int8 queries against fp32 vectors stay above ~0.98. Anything lower is a vector of another text.
MIN_COSINE = 0.95


def check_consistency(name: str, store: Store, vectors: VectorIndex,
                      encode: Callable[[Sequence[str]], np.ndarray] | None,
                      sample_size: int = SAMPLE_SIZE) -> dict[str, Any]:
    """``{"ok", "problems", ...figures}`` for one index; ``encode`` None skips the re-encoding test."""
    problems: list[str] = []
    texts, count = store.count(), vectors.count
    if texts != count:
        problems.append(f"{count} vectors but {texts} texts")
    report: dict[str, Any] = {"name": name, "texts": texts, "vectors": count}
    stored_ids, vector_ids = store.ids(), vectors.ids()
    if vector_ids is not None:
        no_vector = np.setdiff1d(stored_ids, vector_ids)
        no_text = np.setdiff1d(vector_ids, stored_ids)
        report.update(texts_without_vector=len(no_vector), vectors_without_text=len(no_text))
        if len(no_vector):
            problems.append(f"{len(no_vector)} texts have no vector (row ids {_some(no_vector)})")
        if len(no_text):
            problems.append(f"{len(no_text)} vectors have no text (ids {_some(no_text)})")
    report["sample_min_cosine"] = None
    if encode is not None and len(stored_ids):
        sample = np.intersect1d(store.sample_row_ids(sample_size), vector_ids if vector_ids is not None else stored_ids)
        stored = vectors.reconstruct(sample) if len(sample) else None
        if stored is not None:
            documents = store.fetch(sample.tolist())
            fresh = np.asarray(encode([documents[int(r)].text for r in sample]), dtype=np.float32)
            cosines = np.sum(fresh * np.asarray(stored, dtype=np.float32), axis=1)
            report.update(sample_size=len(sample), sample_min_cosine=round(float(cosines.min()), 4))
            wrong = sample[cosines < MIN_COSINE]
            if len(wrong):
                problems.append(f"{len(wrong)} of {len(sample)} re-encoded texts differ from their stored vectors "
                                f"(cosine below {MIN_COSINE}; row ids {_some(wrong)})")
    return {"ok": not problems, "problems": problems, **report}


def _some(ids: np.ndarray, limit: int = 5) -> str:
    shown = ", ".join(str(int(i)) for i in ids[:limit])
    return shown + (", ..." if len(ids) > limit else "")
