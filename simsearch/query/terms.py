"""The words of a query for the lexical index: letters and digits, lower-cased; the English stop words among them.

A stop word ("the", "an", "of") is in most texts, so on a large corpus BM25 gives it almost
no weight; on a small one it still scores, and hybrid search put texts that shared only "an"
with "an aeroplane departing" among the demo's first hits. So a text must hold an informative
word of the query to be a lexical match at all; the stop words are Lucene's ``EnglishAnalyzer``
list (its 33 ``ENGLISH_STOP_WORDS_SET``). A matching text is still scored on every word: dropping
them from the score too cost 0.26 nDCG@10 on the STS-B dev paraphrase set (hybrid 95.06 against
95.32), while requiring an informative word changes neither set's figures (hybrid nDCG@10 cisi /
STS-B dev paraphrase 44.66 / 95.32 either way; `python benchmarks/fusion_sweep.py --sets cisi,stsb
--query-words`, 2026-12-06). A query of stop words alone ("to be or not to be") keeps them as
informative, so it still matches something.

For a corpus in another language set ``SIMSEARCH_STOP_WORDS=none``: English stop words are
words of their own there ("die", "an", "is"), and every word of the query is kept.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

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
        raise InvalidArgumentError(
            f"{STOP_WORDS_VARIABLE}={setting!r} is not a stop word list; set it to "
            f"{' or '.join(_STOP_WORD_LISTS)} (none for a corpus not in English)."
        )
    return _STOP_WORD_LISTS[setting]


@dataclass(frozen=True)
class QueryWords:
    """A query's words for the lexical index: ``words`` score a text, which must hold one of ``informative``."""

    words: list[str]
    informative: list[str]


def query_words(query: str) -> QueryWords:
    """The words of a query, lower-cased, each once, in order, and those of them that are not stop words.

    Punctuation (quotes, ``*``, ``-``, parentheses) is dropped and ``AND``/``OR``/``NEAR``
    are words like any other: the store quotes every term, so user text is never FTS5 syntax.
    """
    words = list(dict.fromkeys(term.lower() for term in _TERM.findall(query)))
    dropped = stop_words()
    return QueryWords(words, [word for word in words if word not in dropped] or words)


def lexical_terms(query: str) -> list[str]:
    """The informative words of a query (no stop words unless it holds nothing else): what a match must hold,
    and what the UI shows in bold."""
    return query_words(query).informative
