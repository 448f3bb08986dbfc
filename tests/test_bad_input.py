"""Bad input that used to escape as a library traceback or be silently misread: each is now one clear line.

Real files, real FAISS, the real tiny model; the CLI in-process through Typer's runner.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from simsearch import Index, load_encoder
from simsearch.cli import app
from simsearch.errors import CorruptIndexError, InputError, InvalidArgumentError, ModelNotFoundError
from simsearch.ingest.corpus import read_corpus
from simsearch.training.pairs import read_pairs
from simsearch.training.retrieval_sets import read_beir
from simsearch.vectors import create_vector_index

KINDS = ("flat", "hnsw", "ivf", "ivfpq", "ivfsq")


def cli(*args: str, index_dir: Path):
    return CliRunner().invoke(app, list(args), env={"SIMSEARCH_HOME": str(index_dir)}, catch_exceptions=False)


def one_error_line(result) -> str:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    return errors[0]


# --- CSV rows that do not match the header ----------------------------------------------
@pytest.mark.parametrize(
    "body, line, fields",
    [
        ("id,text\n1,a,b,c\n2,fine\n", 2, 4),  # pandas made "1,a" an index and stored id b, text c
        ("id,text\n1,fine\n2\n", 3, 1),  # pandas padded the short row with an empty text
        ('id,text\n1,"two\nlines"\n2,x,y\n', 4, 3),  # the line a record starts on, after a quoted newline
    ],
)
def test_csv_row_with_more_or_fewer_fields_than_the_header_is_refused_naming_its_line(tmp_path, body, line, fields):
    path = tmp_path / "ragged.csv"
    path.write_text(body)
    with pytest.raises(InputError, match=f"ragged.csv line {line} has {fields} fields where the header has 2"):
        read_corpus(path)


def test_cli_build_from_a_ragged_csv_fails_and_builds_nothing(tmp_path, tiny_model):
    path = tmp_path / "ragged.csv"
    path.write_text("id,text\n1,a,b,c\n")
    result = cli("build", "x", "--input", str(path), "--model", tiny_model, index_dir=tmp_path / "home")
    assert "line 2 has 4 fields" in one_error_line(result)
    assert not (tmp_path / "home" / "x").exists()


def test_csv_blank_lines_quoting_and_a_trailing_empty_column_still_read(tmp_path):
    path = tmp_path / "ok.csv"
    path.write_text('id,text,\n\n1,"a, b",\n2,"say ""hi""",\n\n')
    docs = read_corpus(path).documents
    assert [(d.id, d.text) for d in docs] == [("1", "a, b"), ("2", 'say "hi"')]
    assert docs[0].metadata == {"Unnamed: 2": ""}  # as pandas named an unnamed column


def test_csv_header_naming_a_column_twice_is_refused(tmp_path):
    path = tmp_path / "twice.csv"
    path.write_text("id,text,text\n1,a,b\n")
    with pytest.raises(InputError, match="names the column 'text' twice"):
        read_corpus(path)


# --- JSON nested too deep -----------------------------------------------------------------
@pytest.mark.parametrize("depth", [5_000, 150])
def test_jsonl_line_nested_too_deep_is_one_line_not_a_recursion_error(tmp_path, depth):
    path = tmp_path / "deep.jsonl"
    path.write_text('{"text": "ok"}\n{"text": "x", "meta": ' + "[" * depth + "]" * depth + "}\n")
    with pytest.raises(InputError, match="deep.jsonl line 2 nests arrays or objects more than 100 deep"):
        read_corpus(path)


# --- k ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def animal_index(tiny_model, tmp_path_factory):
    texts = [
        "The cat sleeps on the warm windowsill.",
        "A dog fetches the ball in the park.",
        "The stock market fell sharply on Monday.",
        "Interest rates rose again this quarter.",
        "Fresh basil makes the tomato sauce better.",
    ]
    home = tmp_path_factory.mktemp("k-home")
    Index.build(
        "five",
        [{"id": f"d{i}", "text": t} for i, t in enumerate(texts)],
        encoder=load_encoder(tiny_model),
        kind="flat",
        index_dir=home,
    )
    return home


