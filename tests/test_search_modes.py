"""Dense, lexical and hybrid search: the store's FTS5 index (real SQLite), fusion math, the modes in API and CLI."""

from __future__ import annotations

import json
import sqlite3

import numpy as np
import pytest

from simsearch import Index, load_encoder
from simsearch.errors import InvalidArgumentError
from simsearch.ingest.corpus import Document
from simsearch.query import MODES
from simsearch.query.fusion import (
    Fusion,
    fuse,
    normalised_score_fusion,
    reciprocal_rank_fusion,
    standardised_score_fusion,
)
from simsearch.query.terms import lexical_terms
from simsearch.store import SCHEMA_VERSION, Store


@pytest.fixture
def zoo(tiny_model, index_dir, animals) -> Index:
    return Index.build("zoo", animals, encoder=load_encoder(tiny_model), index_dir=index_dir)


def ids(hits) -> list[str]:
    return [hit.id for hit in hits]


# --- lexical index ------------------------------------------------------------------------


def test_lexical_finds_exact_word_matches_ranked_by_bm25(zoo):
    hits = zoo.search("windowsill", k=5, mode="lexical")
    assert ids(hits) == ["a1"]
    assert hits[0].score > 0  # negated bm25(): higher is better
    two = zoo.search("basil dough", k=5, mode="lexical")  # terms are OR-ed, not AND-ed
    assert set(ids(two)) == {"a5", "a6"}


def test_lexical_stems_words(zoo):
    assert ids(zoo.search("fetching balls", k=5, mode="lexical")) == ["a2"]  # porter: fetches/fetching, ball/balls


def test_terms_in_half_the_documents_or_more_are_left_out_of_the_match_with_the_same_scores(tmp_path):
    """FTS5 gives such a term an IDF of ~0: leaving it out keeps every score and spares scoring most rows."""
    store = Store(tmp_path / "store.sqlite")
    store.insert(
        [
            Document(id=str(i), text=text)
            for i, text in enumerate(
                ["the cat on the mat", "the dog in the fog", "the owl and the moon", "a river of stone", "cat and owl"]
            )
        ]
    )
    terms = ["the", "cat", "owl"]
    assert store._lexical._weighing(terms) == ["cat", "owl"]  # "the" is in 3 of 5 documents
    assert store._lexical._weighing(["the"]) == ["the"]  # never left with no terms
    kept_scores, kept_rows = store.lexical_candidates(terms, 10)
    match = "SELECT rowid, -bm25(documents_fts) FROM documents_fts WHERE documents_fts MATCH ? ORDER BY 2 DESC"
    every = dict(store._query(match, ('"the" OR "cat" OR "owl"',)))
    assert set(every) - set(kept_rows.tolist()) == {2}  # the dog and the fog (row 2): only "the", a score of ~0
    assert every[2] == pytest.approx(0, abs=1e-5)
    assert kept_scores.tolist() == pytest.approx([every[row] for row in kept_rows.tolist()], abs=1e-5)
    store.close()


def test_fts5_operators_in_a_query_are_plain_words(zoo):
    for query in ['"cat', "cat*", "-cat", "cat NEAR dog", "cat AND", "OR cat", "(cat", "cat)", 'NEAR("cat")']:
        assert "a1" in ids(zoo.search(query, k=5, mode="lexical")), query
    assert lexical_terms('x AND y OR NEAR(z) "q" -w*') == ["x", "y", "near", "z", "q", "w"]  # and, or: stop words


def test_a_query_of_only_operators_is_one_clear_error_in_lexical_mode(zoo):
    with pytest.raises(InvalidArgumentError, match='no words to match lexically.*mode="dense"'):
        zoo.search('"*-()', mode="lexical")


def test_a_query_without_words_in_hybrid_mode_ranks_densely(zoo):
    dense = zoo.search('"*-()', k=8, mode="dense")
    assert ids(zoo.search('"*-()', k=8, mode="hybrid")) == ids(dense)


def test_add_delete_and_rebuild_keep_the_lexical_index_in_step(zoo):
    zoo.add([{"id": "z1", "text": "A zebra grazes near the river."}])
    assert ids(zoo.search("zebra", mode="lexical")) == ["z1"]
    zoo.delete(["a1", "z1"])
    assert zoo.search("zebra windowsill", mode="lexical") == []  # deleted documents never come back
    rebuilt = zoo.rebuild()
    assert rebuilt.search("zebra windowsill", mode="lexical") == []
    assert ids(rebuilt.search("basil", mode="lexical")) == ["a5"]
    rebuilt.add([{"id": "z2", "text": "Another zebra."}])
    assert ids(rebuilt.search("zebra", mode="lexical")) == ["z2"]


