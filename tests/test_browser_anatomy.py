"""The Compare page's input anatomy and word-in-context views in headless Chromium, with the real default model.

The screenshot of both views lands in artifacts/screenshots/compare-anatomy.png (git-ignored);
docs/images/compare-anatomy.png is a copy of it.
"""

from __future__ import annotations

import pytest

from simsearch.testing import serving_ui
from tests.test_browser import SCREENSHOTS, browser, page  # noqa: F401 - fixtures

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def app_url(demo_home, tmp_path_factory):
    with serving_ui(demo_home, cwd=tmp_path_factory.mktemp("elsewhere")) as url:
        yield url


def type_sentence(tab, label: str, text: str) -> None:
    box = tab.get_by_label(label)
    box.fill(text)
    box.press("Control+Enter")  # a Streamlit text area sends its value on Ctrl+Enter or when it loses focus


def test_compare_page_shows_the_pairs_anatomy_and_banks_drift(page, app_url):  # noqa: F811 - page is a fixture
    page.goto(f"{app_url}/compare")
    type_sentence(page, "First sentence", "We sat on the river bank.")
    type_sentence(page, "Second sentence", "She opened a bank account.")
    heading = page.get_by_text("What the model adds up to read the pair")
    heading.wait_for()
    page.get_by_text("30,522 word pieces").wait_for()
    page.get_by_text("last layer cosine").wait_for()
    from playwright.sync_api import expect  # the page fixture already needs playwright

    # waits for it: under load the word box was seen empty just after the views showed (a later rerun fills it)
    expect(page.get_by_label("A word in both sentences", exact=True)).to_have_value("bank")
    last_chart = page.locator("[data-testid='stVegaLiteChart']").last
    last_chart.wait_for()
    page.wait_for_timeout(800)  # the chart's transition
    height = page.evaluate("""() => Math.max(...Array.from(
        document.querySelectorAll('[data-testid="stMain"], [data-testid="stAppViewContainer"]'),
        (element) => element.scrollHeight), window.innerHeight)""")
    page.set_viewport_size({"width": 1400, "height": min(int(height), 4000)})  # Streamlit scrolls in its main pane
    page.wait_for_timeout(500)
    top, bottom = heading.bounding_box(), last_chart.bounding_box()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / "compare-anatomy.png"
    page.screenshot(
        path=str(path),
        clip={"x": 0, "y": top["y"] - 16, "width": 1400, "height": bottom["y"] + bottom["height"] - top["y"] + 32},
    )
    assert path.stat().st_size > 20_000
