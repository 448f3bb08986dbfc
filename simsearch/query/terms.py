"""The words of a query for the lexical index: letters and digits, lower-cased, English stop words left out.

A stop word ("the", "an", "of") is in most texts, so on a large corpus BM25 gives it almost
no weight; on a small one it still scores, and hybrid search put texts that shared only "an"
with "an aeroplane departing" at ranks 3-9 of the demo. They are left out as Lucene's
``EnglishAnalyzer`` does, with the same 33 words (its ``ENGLISH_STOP_WORDS_SET``). A query of
stop words alone ("to be or not to be") keeps them, so it still matches something.

For a corpus in another language set ``SIMSEARCH_STOP_WORDS=none``: English stop words are
words of their own there ("die", "an", "is"), and every word of the query is kept.
"""

from __future__ import annotations

import os
import re

from simsearch.errors import InvalidArgumentError

STOP_WORDS_VARIABLE = "SIMSEARCH_STOP_WORDS"
ENGLISH_STOP_WORDS = frozenset(
    "a an and are as at be but by for if in into is it no not of on or such that the their then there these "
    "they this to was will with".split()
)
_STOP_WORD_LISTS = {"english": ENGLISH_STOP_WORDS, "none": frozenset()}
_TERM = re.compile(r"[^\W_]+")  # runs of letters and digits: what FTS5's unicode61 tokenizer keeps


def stop_words() -> frozenset[str]:
    """The words lexical queries leave out: ``$SIMSEARCH_STOP_WORDS``, ``english`` (the default) or ``none``."""
    setting = os.environ.get(STOP_WORDS_VARIABLE, "").strip().lower() or "english"
    if setting not in _STOP_WORD_LISTS:
        raise InvalidArgumentError(f"{STOP_WORDS_VARIABLE}={setting!r} is not a stop word list; set it to "
                                   f"{' or '.join(_STOP_WORD_LISTS)} (none for a corpus not in English).")
    return _STOP_WORD_LISTS[setting]


def lexical_terms(query: str) -> list[str]:
    """The informative words of a query for the lexical index, lower-cased, each once, in order.

    Punctuation (quotes, ``*``, ``-``, parentheses) is dropped and ``AND``/``OR``/``NEAR``
    are words like any other: the store quotes every term, so user text is never FTS5 syntax.
    Stop words are left out unless the query holds nothing else.
    """
    words = list(dict.fromkeys(term.lower() for term in _TERM.findall(query)))
    dropped = stop_words()
    return [word for word in words if word not in dropped] or words
