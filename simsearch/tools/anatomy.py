"""How BERT builds its input: token, segment and position embeddings added, then normalised.

BERT (Devlin et al., 2019, section 3) gives each word piece three learnt vectors of the
hidden size and adds them: one per vocabulary entry (the paper: a 30,000-piece WordPiece
vocabulary), one per segment (sentence A or B of a pair, 2 in all) and one per position
(up to 512). The sum goes through a LayerNorm (and dropout, off at inference); the
result is the first layer's input, the ``hidden_states[0]`` of the transformer. All three
tables start random and are learnt with the rest of the network during pre-training.

This module rebuilds that sum from the model's own tables and checks it against the
model's embedding layer, so a model whose embedding layer works differently (RoBERTa's
offset positions, DistilBERT's missing segments) is refused rather than shown wrongly.
It needs the torch model: the ONNX runtime has no access to the embedding tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from simsearch.encoders import Encoder, load_encoder
from simsearch.errors import InvalidArgumentError, fix
from simsearch.tools.tokens import Token, transformer_of, word_piece_model

if TYPE_CHECKING:
    import torch

# Largest gap tolerated between the rebuilt sum and the model's own layer (float32 rounding is ~1e-6)
_AGREEMENT = 1e-4


@dataclass(frozen=True)
class PieceAnatomy:
    """One word piece of the input and the lengths (L2 norms) of what the model adds for it.

    ``summed_norm`` is the raw sum of the three before the LayerNorm; ``input_norm`` is the
    LayerNorm's output, the vector the first transformer layer reads.
    """

    token: Token
    segment: Literal["A", "B"]
    position: int
    token_norm: float
    segment_norm: float
    position_norm: float
    summed_norm: float
    input_norm: float


@dataclass(frozen=True)
class ModelShape:
    """What the model's config says about its input tables (the BERT paper: 30,000 / 512 / 2)."""

    vocabulary: int
    positions: int
    segments: int
    hidden: int
    layers: int


@dataclass(frozen=True)
class InputAnatomy:
    """Every piece of a sentence (or of a pair read together) with its three embeddings.

    ``inputs`` holds the rebuilt first-layer inputs (n_pieces, hidden) and ``largest_gap`` the
    largest absolute difference from the model's own embedding layer on the same input.
    """

    pieces: list[PieceAnatomy]
    inputs: np.ndarray
    largest_gap: float
    shape: ModelShape

    def rows(self) -> list[dict[str, Any]]:
        """One dict per piece, for a table (the UI) or JSON (the CLI)."""
        return [
            {
                "piece": p.token.text,
                "id": p.token.id,
                "segment": p.segment,
                "position": p.position,
                "token norm": p.token_norm,
                "segment norm": p.segment_norm,
                "position norm": p.position_norm,
                "sum norm": p.summed_norm,
                "input norm": p.input_norm,
            }
            for p in self.pieces
        ]


def model_shape(encoder: Encoder) -> ModelShape:
    """The sizes of the model's input tables, read from its config."""
    config = transformer_of(word_piece_model(encoder)).config
    return ModelShape(
        int(config.vocab_size),
        int(config.max_position_embeddings),
        int(getattr(config, "type_vocab_size", 0) or 0),
        int(config.hidden_size),
        int(config.num_hidden_layers),
    )


def input_anatomy(first: str, second: str | None = None, encoder: Encoder | None = None) -> InputAnatomy:
    """The input BERT builds for ``first`` alone, or for the pair ``[CLS] first [SEP] second [SEP]``.

    Raises InvalidArgumentError for an empty sentence or a model whose embedding layer is not
    BERT's sum of three tables.
    """
    encoder = encoder or load_encoder()
    model = word_piece_model(encoder)
    texts = [check_sentence(first, "first")] + ([check_sentence(second, "second")] if second is not None else [])
    with encoder.lock:
        encoded = model.tokenizer(*texts, truncation=True, max_length=model.max_seq_length, return_tensors="pt")
        parts, layer_output = _embedding_parts(model[0].auto_model, encoded)
    inputs = parts["input"].numpy()
    gap = float(np.abs(inputs - layer_output).max())
    if gap > _AGREEMENT:
        raise InvalidArgumentError(
            f"model {encoder.name!r} does not build its input as BERT does (token + segment "
            f"+ position, then LayerNorm; off by {gap:.2g}); {fix('model')} of a BERT model."
        )
    return InputAnatomy(_pieces(model.tokenizer, encoded, parts), inputs, gap, model_shape(encoder))


def check_sentence(text: str, label: str) -> str:
    """``text`` when it has words; else one line naming which sentence is empty."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidArgumentError(f"the {label} sentence is empty; give it some words.")
    return text


def _embedding_parts(transformer: Any, encoded: Any) -> tuple[dict[str, torch.Tensor], np.ndarray]:
    """The three looked-up vectors, their sum and its LayerNorm per piece; and the model's own layer output."""
    import torch

    embeddings = getattr(transformer, "embeddings", None)
    tables = ("word_embeddings", "token_type_embeddings", "position_embeddings", "LayerNorm")
    if embeddings is None or not all(hasattr(embeddings, name) for name in tables):
        raise InvalidArgumentError(
            "this model has no BERT embedding layer (token, segment and position tables); "
            f"{fix('model')} of a BERT model."
        )
    ids = encoded["input_ids"]
    segments = encoded.get("token_type_ids", torch.zeros_like(ids))
    positions = torch.arange(ids.shape[1]).unsqueeze(0)
    with torch.inference_mode():
        parts = {
            "token": embeddings.word_embeddings(ids),
            "segment": embeddings.token_type_embeddings(segments),
            "position": embeddings.position_embeddings(positions),
        }
        parts["sum"] = parts["token"] + parts["segment"] + parts["position"]
        parts["input"] = embeddings.LayerNorm(parts["sum"])  # dropout is the identity at inference
        own = transformer(**encoded, output_hidden_states=True).hidden_states[0]
    return {name: part[0].float().cpu() for name, part in parts.items()}, own[0].float().cpu().numpy()


# BERT's token type ids 0 and 1, named as the sentences of a pair are.
_SEGMENT_NAMES: tuple[Literal["A"], Literal["B"]] = ("A", "B")


def _pieces(tokenizer: Any, encoded: Any, parts: dict[str, torch.Tensor]) -> list[PieceAnatomy]:
    ids = encoded["input_ids"][0].tolist()
    segments = encoded["token_type_ids"][0].tolist() if "token_type_ids" in encoded else [0] * len(ids)
    special = set(tokenizer.all_special_ids)
    norms = {name: part.norm(dim=-1).tolist() for name, part in parts.items()}
    return [
        PieceAnatomy(
            Token(piece, token_id, token_id in special),
            _SEGMENT_NAMES[segment],
            position,
            norms["token"][position],
            norms["segment"][position],
            norms["position"][position],
            norms["sum"][position],
            norms["input"][position],
        )
        for position, (piece, token_id, segment) in enumerate(zip(tokenizer.convert_ids_to_tokens(ids), ids, segments))
    ]