@pytest.mark.parametrize("k", [10**30, 2**63, 1.5, "3", True])
def test_k_that_is_not_a_positive_64_bit_integer_is_refused(animal_index, k):
    index = Index.open("five", index_dir=animal_index)
    with pytest.raises(InvalidArgumentError, match="k must be a whole number from 1 to 2\\*\\*63 - 1"):
        index.search("cats", k=k)
    with pytest.raises(InvalidArgumentError, match="k must be"):
        index.search_vectors(index.encoder.encode(["cats"]), k=k)


def test_largest_allowed_k_returns_every_document(animal_index):
    index = Index.open("five", index_dir=animal_index)
    assert len(index.search("cats", k=2**63 - 1)) == 5


def test_cli_absurd_k_is_one_error_line(animal_index):
    result = cli("search", "five", "cats", "-k", str(10**30), index_dir=animal_index)
    assert "k must be a whole number" in one_error_line(result)


@pytest.fixture(scope="module")
def spread_vectors():
    """2,000 clustered unit vectors: enough for IVF to probe only part of its cells by default."""
    rng = np.random.default_rng(7)
    centres = rng.standard_normal((30, 32))
    vectors = centres[rng.integers(30, size=2000)] + 0.3 * rng.standard_normal((2000, 32))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors.astype(np.float32), np.arange(5000, 7000, dtype=np.int64)


@pytest.mark.parametrize("kind", KINDS)
def test_k_at_or_above_the_count_returns_every_document_for_every_kind(spread_vectors, kind):
    vectors, ids = spread_vectors
    params = {"nprobe": 1} if kind.startswith("ivf") else {"ef_search": 16} if kind == "hnsw" else None
    index = create_vector_index(kind, 32, len(vectors), params)
    index.build(vectors, ids)
    for k in (len(ids), len(ids) + 1, 10**15):
        scores, found = index.search(vectors[:3], k)
        assert found.shape == (3, len(ids))  # never k slots: 10**15 would not fit in memory
        for row, row_scores in zip(found, scores):
            assert sorted(row.tolist()) == ids.tolist()
            assert np.all(np.diff(row_scores) <= 1e-6)  # best first
    index.remove(ids[:100])
    _, found = index.search(vectors[:2], 10**15)
    for row in found:
        assert sorted(r for r in row.tolist() if r >= 0) == ids[100:].tolist()
    _, found = index.search(vectors[:1], 10**15, allowed_ids=ids[100:300])
    assert sorted(r for r in found[0].tolist() if r >= 0) == ids[100:300].tolist()


# --- FAISS parameters ---------------------------------------------------------------------
@pytest.mark.parametrize(
    "kind, params, message",
    [
        ("ivf", {"nlist": 0}, "kind ivf parameter nlist=0 is out of range; valid: 1 to"),
        ("ivfsq", {"nlist": -4}, "parameter nlist=-4 is out of range"),
        ("ivf", {"nprobe": 0}, "parameter nprobe=0 is out of range"),
        ("ivf", {"nlist": 8, "nprobe": 9}, "parameter nprobe=9 is out of range; valid: 1 to 8"),
        ("ivfpq", {"m": "abc"}, "kind ivfpq parameter m must be a whole number \\(got 'abc'\\)"),
        ("ivfpq", {"nbits": 0}, "parameter nbits=0 is out of range; valid: 1 to 16"),
        ("ivfpq", {"m": 7}, "must divide the dimension 32; valid: 1, 2, 4, 8, 16, 32"),
        ("hnsw", {"m": 2.5}, "kind hnsw parameter m must be a whole number"),
        ("hnsw", {"m": 0}, "parameter m=0 is out of range; valid: 2 to 256"),
        ("hnsw", {"ef_search": 10**12}, "parameter ef_search=1000000000000 is out of range"),
        ("hnsw", {"nlist": 4}, "kind hnsw has no parameter 'nlist'; valid: m, ef_construction, ef_search"),
        ("flat", {"m": 4}, "kind flat has no parameter 'm'; valid: none"),
        ("ivf", {"nlist": True}, "must be a whole number"),
    ],
)
def test_bad_index_params_are_refused_before_building_naming_the_parameter(kind, params, message):
    with pytest.raises(InvalidArgumentError, match=message):
        create_vector_index(kind, 32, 2000, params)


