"""BERT's vectors as features: one per text (.npy or .parquet), or one per word piece (.parquet).

Sentence vectors are the ones an index is built from (``Encoder.encode``: unit length,
float32, file order). Token vectors are the transformer's hidden states before pooling,
taken from the layer(s) the caller names, the way the BERT paper fed its last four layers
to a NER tagger; they are not normalised. Texts longer than the model reads are cut at its
limit, and the result says how many were.

The output is checked before anything is read or encoded, and written to a temporary file
renamed into place (simsearch.atomic), so a failure leaves no half-written file.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import numpy as np

from simsearch.atomic import check_output, replacing
from simsearch.errors import InputError, InvalidArgumentError

if TYPE_CHECKING:
    from simsearch.encoders import Encoder
    from simsearch.ingest.corpus import Document

SENTENCE_SUFFIXES = (".npy", ".parquet")
LAYER_CHOICES = ("last", "last4-sum", "last4-concat")  # or a layer number: 0 (embeddings) .. number of layers
_TOKEN_BATCH = 32


@dataclass(frozen=True)
class Embedded:
    """What was written: ``rows`` (texts, or word pieces with tokens), vector ``dimension``, texts cut."""

    output: Path
    rows: int
    dimension: int
    truncated: int
    max_tokens: int


def embed_documents(
    documents: Sequence[Document],
    output: str | Path,
    encoder: Encoder,
    *,
    overwrite: bool = False,
    batch_size: int = 64,
) -> Embedded:
    """Write one unit vector per document, in order: a bare (n, dim) float32 array (.npy), or a table (.parquet)
    of id, text, the metadata columns and ``vector``. A document without an id gets its row number."""
    output = check_output(output, overwrite, SENTENCE_SUFFIXES)
    texts = [doc.text for doc in documents]
    vectors = encoder.encode(texts, batch_size)
    with replacing(output) as temporary:
        if output.suffix.lower() == ".npy":
            with open(temporary, "wb") as handle:  # np.save(path) would append ".npy" to the temporary name
                np.save(handle, vectors)
        else:
            _write_sentence_table(temporary, documents, vectors)
    return Embedded(output, len(texts), vectors.shape[1], encoder.count_truncated(texts), encoder.info.max_seq_length)


def embed_tokens(
    texts: Sequence[str], output: str | Path, encoder: Encoder, *, layers: str = "last", overwrite: bool = False
) -> Embedded:
    """Write one row per word piece to a .parquet: sentence, position, token, word, vector (see module doc)."""
    output = check_output(output, overwrite, (".parquet",))
    chosen = _token_layers(encoder, layers)
    with replacing(output) as temporary:
        rows, dimension = _write_token_parquet(texts, encoder, chosen, temporary)
    return Embedded(output, rows, dimension, encoder.count_truncated(list(texts)), encoder.info.max_seq_length)


def token_parquet_bytes(texts: Sequence[str], encoder: Encoder, *, layers: str = "last") -> bytes:
    """The file ``embed_tokens`` would write, as bytes held in memory: for a download of a few texts (the UI)."""
    import io

    sink = io.BytesIO()
    _write_token_parquet(texts, encoder, _token_layers(encoder, layers), sink)
    return sink.getvalue()


def _token_layers(encoder: Encoder, layers: str) -> tuple[list[int], str]:
    """``check_layers`` for this encoder's model, refusing a model without a tokenizer (no word pieces)."""
    # imports search and the encoders: only for token vectors
    from simsearch.tools.tokens import transformer_of, word_piece_model

    model = word_piece_model(encoder)
    return check_layers(layers, int(transformer_of(model).config.num_hidden_layers))