@pytest.mark.parametrize("mode", ["lexical", "hybrid"])
def test_filters_apply_to_lexical_and_hybrid(zoo, mode):
    hits = zoo.search("the cat dog market sauce", k=8, filters={"category": "pets"}, mode=mode)
    assert hits and {hit.metadata["category"] for hit in hits} == {"pets"}


def test_store_at_the_previous_schema_version_migrates_and_finds_its_texts(tmp_path):
    path = tmp_path / "store.sqlite"
    db = sqlite3.connect(path, isolation_level=None)
    db.executescript("""
        CREATE TABLE documents (id INTEGER PRIMARY KEY AUTOINCREMENT, ext_id TEXT NOT NULL UNIQUE,
                                text TEXT NOT NULL, metadata TEXT NOT NULL DEFAULT '{}');
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        INSERT INTO documents (id, ext_id, text) VALUES (1, 'a', 'old apples'), (2, 'b', 'old pears');
        PRAGMA user_version = 1;
    """)
    db.close()
    store = Store(path)
    try:
        assert store.schema_version == SCHEMA_VERSION == 4
        scores, row_ids = store.lexical_candidates(["pears"], 5)
        assert row_ids.tolist() == [2] and scores[0] > 0
        store.delete([2])
        assert store.lexical_candidates(["pears"], 5)[1].tolist() == []
    finally:
        store.close()


# --- fusion -------------------------------------------------------------------------------


def test_reciprocal_rank_fusion_on_hand_made_lists():
    fused = reciprocal_rank_fusion([[1, 2, 3], [3, 4]], weights=[1.0, 2.0], constant=10)
    expected = {1: 1 / 11, 2: 1 / 12, 3: 1 / 13 + 2 / 11, 4: 2 / 12}
    assert [row for row, _ in fused] == [3, 4, 1, 2]
    assert all(score == pytest.approx(expected[row]) for row, score in fused)
    assert reciprocal_rank_fusion([[5, 6], [6, 5]], [1, 1]) == sorted(reciprocal_rank_fusion([[5, 6], [6, 5]], [1, 1]))
    assert [row for row, _ in reciprocal_rank_fusion([[6, 5], [5, 6]], [1, 1])] == [5, 6]  # tie: smaller id first


def test_normalised_score_fusion_on_hand_made_lists():
    fused = dict(normalised_score_fusion([([1, 2, 3], [0.9, 0.5, 0.1]), ([3, 4], [10.0, 2.0])], weights=[1.0, 1.0]))
    assert fused == pytest.approx({1: 1.0, 2: 0.5, 3: 1.0, 4: 0.0})
    assert normalised_score_fusion([([7], [3.0]), ([], [])], [1.0, 1.0]) == [(7, 1.0)]


def test_standardised_score_fusion_on_hand_made_lists():
    dense, lexical = ([1, 2, 3], [0.9, 0.5, 0.4]), ([3, 4], [10.0, 2.0])
    z_dense = (np.array([0.9, 0.5, 0.4]) - 0.6) / np.std([0.9, 0.5, 0.4])
    fused = dict(standardised_score_fusion([dense, lexical], weights=[1.5, 1.0]))
    # each list's z-scores, weighted; a document missing from a list gets that list's lowest z-score
    assert fused == pytest.approx(
        {1: 1.5 * z_dense[0] - 1, 2: 1.5 * z_dense[1] - 1, 3: 1.5 * z_dense[2] + 1, 4: 1.5 * z_dense[2] - 1}
    )
    assert standardised_score_fusion([([], []), lexical], [1.5, 1.0]) == [(3, 1.0), (4, -1.0)]  # weights stay put
    # a list of equal scores (a rare word's only match) still lifts its candidates over the absent, as min-max does
    only_match = standardised_score_fusion([dense, ([9], [7.3])], [1.5, 1.0])
    assert dict(only_match)[9] == pytest.approx(1.5 * z_dense[2] + 1.0)
    assert standardised_score_fusion([([7, 8], [0.5, 0.5 + 1e-9]), ([], [])], [1.0, 1.0]) == [(7, 1.0), (8, 1.0)]
    with pytest.raises(InvalidArgumentError, match="unknown fusion method 'zscores'; valid: zscore, score, rrf"):
        Fusion(method="zscores")  # type: ignore[arg-type]


