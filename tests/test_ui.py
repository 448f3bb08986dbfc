"""Every page of the web UI, driven by Streamlit's own AppTest (real script runs, real indexes, no browser)."""

from __future__ import annotations

import json
import re

import pytest
from streamlit.testing.v1 import AppTest

from simsearch import Index, list_indexes, load_encoder, read_corpus
from tests.conftest import DEMO_CSV, REPO

APP = str(REPO / "ui" / "app.py")
SCORE = re.compile(r'class="ss-score">(-?[0-9.]+)<')
CHART = "vega_lite_chart"


@pytest.fixture
def app_home(tiny_model, index_dir, animals, monkeypatch):
    Index.build("zoo", animals, encoder=load_encoder(tiny_model), index_dir=index_dir)
    monkeypatch.setenv("SIMSEARCH_HOME", str(index_dir))
    return index_dir


def start(page: str | None = None) -> AppTest:
    app = AppTest.from_file(APP, default_timeout=120).run()
    if page is not None:
        app.switch_page(f"views/{page}.py").run()
    assert not app.exception
    return app


def search(app: AppTest, query: str) -> AppTest:
    app.text_input(key="q").input(query).run()
    assert not app.exception
    return app


def result_texts(app: AppTest, highlighted: bool = False) -> list[str]:
    """The hits' texts as shown; without ``highlighted``, the bold around matched query words removed."""
    texts = [re.sub(r"^\*\*\d+\.\*\* ", "", m.value) for m in app.markdown if re.match(r"^\*\*\d+\.\*\* ", m.value)]
    return texts if highlighted else [re.sub(r"\*\*(.+?)\*\*", r"\1", text) for text in texts]


def result_scores(app: AppTest) -> list[float]:
    return [float(found) for m in app.markdown for found in SCORE.findall(m.value)]


def button(app: AppTest, label: str):
    matches = [b for b in app.button if b.label == label]
    assert matches, f"no button {label!r}; buttons: {[b.label for b in app.button]}"
    return matches[0]


def all_markdown(app: AppTest) -> str:
    return "\n".join(m.value for m in app.markdown)


# --- search -----------------------------------------------------------------------------
def test_score_bars_span_each_modes_range():
    from simsearch import Hit
    from simsearch_ui.result_cards import score_bar, score_scale

    hits = [Hit("a", "x", 2.5), Hit("b", "y", 0.1), Hit("c", "z", -1.2)]  # hybrid: sums of z-scores
    assert score_scale("hybrid", hits, reranked=False) == ("fused score", (-1.2, 2.5))
    assert score_scale("lexical", hits, reranked=False) == ("BM25", (0.0, 2.5))
    assert score_scale("hybrid", hits, reranked=True) == ("re-ranker score", (0.0, 1.0))
    widths = [re.search(r"width:([0-9.]+)%", score_bar(hit.score, "fused score", -1.2, 2.5)).group(1) for hit in hits]
    assert widths == ["100.0", "35.1", "0.0"]  # the best full, the lowest empty, the rest between


def test_search_page_shows_ranked_results_with_scores_and_latency(app_home):
    app = search(start(), "Heavy rain flooded the mountain trail.")
    texts = result_texts(app)
    assert texts[0] == "Heavy rain flooded the mountain trail."
    assert len(texts) == 8  # all documents, k defaults to 10
    scores = result_scores(app)  # hybrid by default: the fused scores the API gives
    expected = Index.open("zoo", index_dir=app_home).search("Heavy rain flooded the mountain trail.")
    assert scores == sorted(scores, reverse=True)
    assert scores == pytest.approx([round(hit.score, 3) for hit in expected], abs=1e-3)
    timing = next(c.value for c in app.caption if "results from" in c.value)
    assert re.search(r"encode [0-9.]+ ms · search [0-9.]+ ms", timing)
    assert any("category: **outdoors**" in c.value for c in app.caption)


def test_k_limits_results(app_home):
    app = start()
    app.number_input(key="k").set_value(3).run()
    assert len(result_texts(search(app, "cats"))) == 3


def test_category_filter_narrows_results(app_home):
    app = search(start(), "The stock market fell sharply on Monday.")
    assert len(result_texts(app)) == 8
    select = app.selectbox(key="filter-zoo-category")
    assert select.options[0] == "any" and "pets" in select.options and "pets: 2" in select.help
    select.set_value("pets").run()
    assert not app.exception
    assert sorted(result_texts(app)) == [
        "A dog fetches the ball in the park.",
        "The cat sleeps on the warm windowsill.",
    ]
    assert any("matching category = pets" in c.value for c in app.caption)


def test_find_similar_searches_with_the_hit_text_and_leaves_it_out(app_home):
    app = search(start(), "The stock market fell sharply on Monday.")
    third = result_texts(app)[2]
    app.button(key="hit-3-similar").click().run()
    assert app.text_input(key="q").value == third
    texts = result_texts(app)
    assert third not in texts and len(texts) == 7  # the 7 others, not the source itself at 1.000
    assert any("(left out)" in c.value for c in app.caption)


