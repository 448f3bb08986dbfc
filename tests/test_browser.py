"""End to end: the real app served by `simsearch ui`, in headless Chromium driven by Playwright.

Needs Debian's chromium (`make test` installs it with apt-get where it can) and the
playwright Python package (the dev extra); never Playwright's own browser download.
Screenshots of every page land in artifacts/screenshots/ (git-ignored).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from simsearch import Index, load_encoder
from simsearch.testing import CHROMIUM, CHROMIUM_ARGS, serving_ui
from tests.conftest import DEMO_CSV, REPO

SCREENSHOTS = REPO / "artifacts" / "screenshots"
QUERY, TOP_HIT = "my flight was cancelled", "Our flight to Oslo was cancelled because of a heavy snowstorm"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def browser():
    playwright_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed: pip install -e '.[dev]'"
    )
    if not CHROMIUM.exists():
        pytest.skip(f"no browser at {CHROMIUM}: install Debian's chromium (apt-get install chromium; `make test` does)")
    with playwright_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def app_url(demo_home, tmp_path_factory):
    """The demo index built with the real default model, served by the real app."""
    with serving_ui(demo_home, cwd=tmp_path_factory.mktemp("elsewhere")) as url:
        yield url


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(90_000)
    yield page
    context.close()


def screenshot(page, name: str) -> Path:
    """The whole page: Streamlit scrolls inside its main pane, so grow the viewport to its height first."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.wait_for_timeout(500)  # let charts finish their transition
    height = page.evaluate("""() => Math.max(...Array.from(
        document.querySelectorAll('[data-testid="stMain"], [data-testid="stAppViewContainer"]'),
        (element) => element.scrollHeight), window.innerHeight)""")
    size = page.viewport_size
    page.set_viewport_size({"width": size["width"], "height": min(int(height), 4000)})
    page.wait_for_timeout(300)
    page.screenshot(path=str(path))
    page.set_viewport_size(size)
    return path


def search(page, query: str) -> None:
    box = page.get_by_label("Query")
    box.fill(query)
    box.press("Enter")
    page.get_by_text(re.compile(r"results( matching .*)? from [\d,]+ texts")).wait_for()


def first_result(page) -> str:
    card = page.locator("[data-testid='stMarkdownContainer'] p").filter(has=page.locator("strong", has_text="1."))
    return card.first.inner_text()


def test_typed_query_shows_expected_top_hit(page, app_url):
    page.goto(app_url)
    page.get_by_label("Query").wait_for()
    search(page, QUERY)
    assert TOP_HIT in first_result(page)
    assert page.get_by_text(re.compile(r"encode [\d.]+ ms")).first.is_visible()  # the latency split
    assert screenshot(page, "search").stat().st_size > 10_000


def test_every_page_renders_without_error(page, app_url, tmp_path):
    page.goto(app_url)
    search(page, QUERY)
    page.get_by_role("combobox", name=re.compile("category")).click()
    page.get_by_role("option", name=re.compile(r"^travel")).click()
    page.get_by_text("results matching category = travel").wait_for()
    screenshot(page, "search-filtered")

    page.get_by_role("button", name="Explain").first.click()
    page.get_by_role("heading", name="Explain a result").wait_for()
    page.locator("[data-testid='stVegaLiteChart']").first.wait_for()
    assert not page.locator(".ss-tok", has_text="[CLS]").count()  # hidden until asked for
    screenshot(page, "explain")
    page.get_by_text("Show punctuation and special tokens").click()
    page.locator(".ss-tok", has_text="[CLS]").first.wait_for()

    page.get_by_role("link", name="Compare").click()
    page.get_by_text("Under the hood").wait_for()
    page.locator("[data-testid='stVegaLiteChart']").first.wait_for()
    screenshot(page, "compare")

    page.get_by_role("link", name="Index overview").click()
    page.get_by_text("Map of the embeddings").wait_for()
    page.locator("[data-testid='stVegaLiteChart']").first.wait_for()
    screenshot(page, "overview")

    upload = tmp_path / "demo copy.csv"
    write_demo_copies(upload, copies=6)  # 1,920 texts: several seconds of encoding, so the bar is seen moving
    page.get_by_role("link", name="Build").click()
    page.locator("input[type='file']").set_input_files(str(upload))
    page.get_by_role("button", name="Build index").click()
    page.get_by_text(re.compile(r"encoded [\d,]+ of 1,920 texts")).wait_for()
    assert page.get_by_text(re.compile(r"step 2 of 2")).count()
    screenshot(page, "build-progress")
    page.get_by_text("Built index demo-copy: 1,920 texts").wait_for()
    screenshot(page, "build")
    page.get_by_role("link", name="Search").click()  # the new index is picked in the sidebar, no restart
    page.get_by_text("Index demo-copy: 1,920 texts").wait_for()
    assert not page.locator("[data-testid='stException']").count()


