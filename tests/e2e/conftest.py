"""Browser end-to-end fixtures: a real `streamlit run app.py` server and Debian's Chromium via Playwright.

In CI (CI=true) a missing Chromium fails the tests; on a laptop without it they skip.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.helpers import REPO, app_tiny, browser_watch_runs
from tools.appserver import CHROMIUM, launch_chromium, running_app

# Screenshots land here (ignored by git). The README's are made by this same suite:
#   E2E_REAL_DEFAULTS=1 E2E_SCREENSHOT_DIR=docs/screenshots python -m pytest tests/e2e
SCREENSHOT_DIR = Path(os.environ.get("E2E_SCREENSHOT_DIR", REPO / "artifacts" / "screenshots"))


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/e2e/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.e2e)


def _require_chromium() -> None:
    if os.path.exists(CHROMIUM) and os.access(CHROMIUM, os.X_OK):
        return
    reason = f"Chromium not found at {CHROMIUM} (apt-get install -y chromium)"
    if os.environ.get("CI"):
        pytest.fail(reason + "; CI must run the browser tests", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def chromium() -> str:
    """The path of Debian's Chromium: skips (or, in CI, fails) where it is missing."""
    _require_chromium()
    return CHROMIUM


@pytest.fixture(scope="session")
def app_url(tmp_path_factory, chromium, trained_runs):
    """A real Streamlit server on a free loopback port, stopped at the end whatever happens."""
    cache = tmp_path_factory.mktemp("e2e-cache")
    # Pages open on their ready-made runs, as a visitor's first sight (the walk's test looks at every tab of them).
    env = {"AECORE_CACHE_DIR": str(cache), "AECORE_READY_MADE": "1"}
    if not os.environ.get("E2E_REAL_DEFAULTS"):
        env["AECORE_STUDIO_TEST_DEFAULTS"] = "1"  # tiny runs; the README's screenshots use the real defaults
        # The Variational page's default run, trained once for the session (conftest's trained_runs): its tests
        # are about what the page does with a run. The browser still trains VAEs: the live view's long run and the
        # upload's; and the Stacked page's first run, whose reload must come from the cache.
        trained_runs.copy_to(cache, app_tiny("vae"))
    log_path = tmp_path_factory.mktemp("e2e-log") / "streamlit.log"
    try:
        with running_app(env, log_path) as (url, _):
            yield url
    finally:
        tail = log_path.read_text()[-3000:] if log_path.exists() else ""
        if "Traceback" in tail:
            print("streamlit log tail:\n" + tail)


@pytest.fixture(scope="session")
def browser(chromium):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser, app_url):
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(60_000)
    errors: list[str] = []  # what the browser's console reports as errors: an audience's developer tools see them
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    browser_watch_runs(page)  # before any goto: the helpers wait for runs on the app's websocket
    try:
        yield page
    finally:
        context.close()
    # Streamlit probes a deep link's path as a base URL before the root (an address opened directly, a shared link).
    errors = [e for e in errors if "the server responded with a status of 404" not in e]
    assert not errors, "console errors: " + "; ".join(errors[:10])


@pytest.fixture(scope="session")
def screenshot_dir() -> Path:
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    return SCREENSHOT_DIR

