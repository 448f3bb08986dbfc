"""The same word in two sentences: one static input vector, different contextual vectors.

The token embedding BERT looks up for a word piece is a row of a table: "bank" gets the
same vector in "the river bank" and in "a bank account". The embedding layer's output
(``hidden_states[0]``, what ``embed --tokens --layers 0`` exports) adds the position
embedding, so it is the same only where the word sits at the same position. Each
transformer layer then mixes in the other words, and the two vectors drift apart: the
per-layer cosines below show where. A word cut into several pieces is the mean of its
pieces, in every layer alike.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simsearch.encoders import Encoder, load_encoder
from simsearch.errors import InvalidArgumentError
from simsearch.tools.anatomy import check_sentence
from simsearch.tools.tokens import word_piece_model


@dataclass(frozen=True)
class WordInContext:
    """``word`` read in two sentences: its pieces, where they sit, and how alike its vectors are.

    ``token_cosine`` compares the token-table rows (the static input: 1 for the same pieces);
    ``layer_cosines[0]`` the embedding layer's outputs (token + segment + position, normalised),
    ``layer_cosines[i]`` the outputs of transformer layer i; the last is what the sentence
    vector is pooled from.
    """

    word: str
    pieces: list[str]
    positions: tuple[int, int]
    token_cosine: float
    layer_cosines: list[float]

    @property
    def static_cosine(self) -> float:
        """The embedding layer's output: the input the first transformer layer reads."""
        return self.layer_cosines[0]

    @property
    def contextual_cosine(self) -> float:
        """The last layer's output: the vectors mean pooling turns into the sentence vector."""
        return self.layer_cosines[-1]


def word_in_context(word: str, first: str, second: str, encoder: Encoder | None = None) -> WordInContext:
    """Cosines of ``word``'s vectors in ``first`` and in ``second``, from the token table to the last layer.

    The first occurrence of the word's pieces in each sentence is used. Raises InvalidArgumentError
    when the word is empty or missing from either sentence.
    """
    if not isinstance(word, str) or not word.strip():
        raise InvalidArgumentError("the word is empty; give one word that occurs in both sentences.")
    encoder = encoder or load_encoder()
    model = word_piece_model(encoder)
    tokenizer = model.tokenizer
    with encoder.lock:
        pieces = tokenizer(word.strip(), add_special_tokens=False)["input_ids"]
        spans, layers, tokens = [], [], []
        for label, sentence in (("first", first), ("second", second)):
            ids = tokenizer(check_sentence(sentence, label), truncation=True, max_length=model.max_seq_length)[
                "input_ids"
            ]
            start = _find(pieces, ids, word, label)
            spans.append(start)
            hidden, table = _hidden_states(model[0].auto_model, ids)
            layers.append(hidden[:, start : start + len(pieces)].mean(axis=1))
            tokens.append(table[start : start + len(pieces)].mean(axis=0))
    per_layer = [_cosine(a, b) for a, b in zip(layers[0], layers[1])]
    return WordInContext(
        word.strip(),
        tokenizer.convert_ids_to_tokens(pieces),
        (spans[0], spans[1]),
        _cosine(tokens[0], tokens[1]),
        per_layer,
    )


def _find(pieces: list[int], ids: list[int], word: str, label: str) -> int:
    """Position of the first run of ``pieces`` in ``ids``."""
    for start in range(len(ids) - len(pieces) + 1):
        if pieces and ids[start : start + len(pieces)] == pieces:
            return start
    raise InvalidArgumentError(
        f"the word {word!r} is not in the {label} sentence (as the model splits it); "
        "give a word that occurs in both sentences."
    )


def _hidden_states(transformer, ids: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """All hidden states (layers+1, n_pieces, hidden) of one sentence, and its token-table rows."""
    import torch

    tensor = torch.tensor([ids])
    with torch.inference_mode():
        hidden = transformer(input_ids=tensor, output_hidden_states=True).hidden_states
        table = transformer.get_input_embeddings()(tensor)
    return torch.stack(hidden)[:, 0].float().cpu().numpy(), table[0].float().cpu().numpy()


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / max(float(np.linalg.norm(a) * np.linalg.norm(b)), 1e-12))