def test_an_outlier_in_one_list_outweighs_an_evenly_spread_other_list_under_z_scores():
    """Min-max stretches every list to [0, 1], so the dense list's best wins; z-scores see the lexical outlier."""
    flat_dense = (list(range(100)), np.linspace(0.35, 0.25, 100).tolist())  # no candidate stands out
    peaked_lexical = ([500, *range(200, 299)], [12.0, *np.linspace(2.0, 1.8, 99)])  # one does, far
    assert fuse([flat_dense, peaked_lexical], Fusion())[0][0] == 500
    assert fuse([flat_dense, peaked_lexical], Fusion(method="score"))[0][0] == 0


def test_unknown_mode_names_the_valid_ones(zoo):
    with pytest.raises(InvalidArgumentError, match="unknown search mode 'fuzzy'; valid: dense, lexical, hybrid"):
        zoo.search("cat", mode="fuzzy")  # type: ignore[arg-type]
    assert MODES == ("dense", "lexical", "hybrid")


def test_dense_mode_scores_are_cosines_and_hybrid_mixes_both_lists(zoo):
    dense = zoo.search("The cat sleeps on the warm windowsill.", k=3, mode="dense")
    assert dense[0].id == "a1" and dense[0].score == pytest.approx(1.0, abs=1e-4)
    query = "The cat sleeps on the warm windowsill."
    hybrid = zoo.search(query, k=3, mode="hybrid")
    number = {hit.id: i for i, hit in enumerate(zoo.search(query, k=8, mode="dense"))}
    lists = [
        ([number[hit.id] for hit in found], [hit.score for hit in found])
        for found in (zoo.search(query, k=8, mode="dense"), zoo.search(query, k=8, mode="lexical"))
    ]
    assert hybrid[0].id == "a1" and hybrid[0].score == pytest.approx(fuse(lists, Fusion())[0][1], abs=1e-5)
    minmax = zoo.query([query], 3, mode="hybrid", fusion=Fusion(method="score")).hits[0]
    assert minmax[0].id == "a1" and minmax[0].score == pytest.approx(2.5)  # first in both lists: 1.5 x 1 + 1 x 1
    rrf = zoo.query(["The cat sleeps on the warm windowsill."], 3, mode="hybrid", fusion=Fusion(method="rrf")).hits[0]
    assert rrf[0].id == "a1" and rrf[0].score == pytest.approx(1.5 / 61 + 1 / 61)


# --- CLI ----------------------------------------------------------------------------------


def cli(*args: str, index_dir):
    from typer.testing import CliRunner

    from simsearch.cli import app

    return CliRunner().invoke(app, list(args), env={"SIMSEARCH_HOME": str(index_dir)}, catch_exceptions=False)


def test_cli_search_mode_single_and_queries_file(zoo, index_dir, tmp_path):
    result = cli("search", "zoo", "windowsill", "--mode", "lexical", "--json", index_dir=index_dir)
    assert result.exit_code == 0, result.stderr
    assert ids_of(result.stdout) == [["a1"]]
    queries = tmp_path / "queries.txt"
    queries.write_text('basil\n"*-()\nwindowsill\n')
    result = cli("search", "zoo", "--queries", str(queries), "--mode", "lexical", "--json", index_dir=index_dir)
    assert result.exit_code == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    found = [[hit["id"] for hit in line["hits"]] if "error" not in line else "error" for line in lines]
    assert found == [["a5"], "error", ["a1"]]


def ids_of(stdout: str) -> list[list[str]]:
    return [[hit["id"] for hit in json.loads(line)["hits"]] for line in stdout.splitlines()]


def test_cli_unknown_mode_is_one_line_naming_the_valid_modes(zoo, index_dir):
    result = cli("search", "zoo", "cat", "--mode", "fuzzy", index_dir=index_dir)
    assert result.exit_code == 1 and "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "valid: dense, lexical, hybrid" in errors[0]


def test_cli_lexical_query_without_words_names_the_flag(zoo, index_dir):
    result = cli("search", "zoo", '"*-()', "--mode", "lexical", index_dir=index_dir)
    assert result.exit_code == 1 and "--mode dense" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow  # spawns processes or a Ray session: left to `make test`, out of `make check`
