"""What the model sees: WordPiece tokens, their contextual embeddings, token-to-token similarity.

The Siamese encoder pools the transformer's per-token outputs into one sentence
vector. Looking one step earlier, at those per-token vectors, shows which words
of one sentence lined up with which words of the other. Only the model's own
tokenizer and forward pass are used (``Encoder.model``, a SentenceTransformer),
so the pieces and ids are exactly the ones the index was built with.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from simsearch.encoders import Encoder, load_encoder
from simsearch.errors import InvalidArgumentError, fix
from simsearch.query.checks import check_query

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer


@dataclass(frozen=True)
class Token:
    """One word piece: ``text`` as the tokenizer writes it ("[CLS]", "guitar", "##ing") and its vocabulary id."""

    text: str
    id: int
    special: bool

    @property
    def punctuation(self) -> bool:
        """Only punctuation or symbols ("," "." "##'" "$"): rarely what a reader wants to see matched."""
        bare = self.text.removeprefix("##")
        return bool(bare) and all(unicodedata.category(ch)[0] in "PS" for ch in bare)

    @property
    def word(self) -> bool:
        """Neither a special token nor punctuation."""
        return not self.special and not self.punctuation


@dataclass(frozen=True)
class TokenSimilarity:
    """Cosine similarity of every token of ``a`` with every token of ``b`` (rows: a, columns: b)."""

    tokens_a: list[Token]
    tokens_b: list[Token]
    matrix: np.ndarray

    def best_matches(self) -> list[tuple[Token, Token, float]]:
        """For each distinct non-special token of ``a``, its closest non-special token of ``b``, best pairs first.

        A piece that occurs several times in ``a`` appears once, with its best pair.
        """
        columns = [j for j, token in enumerate(self.tokens_b) if not token.special]
        if not columns:
            return []
        best: dict[str, tuple[Token, Token, float]] = {}
        for i, token in enumerate(self.tokens_a):
            if token.special:
                continue
            j = columns[int(np.argmax(self.matrix[i, columns]))]
            pair = (token, self.tokens_b[j], float(self.matrix[i, j]))
            if token.text not in best or pair[2] > best[token.text][2]:
                best[token.text] = pair
        return sorted(best.values(), key=lambda pair: -pair[2])

    def words_only(self) -> TokenSimilarity:
        """The same view without special tokens and punctuation (kept where nothing else is left)."""
        rows = [i for i, t in enumerate(self.tokens_a) if t.word] or list(range(len(self.tokens_a)))
        columns = [j for j, t in enumerate(self.tokens_b) if t.word] or list(range(len(self.tokens_b)))
        return self._subset(rows, columns)

    def strongest(self, limit: int) -> TokenSimilarity:
        """At most ``limit`` tokens a side, those with the best match on the other side, in text order.

        Keeps a heatmap of two long texts legible: 256 labels a side are a smear.
        """
        rows = _top_positions(self.matrix.max(axis=1), limit) if self.matrix.size else []
        columns = _top_positions(self.matrix.max(axis=0), limit) if self.matrix.size else []
        return self._subset(rows, columns)

    def _subset(self, rows: list[int], columns: list[int]) -> TokenSimilarity:
        return TokenSimilarity(
            [self.tokens_a[i] for i in rows], [self.tokens_b[j] for j in columns], self.matrix[np.ix_(rows, columns)]
        )


def _top_positions(scores: np.ndarray, limit: int) -> list[int]:
    if len(scores) <= limit:
        return list(range(len(scores)))
    return sorted(int(i) for i in np.argsort(-scores, kind="stable")[:limit])


def word_piece_model(encoder: Encoder) -> SentenceTransformer:
    """The encoder's SentenceTransformer when it is a transformer with a tokenizer; else one line saying so
    (a static-embedding model has neither word pieces nor contextual token vectors)."""
    model = encoder.model
    if getattr(model, "tokenizer", None) is None or not hasattr(model[0], "auto_model"):
        raise InvalidArgumentError(
            f"model {encoder.name!r} is not a transformer with a tokenizer, so it has no "
            f"word-piece vectors; {fix('model')} of a BERT-like model."
        )
    return model


def transformer_of(model: SentenceTransformer) -> Any:
    """The Hugging Face model inside a ``word_piece_model``'s first module. Typed Any: its class depends on the
    checkpoint (BertModel, DistilBertModel, ...), and torch types a submodule as ``Tensor | Module``."""
    return model[0].auto_model


def word_pieces(text: str, encoder: Encoder | None = None) -> list[Token]:
    """The tokens the model reads for ``text``, special tokens included, truncated like encoding is."""
    encoder = encoder or load_encoder()
    model = word_piece_model(encoder)
    tokenizer = model.tokenizer
    with encoder.lock:
        ids = tokenizer(check_query(text), truncation=True, max_length=model.max_seq_length)["input_ids"]
        pieces = tokenizer.convert_ids_to_tokens(ids)
    special = set(tokenizer.all_special_ids)
    return [Token(piece, int(token_id), int(token_id) in special) for piece, token_id in zip(pieces, ids)]


def token_embeddings(text: str, encoder: Encoder | None = None) -> np.ndarray:
    """The transformer's contextual output for each token of ``text``, as unit rows (n_tokens, hidden)."""
    encoder = encoder or load_encoder()
    model = word_piece_model(encoder)
    with encoder.lock:
        output = model.encode([check_query(text)], output_value="token_embeddings", show_progress_bar=False)[0]
    vectors = output.detach().float().cpu().numpy() if hasattr(output, "detach") else np.asarray(output)
    vectors = vectors.astype(np.float32)
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


def token_similarity(a: str, b: str, encoder: Encoder | None = None) -> TokenSimilarity:
    """Token-by-token cosine similarity between two texts' contextual embeddings."""
    encoder = encoder or load_encoder()
    tokens_a, tokens_b = word_pieces(a, encoder), word_pieces(b, encoder)
    vectors_a, vectors_b = token_embeddings(a, encoder), token_embeddings(b, encoder)
    if (len(tokens_a), len(tokens_b)) != (len(vectors_a), len(vectors_b)):  # would pair the wrong labels
        raise RuntimeError(
            f"tokenizer gave {len(tokens_a)}/{len(tokens_b)} tokens but the model "
            f"{len(vectors_a)}/{len(vectors_b)} vectors"
        )
    return TokenSimilarity(tokens_a, tokens_b, vectors_a @ vectors_b.T)
