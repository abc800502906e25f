"""Browser tests: Playwright driving Debian's Chromium (never a downloaded browser)
against the live test server.

Without Chromium or Playwright these tests are skipped, and pytest's summary
says why; with LEADHUB_REQUIRE_BROWSER=1 (set by .ci/run) a missing browser is
a failure instead.
"""
import os
import shutil

import pytest

CHROMIUM = os.environ.get("LEADHUB_CHROMIUM", "/usr/bin/chromium")
# Chromium as root needs --no-sandbox; on a closed network its background
# services would only fail to connect.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[test]')"
    if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
        return f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
    return None


@pytest.fixture(scope="module")
def browser():
    reason = _missing()
    if reason:
        if os.environ.get("LEADHUB_REQUIRE_BROWSER") == "1":
            pytest.fail(f"browser tests required (LEADHUB_REQUIRE_BROWSER=1) but {reason}")
        pytest.skip(f"browser tests skipped: {reason}")
    # Playwright's sync API runs an event loop; Django refuses ORM calls from a
    # thread with a running loop unless told the test does so knowingly. Only
    # while browser tests run: a deploy check rightly refuses this variable.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM if os.path.exists(CHROMIUM)
                                                 else shutil.which("chromium"), args=CHROMIUM_ARGS)
            yield browser
            browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


def _page(browser, live_server, width, height):
    """A page in a fresh context. Every page carries a Content-Security-Policy;
    Chromium reports each thing it refused (an inline script or style, a foreign
    source) on the console, and any such report fails the test that caused it."""
    context = browser.new_context(base_url=live_server.url, accept_downloads=True,
                                  viewport={"width": width, "height": height})
    context.set_default_timeout(15_000)
    page = context.new_page()
    refused = []
    page.on("console", lambda message: refused.append(message.text)
            if "Content Security Policy" in message.text else None)
    yield page
    context.close()
    assert not refused, f"the Content-Security-Policy refused something: {refused}"


@pytest.fixture
def page(browser, live_server):
    yield from _page(browser, live_server, 1280, 900)  # a laptop


@pytest.fixture
def tablet_page(browser, live_server):
    yield from _page(browser, live_server, 768, 1024)  # a tablet held upright (iPad)


def log_in(page, username, password):
    page.goto("/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")
    page.wait_for_selector("#user-tools")