def test_query_k_and_filters_come_from_the_url(app_home):
    app = AppTest.from_file(APP, default_timeout=120)
    app.query_params.update(
        {"q": "The stock market fell sharply on Monday.", "k": "3", "filter-zoo-category": "finance"}
    )
    app.run()
    assert not app.exception
    assert app.text_input(key="q").value == "The stock market fell sharply on Monday."
    assert result_texts(app) == ["The stock market fell sharply on Monday.", "Interest rates rose again this quarter."]


def test_mode_selector_searches_in_that_mode_and_goes_into_the_url(app_home):
    app = search(start(), "windowsill")
    assert app.query_params == {"q": "windowsill"}  # hybrid, the default, stays out of the URL
    app.segmented_control(key="mode").set_value("lexical").run()
    assert not app.exception
    assert result_texts(app) == ["The cat sleeps on the warm windowsill."]  # only the text holding the word
    assert app.query_params == {"q": "windowsill", "mode": "lexical"}
    app.segmented_control(key="mode").set_value("dense").run()
    assert len(result_texts(app)) == 8 and result_scores(app)[0] <= 1.0


def test_mode_comes_from_the_url(app_home):
    app = AppTest.from_file(APP, default_timeout=120)
    app.query_params.update({"q": "basil", "mode": "lexical"})
    app.run()
    assert not app.exception
    assert result_texts(app) == ["Fresh basil makes the tomato sauce better."]


def test_a_lexical_query_without_words_is_one_message_naming_the_mode_control(app_home):
    app = AppTest.from_file(APP, default_timeout=120)
    app.query_params.update({"q": "*-()", "mode": "lexical"})
    app.run()
    assert not app.exception
    assert any("no words to match lexically" in e.value and "choose the mode dense" in e.value for e in app.error)


def test_the_words_the_lexical_index_matched_are_bold_and_user_text_stays_escaped(app_home):
    app = search(start(), "warm cats")
    assert "The **cat** sleeps on the **warm** windowsill." in result_texts(app, highlighted=True)
    from simsearch_ui.result_cards import marked

    shown = marked("pay $5 for *fetching* balls", [(5, 6), (12, 20), (22, 27)])
    assert shown == r"pay \$**5** for \***fetching**\* **balls**"


def test_a_hit_found_by_meaning_alone_shows_no_bold(app_home):
    app = search(start(), "kitten napping")  # no text holds either word: every hit is a dense one
    shown = result_texts(app, highlighted=True)
    assert len(shown) == 8 and not any("**" in text for text in shown)


def test_typed_query_k_and_filter_go_into_the_url(app_home):
    app = search(start(), "cats")
    app.number_input(key="k").set_value(4).run()
    app.selectbox(key="filter-zoo-category").set_value("pets").run()
    assert app.query_params == {"q": "cats", "k": "4", "filter-zoo-category": "pets"}


def test_results_download_as_csv_and_json(app_home):
    import io
    import json

    import pandas as pd

    from simsearch_ui.results import results_csv, results_json

    app = search(start(), "Heavy rain flooded the mountain trail.")
    assert [b.proto.label for b in app.get("download_button")] == ["CSV", "JSON"]
    hits = Index.open("zoo", index_dir=app_home).search("Heavy rain flooded the mountain trail.", k=10)
    table = pd.read_csv(io.StringIO(results_csv(hits)))
    assert table["text"].tolist() == result_texts(app) and {"rank", "id", "score", "category"} <= set(table)
    payload = json.loads(results_json("rain", {"category": "outdoors"}, hits))
    assert payload["filters"] == {"category": "outdoors"} and [h["id"] for h in payload["hits"]] == table["id"].tolist()


def test_many_results_are_paged_twenty_at_a_time(tiny_model, index_dir, monkeypatch):
    texts = [f"sentence number {n} about topic {n % 7}" for n in range(45)]
    Index.build("many", texts, encoder=load_encoder(tiny_model), index_dir=index_dir)
    monkeypatch.setenv("SIMSEARCH_HOME", str(index_dir))
    app = start()
    app.number_input(key="k").set_value(45).run()
    search(app, "topic 3")
    first_page = result_texts(app)
    assert len(first_page) == 20
    pager = next(group for group in app.get("button_group") if group.label == "Page")  # not the mode selector
    pager.set_value(3).run()
    assert not app.exception
    assert len(result_texts(app)) == 5 and not set(result_texts(app)) & set(first_page)


