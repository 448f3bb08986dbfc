"""Which words of a stored text the lexical index matched: FTS5's own ``highlight()``, read back as spans.

A reader sees why a text was found when the words the lexical index matched stand out. Asking
FTS5 itself, rather than guessing with a second tokenizer, shows exactly what BM25 scored: the
same Porter stemming and diacritic folding (``running`` marks ``runs`` but not ``runner``;
``cafe`` marks ``Café``). A text that holds none of the terms (a match by meaning alone) gets
no spans. Every term is quoted the way the store's lexical search quotes it, so user text is
only ever words to FTS5, never its syntax (``NEAR``, ``*``, ``-``, quotes).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from simsearch.store.lexical import fts5_term
from simsearch.store.statements import Query

# Marks FTS5 puts around each match: control characters no prose holds. A text that does hold
# one is left unmarked rather than read back wrong (the check in _spans).
_OPEN, _CLOSE = "\x02", "\x03"


@dataclass(frozen=True)
class Highlight:
    """A stored text and the ``[start, end)`` character spans of it the lexical index matched, in text order."""

    text: str
    spans: list[tuple[int, int]]


def matched_spans(query: Query, terms: Sequence[str], row_ids: Sequence[int]) -> dict[int, Highlight]:
    """For each of ``row_ids`` whose text holds any of ``terms`` (as FTS5 reads them): the text and its matches.

    Rows that hold none of the terms, or are not in the store, are absent. One indexed lookup
    per row, so the cost follows the number of rows asked for, not the size of the store.
    """
    if not terms:
        return {}
    match = " OR ".join(fts5_term(term) for term in terms)
    found: dict[int, Highlight] = {}
    for row_id in dict.fromkeys(int(i) for i in row_ids):
        rows = query(
            "SELECT text, highlight(documents_fts, 0, ?, ?) FROM documents_fts "
            "WHERE documents_fts MATCH ? AND rowid = ?",
            (_OPEN, _CLOSE, match, row_id),
        )
        spans = _spans(*rows[0]) if rows else None
        if spans:
            found[row_id] = Highlight(rows[0][0], spans)
    return found


def _spans(text: str, marked: str) -> list[tuple[int, int]] | None:
    """The spans between FTS5's marks, as offsets into ``text``; None when ``text`` itself holds a mark."""
    if _OPEN in text or _CLOSE in text:
        return None
    spans, start, removed = [], 0, 0
    for position, character in enumerate(marked):
        if character == _OPEN:
            start = position - removed
            removed += 1
        elif character == _CLOSE:
            spans.append((start, position - removed))
            removed += 1
    return spans
