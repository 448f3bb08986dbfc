"""Time from query to results in the web UI, against the Python API in the same run.

Builds the demo index (simsearch/data/demo.csv, default model) in a temporary
folder, then for the same queries measures:

  api      Index.search(query, k=10) in this process: the floor (baseline)
  apptest  one Streamlit script rerun after typing the query (streamlit.testing AppTest)
  browser  Enter pressed in headless Chromium -> the expected top hit visible on the page

Run (about 2 minutes):  flock /tmp/simsearch-heavy.lock python benchmarks/ui_latency.py
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

QUERIES = [
    "my flight was cancelled",
    "how long should steak rest",
    "saving money for emergencies",
    "the band played an encore",
    "my phone battery dies quickly",
    "a marathon in the rain",
    "a walk in the forest at dawn",
    "a doctor checked my blood pressure",
    "the laptop will not boot",
    "we missed our train connection",
    "baking bread at home",
    "the stock market dropped",
    "the team won the final",
    "a new vaccine was approved",
    "fixing a flat bicycle tyre",
    "the concert was postponed",
    "cheap hotels near the beach",
    "spicy food recipes",
    "wild animals in the mountains",
    "a virus slowed down my computer",
]


def summary(times_ms: list[float]) -> str:
    ordered = sorted(times_ms)
    p90 = ordered[min(len(ordered) - 1, int(round(0.9 * (len(ordered) - 1))))]
    return f"median {statistics.median(ordered):7.1f} ms   p90 {p90:7.1f} ms   (n={len(ordered)})"


def api_times(index, queries: list[str]) -> list[float]:
    times = []
    for query in queries:
        started = time.perf_counter()
        index.search(query, k=10)
        times.append((time.perf_counter() - started) * 1000)
    return times


def apptest_times(queries: list[str]) -> tuple[list[float], list[str]]:
    from streamlit.testing.v1 import AppTest

    app = AppTest.from_file(str(REPO / "ui" / "app.py"), default_timeout=120).run()
    app.text_input(key="_query").input("warm-up query").run()
    times, captions = [], []
    for query in queries:
        started = time.perf_counter()
        app.text_input(key="_query").input(query).run()
        times.append((time.perf_counter() - started) * 1000)
        captions.append(next(c.value for c in app.caption if "results from" in c.value))
    return times, captions


def browser_times(home: Path, queries: list[str], top_hits: list[str]) -> list[float]:
    from playwright.sync_api import sync_playwright

    from simsearch.testing import CHROMIUM, CHROMIUM_ARGS, serving_ui

    with serving_ui(home, cwd=Path(tempfile.mkdtemp())) as url:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(90_000)
            page.goto(url)
            box = page.get_by_label("Query")
            box.fill("warm-up query")
            box.press("Enter")
            page.get_by_text("results from").wait_for()
            times = []
            for query, top in zip(queries, top_hits):
                box.fill(query)
                started = time.perf_counter()
                box.press("Enter")
                page.wait_for_function(
                    """(top) => Array.from(document.querySelectorAll('[data-testid="stMarkdownContainer"] p'))
                        .some((p) => p.innerText.startsWith('1. ') && p.innerText.includes(top))""",
                    arg=top,
                )
                times.append((time.perf_counter() - started) * 1000)
            browser.close()
    return times


def distinct_top_hits(index, queries: list[str]) -> tuple[list[str], list[str]]:
    """Queries whose top hit differs from the previous query's, so the page visibly changes each time."""
    kept, tops = [], []
    for query in queries:
        top = index.search(query, k=1)[0].text
        if not tops or top != tops[-1]:
            kept.append(query)
            tops.append(top)
    return kept, tops


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="torch", help="encoder backend for the demo index (torch, onnx)")
    parser.add_argument("--skip-browser", action="store_true")
    args = parser.parse_args()

    from simsearch import Index, load_encoder, read_corpus

    home = Path(tempfile.mkdtemp(prefix="simsearch-ui-bench-")) / "indexes"
    os.environ["SIMSEARCH_HOME"] = str(home)
    index = Index.build(
        "demo",
        read_corpus(REPO / "simsearch" / "data" / "demo.csv"),
        index_dir=home,
        encoder=load_encoder(backend=args.backend),
    )
    queries, tops = distinct_top_hits(index, QUERIES)
    api_times(index, ["warm-up"] * 3)
    api = api_times(index, queries)
    print(
        f"demo index: {len(index)} texts, backend {args.backend}, {len(queries)} queries, k=10; {os.cpu_count()} CPUs"
    )
    print(f"api      Index.search                    {summary(api)}")
    apptest, captions = apptest_times(queries)
    print(
        f"apptest  script rerun after typing        {summary(apptest)}   "
        f"x{statistics.median(apptest) / statistics.median(api):.1f} api"
    )
    print(f"         e.g. {captions[len(captions) // 2]!r}")
    if not args.skip_browser:
        browser = browser_times(home, queries, tops)
        print(
            f"browser  Enter -> top hit on screen       {summary(browser)}   "
            f"x{statistics.median(browser) / statistics.median(api):.1f} api"
        )


if __name__ == "__main__":
    main()
