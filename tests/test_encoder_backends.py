"""The onnx and onnx-int8 encoder backends against torch, and their place in indexes and the CLI."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from simsearch import Index
from simsearch.encoders import load_encoder
from simsearch.errors import InvalidArgumentError

pytest.importorskip("onnxruntime")

SENTENCES = [
    "The cat sleeps on the warm windowsill.",
    "Interest rates rose again this quarter.",
    "A",
    "Knead the dough for ten minutes before baking, then let it rest under a damp cloth.",
    "UPPER case and lower case",
    "word " * 300,  # longer than any model here reads: truncated the same way by both runtimes
]


def cosine_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1)


def test_onnx_matches_torch_on_tiny_sentence_model(tiny_model):
    torch_vectors = load_encoder(tiny_model).encode(SENTENCES)
    onnx = load_encoder(tiny_model, backend="onnx")
    assert onnx.backend == "onnx"
    np.testing.assert_allclose(onnx.encode(SENTENCES), torch_vectors, atol=1e-4)


@pytest.mark.parametrize("pooling", ["cls", "max", "mean"])
def test_onnx_pools_plain_checkpoints_like_torch(tiny_checkpoint, pooling):
    torch_encoder = load_encoder(tiny_checkpoint, pooling)
    onnx = load_encoder(tiny_checkpoint, pooling, backend="onnx")
    assert onnx.info == torch_encoder.info  # same fingerprint: an index accepts either
    np.testing.assert_allclose(onnx.encode(SENTENCES, batch_size=4), torch_encoder.encode(SENTENCES), atol=1e-4)
    assert onnx.count_truncated(SENTENCES) == torch_encoder.count_truncated(SENTENCES) == 1


def test_onnx_encoder_still_offers_the_torch_model(tiny_model):
    onnx = load_encoder(tiny_model, backend="onnx")
    assert type(onnx.model).__name__ == "SentenceTransformer"
    assert onnx.similarity("a cat", "a cat") == pytest.approx(1.0, abs=1e-5)


def test_onnx_threads_per_call_come_from_the_environment(monkeypatch):
    from simsearch.encoders.onnx_encoder import session_threads

    monkeypatch.delenv("SIMSEARCH_ONNX_THREADS", raising=False)
    assert session_threads() == 0  # ONNX Runtime's own choice: every core
    monkeypatch.setenv("SIMSEARCH_ONNX_THREADS", "1")
    assert session_threads() == 1
    monkeypatch.setenv("SIMSEARCH_ONNX_THREADS", "two")
    with pytest.raises(InvalidArgumentError, match="SIMSEARCH_ONNX_THREADS='two' is not a whole number"):
        session_threads()


def test_a_static_embedding_model_reads_texts_of_any_length_and_builds_an_index(tiny_checkpoint, tmp_path):
    """No transformer, no sequence limit (sentence-transformers says infinity): nothing is cut or split."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.models import StaticEmbedding
    from tokenizers import Tokenizer

    from simsearch.encoders.torch_encoder import NO_LIMIT

    tokenizer = Tokenizer.from_file(str(tiny_checkpoint / "tokenizer.json"))
    folder = tmp_path / "static"
    SentenceTransformer(modules=[StaticEmbedding(tokenizer, embedding_dim=16)]).save(str(folder))
    encoder = load_encoder(folder)
    assert encoder.info.max_seq_length == NO_LIMIT and encoder.count_truncated(SENTENCES) == 0
    index = Index.build("static", SENTENCES, encoder=encoder, index_dir=tmp_path / "indexes")
    assert index.search("The cat sleeps on the warm windowsill.", k=1, mode="dense")[0].text == SENTENCES[0]
    assert index.check()["ok"] and index._vectors().count == len(SENTENCES)  # the 300-word text: one vector


def test_unknown_backend_is_refused_with_the_valid_names(tiny_model):
    with pytest.raises(InvalidArgumentError, match="valid: torch, onnx, onnx-int8"):
        load_encoder(tiny_model, backend="tensorrt")


def test_onnx_needs_a_local_model_folder():
    with pytest.raises(InvalidArgumentError, match="local model folder"):
        load_encoder("someone/not-a-folder", backend="onnx")


def test_backend_is_recorded_and_other_backends_can_search(tiny_model, index_dir, animals):
    index = Index.build("pets", animals, encoder=load_encoder(tiny_model, backend="onnx"), index_dir=index_dir)
    assert index.manifest.encoder_backend == "onnx"
    expected = [hit.id for hit in index.search("a sleepy cat", k=3)]
    reopened = Index.open("pets", index_dir=index_dir, backend="torch")
    assert reopened.encoder.backend == "torch"
    assert [hit.id for hit in reopened.search("a sleepy cat", k=3)] == expected
    rebuilt = reopened.rebuild(encoder=load_encoder(tiny_model, backend="torch"))
    assert rebuilt.manifest.encoder_backend == "torch"


