"""The arguments of a search, checked before any work: queries, k, mode, minimum score, re-rank depth.

Each check returns the value as the pipeline uses it, or raises InvalidArgumentError with one
line that names the bad value and the fix (the CLI, the server and the UI show it as it is).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal, get_args

import numpy as np

from simsearch.errors import InvalidArgumentError, fix
from simsearch.numbers import is_whole_number
from simsearch.query.terms import QueryWords

SearchMode = Literal["dense", "lexical", "hybrid"]
MODES: tuple[str, ...] = get_args(SearchMode)
# Chosen on cisi and the STS-B dev paraphrase set (README, "Search modes"): hybrid with score fusion wins both.
DEFAULT_MODE: SearchMode = "hybrid"

MAX_K = 2**63 - 1  # ids and counts are int64 throughout; a k above every document count returns them all
RERANK_DEPTH = 50  # first-stage candidates re-scored per query (never fewer than k)


def validate_queries(queries: Sequence[str]) -> list[str]:
    """Refuse a bare string (it would search each character) and any empty query."""
    if isinstance(queries, str):
        raise InvalidArgumentError("queries must be a list of strings; wrap a single query in a list.")
    return [check_query(query) for query in queries]


def check_query(query: str) -> str:
    if not isinstance(query, str) or not query.strip():
        raise InvalidArgumentError("the query is empty; type some words to search for.")
    return query


def check_mode(mode: str) -> SearchMode:
    if mode not in MODES:
        raise InvalidArgumentError(f"unknown search mode {mode!r}; valid: {', '.join(MODES)}.")
    return mode  # type: ignore[return-value]


def check_lexical(queries: list[str], terms: list[QueryWords]) -> None:
    """Refuse a lexical query with no words in it (only punctuation): nothing could match."""
    for query, words in zip(queries, terms):
        if not words.words:
            shown = query if len(query) <= 40 else query[:37] + "..."
            raise InvalidArgumentError(
                f"the query {shown!r} has no words to match lexically; type some words, or {fix('mode', 'dense')}."
            )


def check_min_score(min_score: float | None) -> float | None:
    if min_score is None:
        return None
    if isinstance(min_score, bool) or not isinstance(min_score, (int, float, np.number)) or math.isnan(min_score):
        raise InvalidArgumentError(f"the minimum score must be a number, not {min_score!r}.")
    return float(min_score)


def check_k(k: int) -> int:
    """``k`` as an int when it is a whole number from 1 to 2**63 - 1; larger than the index is fine (all hits)."""
    if not is_whole_number(k) or not 1 <= k <= MAX_K:
        shown = repr(k) if len(repr(k)) <= 40 else repr(k)[:37] + "..."
        raise InvalidArgumentError(
            f"k must be a whole number from 1 to 2**63 - 1 (got {shown}); "
            "a k above the number of documents returns them all."
        )
    return int(k)


def check_rerank_depth(depth: int | None, k: int) -> int:
    """First-stage hits to re-rank: ``depth`` when it is a whole number >= k; by default the larger of k and 50."""
    if depth is None:
        return max(k, RERANK_DEPTH)
    if not is_whole_number(depth):
        raise InvalidArgumentError(f"the re-rank depth must be a whole number (got {depth!r}); {fix('rerank_depth')}.")
    if depth < k:
        raise InvalidArgumentError(
            f"the re-rank depth ({depth!r}) is below the number of hits asked for ({k}); {fix('rerank_depth')}."
        )
    return int(depth)
