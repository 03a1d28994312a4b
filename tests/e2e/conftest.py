"""Browser end-to-end fixtures: a real `streamlit run app.py` server and Debian's Chromium via Playwright.

In CI (CI=true) a missing Chromium fails the tests; on a laptop without it they skip.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
REPO = Path(__file__).resolve().parents[2]
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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(url: str, process: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited with code {process.returncode} before it was healthy")
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"streamlit was not healthy within {timeout:.0f} s")


@pytest.fixture(scope="session")
def app_url(tmp_path_factory):
    """A real Streamlit server on a free loopback port, stopped at the end whatever happens."""
    _require_chromium()
    port = _free_port()
    env = dict(os.environ, AECORE_CACHE_DIR=str(tmp_path_factory.mktemp("e2e-cache")))
    if not os.environ.get("E2E_REAL_DEFAULTS"):
        env["AECORE_STUDIO_TEST_DEFAULTS"] = "1"  # tiny runs; the README's screenshots use the real defaults
    log = open(tmp_path_factory.mktemp("e2e-log") / "streamlit.log", "w+")
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
         "--server.fileWatcherType", "none"],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, process)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.seek(0)
        tail = log.read()[-3000:]
        log.close()
        if "Traceback" in tail:
            print("streamlit log tail:\n" + tail)


@pytest.fixture(scope="session")
def browser():
    _require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser, app_url):
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(60_000)
    try:
        yield page
    finally:
        context.close()


@pytest.fixture(scope="session")
def screenshot_dir() -> Path:
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    return SCREENSHOT_DIR