def test_identical_texts_are_one_card_naming_their_ids(tiny_model, index_dir, monkeypatch):
    docs = [
        {"id": "x1", "text": "Same words here."},
        {"id": "x2", "text": "Same words here."},
        {"id": "x3", "text": "Same words here."},
        {"id": "y", "text": "Something else entirely."},
    ]
    Index.build("dups", docs, encoder=load_encoder(tiny_model), index_dir=index_dir)
    monkeypatch.setenv("SIMSEARCH_HOME", str(index_dir))
    app = search(start(), "Same words here.")
    assert result_texts(app) == ["Same words here.", "Something else entirely."]
    assert any(re.search(r"3 identical texts: ids `x\d`, `x\d`, `x\d`", c.value) for c in app.caption)


def test_explain_opens_token_heatmap_between_query_and_hit(app_home):
    app = start()
    app.segmented_control(key="mode").set_value("dense").run()  # dense hits are scored by the same cosine
    search(app, "The stock market fell sharply on Monday.")
    second, second_score = result_texts(app)[1], result_scores(app)[1]
    app.button(key="hit-2-explain").click().run()
    assert not app.exception
    assert app.title[0].value == "Explain a result"
    text = all_markdown(app)
    assert "**Query:** The stock market fell sharply on Monday." in text and second in text
    assert ">stock<small>" in text and ">[CLS]<" not in text  # special tokens hidden by default
    app.toggle(key="explain-all-tokens").set_value(True).run()
    assert ">[CLS]<small>101</small>" in all_markdown(app) and ">[SEP]<small>102</small>" in all_markdown(app)
    assert len(app.get(CHART)) == 1
    assert float(app.metric[0].value) == pytest.approx(second_score, abs=1e-3)  # the same cosine as the hit


def test_whitespace_query_shows_message_not_traceback(app_home):
    app = search(start(), "   ")
    assert "empty" in app.error[0].value


def test_no_indexes_explains_how_to_build(tmp_path, monkeypatch):
    monkeypatch.setenv("SIMSEARCH_HOME", str(tmp_path / "none"))
    app = start()
    assert "Build" in app.info[0].value and "simsearch build" in app.info[0].value


def test_corrupted_index_shows_error_not_traceback(app_home):
    index = Index.open("zoo", index_dir=app_home)
    next(index.folder.glob("vectors-*.faiss")).write_bytes(b"not a faiss file")
    app = start()
    assert not app.exception
    assert "damaged" in app.error[0].value and "rebuild" in app.error[0].value


def test_app_picks_up_a_cli_rebuild_without_restart(app_home):
    app = search(start(), "cats")
    assert any("kind flat" in c.value for c in app.caption)
    Index.open("zoo", index_dir=app_home).rebuild(kind="hnsw")
    search(app, "dogs")
    assert any("kind hnsw" in c.value for c in app.caption)
    assert len(result_texts(app)) == 8


# --- compare ----------------------------------------------------------------------------
def compared(model: str, first: str, second: str) -> AppTest:
    """The Compare page with ``model`` chosen and two sentences typed, run without an exception."""
    app = start("compare")
    app.selectbox[0].set_value(model).run()
    app.text_area[0].input(first).run()
    app.text_area[1].input(second).run()
    assert not app.exception
    return app


def test_compare_shows_score_reading_and_word_pieces(app_home, tiny_model):
    app = compared(tiny_model, "The cat sleeps.", "A kitten is napping.")
    score = float(app.metric[0].value)
    assert -1.0 <= score <= 1.0
    text = all_markdown(app)
    assert ">kitten<small>" in text and ">[CLS]<" not in text and ">.<small>" not in text
    app.toggle(key="compare-all-tokens").set_value(True).run()
    text = all_markdown(app)
    assert ">[CLS]<small>101</small>" in text and ">[SEP]<small>102</small>" in text and ">.<small>" in text
    assert len(app.get(CHART)) == 1


def test_compare_on_long_texts_keeps_heatmap_labels_legible_and_pairs_meaningful(app_home, tiny_model):
    long_a = ", ".join(f"the cat number {n} sleeps on the warm windowsill" for n in range(12)) + "."
    long_b = ", ".join(f"a dog number {n} fetches the ball in the park" for n in range(12)) + "."
    app = compared(tiny_model, long_a, long_b)
    spec = json.loads(app.get(CHART)[0].proto.spec)
    encoding = spec["layer"][0]["encoding"] if "layer" in spec else spec["encoding"]
    rows, columns = encoding["y"]["sort"], encoding["x"]["sort"]  # every label drawn, in order
    assert len(rows) <= 40 and len(columns) <= 40  # of about 100 tokens a side
    assert any("strongest match" in c.value for c in app.caption)
    assert any(e.label.startswith("First sentence:") for e in app.expander)  # the chips folded away
    pairs = app.dataframe[0].value
    first_tokens = pairs.iloc[:, 0].tolist()
    assert len(first_tokens) == len(set(first_tokens))  # no piece twice
    assert "," not in first_tokens and "." not in first_tokens


