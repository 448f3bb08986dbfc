"""BM25 over the lexical index (the FTS5 table of migration 2), with query terms' document frequencies cached.

Each term is quoted, so it is only ever a word to FTS5, never an operator. A term's document
frequency costs one FTS5 count; it is kept per write position, which every add or delete moves on.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from simsearch.store.filter_sql import filter_where
from simsearch.store.filters import Filters
from simsearch.store.rows import count
from simsearch.store.statements import Query
from simsearch.store.write_log import write_position

_FREQUENCIES_KEPT = 50_000  # cached document frequencies per open store (a query term costs one FTS5 count)


class LexicalSearch:
    """The lexical queries of one open store, which holds one of these for its cache."""

    def __init__(self, query: Query) -> None:
        self._query = query
        self._frequencies: dict[tuple[str, str], int] = {}  # (term, store state) -> documents holding it

    def candidates(
        self, terms: Sequence[str], k: int, filters: Filters | None, required: Sequence[str] | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` best rows by BM25 for documents holding any of ``terms``: (scores, row ids), best first.

        The terms are OR-ed (FTS5's own default is AND). Scores are FTS5's ``bm25()`` negated:
        0 or more, higher is better, comparable only within one query. With ``required``, a
        document must also hold one of those (a query's informative words, not its stop words).
        """
        if not terms:
            return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
        match = " OR ".join(fts5_term(term) for term in self._weighing(terms))
        sql = "SELECT rowid, -bm25(documents_fts) FROM documents_fts WHERE documents_fts MATCH ?"
        args: list[Any] = [match]
        if filters:
            where, filter_args = filter_where(self._query, filters)
            sql += f" AND rowid IN (SELECT id FROM documents{where})"
            args += filter_args
        if required and set(required) != set(terms):
            # Filtered here rather than by a second MATCH in SQL: SQLite 3.40 ran that subquery per row
            # (1.5-10 s a cisi query, against 6-70 ms this way).
            holding = {
                row[0]
                for row in self._query(
                    "SELECT rowid FROM documents_fts WHERE documents_fts MATCH ?",
                    (" OR ".join(fts5_term(term) for term in required),),
                )
            }
            rows = [row for row in self._query(sql + " ORDER BY bm25(documents_fts)", args) if row[0] in holding][:k]
        else:
            rows = self._query(sql + " ORDER BY bm25(documents_fts) LIMIT ?", [*args, min(k, 2**62)])
        return (
            np.array([row[1] for row in rows], dtype=np.float32),
            np.array([row[0] for row in rows], dtype=np.int64),
        )

    def known_terms(self, terms: Sequence[str]) -> list[str]:
        """Those of ``terms`` some document holds, as the lexical index reads them (stemmed, folded)."""
        state = self._state()
        return [term for term in terms if self._document_frequency(term, state)]

    def _weighing(self, terms: Sequence[str]) -> list[str]:
        """``terms`` less those in half the documents or more, unless that would leave none.

        FTS5's BM25 clamps the IDF of such a term, log((N - n + 0.5) / (n + 0.5)), to 1e-6, so it
        moves no score; yet OR-ing it in makes SQLite score most rows. Over 100,000 Wikipedia
        sentences "the history of the city" took 122 ms with "the" and "of" and 7 ms without,
        with the same scores.
        """
        total, state = count(self._query), self._state()
        weighing = [term for term in terms if 2 * self._document_frequency(term, state) < total]
        return weighing or list(terms)

    def _state(self) -> str:
        """What the cached counts hold for: the write position (an Index's add or delete moves it on) and the
        number of documents (a store written without the write log, as in a build)."""
        return f"{write_position(self._query)}/{count(self._query)}"

    def _document_frequency(self, term: str, state: str) -> int:
        """Documents holding ``term``, cached per store state (``_state``)."""
        known = self._frequencies.get((term, state))
        if known is None:
            if len(self._frequencies) >= _FREQUENCIES_KEPT:
                self._frequencies.clear()
            found = self._query("SELECT count(*) FROM documents_fts WHERE documents_fts MATCH ?", (fts5_term(term),))
            known = self._frequencies[(term, state)] = int(found[0][0])
        return known


def fts5_term(term: str) -> str:
    """A term as an FTS5 string: only ever a word, never an operator (the one quoting of user words)."""
    return '"' + term.replace('"', '""') + '"'