def test_ivf_with_a_small_nlist_probes_at_most_every_cell():
    assert create_vector_index("ivf", 32, 2000, {"nlist": 4}).params == {"nlist": 4, "nprobe": 4}


def test_index_build_with_bad_params_leaves_nothing(tiny_model, tmp_path):
    with pytest.raises(InvalidArgumentError, match="nlist=0"):
        Index.build(
            "x", ["a", "b"], encoder=load_encoder(tiny_model), kind="ivf", params={"nlist": 0}, index_dir=tmp_path
        )
    assert not (tmp_path / "x").exists()


def test_ivfpq_with_too_few_documents_names_the_fix_for_the_surface():
    with pytest.raises(InvalidArgumentError) as info:
        create_vector_index("ivfpq", 32, 100)
    assert 'use kind="flat"' in str(info.value)
    assert "use --kind flat" in info.value.message_for("cli")


# --- damaged model folders ----------------------------------------------------------------
@pytest.mark.parametrize(
    "file, content, message",
    [
        ("config.json", "{}", "config.json has no model_type"),
        ("config.json", "[1, 2]", "config.json has no model_type"),
        ("modules.json", "not json", "modules.json is not valid JSON"),
        ("modules.json", "{}", "modules.json lists no modules"),
        ("modules.json", '[{"idx": 0, "name": "0", "path": "", "type": "nope.Module"}]', "cannot be loaded"),
    ],
)
def test_model_folder_with_a_broken_description_is_one_line(tiny_model, tmp_path, file, content, message):
    from simsearch.encoders.models import load_sentence_transformer

    folder = tmp_path / "model"
    shutil.copytree(tiny_model, folder)
    (folder / file).write_text(content)
    for load in (load_encoder, load_sentence_transformer):
        with pytest.raises(ModelNotFoundError, match=message) as info:
            load(str(folder))
        assert "\n" not in str(info.value)
        assert "--model" in info.value.message_for("cli")