def test_compare_with_an_empty_sentence_says_so(app_home, tiny_model):
    app = start("compare")
    app.selectbox[0].set_value(tiny_model).run()
    app.text_area[1].input("  ").run()
    assert "second sentence is empty" in app.error[0].value


@pytest.mark.slow
def test_compare_with_the_real_model_reads_a_paraphrase_as_close(app_home):
    app = start("compare")  # the default model is the first choice
    app.text_area[0].input("A man is playing a guitar.").run()
    app.text_area[1].input("Someone is playing a guitar.").run()
    assert float(app.metric[0].value) > 0.75
    assert any("same meaning" in m.value for m in app.markdown)


# --- build, rebuild, drop -----------------------------------------------------------------
def upload(app: AppTest, name: str, content: bytes) -> AppTest:
    app.file_uploader[0].upload(name, content, "application/octet-stream").run()
    assert not app.exception
    return app


def test_build_page_builds_an_index_from_an_uploaded_csv(app_home, tiny_model):
    app = upload(
        start("build"), "my pets.csv", b"key,body,kind\np1,The cat naps in the sun.,cat\np2,A puppy chews a shoe.,dog\n"
    )
    assert app.selectbox(key="text-column").options == ["key", "body", "kind"]
    app.selectbox(key="text-column").set_value("body").run()
    app.selectbox(key="id-column").set_value("key").run()
    assert app.text_input[0].value == "my-pets"
    app.selectbox(key="build-model").set_value(tiny_model).run()
    button(app, "Build index").click().run()
    assert not app.exception
    assert "my-pets" in list_indexes(app_home)
    assert app.sidebar.selectbox[0].value == "my-pets"  # in the picker, selected, without a restart
    assert "Built index **my-pets**: 2 texts" in app.success[0].value
    hits = Index.open("my-pets", index_dir=app_home).search("kitten", k=2)
    assert {h.id for h in hits} == {"p1", "p2"} and {h.metadata["kind"] for h in hits} == {"cat", "dog"}


def test_upload_over_the_size_cap_is_refused_with_the_cli_alternative(app_home, monkeypatch):
    monkeypatch.setenv("SIMSEARCH_UI_MAX_UPLOAD_MB", "0.0001")  # about 100 bytes
    app = upload(start("build"), "big.txt", b"a sentence\n" * 50)
    assert "over this page's" in app.error[0].value and "simsearch build" in app.error[0].value


def test_bad_upload_shows_the_line_at_fault(app_home):
    app = upload(start("build"), "rows.jsonl", b'{"text": "fine"}\n{not json\n')
    assert "line 2 is not valid JSON" in app.error[0].value


def test_rebuild_from_the_build_page_changes_the_kind(app_home):
    app = start("build")
    app.selectbox(key="rebuild-kind-zoo").set_value("hnsw").run()
    button(app, "Rebuild").click().run()
    assert not app.exception
    assert "Rebuilt index **zoo**" in app.success[0].value
    assert Index.open("zoo", index_dir=app_home).manifest.kind == "hnsw"


def test_drop_asks_for_confirmation_first(app_home):
    app = start("build")
    assert button(app, "Drop index").disabled
    app.checkbox(key="drop-confirm-zoo").check().run()
    button(app, "Drop index").click().run()
    assert not app.exception
    assert list_indexes(app_home) == []
    assert "Dropped index **zoo**" in app.success[0].value
    assert not app.sidebar.selectbox  # nothing left to pick


# --- overview ---------------------------------------------------------------------------
def test_overview_shows_manifest_and_embedding_map(app_home, tiny_model):
    app = start("overview")
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["texts"] == "8" and metrics["kind"] == "flat" and metrics["dimension"] == "32"
    assert metrics["size on disk"].endswith("KB")
    text = all_markdown(app)
    assert tiny_model in text and "| built at |" in text and "| pooling | `mean` |" in text
    assert len(app.get(CHART)) == 1
    assert any("all 8 texts" in c.value for c in app.caption)


def test_overview_shows_base_delta_dead_and_last_compaction(app_home, tiny_model):
    index = Index.open("zoo", index_dir=app_home, encoder=load_encoder(tiny_model))
    index.add([{"id": "n1", "text": "A parrot repeats every word it hears."}])
    index.delete(["a1", "a2"])
    text = all_markdown(start("overview"))
    assert "| base vectors | `8` |" in text and "| delta rows (added since) | `1` |" in text
    assert "| dead vectors (deleted since) | `2` |" in text and "| last compaction | `never` |" in text
    index.compact()
    text = all_markdown(start("overview"))
    assert "| base vectors | `7` |" in text and "| delta rows (added since) | `0` |" in text
    assert "| last compaction | `never` |" not in text


def test_overview_maps_with_a_clustering_projection_by_default(app_home):
    app = start("overview")
    assert app.selectbox[1].value in ("tsne", "umap") and "PCA" in app.selectbox[1].options
    assert any(c.value.startswith(("t-SNE", "UMAP")) for c in app.caption)


