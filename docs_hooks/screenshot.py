"""Take the docs' screenshot of the Search page (docs/images/ui-search.png) from the real app.

    make screenshot          # or: python -m docs_hooks.screenshot

Builds the demo index with the default model in a temporary folder, serves it with
`simsearch ui`, searches in headless Chromium (Debian's, driven by Playwright, as
tests/test_browser.py does) with a category filter, and saves the visible window.
"""

from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUTPUT = REPO / "docs" / "images" / "ui-search.png"
QUERY = "my flight was cancelled"


def take_screenshot(output: Path = OUTPUT) -> Path:
    from playwright.sync_api import sync_playwright

    from simsearch import Index, read_corpus
    from simsearch.testing import CHROMIUM, CHROMIUM_ARGS, serving_ui

    # the UI is started in the scratch folder with a relative index folder, because the sidebar shows
    # where the indexes live: `indexes`, as after `make run`, not a temporary path
    with tempfile.TemporaryDirectory(prefix="simsearch-") as scratch:
        Index.build("demo", read_corpus(REPO / "simsearch" / "data" / "demo.csv"), index_dir=Path(scratch) / "indexes")
        with serving_ui(Path("indexes"), cwd=Path(scratch)) as url, sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.set_default_timeout(90_000)
            page.goto(url)
            box = page.get_by_label("Query")
            box.fill(QUERY)
            box.press("Enter")
            page.get_by_text(re.compile(r"results( matching .*)? from [\d,]+ texts")).wait_for()
            page.get_by_role("combobox", name=re.compile("category")).click()
            page.get_by_role("option", name=re.compile(r"^travel")).click()
            page.get_by_text("results matching category = travel").wait_for()
            page.wait_for_timeout(800)  # let the score bars finish drawing
            output.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(output))
            browser.close()
    return output


if __name__ == "__main__":
    saved = take_screenshot(Path(sys.argv[1]) if len(sys.argv) > 1 else OUTPUT)
    print(f"saved {saved} ({saved.stat().st_size:,} bytes)")
