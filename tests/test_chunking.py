"""Long texts read whole: the window splitter, chunked builds, add/delete/upsert, migration 3, hits per document."""

from __future__ import annotations

import json
import sqlite3

import numpy as np
import pytest
from typer.testing import CliRunner

from simsearch import Index, load_encoder
from simsearch.cli import app
from simsearch.errors import InvalidArgumentError
from simsearch.ingest.chunking import Chunking, resolve_chunking, split_texts, token_windows
from simsearch.store import SCHEMA_VERSION, Store
from simsearch.training.longtext import longtext_retrieval_set
from simsearch.training.pairs import read_pairs
from simsearch.training.retrieval_sets import read_beir
from tests.conftest import SHARED_DATA

FILLER = " ".join(f"Report {i} describes the weather over the harbour town on a quiet day." for i in range(40))
PLANTED = "The violinist tuned her instrument before the evening concert."


@pytest.fixture(scope="module")
def tiny(tiny_model):
    return load_encoder(tiny_model)  # reads 128 pieces: windows of 126


@pytest.fixture
def library(tiny, index_dir) -> Index:
    rows = [
        {"id": "long", "text": FILLER + " " + PLANTED, "shelf": "a"},
        {"id": "short", "text": "A dog fetches the ball in the park.", "shelf": "a"},
        {"id": "other", "text": "Interest rates rose again this quarter.", "shelf": "b"},
    ]
    return Index.build("library", rows, encoder=tiny, kind="flat", index_dir=index_dir)


def vector_count(index: Index) -> int:
    return index.check()["vectors"]


# --- the splitter -----------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(20))
def test_windows_cover_every_piece_within_size_and_overlap_as_asked(seed):
    rng = np.random.default_rng(seed)
    count, tokens = int(rng.integers(1, 900)), int(rng.integers(8, 260))
    overlap = int(rng.integers(0, tokens))
    starts = [True] + [bool(x) for x in rng.random(count - 1) < 0.7]  # words of one to a few pieces
    windows = token_windows(starts, tokens, overlap)
    assert windows[0][0] == 0 and windows[-1][1] == count
    assert all(0 < last - first <= tokens for first, last in windows)
    for (first, last), (next_first, _) in zip(windows, windows[1:]):
        assert first < next_first < last or next_first == last == first + 1  # moves on, never leaves a gap
        if any(starts[first + 1 : last - overlap + 1]):  # words enough for the overlap: at least that much shared
            assert last - next_first >= overlap
        if any(starts[first + 1 : last]):  # cuts fall between words unless one word fills the window
            assert starts[next_first] and starts[last]


def test_passages_map_back_to_the_text_and_fit_the_model(tiny):
    chunking = resolve_chunking(tiny, Chunking(60, 12))
    text = FILLER + " " + PLANTED
    passages = split_texts(tiny, [text, "short text"], chunking)
    windows = [span for span, owner in zip(passages.spans, passages.owners) if owner == 0]
    assert len(windows) > 3 and passages.spans[-1] is None and passages.texts[-1] == "short text"
    assert windows[0][0] == 0 and windows[-1][1] == len(text)
    for (start, end), passage in zip(windows, passages.texts):
        assert passage == text[start:end]
        assert tiny.token_counts([passage])[0] - 2 <= 60  # the model reads every piece of it
    for (_, end), (next_start, _) in zip(windows, windows[1:]):
        assert next_start < end  # consecutive windows share text


def test_onnx_splits_long_texts_into_the_same_windows_as_torch(tiny, tiny_model):
    onnx = load_encoder(tiny_model, backend="onnx")
    chunking = resolve_chunking(tiny, Chunking(40, 8))
    texts = [FILLER + " " + PLANTED, "short text", "Ünïcödé café — naïve résumé, " * 30]
    assert split_texts(onnx, texts, chunking) == split_texts(tiny, texts, chunking)
    assert [pieces.words for pieces in onnx.word_pieces(texts)] == [pieces.words for pieces in tiny.word_pieces(texts)]


def test_default_window_is_the_model_limit_less_its_special_tokens(tiny, default_encoder):
    assert resolve_chunking(tiny, None) == Chunking(126, 15)
    assert resolve_chunking(default_encoder, None) == Chunking(254, 31)
    assert not resolve_chunking(tiny, Chunking(0)).enabled