def test_overview_browses_the_texts_a_page_at_a_time(tiny_model, index_dir, monkeypatch):
    Index.build(
        "many", [f"sentence number {n}" for n in range(120)], encoder=load_encoder(tiny_model), index_dir=index_dir
    )
    monkeypatch.setenv("SIMSEARCH_HOME", str(index_dir))
    app = start("overview")
    table = app.dataframe[0].value
    assert len(table) == 50 and table["text"].iloc[0] == "sentence number 0"
    app.number_input(key="browse-page-many-").set_value(3).run()
    table = app.dataframe[0].value
    assert table["text"].tolist() == [f"sentence number {n}" for n in range(100, 120)]
    app.text_input(key="browse-filter-many").input("number 11").run()
    assert app.dataframe[0].value["text"].tolist()[:2] == ["sentence number 11", "sentence number 110"]


# --- the real default model -------------------------------------------------------------
@pytest.mark.slow
def test_demo_index_with_the_default_model_finds_the_paraphrase(index_dir, monkeypatch):
    Index.build("demo", read_corpus(DEMO_CSV), index_dir=index_dir)
    monkeypatch.setenv("SIMSEARCH_HOME", str(index_dir))
    app = search(start(), "my flight was cancelled")
    assert result_texts(app)[0] == "Our flight to Oslo was cancelled because of a heavy snowstorm."
    app.selectbox(key="filter-demo-category").set_value(
        next(o for o in app.selectbox(key="filter-demo-category").options if o.startswith("finance"))
    ).run()
    assert result_texts(app)[0] == "I cancelled two streaming subscriptions I no longer watched to cut costs."


def test_user_text_is_escaped_so_markdown_cannot_restyle_it():
    from simsearch_ui.components import escape_markdown

    shown = escape_markdown("pay $5 or $6 for [this](http://x) *now*")
    assert shown == r"pay \$5 or \$6 for \[this\](http://x) \*now\*"


# --- the served app: who can reach it, how much it reads ------------------------------------
@pytest.fixture
def zoo_home(tiny_model, tmp_path, animals):
    home = tmp_path / "served"
    Index.build("zoo", animals, encoder=load_encoder(tiny_model), index_dir=home)
    (tmp_path / "cwd").mkdir()
    return home


def test_simsearch_ui_listens_on_loopback_only_by_default(zoo_home, tmp_path):
    from simsearch.testing import listening_addresses, serving_ui

    with serving_ui(zoo_home, cwd=tmp_path / "cwd") as url:
        addresses = listening_addresses(int(url.rsplit(":", 1)[1]))
    assert addresses == {"127.0.0.1"}  # not 0.0.0.0 / :: (every interface)


def test_simsearch_ui_host_moves_it_to_another_address(zoo_home, tmp_path):
    """--host reaches Streamlit's address. Tests bind loopback only, so another loopback address shows it."""
    from simsearch.testing import listening_addresses, serving_ui

    log = tmp_path / "stderr.txt"
    with serving_ui(zoo_home, cwd=tmp_path / "cwd", host="127.0.0.2", stderr=log) as url:
        addresses = listening_addresses(int(url.rsplit(":", 1)[1]))
    assert addresses == {"127.0.0.2"}
    assert "warning" not in log.read_text()  # loopback: only this machine reaches it


@pytest.mark.parametrize(
    "host, warned",
    [
        ("0.0.0.0", True),
        ("::", True),
        ("192.168.1.5", True),
        ("my-box", True),
        ("127.0.0.1", False),
        ("127.0.0.2", False),
        ("::1", False),
        ("localhost", False),
    ],
)
def test_serving_beyond_this_machine_is_warned_about(host, warned):
    from simsearch.cli.servers import is_loopback

    assert is_loopback(host) is not warned


def test_upload_cap_setting_must_be_a_positive_number(monkeypatch):
    from simsearch.errors import InputError
    from simsearch_ui.limits import max_upload_bytes, server_max_upload_mb

    monkeypatch.setenv("SIMSEARCH_UI_MAX_UPLOAD_MB", "0.5")
    assert max_upload_bytes() == 512 * 1024 and server_max_upload_mb() == 1
    for bad in ("lots", "0", "-3", "nan"):
        monkeypatch.setenv("SIMSEARCH_UI_MAX_UPLOAD_MB", bad)
        with pytest.raises(InputError, match="SIMSEARCH_UI_MAX_UPLOAD_MB"):
            max_upload_bytes()


# --- build page: errors in the page's words, per-index settings, preview, backend, progress --------------
PETS_CSV = b"key,body,kind\np1,The cat naps in the sun.,cat\np2,A puppy chews a shoe.,dog\n"