def test_query_is_in_the_url_focused_on_load_and_survives_a_reload(page, app_url):
    from playwright.sync_api import expect

    page.goto(app_url)
    page.get_by_label("Query").wait_for()
    page.wait_for_function("() => document.activeElement?.getAttribute('aria-label') === 'Query'")
    page.keyboard.type(QUERY)  # typed straight away: the box has the focus
    page.keyboard.press("Enter")
    page.get_by_text(re.compile(r"results from [\d,]+ texts")).wait_for()
    page.wait_for_url(re.compile(r"[?&]q=my(\+|%20)flight"))
    shared = page.url
    page.goto(shared)  # a reload, or the link opened by someone else
    page.get_by_text(re.compile(r"results from [\d,]+ texts")).wait_for()
    expect(page.get_by_label("Query")).to_have_value(QUERY)  # the box refills as the page hydrates
    assert TOP_HIT in first_result(page)


def test_token_chips_keep_a_visible_background_in_dark_mode(browser, app_url):
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    context = browser.new_context(viewport={"width": 1400, "height": 1000}, color_scheme="dark")
    page = context.new_page()
    page.set_default_timeout(90_000)
    try:
        page.goto(f"{app_url}/compare")
        page.locator(".ss-tok").first.wait_for()
        try:  # the page's style sheet may land a moment after the chips; a chip that never gets a colour fails
            page.wait_for_function(
                "() => getComputedStyle(document.querySelector('.ss-tok')).backgroundColor !== 'rgba(0, 0, 0, 0)'",
                timeout=15_000,
            )
        except PlaywrightTimeout:
            pass  # the assertion below reports the colours it found
        colours = page.evaluate(r"""() => {
            const parse = (c) => (c.match(/[\d.]+/g) || []).map(Number);
            const chip = parse(getComputedStyle(document.querySelector(".ss-tok")).backgroundColor);
            const app = parse(getComputedStyle(document.querySelector("[data-testid='stApp']")).backgroundColor);
            return {chip, app};
        }""")
        chip, app = colours["chip"], colours["app"]
        alpha = chip[3] if len(chip) > 3 else 1.0
        shown = [alpha * c + (1 - alpha) * a for c, a in zip(chip[:3], app[:3])]
        assert sum(app[:3]) < 150, f"the page is not dark: {app}"
        assert max(abs(s - a) for s, a in zip(shown, app[:3])) >= 12, (chip, app)
        screenshot(page, "compare-dark")
    finally:
        context.close()


def write_demo_copies(path: Path, copies: int) -> None:
    """The demo corpus repeated with fresh ids (the build refuses duplicate ids)."""
    header, *rows = DEMO_CSV.read_text(encoding="utf-8").splitlines()
    lines = [header] + [f"{row.split(',', 1)[0]}-{n},{row.split(',', 1)[1]}" for n in range(copies) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_simsearch_ui_command_serves_the_app(page, tmp_path, tiny_model, animals):
    """`simsearch ui --index-dir DIR --port N`, started from an unrelated folder, serves a working search."""
    home = tmp_path / "elsewhere-indexes"
    Index.build("zoo", animals, encoder=load_encoder(tiny_model), index_dir=home)
    (tmp_path / "unrelated").mkdir()
    with serving_ui(home, cwd=tmp_path / "unrelated") as url:
        page.goto(url)
        search(page, "Heavy rain flooded the mountain trail.")
        assert "Heavy rain flooded the mountain trail." in first_result(page)


def test_streamlit_refuses_an_upload_body_over_the_cap(page, tmp_path, tiny_model, animals, monkeypatch):
    """The server's own limit (server.maxUploadSize) matches the page's: a bigger body is refused unread.

    The same request with a body under the cap is accepted, so the refusal is the size's doing. The
    server answers 413 and may close the connection before the client has finished sending, which
    the client sees as a broken pipe: either way the body was not taken.
    """
    monkeypatch.setenv("SIMSEARCH_UI_MAX_UPLOAD_MB", "1")
    home = tmp_path / "indexes"
    Index.build("zoo", animals, encoder=load_encoder(tiny_model), index_dir=home)
    small = tmp_path / "small.txt"
    small.write_text("one sentence\n", encoding="utf-8")
    (tmp_path / "cwd").mkdir()
    with serving_ui(home, cwd=tmp_path / "cwd") as url:
        page.goto(f"{url}/build")
        with page.expect_request(lambda r: "/_stcore/upload_file/" in r.url and r.method == "PUT") as sent:
            page.locator("input[type='file']").set_input_files(str(small))
        upload_url = sent.value.url  # carries this browser session's id, which the server checks first
        sent_headers = sent.value.all_headers()  # and its XSRF token and cookie
        same = {k: v for k, v in sent_headers.items() if k.lower() in ("x-xsrftoken", "cookie")}
        assert upload_status(upload_url, same, 2**19) in (200, 204)
        assert upload_status(upload_url, same, 3 * 2**20) in (413, "closed before the body was read")


def upload_status(url: str, headers: dict, size: int) -> int | str:
    """PUT a multipart file of ``size`` bytes; the HTTP status, or how the server cut the request short."""
    import http.client
    from urllib.parse import urlsplit

    boundary = "simsearchboundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="upload.txt"\r\n'
            f"Content-Type: text/plain\r\n\r\n"
        ).encode()
        + b"x" * size
        + f"\r\n--{boundary}--\r\n".encode()
    )
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        connection.request(
            "PUT",
            f"{parts.path}?{parts.query}" if parts.query else parts.path,
            body=body,
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}", **headers},
        )
        return connection.getresponse().status
    except (BrokenPipeError, ConnectionResetError):
        return "closed before the body was read"
    finally:
        connection.close()