def _write_token_parquet(
    texts: Sequence[str], encoder: Encoder, chosen: tuple[list[int], str], sink: Path | BinaryIO
) -> tuple[int, int]:
    """Stream the token tables, a batch of texts at a time, into one parquet ``sink``: (rows, dimension)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows, dimension, writer = 0, 0, None
    try:
        for table in _token_tables(texts, encoder, chosen):
            if writer is None:
                writer = pq.ParquetWriter(sink, table.schema)
            writer.write_table(table)
            rows, dimension = rows + table.num_rows, table.schema.field("vector").type.list_size
        if writer is None:  # no texts: an empty file with the same columns
            writer = pq.ParquetWriter(sink, pa.schema(_TOKEN_FIELDS(0)))
    finally:
        if writer is not None:
            writer.close()
    return rows, dimension


def check_layers(layers: str, n_layers: int) -> tuple[list[int], str]:
    """(hidden-state indices, how to combine them) for ``layers``; index 0 is the embedding layer's output."""
    if layers == "last":
        return [n_layers], "one"
    if layers in ("last4-sum", "last4-concat"):
        if n_layers < 4:
            raise InvalidArgumentError(f"{layers} needs a model with at least 4 layers; this one has {n_layers}.")
        return list(range(n_layers - 3, n_layers + 1)), layers.removeprefix("last4-")
    if re.fullmatch(r"\d+", layers) and int(layers) <= n_layers:
        return [int(layers)], "one"
    raise InvalidArgumentError(
        f"invalid layers {layers!r}; valid: {', '.join(LAYER_CHOICES)} or a layer number "
        f"from 0 (embeddings) to {n_layers}."
    )


def _TOKEN_FIELDS(dimension: int) -> list[Any]:  # noqa: N802 - a schema, named like the constant it stands for
    import pyarrow as pa

    return [
        ("sentence", pa.int64()),
        ("position", pa.int32()),
        ("token", pa.string()),
        ("word", pa.int32()),
        ("vector", pa.list_(pa.float32(), dimension)),
    ]


def _token_tables(texts: Sequence[str], encoder: Encoder, chosen: tuple[list[int], str]) -> Iterator[Any]:
    """One pyarrow table per batch of texts, rows in text then position order."""
    import pyarrow as pa
    import torch

    from simsearch.tools.tokens import transformer_of

    model = encoder.model
    tokenizer, transformer = model.tokenizer, transformer_of(model)
    indices, combine = chosen
    for start in range(0, len(texts), _TOKEN_BATCH):
        batch = list(texts[start : start + _TOKEN_BATCH])
        with encoder.lock, torch.inference_mode():
            inputs = tokenizer(
                batch, truncation=True, max_length=model.max_seq_length, padding=True, return_tensors="pt"
            )
            words = [inputs.word_ids(i) for i in range(len(batch))]
            hidden = transformer(**inputs.to(model.device), output_hidden_states=True).hidden_states
            picked = [hidden[i].float() for i in indices]
            stacked = torch.cat(picked, dim=-1) if combine == "concat" else torch.stack(picked).sum(dim=0)
            vectors = stacked.cpu().numpy().astype(np.float32)
        columns: dict[str, list] = {"sentence": [], "position": [], "token": [], "word": []}
        kept = []
        for row, ids in enumerate(inputs["input_ids"].tolist()):
            length = int(inputs["attention_mask"][row].sum())
            pieces = tokenizer.convert_ids_to_tokens(ids[:length])
            columns["sentence"] += [start + row] * length
            columns["position"] += list(range(length))
            columns["token"] += pieces
            columns["word"] += words[row][:length]
            kept.append(vectors[row, :length])
        flat = np.concatenate(kept) if kept else np.empty((0, vectors.shape[-1]), np.float32)
        fields = _TOKEN_FIELDS(flat.shape[1])
        arrays = [pa.array(columns[name], type=kind) for name, kind in fields[:4]]
        arrays.append(pa.FixedSizeListArray.from_arrays(pa.array(flat.ravel(), pa.float32()), flat.shape[1]))
        yield pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def _write_sentence_table(path: Path, documents: Sequence[Document], vectors: np.ndarray) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns: dict[str, Any] = {
        "id": [doc.id if doc.id is not None else str(row) for row, doc in enumerate(documents)],
        "text": [doc.text for doc in documents],
    }
    for key in dict.fromkeys(key for doc in documents for key in doc.metadata):
        if key in ("id", "text", "vector"):
            raise InputError(
                f"the input's column {key!r} would clash with the output's own {key!r} column; rename it in the input."
            )
        columns[key] = [doc.metadata.get(key) for doc in documents]
    table = pa.table(columns)
    vector_column = pa.FixedSizeListArray.from_arrays(pa.array(vectors.ravel(), pa.float32()), vectors.shape[1])
    pq.write_table(table.append_column("vector", vector_column), path)