def test_build_page_guesses_the_longest_string_column_as_texts_and_id_as_ids(app_home, tiny_model):
    app = upload(start("build"), "notes.csv", b"id,body\n1,The cat naps in the sun.\n2,A puppy chews a shoe.\n")
    assert app.selectbox(key="text-column").value == "body" and app.selectbox(key="id-column").value == "id"
    app.selectbox(key="build-model").set_value(tiny_model).run()
    button(app, "Build index").click().run()
    assert Index.open("notes", index_dir=app_home).get("1").text == "The cat naps in the sun."


def test_build_page_without_a_text_like_column_asks_the_user_to_pick_one(app_home, tiny_model):
    app = upload(start("build"), "numbers.csv", b"id,n\n1,5\n2,6\n")
    assert app.selectbox(key="text-column").value is None
    app.selectbox(key="build-model").set_value(tiny_model).run()
    button(app, "Build index").click().run()
    assert "pick the column holding them under Text column" in app.error[0].value
    assert "numbers" not in list_indexes(app_home)


def test_build_page_guesses_the_text_column_among_several(app_home):
    app = upload(start("build"), "pets.csv", PETS_CSV)
    assert app.selectbox(key="text-column").value == "body"


def test_building_over_an_existing_name_names_the_replace_checkbox(app_home, tiny_model):
    app = upload(start("build"), "zoo.csv", PETS_CSV)
    app.selectbox(key="text-column").set_value("body").run()
    app.selectbox(key="build-model").set_value(tiny_model).run()
    button(app, "Build index").click().run()
    message = app.error[0].value
    assert "exists already" in message and "Replace" in message and "--overwrite" not in message
    assert len(Index.open("zoo", index_dir=app_home)) == 8  # untouched
    app.checkbox(key="build-replace").check().run()
    button(app, "Build index").click().run()
    assert "Built index **zoo**: 2 texts" in app.success[0].value


def build_with_a_missing_model(folder):
    """The Build page after building pets.csv with a model folder that does not exist."""
    app = upload(start("build"), "pets.csv", PETS_CSV)
    app.selectbox(key="text-column").set_value("body").run()
    app.selectbox(key="build-model").set_value("another model folder or hub id…").run()
    app.text_input[1].input(str(folder / "no-such-model")).run()
    button(app, "Build index").click().run()
    return app


def test_a_failed_build_leaves_no_stuck_bar_and_keeps_rebuild_and_drop(app_home, tmp_path):
    app = build_with_a_missing_model(tmp_path)
    assert not app.exception
    assert "no-such-model" in app.error[0].value
    assert not app.get("progress")  # no bar left saying "loading the model…"
    assert button(app, "Rebuild") and button(app, "Drop index")


def test_an_unknown_model_names_the_model_control_not_a_cli_flag(app_home, tmp_path):
    app = build_with_a_missing_model(tmp_path)
    assert "--model" not in app.error[0].value and "Model" in app.error[0].value


def test_rebuild_kind_resets_when_another_index_is_picked(app_home, tiny_model, animals):
    Index.build("zoo2", animals, encoder=load_encoder(tiny_model), index_dir=app_home)
    app = start("build")
    app.sidebar.selectbox[0].set_value("zoo").run()
    app.selectbox(key="rebuild-kind-zoo").set_value("hnsw").run()
    app.sidebar.selectbox[0].set_value("zoo2").run()
    assert not app.exception
    rebuild_kind = next(s for s in app.selectbox if s.label == "Kind for the rebuild")
    assert rebuild_kind.value == "(keep current)"
    button(app, "Rebuild").click().run()
    assert Index.open("zoo2", index_dir=app_home).manifest.kind == "flat"  # not converted by zoo's setting


def test_build_page_previews_the_first_rows_and_offers_the_backends(app_home):
    app = upload(start("build"), "pets.csv", PETS_CSV)
    preview = app.dataframe[0].value
    assert list(preview.columns) == ["key", "body", "kind"] and preview["key"].tolist() == ["p1", "p2"]
    assert app.selectbox(key="build-backend").options == ["torch", "onnx", "onnx-int8"]


def test_build_progress_names_the_model_step_then_estimates_time_left():
    def script():
        import time

        from simsearch_ui.components import BuildProgress

        progress = BuildProgress("Building x")
        progress.model_loaded()
        progress.report(0, 100)
        time.sleep(0.6)
        progress.report(40, 100)

    app = AppTest.from_function(script, default_timeout=60).run()
    assert not app.exception
    text = app.get("progress")[0].proto.text
    assert "step 2 of 2, encoded 40 of 100 texts" in text and "left" in text


def test_build_progress_says_what_happens_once_every_text_is_encoded():
    def script():
        from simsearch_ui.components import BuildProgress

        progress = BuildProgress("Building x")
        progress.model_loaded()
        progress.report(100, 100)

    app = AppTest.from_function(script, default_timeout=60).run()
    assert not app.exception
    assert "encoded 100 texts; writing the index" in app.get("progress")[0].proto.text