def test_ranking_benchmark_smoke_mode_prints_every_mode_beside_the_plain_stack(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parent.parent
    done = subprocess.run(
        [sys.executable, str(repo / "benchmarks" / "ranking.py"), "--smoke", "--json-out", str(tmp_path / "r.json")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    systems = {
        "plain stack (ST + IndexFlatIP)",
        "simsearch dense",
        "simsearch lexical",
        "simsearch hybrid",
        "simsearch hybrid + re-rank",
    }  # smoke runs re-rank with the tiny BERT as a cross-encoder
    assert {row["system"] for row in report["quality"]} == systems
    assert {row["system"] for row in report["latency"]} == systems | {"re-rank stage alone (50 candidates)"}
    assert all(row["p99_ms"] >= row["p50_ms"] > 0 for row in report["latency"])
    assert "| simsearch hybrid |" in done.stdout


# --- query words: stop words and coverage -------------------------------------------------------


def test_lexical_terms_leave_english_stop_words_out():
    assert lexical_terms("An aeroplane departing for the coast") == ["aeroplane", "departing", "coast"]


def test_a_query_of_stop_words_alone_keeps_them():
    assert lexical_terms("To be or not to be") == ["to", "be", "or", "not"]


def test_stop_words_can_be_switched_off_for_other_languages(monkeypatch):
    monkeypatch.setenv("SIMSEARCH_STOP_WORDS", "none")
    assert lexical_terms("Die Katze an der Tür") == ["die", "katze", "an", "der", "tür"]
    monkeypatch.setenv("SIMSEARCH_STOP_WORDS", "german")
    with pytest.raises(InvalidArgumentError, match="SIMSEARCH_STOP_WORDS='german'.*english or none"):
        lexical_terms("Die Katze")


def test_a_text_sharing_only_a_stop_word_is_no_lexical_match(zoo):
    assert "a1" in ids(zoo.search("the", k=8, mode="lexical"))  # a stop word alone is still searched
    assert zoo.search("the zeppelin", k=8, mode="lexical") == []  # "the" dropped: nothing holds "zeppelin"


def test_known_terms_are_those_some_text_holds_as_the_lexical_index_reads_them(tmp_path):
    store = Store(tmp_path / "store.sqlite")
    store.begin()
    store.insert([Document("Cats sleep on warm stones."), Document("Dogs bark.")])
    store.commit()
    assert store.known_terms(["cat", "sleeping", "zeppelin", "barks"]) == ["cat", "sleeping", "barks"]  # stemmed
    store.begin()
    store.insert([Document("A zeppelin drifts.")])  # an add moves the write position, not the generation
    store.commit()
    assert store.known_terms(["zeppelin"]) == ["zeppelin"]  # not the count cached before the add
    store.close()


def test_hybrid_weighs_the_lexical_list_by_the_share_of_query_words_the_corpus_holds(tmp_path):
    from simsearch.query.candidates import lexical_weighed

    store = Store(tmp_path / "store.sqlite")
    store.begin()
    store.insert([Document("someone stirs noodles"), Document("a quiet evening")])
    store.commit()
    assert lexical_weighed(store, ["someone", "playing", "music"], Fusion()).lexical_weight == pytest.approx(1 / 3)
    assert lexical_weighed(store, ["someone", "noodles"], Fusion(lexical_weight=2.0)).lexical_weight == 2.0
    assert lexical_weighed(store, ["someone", "music"], Fusion(coverage=False)).lexical_weight == 1.0
    store.close()


def test_a_lexical_list_resting_on_one_word_of_three_counts_a_third_in_hybrid(tiny_model, index_dir):
    texts = [
        "someone stirs noodles in water",
        "a violinist tunes her violin",
        "the band performs a song",
        "a cook slices onions",
        "rain on the roof",
    ]
    index = Index.build("small", texts, encoder=load_encoder(tiny_model), index_dir=index_dir)
    query = ["someone playing music"]  # only "someone" is in the corpus: the lexical list is text 1 alone
    weighed = {hit.id: hit.score for hit in index.query(query, k=5, mode="hybrid").hits[0]}
    plain = {hit.id: hit.score for hit in index.query(query, k=5, mode="hybrid", fusion=Fusion(coverage=False)).hits[0]}
    assert plain["1"] - weighed["1"] == pytest.approx(2 / 3, abs=1e-5)  # a lone candidate's lexical share: 1 -> 1/3
    assert {id: score for id, score in weighed.items() if id != "1"} == pytest.approx(
        {id: score for id, score in plain.items() if id != "1"}, abs=1e-5
    )


def test_a_lexical_match_must_hold_an_informative_word_but_scores_on_every_word(tmp_path):
    store = Store(tmp_path / "store.sqlite")
    store.begin()
    store.insert(
        [Document(text) for text in ("the cat naps", "the dog and the owl", "a cat", "rain", "snow", "hail", "fog")]
    )
    store.commit()
    scores, rows = store.lexical_candidates(["the", "cat"], 10, required=["cat"])
    assert rows.tolist() == [1, 3]  # "the dog and the owl" holds only the stop word
    every_scores, every_rows = store.lexical_candidates(["the", "cat"], 10)
    assert 2 in every_rows.tolist()
    assert scores.tolist() == pytest.approx([s for s, r in zip(every_scores.tolist(), every_rows.tolist()) if r != 2])
    store.close()
