"""`python -m benchmarks --app`: the Streamlit app as a visitor meets it.

`streamlit run app.py` from start to the first page drawn in Chromium, every page's ready
time in a new session, and the server's peak memory after every page was visited. The
server is started by tools.appserver, the launcher the browser tests and the load test use.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from benchmarks import child
from benchmarks.report import Figure, log
from tools.appserver import CHROMIUM, launch_chromium, memory_mb, nav_hrefs, running_app

PAGE_TIMEOUT_MS = 300_000  # a page may train its default run when the cache is empty


def _missing() -> list[str]:
    """What this machine lacks to drive the app in a browser."""
    missing = []
    if not os.access(CHROMIUM, os.X_OK):
        missing.append(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("playwright is not installed")
    return missing


def _wait_idle(page, timeout_ms: int) -> None:
    """Until Streamlit's 'running' indicator is gone and a heading is drawn."""
    page.wait_for_timeout(300)  # the indicator appears only after a rerun has started
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=timeout_ms)
    page.wait_for_selector("h1", timeout=timeout_ms)


def _fill_cache(cache: str) -> None:
    """Every default run trained into the app's run cache, so each page shows a trained model."""
    from benchmarks.api import ARCHS

    log("filling the run cache with the default runs:")
    for arch in ARCHS:
        t = time.perf_counter()
        child.run("train_default", arch=arch, cache_dir=cache)
        log(f"  {arch}: {time.perf_counter() - t:.1f} s")


def _page_name(target: str) -> str:
    name = target.rstrip("/").rsplit("/", 1)[-1] or "home"
    return "home" if name.startswith("127.0.0.1") else name


def bench_app(quick: bool) -> list[Figure]:
    """Start to first page ready, every page's ready time, and server peak memory.

    The run cache is filled with every default run first (not in --quick), as a visitor of
    the hosted demo would find it.
    """
    missing = _missing()
    if missing:
        note = "left: " + "; ".join(missing)
        return [Figure("app_first_page_ready", None, "s", note=note),
                Figure("app_server_peak_rss", None, "MB", note=note)]

    cache = tempfile.mkdtemp(prefix="aecore-bench-app-")
    if not quick:
        _fill_cache(cache)
    cache_state = " with every default run cached" if not quick else " (quick: empty cache)"

    figures: list[Figure] = []
    log_path = Path(cache) / "streamlit.log"
    started = time.perf_counter()
    try:
        with running_app({**child.env(), "AECORE_CACHE_DIR": cache}, log_path) as (url, server):
            healthy = time.perf_counter() - started
            from playwright.sync_api import sync_playwright

            with sync_playwright() as pw:
                browser = launch_chromium(pw)
                try:
                    page = browser.new_page(viewport={"width": 1400, "height": 1000})
                    page.goto(url)
                    _wait_idle(page, 120_000)
                    first = time.perf_counter() - started
                    figures.append(Figure("app_first_page_ready", first, "s",
                                          note=f"streamlit run to the home page drawn in Chromium "
                                               f"(server healthy at {healthy:.1f} s)"))
                    log(f"  first page ready {first:.1f} s (healthy {healthy:.1f} s)")
                    hrefs = nav_hrefs(page)
                    for href in hrefs:
                        target = href if href.startswith("http") else url + "/" + href.lstrip("/")
                        t = time.perf_counter()
                        page.goto(target)
                        _wait_idle(page, PAGE_TIMEOUT_MS)
                        ready = time.perf_counter() - t
                        name = _page_name(target)
                        figures.append(Figure(f"app_page_ready_{name}", ready * 1000, "ms",
                                              note="page load in a new session, cached default run" if not quick else
                                              "page load in a new session, empty cache (quick)"))
                        log(f"  {name}: {ready * 1000:.0f} ms, server RSS {memory_mb(server.pid, 'VmRSS') or 0:.0f} MB")
                finally:
                    browser.close()
            peak, now = memory_mb(server.pid), memory_mb(server.pid, "VmRSS")
            figures.append(Figure("app_server_peak_rss", peak, "MB", target="<= 1536 MB",
                                  note=f"streamlit server after visiting all {len(hrefs)} pages{cache_state};"
                                       f" resident now {now if now else float('nan'):.0f} MB"))
    except Exception as exc:  # noqa: BLE001  (report what was left, never a traceback)
        tail = log_path.read_text()[-300:].strip().replace("\n", " | ") if log_path.exists() else ""
        figures.append(Figure("app_bench_incomplete", None, "", note=f"left: {type(exc).__name__}: {str(exc)[:200]}"
                                                                   f"{'; server log: ' + tail if tail else ''}"))
    return figures