# --- range and not-equal filters --------------------------------------------------------------
@pytest.fixture
def dated_home(tiny_model, index_dir, animals, monkeypatch):
    """The animals with a numeric column: year 2000 + their position (a1: 2001 ... a8: 2008)."""
    rows = [{**row, "year": 2001 + number} for number, row in enumerate(animals)]
    Index.build("dated", rows, encoder=load_encoder(tiny_model), index_dir=index_dir)
    monkeypatch.setenv("SIMSEARCH_HOME", str(index_dir))
    return {row["text"]: row for row in rows}


def test_a_numeric_column_gets_a_range_that_narrows_results(dated_home):
    app = search(start(), "an animal")
    app.number_input(key="from-dated-year").set_value(2003).run()
    app.number_input(key="to-dated-year").set_value(2006).run()
    assert not app.exception
    years = sorted(dated_home[text]["year"] for text in result_texts(app))
    assert years == [2003, 2004, 2005, 2006]
    assert any("2003 ≤ year ≤ 2006" in c.value for c in app.caption)
    assert app.query_params["from-dated-year"] == "2003" and app.query_params["to-dated-year"] == "2006"
    app.number_input(key="to-dated-year").set_value(None).run()
    assert sorted(dated_home[text]["year"] for text in result_texts(app)) == list(range(2003, 2009))


def test_not_leaves_the_chosen_value_out(dated_home):
    app = search(start(), "an animal")
    app.selectbox(key="filter-dated-category").set_value("pets").run()
    assert {dated_home[text]["category"] for text in result_texts(app)} == {"pets"}
    app.checkbox(key="not-dated-category").check().run()
    categories = {dated_home[text]["category"] for text in result_texts(app)}
    assert categories == {"finance", "cooking", "outdoors"}
    assert any("category ≠ pets" in c.value for c in app.caption)
    assert app.query_params["not-dated-category"] == "True"


def test_range_and_not_come_back_from_a_shared_link(dated_home):
    app = AppTest.from_file(APP, default_timeout=120)
    app.query_params.update(
        {
            "q": "an animal",
            "filter-dated-category": "finance",
            "not-dated-category": "True",
            "from-dated-year": "2002",
            "to-dated-year": "not-a-year",
        }
    )
    app.run()
    assert not app.exception
    shown = [dated_home[text] for text in result_texts(app)]
    assert shown and all(row["category"] != "finance" and row["year"] >= 2002 for row in shown)
    assert app.number_input(key="to-dated-year").value is None  # a hand-edited bound is ignored, not an error


# --- embeddings, clusters ------------------------------------------------------------------
def test_compare_offers_the_token_vectors_for_download(app_home, tiny_model):
    app = compared(tiny_model, "The cat sleeps.", "A kitten is napping.")
    buttons = app.get("download_button")
    assert [b.proto.label for b in buttons] == ["Token vectors (.parquet)"]
    assert "simsearch embed --tokens" in buttons[0].proto.help and buttons[0].proto.url  # the bytes: test_embed.py
    app.text_area[1].input("").run()  # nothing to compare: nothing to download
    assert not app.get("download_button")


def test_the_map_colours_by_a_stored_clustering(app_home):
    Index.open("zoo", index_dir=app_home).clusters(threshold=0.01, min_size=2)
    app = start("overview")
    colour = app.selectbox[0]
    assert colour.label == "Colour by" and colour.options[0] == "cluster" and colour.value == "cluster"
    assert "category" in colour.options
    spec = json.loads(app.get(CHART)[0].proto.spec)
    encoding = spec["layer"][0]["encoding"] if "layer" in spec else spec["encoding"]
    assert encoding["color"]["field"] == "cluster"


def test_search_filters_by_a_column_with_more_values_than_the_usual_drop_down(tiny_model, index_dir, monkeypatch):
    rows = [
        {"id": f"t{n}", "text": f"sentence number {n} about topic {n % 30}", "cluster": f"{n % 30 + 1}: topic"}
        for n in range(90)
    ]
    Index.build("many", rows, encoder=load_encoder(tiny_model), index_dir=index_dir)
    monkeypatch.setenv("SIMSEARCH_HOME", str(index_dir))
    app = search(start(), "sentence about a topic")
    chooser = app.selectbox(key="filter-many-cluster")
    assert len(chooser.options) == 31 and chooser.value == "any"  # 30 clusters, more than the 25 of a facet
    chooser.set_value("27: topic").run()
    assert not app.exception
    shown = result_texts(app)
    assert shown and all(text.endswith("topic 26") for text in shown)


