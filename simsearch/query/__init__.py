"""A query to hits: the candidate stages, fusion of dense and lexical lists, re-ranking.

The names below are this stage's public face (``Index.query`` takes a mode; a cross-encoder folder
re-ranks); the modules behind it are internal and may move.
"""

from __future__ import annotations

from simsearch.query.reranking import check_cross_encoder, load_reranker
from simsearch.query.search import DEFAULT_MODE, MODES, SearchMode

__all__ = ["DEFAULT_MODE", "MODES", "SearchMode", "check_cross_encoder", "load_reranker"]
