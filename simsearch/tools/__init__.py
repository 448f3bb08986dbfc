"""Looking inside the model: token views, input anatomy, words in context, pair comparison, maps, exports.

The names below are this family's public face (the web UI's Compare, Explain and Overview pages use
them); the modules behind it are internal and may move.
"""

from __future__ import annotations

from simsearch.tools.anatomy import InputAnatomy, ModelShape, input_anatomy
from simsearch.tools.compare import Comparison, compare_texts, describe_similarity
from simsearch.tools.contextual import WordInContext, word_in_context
from simsearch.tools.embedding import embed_documents, embed_tokens, token_parquet_bytes
from simsearch.tools.projection import EmbeddingMap, MapPoint, available_methods, embedding_map
from simsearch.tools.tokens import Token, TokenSimilarity, token_similarity, word_pieces

__all__ = [
    "Comparison",
    "EmbeddingMap",
    "InputAnatomy",
    "MapPoint",
    "ModelShape",
    "Token",
    "TokenSimilarity",
    "WordInContext",
    "available_methods",
    "compare_texts",
    "describe_similarity",
    "embed_documents",
    "embed_tokens",
    "embedding_map",
    "input_anatomy",
    "token_parquet_bytes",
    "token_similarity",
    "word_in_context",
    "word_pieces",
]
