"""The Lesson in a real browser, as a class sees it on a projector (1280 x 720): each step opened from its link
(?step=...) draws its figures with no exception, console error or request outside the app; Next moves the URL on,
and the browser's Back brings the step before back. It saves each step's first screen (lesson-<n>-<slug>.png: README's
screenshots, with E2E_SCREENSHOT_DIR=docs/screenshots)."""

from __future__ import annotations

from dashboard.lesson import STEPS
from tests.helpers import browser_assert_no_exception, browser_goto, browser_rerun, browser_wait_idle, browser_watch_runs

CHARTS_DRAWN_JS = """() => {
  const charts = [...document.querySelectorAll('[data-testid="stPlotlyChart"]')];
  const images = [...document.querySelectorAll('[data-testid="stImage"] img, [data-testid="stFullScreenFrame"] img')];
  return charts.length + images.length > 0
    && charts.every(c => c.querySelector('.main-svg'))
    && images.every(i => i.complete && i.naturalWidth > 0);
}"""


def test_each_step_opens_from_its_link_draws_and_next_and_back_move_it(browser, app_url, screenshot_dir):
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    page = context.new_page()
    page.set_default_timeout(60_000)
    problems: list[str] = []
    # Streamlit probes a deep link's path as a base URL before the root: those 404s are its own (as in conftest's page).
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
            if m.type == "error" and "the server responded with a status of 404" not in m.text else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("request", lambda r: None if r.url.startswith((app_url, "data:", "blob:"))
            else problems.append(f"request outside the app: {r.url}"))
    browser_watch_runs(page)
    try:
        for number, step in enumerate(STEPS, start=1):
            browser_goto(page, f"{app_url}/lesson?step={step.slug}", heading=f"{number}. {step.title}")
            browser_assert_no_exception(page)
            page.wait_for_function(CHARTS_DRAWN_JS, timeout=60_000)
            page.wait_for_timeout(300)  # plotly's transition after its first draw
            page.screenshot(path=screenshot_dir / f"lesson-{number}-{step.slug}.png")
        browser_goto(page, f"{app_url}/lesson?step={STEPS[1].slug}", heading=f"2. {STEPS[1].title}")
        with browser_rerun(page):
            page.get_by_role("button", name="Next").click()
        page.get_by_role("heading", name=f"3. {STEPS[2].title}").wait_for()
        assert page.url.endswith(f"step={STEPS[2].slug}"), page.url
        page.go_back()
        page.get_by_role("heading", name=f"2. {STEPS[1].title}").wait_for()
        browser_wait_idle(page)
        browser_assert_no_exception(page)
        assert not problems, "\n".join(problems[:20])
    finally:
        context.close()
