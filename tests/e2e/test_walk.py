"""Every page and every tab as an audience sees them, on a projector (1280 x 720) and a laptop (1440 x 1000).

A walk through the navigation, each architecture page on its ready-made run: it fails on an exception on a page,
an error in the browser's console, a request that leaves the app's server (a classroom may have no internet), or a
Train button below the first screen. It saves a screenshot of each page and tab (walk-<width>-<page>[-<tab>].png).
"""

from __future__ import annotations

import pytest

from aecore.models import specs
from tests.helpers import (
    BROWSER_PAGES, browser_assert_no_exception, browser_goto, browser_open_page, browser_rerun, browser_wait_idle,
    browser_watch_runs,
)

ARCHITECTURE_PAGES = {spec.title for spec in specs()}  # the navigation's labels of the registry's pages


@pytest.mark.parametrize("viewport", [(1280, 720), (1440, 1000)], ids=["projector", "laptop"])
def test_every_page_and_tab_fits_the_screen_and_the_console_stays_clean(browser, app_url, screenshot_dir, viewport):
    width, height = viewport
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.set_default_timeout(60_000)
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("request", lambda r: None if r.url.startswith((app_url, "data:", "blob:"))
            else problems.append(f"request outside the app: {r.url}"))
    browser_watch_runs(page)
    try:
        browser_goto(page, app_url)
        for label, heading in BROWSER_PAGES:
            browser_open_page(page, label, heading)
            browser_wait_idle(page)
            browser_assert_no_exception(page)
            name = label.lower().replace(" ", "-")
            if label in ARCHITECTURE_PAGES:
                train = page.locator('[data-testid="stSidebar"]').get_by_role("button", name="Train", exact=True)
                box = train.bounding_box()
                assert box is not None and box["y"] + box["height"] <= height, \
                    f"{label}: Train is below the first screen at {width} x {height} ({box})"
                # A first visit shows a run, tabs and all: the page's ready-made one, or (Variational) the cached
                # run of the form's config that the browser tests share.
                assert page.get_by_role("tab").count() > 0, f"{label} opens without a run"
            page.screenshot(path=screenshot_dir / f"walk-{width}-{name}.png")  # the first screen, as it opens
            tabs = page.get_by_role("tab").all_inner_texts()
            for tab in tabs[1:]:
                with browser_rerun(page):  # a tab opened reruns the page, which draws that tab alone
                    page.get_by_role("tab", name=tab, exact=True).click()
                browser_assert_no_exception(page)
                _whole_page(page, screenshot_dir / f"walk-{width}-{name}-{tab.lower().replace(' ', '-')}.png")
            if tabs:  # back to the first, as the next visitor of this page in this session would find it
                with browser_rerun(page):
                    page.get_by_role("tab", name=tabs[0], exact=True).click()
        assert not problems, "\n".join(problems[:20])
    finally:
        context.close()


def _whole_page(page, path) -> None:
    """A screenshot of all of the page: Streamlit scrolls inside its own container, which a full-page screenshot
    does not unroll, so the window is made tall for it (a resize redraws; it runs nothing)."""
    size = page.viewport_size
    page.set_viewport_size({"width": size["width"], "height": 2400})
    try:
        page.wait_for_timeout(500)
        page.screenshot(path=path)
    finally:
        page.set_viewport_size(size)
