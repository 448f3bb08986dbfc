"""The Compare page's input anatomy and static-against-contextual views (Streamlit's AppTest, real models)."""

from __future__ import annotations

import pytest

from simsearch import Index, load_encoder
from tests.test_ui import all_markdown, compared, start

RIVER, ACCOUNT = "We sat on the river bank.", "She opened a bank account."


@pytest.fixture
def app_home(tiny_model, index_dir, animals, monkeypatch):
    """An index home with one tiny-model index, so the page lists that model."""
    Index.build("zoo", animals, encoder=load_encoder(tiny_model), index_dir=index_dir)
    monkeypatch.setenv("SIMSEARCH_HOME", str(index_dir))
    return index_dir


def anatomy_table(app):
    return next(frame.value for frame in app.dataframe if "segment norm" in frame.value.columns)


def test_anatomy_table_has_a_row_per_piece_of_the_pair_and_toggles_to_one_sentence(app_home, tiny_model):
    app = compared(tiny_model, RIVER, ACCOUNT)
    table = anatomy_table(app)
    assert table["piece"].tolist()[:2] == ["[CLS]", "we"] and table["piece"].tolist().count("[SEP]") == 2
    assert set(table["segment"]) == {"A", "B"} and table["position"].tolist() == list(range(len(table)))
    app.toggle(key="anatomy-pair").set_value(False).run()
    alone = anatomy_table(app)
    assert set(alone["segment"]) == {"A"} and alone["piece"].tolist().count("[SEP]") == 1


def test_context_view_picks_the_shared_word_and_refuses_a_missing_one_in_words(app_home, tiny_model):
    app = compared(tiny_model, RIVER, ACCOUNT)
    assert app.text_input(key="context-word").value == "bank"
    metrics = {metric.label: float(metric.value) for metric in app.metric}
    assert metrics["token embedding cosine"] == pytest.approx(1.0, abs=1e-3)
    app.text_input(key="context-word").input("river").run()
    assert not app.exception and any("'river' is not in the second sentence" in info.value for info in app.info)


@pytest.mark.slow
def test_real_model_page_cites_its_config_and_shows_the_context_drift(app_home):
    app = start("compare")  # the default model is the first choice
    app.text_area[0].input(RIVER).run()
    app.text_area[1].input(ACCOUNT).run()
    text = all_markdown(app)
    assert "30,522 word pieces" in text and "512 positions" in text and "2 segments" in text
    metrics = {metric.label: float(metric.value) for metric in app.metric}
    assert metrics["last layer cosine"] < metrics["embedding layer cosine"] < 1.0