def test_a_long_document_shows_the_matched_passage_first_then_the_whole_text_folded(tiny_model, index_dir, monkeypatch):
    filler = " ".join(f"Report {i} describes the weather over the harbour town." for i in range(40))
    rows = [
        {"id": "long", "text": f"{filler} The violinist tuned her instrument before the concert."},
        {"id": "short", "text": "A dog fetches the ball in the park."},
    ]
    Index.build("shelf", rows, encoder=load_encoder(tiny_model), index_dir=index_dir)  # 128 pieces: windows
    monkeypatch.setenv("SIMSEARCH_HOME", str(index_dir))
    app = search(start(), "violinist concert")
    card = next(text for text in result_texts(app, highlighted=True) if ":orange-background[" in text)
    passage = re.search(r":orange-background\[(.*)\]", card).group(1)
    assert "**violinist**" in passage and "**concert**" in passage and card.startswith("… ")
    assert "Report 0 describes" not in card  # the matched window, not the start of the text
    whole = next(e for e in app.expander if e.label.startswith("Whole text"))
    assert "Report 0 describes" in whole.markdown[0].value and "**violinist**" in whole.markdown[0].value
    assert "A dog fetches the ball in the park." in result_texts(app)  # a short text shows as before
    assert sum(e.label.startswith("Whole text") for e in app.expander) == 1  # the short text has none


# --- re-ranking ------------------------------------------------------------------------------------


def test_search_offers_rerank_for_an_index_default_and_ranks_by_the_cross_encoder(app_home, cross_encoder):
    from simsearch.query import load_reranker

    Index.open("zoo", index_dir=app_home).set_reranker(cross_encoder)
    app = search(start(), "a pet in the park")
    assert app.toggle(key="rerank-zoo").value is True
    scores = result_scores(app)
    expected = load_reranker(cross_encoder).rerank_scores("a pet in the park", result_texts(app))
    assert scores == pytest.approx([round(float(s), 3) for s in expected], abs=1e-3)
    assert scores == sorted(scores, reverse=True)
    assert any("re-rank" in c.value and "ms" in c.value for c in app.caption if "results from" in c.value)
    app.toggle(key="rerank-zoo").set_value(False).run()
    plain = Index.open("zoo", index_dir=app_home).search("a pet in the park", rerank=False)
    assert result_scores(app) == pytest.approx([round(hit.score, 3) for hit in plain], abs=1e-3)  # the fused score


def test_search_reranks_with_a_typed_folder_and_refuses_a_bi_encoder(app_home, cross_encoder, tiny_model):
    app = start()
    assert not [t for t in app.toggle if t.key == "rerank-zoo"]  # no cross-encoder known: no toggle
    app.text_input(key="rerank-folder-zoo").input(tiny_model).run()
    assert any("is a bi-encoder" in e.value and "cross-encoder" in e.value for e in app.error)
    app.text_input(key="rerank-folder-zoo").input(cross_encoder).run()
    app.toggle(key="rerank-zoo").set_value(True).run()
    search(app, "rain on the trail")
    assert len(result_scores(app)) == 8 and all(0 <= s <= 1 for s in result_scores(app))


def test_compare_shows_the_cross_encoder_score_beside_the_cosine(app_home, tiny_model, cross_encoder):
    from simsearch.query import load_reranker

    recorded = Index.open("zoo", index_dir=app_home).set_reranker(cross_encoder)
    app = start("compare")
    app.selectbox[0].set_value(tiny_model).run()
    assert app.selectbox[1].options == ["none", recorded]  # an index's default re-ranker is offered
    app.selectbox[1].set_value(recorded).run()
    app.text_area[0].input("The cat sleeps.").run()
    app.text_area[1].input("A kitten is napping.").run()
    assert not app.exception
    labels = [m.label for m in app.metric]
    assert labels == ["cosine similarity", "cross-encoder score"]
    expected = load_reranker(cross_encoder).pair_scores(["The cat sleeps."], ["A kitten is napping."])[0]
    assert float(app.metric[1].value) == pytest.approx(float(expected), abs=1e-3)


def test_a_k_over_the_pages_limit_in_the_link_is_said_not_silently_clamped(app_home):
    app = AppTest.from_file(APP, default_timeout=120)
    app.query_params.update({"q": "cats", "k": "500"})
    app.run()
    assert not app.exception
    assert any("asked for 500 results" in i.value and "shows 100" in i.value for i in app.info)
    assert app.number_input(key="k").value == 100


def test_a_query_longer_than_the_model_reads_is_said_to_be_cut(app_home):
    app = search(start(), "a very long query about cats " * 60)
    assert any("longer than the model reads" in i.value for i in app.info)
    assert not any("longer than the model reads" in i.value for i in search(start(), "cats").info)


def test_the_sidebar_names_the_index_folder_as_the_user_gave_it(tmp_path, monkeypatch):
    from simsearch_ui import state

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SIMSEARCH_HOME", "indexes")
    assert state.home_as_shown() == "indexes"
    elsewhere = tmp_path.parent / "elsewhere"
    monkeypatch.setenv("SIMSEARCH_HOME", str(elsewhere))
    assert state.home_as_shown() == str(elsewhere.resolve())
