"""Start and stop a real `streamlit run app.py` on a free loopback port, and read its memory.

Shared by the browser tests, the load test and the app benchmark.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
# Playwright's own browser download cannot work here; Debian's Chromium with these flags does.
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
# In the page (for Playwright's wait_for_function): the app is connected and no script run is under way.
IDLE_JS = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  return app !== null && app.dataset.testConnectionState === "CONNECTED"
    && app.dataset.testScriptState === "notRunning"
    && document.querySelector('[data-testid="stStatusWidget"]') === null;
}"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, process: subprocess.Popen, timeout: float = 120) -> float:
    """Seconds until /_stcore/health answers 200; raises if the server dies or times out."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited with code {process.returncode} before it was healthy")
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return time.monotonic() - started
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"streamlit was not healthy within {timeout:.0f} s")


@contextlib.contextmanager
def running_app(env: dict | None = None, log_path: str | os.PathLike | None = None):
    """Yield (url, process) of a healthy server; it is stopped on exit whatever happens."""
    port = free_port()
    log = open(log_path, "w") if log_path else subprocess.DEVNULL
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
         "--server.fileWatcherType", "none"],
        cwd=REPO, env={**os.environ, **(env or {})}, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        process.healthy_after = wait_healthy(url, process)
        yield url, process
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if log is not subprocess.DEVNULL:
            log.close()


def memory_mb(pid: int, field: str = "VmHWM") -> float | None:
    """A process's peak (VmHWM) or current (VmRSS) resident memory in MB, from /proc."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def launch_chromium(playwright):
    """Debian's Chromium through Playwright."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)


# The app's navigation sits in the top bar: pages of its first section as links, the others in each section's menu.
_TOP_LINK = '[data-testid="stTopNavLink"]'
_SECTION = '[data-testid="stTopNavSection"]'
_MENU_LINK = '[data-testid="stTopNavDropdownLink"]'


def nav_link(page, label: str):
    """The navigation's link to the page titled `label`, its section's menu opened where it is in one."""
    link = page.locator(_TOP_LINK).filter(has_text=label)
    for name in ([] if link.count() else page.locator(_SECTION).all()):
        name.click()
        link = page.locator(_MENU_LINK).filter(has_text=label)
        if link.count():
            break
        page.keyboard.press("Escape")
    return link.first


def nav_hrefs(page) -> list[str]:
    """Every page's address, in the navigation's order (each section's menu opened in turn)."""
    hrefs = [link.get_attribute("href") for link in page.locator(_TOP_LINK).all()]
    for section in page.locator(_SECTION).all():
        section.click()
        hrefs += [link.get_attribute("href") for link in page.locator(_MENU_LINK).all()]
        page.keyboard.press("Escape")
    return list(dict.fromkeys(h for h in hrefs if h))