@pytest.mark.parametrize(
    ("chunking", "message"),
    [
        (Chunking(60, 60), "chunking.overlap (60) must be smaller than chunking.tokens (60)"),
        (Chunking(-5), "chunking.tokens must be a whole number, 0 or more (got -5)"),
        (Chunking(60, -1), "chunking.overlap must be a whole number, 0 or more (got -1)"),
        (Chunking(500), "chunking.tokens is 500, but model"),
    ],
)
def test_bad_chunking_is_refused_before_anything_is_written(tiny, index_dir, chunking, message):
    with pytest.raises(InvalidArgumentError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Index.build("nope", ["some text"], encoder=tiny, index_dir=index_dir, chunking=chunking)
    assert not (index_dir / "nope").exists()


@pytest.mark.parametrize(
    ("flags", "fragment"),
    [
        (["--chunk-tokens", "40", "--chunk-overlap", "40"], "--chunk-overlap (40) must be smaller than --chunk-tokens"),
        (["--chunk-tokens", "-1"], "--chunk-tokens must be a whole number"),
        (["--chunk-overlap", "-3"], "--chunk-overlap must be a whole number"),
        (["--chunk-tokens", "1000"], "--chunk-tokens is 1000, but model"),
    ],
)
def test_cli_bad_chunk_flags_are_one_line_exit_1_and_nothing_written(tiny_model, index_dir, tmp_path, flags, fragment):
    source = tmp_path / "texts.txt"
    source.write_text("first text\nsecond text\n")
    result = CliRunner().invoke(
        app,
        ["build", "nope", "--input", str(source), "--model", tiny_model, "-q", *flags],
        env={"SIMSEARCH_HOME": str(index_dir)},
        catch_exceptions=False,
    )
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert result.exit_code == 1 and "Traceback" not in result.stderr
    assert len(errors) == 1 and fragment in errors[0], result.stderr
    assert not (index_dir / "nope").exists()


# --- chunked indexes --------------------------------------------------------------------------


def test_long_text_gets_a_vector_per_window_short_texts_keep_their_row_id(library):
    assert len(library) == 3 and library.manifest.chunk_tokens == 126 and library.manifest.chunk_overlap == 15
    report = library.check()
    assert report["ok"], report["problems"]
    assert report["vectors"] == 3 + report["extra_windows"] and report["extra_windows"] >= 3
    store = library._store
    row_ids = store.row_ids_for(["long", "short", "other"])
    windows = store.passages_of(store.vector_ids().tolist())
    assert {row for row, _, _ in windows.values()} == {row_ids["long"]}  # only the long text is split
    assert row_ids["long"] in windows  # its first window keeps the row id
    assert set(store.vector_ids()) == set(row_ids.values()) | set(windows)


def test_hits_are_documents_with_the_matched_passage(library):
    for mode in ("dense", "hybrid"):
        hits = library.search(PLANTED, k=3, mode=mode)
        assert sorted(hit.id for hit in hits) == ["long", "other", "short"], mode  # each document once
        long = next(hit for hit in hits if hit.id == "long")
        assert long.passage is not None and long.passage in long.text and long.text == FILLER + " " + PLANTED
        assert all(hit.passage is None for hit in hits if hit.id != "long")
        assert json.loads(json.dumps(long.to_dict()))["passage"] == long.passage
    lexical = library.search("violinist", k=3, mode="lexical")  # the lexical index holds the whole text
    assert [hit.id for hit in lexical] == ["long"] and lexical[0].passage is None


def test_windows_of_one_document_never_crowd_others_out_of_k(tiny, index_dir):
    echo = " ".join(["The violinist tuned her instrument."] * 120)  # every window nearly the same vector
    rows = [{"id": "echo", "text": echo}] + [
        {"id": f"s{i}", "text": f"Short note {i} about a harbour."} for i in range(5)
    ]
    index = Index.build("echo", rows, encoder=tiny, kind="flat", index_dir=index_dir)
    assert index.check()["extra_windows"] >= 5
    hits = index.search("The violinist tuned her instrument.", k=4, mode="dense")
    assert hits[0].id == "echo" and len({hit.id for hit in hits}) == 4


def test_filters_apply_to_every_window(library):
    hits = library.search(PLANTED, k=3, filters={"shelf": "a"}, mode="dense")
    assert sorted(hit.id for hit in hits) == ["long", "short"]
    assert library.search(PLANTED, k=3, filters={"shelf": "b"}, mode="dense")[0].id == "other"


def test_add_delete_and_upsert_keep_windows_with_their_texts(library):
    before = vector_count(library)
    library.add([{"id": "long2", "text": FILLER}])
    added = vector_count(library) - before
    assert added > 3 and library.check()["ok"]
    library.add([{"id": "long2", "text": FILLER + " " + FILLER}], upsert=True)  # twice as long: more windows
    assert vector_count(library) - before > added and library.check()["ok"]
    assert len(library) == 4
    library.delete(["long2", "long"])
    report = library.check()
    assert report["ok"] and report["vectors"] == report["texts"] == 2 and report["extra_windows"] == 0
    assert library._store.passages_of(range(1000)) == {}


def test_no_chunking_cuts_long_texts_at_the_limit_with_a_warning(tiny, index_dir, caplog):
    index = Index.build("cut", [FILLER, "short"], encoder=tiny, index_dir=index_dir, chunking=Chunking(0))
    assert index.manifest.chunk_tokens == 0 and index.check()["vectors"] == 2
    assert "1 of 2 texts are longer than the model's 128 tokens and were truncated" in caplog.text
    index.add([FILLER + " more"])  # add follows the index: no windows
    assert index.check()["vectors"] == 3 and index.search(FILLER, k=1, mode="dense")[0].passage is None


def test_rebuild_keeps_or_changes_the_windows(library):
    windows = library.check()["extra_windows"]
    same = library.rebuild()
    assert same.manifest.chunk_tokens == 126 and same.check()["extra_windows"] == windows
    finer = same.rebuild(chunking=Chunking(40, 8))
    assert finer.manifest.chunk_tokens == 40 and finer.check()["extra_windows"] > windows and finer.check()["ok"]
    assert [hit.id for hit in finer.search(PLANTED, k=1, mode="hybrid")] == ["long"]


# --- an index from before chunking --------------------------------------------------------------


def downgrade_to_schema_2(index: Index) -> None:
    """Make the index look written by the release before chunking: no passages table, manifest format 1."""
    folder = index.folder
    index.close()
    db = sqlite3.connect(folder / "store.sqlite")
    db.executescript(
        "DROP TRIGGER passages_delete; DROP TABLE passages; DROP TABLE delta; DROP TABLE dead; PRAGMA user_version = 2;"
    )
    db.close()
    manifest = json.loads((folder / "manifest.json").read_text())
    for key in ("chunk_tokens", "chunk_overlap"):
        del manifest[key]
    manifest["format_version"] = 1
    (folder / "manifest.json").write_text(json.dumps(manifest))


def test_an_index_of_schema_2_migrates_and_stays_unchunked_until_rebuilt(tiny, index_dir):
    old = Index.build(
        "old", ["first short text", "second short text"], encoder=tiny, index_dir=index_dir, chunking=Chunking(0)
    )
    downgrade_to_schema_2(old)
    index = Index.open("old", index_dir=index_dir)
    assert index._store.schema_version == SCHEMA_VERSION == 4
    assert index.manifest.chunk_tokens is None and index.check()["ok"]
    assert index.search("first short text", k=1, mode="dense")[0].id == "1"
    index.add([{"id": "long", "text": FILLER}])  # as the old release did: one vector, cut at the limit
    assert index.check()["vectors"] == 3
    rebuilt = index.rebuild()  # a rebuild reads long texts whole, with the defaults
    assert rebuilt.manifest.chunk_tokens == 126 and rebuilt.check()["extra_windows"] > 0 and rebuilt.check()["ok"]


def test_store_migration_3_starts_with_no_windows(tmp_path):
    path = tmp_path / "store.sqlite"
    Store(path).close()
    db = sqlite3.connect(path)
    db.executescript(
        "DROP TRIGGER passages_delete; DROP TABLE passages; DROP TABLE delta; DROP TABLE dead; "
        "PRAGMA user_version = 2;"
        "INSERT INTO documents (ext_id, text) VALUES ('a', 'apples'), ('b', 'pears');"
    )
    db.close()
    store = Store(path)
    try:
        assert store.schema_version == 4 and store.vector_ids().tolist() == [1, 2]
        assert store.write_log_figures()[2] == 2 and store.passages_of([1, 2]) == {}
    finally:
        store.close()


# --- the real model -----------------------------------------------------------------------------


@pytest.mark.slow
def test_a_sentence_planted_past_the_cut_is_found_only_when_chunked(default_encoder, index_dir):
    """all-MiniLM-L6-v2 reads 256 pieces; the planted sentence starts after ~600."""
    topics = ["harbour weather", "railway timetables", "medieval tax law", "glacier surveys", "textile trade"]
    documents = [
        {
            "id": topic.split()[0],
            "text": " ".join(
                f"Volume {i} of the records on {topic} lists the figures gathered in that year." for i in range(40)
            ),
        }
        for topic in topics
    ]
    documents[2]["text"] += " " + PLANTED
    assert default_encoder.token_counts([documents[2]["text"][:2000]])[0] > 256  # the plant is past the cut
    query = "A violin player adjusted the strings ahead of the night's performance."
    whole = Index.build("whole", documents, encoder=default_encoder, kind="flat", index_dir=index_dir)
    cut = Index.build("cut", documents, encoder=default_encoder, kind="flat", index_dir=index_dir, chunking=Chunking(0))
    best = whole.search(query, k=1, mode="dense")[0]
    assert best.id == "medieval" and PLANTED in best.passage
    assert cut.search(query, k=1, mode="dense")[0].id != "medieval"


# --- the long-text evaluation set -------------------------------------------------------------

STSB_DEV = SHARED_DATA / "stsb" / "dev.csv"
SENTENCES = SHARED_DATA / "wikipedia_sentences" / "sentences.tsv.gz"


@pytest.mark.skipif(not SENTENCES.exists(), reason="needs ../shared/data")
def test_long_text_set_is_deterministic_and_plants_each_query_in_its_long_document(default_encoder):
    made = longtext_retrieval_set(STSB_DEV, SENTENCES, documents=30, queries=12, seed=3)
    again = longtext_retrieval_set(STSB_DEV, SENTENCES, documents=30, queries=12, seed=3)
    assert made == again and made != longtext_retrieval_set(STSB_DEV, SENTENCES, 30, 12, seed=4)
    data = made.data
    assert len(data.corpus) == 30 and len(data.queries) == len(data.qrels) == 12
    pieces = default_encoder.token_counts(list(data.corpus.values()))
    assert min(pieces) > 350 and max(pieces) < 1700  # far past the model's 256
    assert made.past_cut and set(made.past_cut) <= set(data.queries)
    partners = dict(zip(*[read_pairs(STSB_DEV).texts[c] for c in ("sentence1", "sentence2")]))
    planted = {second: first for first, second in partners.items()}
    for query_id, relevant in data.qrels.items():
        (doc_id,) = relevant
        assert planted[data.queries[query_id]] in data.corpus[doc_id]


@pytest.mark.skipif(not SENTENCES.exists(), reason="needs ../shared/data")
def test_cli_eval_longtext_measures_and_writes_beir_files(tiny_model, tmp_path):
    result = CliRunner().invoke(
        app,
        [
            "eval",
            "longtext",
            "--pairs",
            str(STSB_DEV),
            "--sentences",
            str(SENTENCES),
            "--documents",
            "12",
            "--queries",
            "4",
            "--model",
            tiny_model,
            "--mode",
            "lexical",
            "--write",
            str(tmp_path / "set"),
            "--json",
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.stderr
    figures = json.loads(result.stdout)
    assert figures["count"] == 4 and 0 <= figures["ndcg@10"] <= 100
    written = read_beir(
        tmp_path / "set" / "corpus.jsonl", tmp_path / "set" / "queries.jsonl", tmp_path / "set" / "qrels" / "test.tsv"
    )
    assert written == longtext_retrieval_set(STSB_DEV, SENTENCES, documents=12, queries=4, seed=0).data


def test_duplicates_and_clusters_count_documents_not_windows(tiny, index_dir):
    rows = [
        {"id": "long", "text": FILLER},
        {"id": "copy", "text": FILLER + " Signed."},
        {"id": "dog", "text": "A dog fetches the ball in the park."},
        {"id": "dog2", "text": "A dog fetches the ball in the park!"},
    ]
    index = Index.build("dups", rows, encoder=tiny, kind="flat", index_dir=index_dir)
    assert index.check()["extra_windows"] >= 6
    groups = index.duplicates(threshold=0.9)
    assert sorted(sorted(group.ids) for group in groups) == [["copy", "long"], ["dog", "dog2"]]
    clusters = index.clusters(threshold=0.9, min_size=2, save=False)
    assert sorted(sorted(cluster.ids) for cluster in clusters) == [["copy", "long"], ["dog", "dog2"]]


def test_info_names_the_windows(library, index_dir):
    result = CliRunner().invoke(
        app, ["info", "library"], env={"SIMSEARCH_HOME": str(index_dir)}, catch_exceptions=False
    )
    assert result.exit_code == 0 and "chunking  windows of 126 pieces, overlap 15" in result.stdout
