"""A run's report in a real Chromium: downloaded from an architecture page's button, then opened as a file with
every request outside it aborted and counted."""

from __future__ import annotations

from dashboard.views.report import LABEL
from tests.helpers import browser_goto

# Every plotly figure drawn (its div holds plotly's SVG) and every image decoded.
DRAWN_JS = """() => {
  const figures = [...document.querySelectorAll('.plotly-graph-div')];
  const images = [...document.images];
  return figures.length > 0 && figures.every(f => f.querySelector('.main-svg'))
    && images.every(i => i.complete && i.naturalWidth > 0);
}"""


def test_the_downloaded_report_opens_with_no_request_outside_it_and_draws_its_charts(page, app_url, tmp_path,
                                                                                      screenshot_dir):
    browser_goto(page, f"{app_url}/stacked", "Stacked autoencoder")  # its ready-made run
    button = page.locator('[data-testid="stDownloadButton"] button', has_text=LABEL)
    page.screenshot(path=screenshot_dir / "report-download.png")
    with page.expect_download(timeout=120_000) as download:
        button.click()
    path = tmp_path / "report.html"
    download.value.save_as(path)
    text = path.read_text()
    assert "<h1>stacked, " in text

    offline = page.context.browser.new_context(viewport={"width": 1100, "height": 900})
    outside: list[str] = []
    errors: list[str] = []

    def refuse(route) -> None:  # the file itself goes on; anything else is outside it
        if route.request.url == path.as_uri():
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    try:
        offline.route("**/*", refuse)
        report = offline.new_page()
        report.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        report.goto(path.as_uri())
        report.wait_for_function(DRAWN_JS, timeout=60_000)
        assert report.locator(".plotly-graph-div").count() == text.count("Plotly.newPlot")
        assert report.get_by_role("heading", name="Reproduce this run").is_visible()
        report.screenshot(path=screenshot_dir / "report.png")
        assert outside == [], f"the report asked for {outside[:5]}"
        assert errors == [], errors
        # The count is live: a request the page makes for an outside address is aborted and counted.
        report.evaluate("() => fetch('https://cdn.plot.ly/plotly.min.js').catch(() => null)")
        assert outside == ["https://cdn.plot.ly/plotly.min.js"]
    finally:
        offline.close()
