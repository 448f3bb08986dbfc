"""The Streamlit search page, driven by Streamlit's own AppTest (a real script run, no browser)."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from simsearch import Index
from tests.conftest import REPO

APP = str(REPO / "ui" / "app.py")


@pytest.fixture
def app_home(tiny_model, index_dir, animals, monkeypatch):
    Index.build("zoo", animals, model=tiny_model, index_dir=index_dir)
    monkeypatch.setenv("SIMSEARCH_HOME", str(index_dir))
    return index_dir


def test_search_page_shows_ranked_results_with_scores(app_home):
    app = AppTest.from_file(APP, default_timeout=60).run()
    assert not app.exception
    app.text_input[0].input("Heavy rain flooded the mountain trail.").run()
    assert not app.exception
    texts = [m.value for m in app.markdown]
    assert texts[0].endswith("Heavy rain flooded the mountain trail.")
    assert len(texts) == 8  # all documents, k defaults to 10
    scores = [float(m.value) for m in app.metric]
    assert scores == sorted(scores, reverse=True) and scores[0] == pytest.approx(1.0, abs=1e-3)


def test_k_slider_limits_results(app_home):
    app = AppTest.from_file(APP, default_timeout=60).run()
    app.sidebar.slider[0].set_value(3).run()
    app.text_input[0].input("cats").run()
    assert len(app.metric) == 3


def test_whitespace_query_shows_message_not_traceback(app_home):
    app = AppTest.from_file(APP, default_timeout=60).run()
    app.text_input[0].input("   ").run()
    assert not app.exception
    assert "empty" in app.error[0].value


def test_no_indexes_explains_how_to_build(tmp_path, monkeypatch):
    monkeypatch.setenv("SIMSEARCH_HOME", str(tmp_path / "none"))
    app = AppTest.from_file(APP, default_timeout=60).run()
    assert "simsearch build" in app.info[0].value
