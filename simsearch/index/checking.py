"""Is an index consistent? Texts and vectors compared from outside, as SQLite checks its own pages.

Four tests, cheapest first: every stored metadata value is strict JSON with finite numbers
(the rows that are not are named); the counts agree; the id sets agree (every stored text
has a vector under its row id, every window of a long text one under its own id, and
every vector a text); and a re-encoded sample of the texts and windows lies where the
stored vectors say (only for kinds that keep the vectors: flat and hnsw). The report is
plain data, so the CLI prints it as text or JSON.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from simsearch.store import Store
    from simsearch.vectors import VectorIndex

SAMPLE_SIZE = 32
# The index's own encoder re-encoding its own texts gives cosine 1.0 up to float noise (torch, onnx);
# onnx-int8 queries against fp32 vectors stay above ~0.98. Anything lower is a vector of another text.
MIN_COSINE = 0.95
_NAMED_ROWS = 20  # ids of unusable rows a report names (the count says how many there are)


def check_consistency(
    name: str,
    store: Store,
    vectors: VectorIndex,
    encode: Callable[[Sequence[str]], np.ndarray] | None,
    sample_size: int = SAMPLE_SIZE,
) -> dict[str, Any]:
    """``{"ok", "problems", ...figures}`` for one index; ``encode`` None skips the re-encoding test."""
    problems: list[str] = []
    stored_ids, vector_ids = store.vector_ids(), vectors.ids()
    texts, count = store.count(), vectors.count
    windows = len(stored_ids) - texts  # vectors beyond one per text: later windows of long texts
    if len(stored_ids) != count:
        problems.append(f"{count} vectors but {texts} texts" + (f" (+ {windows} windows)" if windows else ""))
    report: dict[str, Any] = {"name": name, "texts": texts, "vectors": count, "extra_windows": windows}
    bad_metadata = store.bad_metadata_rows()
    report.update(bad_metadata=len(bad_metadata), bad_metadata_ids=[id for _, id, _ in bad_metadata[:_NAMED_ROWS]])
    if bad_metadata:
        problems.append(
            f"{len(bad_metadata)} documents have unusable metadata ("
            + "; ".join(f"id {id!r}, row {row_id}: {problem}" for row_id, id, problem in bad_metadata[:5])
            + ("; ..." if len(bad_metadata) > 5 else "")
            + "); delete or re-add them"
        )
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
        sample = np.intersect1d(_sample(stored_ids, sample_size), vector_ids if vector_ids is not None else stored_ids)
        stored = vectors.reconstruct(sample) if len(sample) else None
        if stored is not None:
            fresh = np.asarray(encode(_encoded_texts(store, sample)), dtype=np.float32)
            cosines = np.sum(fresh * np.asarray(stored, dtype=np.float32), axis=1)
            report.update(sample_size=len(sample), sample_min_cosine=round(float(cosines.min()), 4))
            wrong = sample[cosines < MIN_COSINE]
            if len(wrong):
                problems.append(
                    f"{len(wrong)} of {len(sample)} re-encoded texts differ from their stored vectors "
                    f"(cosine below {MIN_COSINE}; row ids {_some(wrong)})"
                )
    return {"ok": not problems, "problems": problems, **report}


def _sample(ids: np.ndarray, size: int, seed: int = 0) -> np.ndarray:
    """A seeded random sample of ``size`` of these vector ids (all when there are no more), sorted."""
    if len(ids) <= size:
        return ids
    return np.sort(np.random.default_rng(seed).choice(ids, size=size, replace=False))


def _encoded_texts(store: Store, vector_ids: np.ndarray) -> list[str]:
    """The text each vector was made from: its document's text, or for a window that window's span of it."""
    windows = store.passages_of(vector_ids.tolist())
    rows = [windows.get(int(v), (int(v), -1, -1)) for v in vector_ids]
    texts = store.texts_of([row_id for row_id, _, _ in rows])
    return [texts[row_id] if start < 0 else texts[row_id][start:end] for row_id, start, end in rows]


def _some(ids: np.ndarray, limit: int = 5) -> str:
    shown = ", ".join(str(int(i)) for i in ids[:limit])
    return shown + (", ..." if len(ids) > limit else "")