def test_cli_build_with_a_broken_model_folder_is_one_error_line(tiny_model, tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(tiny_model, folder)
    (folder / "config.json").write_text("{}")
    texts = tmp_path / "t.txt"
    texts.write_text("one\ntwo\n")
    result = cli("build", "x", "--input", str(texts), "--model", str(folder), index_dir=tmp_path / "home")
    assert "has no model_type" in one_error_line(result)


# --- damaged tombstones -------------------------------------------------------------------
@pytest.mark.parametrize("damage", [b"", b"garbage, not numpy", "float"])
def test_damaged_tombstone_file_of_an_hnsw_index_is_a_corrupt_index_error(tiny_model, tmp_path, damage):
    animals = [
        "a cat",
        "a dog",
        "a bird",
        "a fish",
        "a newt",
        "a goat",
        "a hare",
        "a mole",
        "a wren",
        "a toad",
        "a lynx",
    ]
    index = Index.build("graph", animals, encoder=load_encoder(tiny_model), kind="hnsw", index_dir=tmp_path)
    index.delete([index.search("a cat", k=1)[0].id])
    index.compact()  # 1 dead of 11 (under 10% of the graph) stays a tombstone, in the graph's tombstone file
    tombstones = list(tmp_path.rglob("*.deleted.npy"))
    assert len(tombstones) == 1
    if damage == "float":
        with open(tombstones[0], "wb") as handle:
            np.save(handle, np.array([0.5, 1.5]))
    else:
        tombstones[0].write_bytes(damage)
    with pytest.raises(CorruptIndexError, match="deleted-ids file .* rebuild it with Index.open\\('graph'\\).rebuild"):
        Index.open("graph", index_dir=tmp_path)


# --- binary evaluation files --------------------------------------------------------------
def test_binary_qrels_queries_or_corpus_file_is_one_line(tmp_path):
    corpus, queries, qrels = tmp_path / "corpus.jsonl", tmp_path / "queries.jsonl", tmp_path / "qrels.tsv"
    corpus.write_text(json.dumps({"_id": "d1", "text": "a cat"}) + "\n")
    queries.write_text(json.dumps({"_id": "q1", "text": "cats"}) + "\n")
    qrels.write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\n")
    binary = bytes(range(256)) * 8
    for damaged in (qrels, queries, corpus):
        original = damaged.read_bytes()
        damaged.write_bytes(binary)
        with pytest.raises(InputError, match=f"{damaged.name} line \\d+ is not valid UTF-8"):
            read_beir(corpus, queries, qrels)
        damaged.write_bytes(original)
    assert read_beir(corpus, queries, qrels).qrels == {"q1": {"d1": 1}}


def test_binary_pair_file_is_one_line(tmp_path):
    path = tmp_path / "pairs.csv"
    path.write_bytes(b"sentence1,sentence2,label\n" + bytes(range(128, 256)))
    with pytest.raises(InputError, match="line 2 is not valid UTF-8"):
        read_pairs(path)


# --- numbers JSON cannot hold -----------------------------------------------------------------


@pytest.mark.parametrize(
    "value, shown", [(float("inf"), "inf"), (float("nan"), "nan"), ({"a": [float("-inf")]}, "-inf")]
)
def test_index_add_refuses_a_non_finite_metadata_number_naming_document_and_field(animal_index, value, shown):
    index = Index.open("five", index_dir=animal_index)
    with pytest.raises(InputError) as refused:
        index.add([{"id": "d9", "text": "A new text.", "v": value}])
    assert "'d9'" in str(refused.value) and "field 'v" in str(refused.value) and shown in str(refused.value)
    assert len(index) == 5 and index.get("d9") is None


def test_a_non_finite_number_in_an_unnumbered_record_names_its_row(animal_index):
    with pytest.raises(InputError, match="field 'v' of row 2 is inf"):
        Index.open("five", index_dir=animal_index).add(["fine", {"text": "bad", "v": float("inf")}])


@pytest.mark.parametrize("literal", ["Infinity", "-Infinity", "NaN", "1e999"])
def test_jsonl_with_a_non_finite_number_is_refused_naming_the_document(tmp_path, literal):
    path = tmp_path / "rows.jsonl"
    path.write_text('{"id": "ok", "text": "fine", "v": 1}\n{"id": "bad", "text": "poison", "v": ' + literal + "}\n")
    with pytest.raises(InputError, match="rows.jsonl: metadata field 'v' of document 'bad'"):
        read_corpus(path)


def test_cli_add_of_a_jsonl_row_with_infinity_is_one_line_and_the_index_keeps_working(animal_index, tmp_path):
    path = tmp_path / "more.jsonl"
    path.write_text('{"id": "d7", "text": "Rain again.", "v": Infinity}\n')
    line = one_error_line(cli("add", "five", "--input", str(path), index_dir=animal_index))
    assert "field 'v' of document 'd7'" in line and "finite number" in line
    index = Index.open("five", index_dir=animal_index)
    assert len(index) == 5 and index.get("d7") is None and index.check()["ok"]


def test_adding_the_next_automatic_number_as_an_explicit_id_never_jams_numbering(tiny_model, tmp_path):
    index = Index.build(
        "numbered", ["first text", "second text", "third text"], encoder=load_encoder(tiny_model), index_dir=tmp_path
    )
    assert index.add([{"id": "5", "text": "named five"}]) == ["5"]  # stored as row 4
    assert index.add(["unnamed"]) == ["6"]  # row 5 would be numbered "5", which is taken: skipped
    assert index.add(["unnamed again"]) == ["7"]  # and numbering goes on
    assert index.get("5").text == "named five" and index.get("6").text == "unnamed" and index.check()["ok"]