@pytest.mark.slow
def test_adding_to_an_onnx_built_index_never_imports_torch(tiny_model, index_dir, animals):
    Index.build("pets", animals, encoder=load_encoder(tiny_model, backend="onnx"), index_dir=index_dir)
    long_text = " ".join(f"Note {i} on the weather in the harbour town." for i in range(60))  # split into windows
    script = (
        "import json, sys; from simsearch import Index; "
        f"index = Index.open('pets', index_dir={str(index_dir)!r}); "
        f"index.add([{{'id': 'n1', 'text': 'A parrot repeats every word.'}}, {{'id': 'n2', 'text': {long_text!r}}}]); "
        "print(json.dumps({'count': len(index), 'vectors': index.check()['vectors'], "
        "'torch': 'torch' in sys.modules, 'st': 'sentence_transformers' in sys.modules}))"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert answer["count"] == 10 and answer["vectors"] > 10  # the long text has windows
    assert answer["torch"] is False and answer["st"] is False


@pytest.mark.slow
def test_index_built_with_onnx_is_searched_without_torch_in_a_new_process(tiny_model, index_dir, animals, tmp_path):
    Index.build("pets", animals, encoder=load_encoder(tiny_model, backend="onnx"), index_dir=index_dir)
    script = (
        "import json, sys; from simsearch import Index; "
        f"hits = Index.open('pets', index_dir={str(index_dir)!r}).search('a sleepy cat', k=2); "
        "print(json.dumps({'ids': [h.id for h in hits], "
        "'torch': 'torch' in sys.modules, 'st': 'sentence_transformers' in sys.modules}))"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert len(answer["ids"]) == 2
    assert answer["torch"] is False and answer["st"] is False


@pytest.mark.slow
def test_cli_build_with_backend_and_bad_backend(tiny_model, index_dir, tmp_path):
    corpus = tmp_path / "docs.txt"
    corpus.write_text("a cat on a mat\nthe stock market fell\nbake the bread slowly\n", encoding="utf-8")
    cli = [sys.executable, "-m", "simsearch"]
    common = ["--index-dir", str(index_dir)]
    subprocess.run(
        [*cli, "build", "docs", "-i", str(corpus), "--model", tiny_model, "--backend", "onnx-int8", "-q", *common],
        check=True,
        capture_output=True,
    )
    info = subprocess.run([*cli, "info", "docs", "--json", *common], check=True, capture_output=True, text=True)
    assert json.loads(info.stdout)["encoder_backend"] == "onnx-int8"
    found = subprocess.run([*cli, "search", "docs", "kitten", "-k", "1", *common], capture_output=True, text=True)
    assert found.returncode == 0 and "1." in found.stdout
    bad = subprocess.run(
        [*cli, "search", "docs", "kitten", "--backend", "tensorrt", *common], capture_output=True, text=True
    )
    assert bad.returncode == 1
    assert bad.stderr.strip().startswith("error: unknown encoder backend 'tensorrt'")
    assert "Traceback" not in bad.stderr


@pytest.mark.slow
def test_default_model_onnx_equals_torch_and_int8_stays_close(default_encoder):
    onnx = load_encoder(backend="onnx").encode(SENTENCES)
    int8 = load_encoder(backend="onnx-int8").encode(SENTENCES)
    reference = default_encoder.encode(SENTENCES)
    np.testing.assert_allclose(onnx, reference, atol=1e-5)
    assert cosine_rows(int8, reference).min() > 0.95
    assert cosine_rows(int8, reference).mean() > 0.98


# --- queries on the fp32 ONNX export by default -----------------------------------------------------------------


def test_a_torch_built_index_queries_on_the_onnx_export_with_torchs_vectors(tiny_model, index_dir, animals):
    torch_encoder = load_encoder(tiny_model)
    built = Index.build("pets", animals, encoder=torch_encoder, index_dir=index_dir)
    assert built.manifest.encoder_backend == "torch"
    reopened = Index.open("pets", index_dir=index_dir)
    assert reopened.encoder.backend == "onnx"
    np.testing.assert_allclose(reopened.encoder.encode(SENTENCES), torch_encoder.encode(SENTENCES), atol=1e-5)
    onnx_hits, torch_hits = (index.search("a sleepy cat", k=4, mode="dense") for index in (reopened, built))
    assert [hit.id for hit in onnx_hits] == [hit.id for hit in torch_hits]
    assert [hit.score for hit in onnx_hits] == pytest.approx([hit.score for hit in torch_hits], abs=1e-5)
    assert Index.open("pets", index_dir=index_dir, backend="torch").encoder.backend == "torch"  # asked: it wins


def test_build_prepares_the_onnx_export_so_the_first_search_need_not(tiny_model, index_dir, animals, tmp_path):
    import shutil

    from simsearch.encoders.onnx_export import META_FILE, cache_roots, export_key

    model = tmp_path / "fresh-model"  # a copy never exported before
    shutil.copytree(tiny_model, model, ignore=shutil.ignore_patterns(".simsearch-onnx"))
    key = export_key(model, None)
    assert not any((root / key / META_FILE).exists() for root in cache_roots(model))
    Index.build("pets", animals, encoder=load_encoder(model), index_dir=index_dir)
    assert any((root / key / META_FILE).exists() for root in cache_roots(model))


@pytest.fixture(scope="module")
def model_with_dense_layer(tiny_model, tmp_path_factory) -> str:
    """A sentence-transformers model with a Dense layer: the onnx backends refuse it, torch runs it."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Dense, Normalize

    base = SentenceTransformer(tiny_model, device="cpu")
    dimension = base.get_embedding_dimension()
    model = SentenceTransformer(modules=[base[0], base[1], Dense(dimension, 16), Normalize()], device="cpu")
    folder = tmp_path_factory.mktemp("dense") / "model"
    model.save(str(folder))
    return str(folder)


def test_a_model_onnx_cannot_run_queries_on_torch_and_says_so_once(model_with_dense_layer, index_dir, animals, caplog):
    with caplog.at_level("WARNING", logger="simsearch.encoders"):
        Index.build("dense", animals, encoder=load_encoder(model_with_dense_layer), index_dir=index_dir)
        first = Index.open("dense", index_dir=index_dir)
        assert first.encoder.backend == "torch"
        assert len(first.search("a sleepy cat", k=2)) == 2
        assert Index.open("dense", index_dir=index_dir).encoder.backend == "torch"
    said = [r.getMessage() for r in caplog.records if "run on torch" in r.getMessage()]
    assert len(said) == 1 and "Dense" in said[0]


@pytest.mark.slow
def test_a_cold_cli_search_on_a_torch_built_index_never_imports_torch(tiny_model, index_dir, animals):
    Index.build("pets", animals, encoder=load_encoder(tiny_model), index_dir=index_dir)  # torch, the default
    script = (
        "import json, sys; from simsearch.cli import app\n"
        f"app(['search', 'pets', 'a sleepy cat', '-k', '2', '--index-dir', {str(index_dir)!r}],"
        " standalone_mode=False)\n"
        "print(json.dumps({'torch': 'torch' in sys.modules, 'st': 'sentence_transformers' in sys.modules}))"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    lines = result.stdout.strip().splitlines()
    assert sum(line.lstrip().startswith(("1.", "2.")) for line in lines) == 2
    assert json.loads(lines[-1]) == {"torch": False, "st": False}


@pytest.mark.parametrize(
    "command",
    [
        ["add", "pets", "--input", "{corpus}"],
        ["eval", "sts", "{pairs}"],
        [
            "eval",
            "retrieval",
            "--corpus",
            "{corpus}",
            "--queries",
            "{corpus}",
            "--qrels",
            "{corpus}",
            "--index",
            "pets",
        ],
        ["eval", "paraphrase", "{pairs}"],
        ["check", "pets"],
        ["dedup", "pets"],
        ["cluster", "pets"],
    ],
)
def test_every_command_that_loads_a_model_takes_backend_and_refuses_an_unknown_one(
    command, tiny_model, index_dir, animals, tmp_path
):
    from typer.testing import CliRunner

    from simsearch.cli import app

    Index.build("pets", animals, encoder=load_encoder(tiny_model), index_dir=index_dir)
    corpus, pairs = tmp_path / "more.txt", tmp_path / "pairs.csv"
    corpus.write_text("a new text\n", encoding="utf-8")
    pairs.write_text("sentence1,sentence2,score\na cat,a kitten,4.5\nthe sun,a bank,0.5\n", encoding="utf-8")
    args = [part.format(corpus=corpus, pairs=pairs) for part in command]
    result = CliRunner().invoke(app, [*args, "--backend", "tensorrt"], env={"SIMSEARCH_HOME": str(index_dir)})
    assert result.exit_code == 1, result.output
    assert result.output.strip() == "error: unknown encoder backend 'tensorrt'; valid: torch, onnx, onnx-int8."
    assert len(Index.open("pets", index_dir=index_dir)) == len(animals)
