"""`simsearch embed` and simsearch.tools.embedding: sentence vectors and word-piece vectors as features."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from simsearch import load_encoder, read_corpus
from simsearch.cli import app
from simsearch.errors import InputError, InvalidArgumentError
from simsearch.tools.embedding import check_layers, embed_documents, embed_tokens
from tests.test_cli import assert_one_line_error


@pytest.fixture
def texts_csv(tmp_path, animals) -> Path:
    import pandas as pd

    path = tmp_path / "animals.csv"
    pd.DataFrame(animals).to_csv(path, index=False)
    return path


def embed(*args: str):
    return CliRunner().invoke(app, ["embed", *args], catch_exceptions=False)


def test_npy_holds_the_index_vectors_in_file_order(tiny_model, texts_csv, tmp_path, animals):
    out = tmp_path / "vectors.npy"
    result = embed(str(texts_csv), "--output", str(out), "--model", tiny_model)
    assert result.exit_code == 0, result.stderr
    assert "wrote 8 texts, 32 dimensions" in result.stderr
    vectors = np.load(out)
    assert vectors.dtype == np.float32 and vectors.shape == (8, 32)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    expected = load_encoder(tiny_model).encode([row["text"] for row in animals])
    np.testing.assert_allclose(vectors, expected, atol=1e-5)


def test_parquet_keeps_ids_and_metadata_beside_the_vector(tiny_model, texts_csv, tmp_path, animals):
    import pandas as pd

    out = tmp_path / "vectors.parquet"
    done = embed_documents(read_corpus(texts_csv).documents, out, load_encoder(tiny_model))
    table = pd.read_parquet(out)
    assert list(table.columns) == ["id", "text", "category", "vector"]
    assert table["id"].tolist() == [row["id"] for row in animals]
    assert table["category"].tolist() == [row["category"] for row in animals]
    assert len(table["vector"][0]) == 32 and done.rows == 8 and done.truncated == 0


def test_token_rows_name_every_piece_and_its_word(tiny_model, tmp_path):
    import pandas as pd

    encoder = load_encoder(tiny_model)
    texts = ["Guitarists play.", "A cat"]
    done = embed_tokens(texts, tmp_path / "tokens.parquet", encoder)
    table = pd.read_parquet(tmp_path / "tokens.parquet")
    assert list(table.columns) == ["sentence", "position", "token", "word", "vector"]
    first = table[table["sentence"] == 0]
    pieces = encoder.model.tokenizer.tokenize("Guitarists play.")
    assert first["token"].tolist() == ["[CLS]", *pieces, "[SEP]"]
    assert first["position"].tolist() == list(range(len(pieces) + 2))
    assert pd.isna(first["word"].iloc[0]) and pd.isna(first["word"].iloc[-1])
    assert first["word"].iloc[1] == 0 and first["word"].iloc[-2] == first["word"].max()
    assert done.rows == len(table) and done.dimension == 32
    # "last" is the transformer's output before pooling: what sentence-transformers calls token embeddings
    reference = encoder.model.encode(["A cat"], output_value="token_embeddings")[0].numpy()
    np.testing.assert_allclose(np.stack(table[table["sentence"] == 1]["vector"]), reference, atol=1e-4)


def test_layer_choices_and_their_widths(default_encoder, tmp_path):
    import pandas as pd

    embed_tokens(["A man plays a guitar."], tmp_path / "concat.parquet", default_encoder, layers="last4-concat")
    embed_tokens(["A man plays a guitar."], tmp_path / "first.parquet", default_encoder, layers="0")
    assert len(pd.read_parquet(tmp_path / "concat.parquet")["vector"][0]) == 4 * 384
    assert len(pd.read_parquet(tmp_path / "first.parquet")["vector"][0]) == 384
    assert check_layers("last4-sum", 6) == ([3, 4, 5, 6], "sum")
    with pytest.raises(InvalidArgumentError, match="at least 4 layers"):
        check_layers("last4-sum", 2)
    with pytest.raises(InvalidArgumentError, match="valid: last, last4-sum, last4-concat"):
        check_layers("7", 6)


def test_long_texts_are_cut_and_counted(tiny_model, tmp_path):
    source = tmp_path / "long.txt"
    source.write_text("short text\n" + "word " * 400 + "\n")
    result = embed(str(source), "--output", str(tmp_path / "v.npy"), "--model", tiny_model)
    assert "1 text longer than the model's 128 tokens were cut" in result.stderr
    result = embed(str(source), "--tokens", "--output", str(tmp_path / "t.parquet"), "--model", tiny_model)
    assert "cut" in result.stderr
    import pandas as pd

    assert (pd.read_parquet(tmp_path / "t.parquet")["sentence"] == 1).sum() == 128


@pytest.mark.parametrize(
    ("output", "fragments"),
    [
        ("missing/v.npy", ("does not exist",)),
        ("v.csv", ("unknown output extension '.csv'", ".npy, .parquet")),
    ],
)
def test_bad_output_is_one_line(tiny_model, texts_csv, tmp_path, output, fragments):
    assert_one_line_error(embed(str(texts_csv), "--output", str(tmp_path / output), "--model", tiny_model), *fragments)
    assert not (tmp_path / output).exists()


def test_tokens_need_parquet(tiny_model, texts_csv, tmp_path):
    assert_one_line_error(embed(str(texts_csv), "--tokens", "--output", str(tmp_path / "t.npy")), "valid: .parquet")


def test_existing_output_is_kept_without_overwrite(tiny_model, texts_csv, tmp_path):
    out = tmp_path / "v.npy"
    out.write_bytes(b"mine")
    assert_one_line_error(embed(str(texts_csv), "--output", str(out), "--model", tiny_model), "pass --overwrite")
    assert out.read_bytes() == b"mine"
    with pytest.raises(InputError, match="pass overwrite=True"):
        embed_documents(read_corpus(texts_csv).documents, out, load_encoder(tiny_model))
    assert embed(str(texts_csv), "--output", str(out), "--model", tiny_model, "--overwrite").exit_code == 0
    assert np.load(out).shape == (8, 32)
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_token_bytes_for_a_download_are_the_file_embed_tokens_writes(tiny_model, tmp_path):
    import io

    import pandas as pd

    from simsearch.tools.embedding import token_parquet_bytes

    encoder = load_encoder(tiny_model)
    texts = ["The cat sleeps.", "A kitten is napping."]
    embed_tokens(texts, tmp_path / "tokens.parquet", encoder, layers="1")
    in_memory = pd.read_parquet(io.BytesIO(token_parquet_bytes(texts, encoder, layers="1")))
    on_disk = pd.read_parquet(tmp_path / "tokens.parquet")
    assert list(in_memory.columns) == ["sentence", "position", "token", "word", "vector"]
    assert in_memory["sentence"].unique().tolist() == [0, 1]
    pd.testing.assert_frame_equal(in_memory.drop(columns="vector"), on_disk.drop(columns="vector"))
    np.testing.assert_allclose(np.stack(in_memory["vector"]), np.stack(on_disk["vector"]), atol=1e-5)


def test_a_model_without_word_pieces_is_refused_and_nothing_is_written(tiny_model, tmp_path):
    from sentence_transformers import SentenceTransformer

    from simsearch.encoders.torch_encoder import TorchEncoder

    model = SentenceTransformer(tiny_model, device="cpu")  # its own copy: load_encoder's is shared by other tests
    model[0].processor = None  # as for an image model: sentence-transformers then reports no tokenizer
    encoder = TorchEncoder(model, "no-word-pieces", "fingerprint")
    with pytest.raises(InvalidArgumentError, match="not a transformer with a tokenizer"):
        embed_tokens(["A cat"], tmp_path / "tokens.parquet", encoder)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (("--layers", "99"), ("invalid layers '99'", "last4-concat")),
        (("--layers", "last4-sum"), ("at least 4 layers",)),
    ],
)
def test_bad_layers_are_one_line_and_write_nothing(tiny_model, texts_csv, tmp_path, args, fragments):
    out = tmp_path / "t.parquet"
    assert_one_line_error(
        embed(str(texts_csv), "--tokens", "--output", str(out), "--model", tiny_model, *args), *fragments
    )
    assert not out.exists() and not list(tmp_path.glob(".*.tmp"))
