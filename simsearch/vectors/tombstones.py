"""Tombstones: ids stored in a FAISS index that searches must not return, and their side file.

HNSW graphs cannot ``remove_ids``, so a delete hides the id instead; and every kind hides the
dead rows of an immutable base this way (``FaissIndex.without``). A set of tombstones is never
changed once made (an add makes a new one), so a search running on one view is never disturbed
by a delete made through another, and the sorted ids and the FAISS selector built from them are
cached with it: a hash of 100k ids takes milliseconds, and a query should not pay that.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cached_property
from pathlib import Path

import faiss
import numpy as np

from simsearch.atomic import replacing
from simsearch.errors import CorruptIndexError, fix


class Tombstones:
    """An immutable set of hidden int64 ids."""

    def __init__(self, ids: Iterable[int] | np.ndarray = ()) -> None:
        self._ids = frozenset(int(i) for i in ids)

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, id_: int) -> bool:
        return id_ in self._ids

    def plus(self, ids: Iterable[int] | np.ndarray) -> Tombstones:
        """These tombstones and ``ids``: a new set, so views holding this one are undisturbed."""
        return Tombstones(self._ids | {int(i) for i in ids})

    @cached_property
    def sorted_ids(self) -> np.ndarray:
        """The ids, sorted int64 (for ``np.isin`` and ``np.setdiff1d``)."""
        return np.array(sorted(self._ids), dtype=np.int64)

    @cached_property
    def _selected(self) -> faiss.IDSelectorBatch:
        return faiss.IDSelectorBatch(self.sorted_ids)

    @cached_property
    def excluded(self) -> faiss.IDSelector:
        """A FAISS selector of every id but these, for a search's parameters."""
        return faiss.IDSelectorNot(self._selected)  # the negation points at the batch, which this object keeps alive

    def save(self, path: Path) -> None:
        """Write the ids beside the index file at ``path`` (temporary + rename); nothing when there are none."""
        if not self._ids:
            return
        with replacing(_side_file(path)) as temporary, open(temporary, "wb") as handle:
            np.save(handle, self.sorted_ids, allow_pickle=False)  # a handle: numpy would add ".npy" to a name

    @classmethod
    def read(cls, path: Path) -> Tombstones:
        """The tombstones saved beside the index file at ``path`` (none when there is no side file);
        a damaged side file is one clear error naming the fix."""
        side = _side_file(path)
        if not side.exists():
            return cls()
        try:
            ids = np.load(side, allow_pickle=False)
        except (OSError, ValueError, EOFError) as exc:
            raise CorruptIndexError(
                f"the deleted-ids file {side.name} is damaged ({_first_line(exc)}); "
                f"{fix('rebuild', _index_name(side))}."
            ) from None
        if ids.ndim != 1 or not np.issubdtype(ids.dtype, np.integer):
            raise CorruptIndexError(
                f"the deleted-ids file {side.name} holds {ids.dtype} {ids.shape}, "
                f"not a list of ids; {fix('rebuild', _index_name(side))}."
            )
        return cls(ids)


def _side_file(path: Path) -> Path:
    return path.with_name(path.stem + ".deleted.npy")


def _index_name(path: Path) -> str:
    """The index name from a vector file's path (<home>/.builds/NAME@stamp/...), for the rebuild hint."""
    for part in reversed(path.parts):
        if "@" in part:
            return part.split("@", 1)[0]
    return path.parent.name


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
