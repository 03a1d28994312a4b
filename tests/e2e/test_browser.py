"""The dashboard driven as a user would: real server, real Chromium, real (tiny) training."""

from __future__ import annotations

import re

import pytest

# (navigation label, page heading); every page of app.py's navigation.
PAGES = [
    ("Home", "Autoencoder Studio"),
    ("Basic", "Basic autoencoder"),
    ("Stacked", "Stacked autoencoder"),
    ("Convolutional", "Convolutional autoencoder"),
    ("Variational", "Variational autoencoder"),
    ("Compare", "Compare runs"),
    ("Your digit", "Your digit"),
    ("Anomaly scores", "Anomaly scores"),
]
TRAIN_TIMEOUT_MS = 180_000


def wait_idle(page, timeout_ms: int = 60_000) -> None:
    """Wait until Streamlit has finished the current (re)run: its 'running' widget is gone."""
    page.wait_for_timeout(300)  # a rerun announces itself a moment after the action
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=timeout_ms
    )


def element_png(page, locator) -> bytes:
    """A screenshot of an element, retried while a rerun briefly detaches it."""
    for attempt in range(5):
        try:
            return locator.screenshot(timeout=10_000)
        except Exception:  # playwright's Error: "not attached to the DOM" during a rerun
            if attempt == 4:
                raise
            wait_idle(page)
    raise AssertionError("unreachable")


def assert_no_exception(page) -> None:
    errors = page.locator('[data-testid="stException"]')
    assert errors.count() == 0, errors.first.inner_text()


def open_page(page, url: str, label: str, heading: str) -> None:
    """Open a page through the sidebar navigation and wait for its heading."""
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=label, exact=True).click()
    page.get_by_role("heading", name=heading).first.wait_for()
    wait_idle(page)


def train(page) -> None:
    page.locator('[data-testid="stSidebar"]').get_by_role("button", name="Train").click()
    page.get_by_text(re.compile(r"Trained in .* s|Loaded from cache")).first.wait_for(timeout=TRAIN_TIMEOUT_MS)
    wait_idle(page, TRAIN_TIMEOUT_MS)


def test_every_page_through_the_navigation(page, app_url, screenshot_dir):
    page.goto(app_url)
    page.get_by_role("heading", name="Autoencoder Studio").first.wait_for()
    wait_idle(page)
    for label, heading in PAGES:
        open_page(page, app_url, label, heading)
        assert page.get_by_role("heading", name=heading).first.is_visible()
        assert_no_exception(page)
        page.screenshot(path=screenshot_dir / f"page-{label.lower()}.png", full_page=True)


def test_vae_slider_redraws_without_retraining(page, app_url, screenshot_dir):
    page.goto(app_url)
    open_page(page, app_url, "Variational", "Variational autoencoder")
    train(page)
    assert_no_exception(page)
    decoded = page.locator('[data-testid="stImageContainer"]').filter(has_text="decoder(z)")
    decoded.wait_for()
    page.wait_for_timeout(500)  # the image loads after its element appears
    before = element_png(page, decoded)
    caption_before = page.get_by_text(re.compile(r"^z = \(")).first.inner_text()

    slider = page.locator('[data-testid="stSlider"]').filter(has_text="z1").get_by_role("slider")
    slider.focus()
    for _ in range(20):  # 20 steps of 0.05: z1 moves towards 1.0
        page.keyboard.press("ArrowRight", delay=30)
    caption = page.get_by_text(re.compile(r"^z = \(")).first
    for _ in range(60):  # the fragment reruns as the slider moves; poll for its new caption
        if caption.inner_text() != caption_before:
            break
        page.wait_for_timeout(500)
    wait_idle(page)
    page.wait_for_timeout(500)  # let the new image load
    after = element_png(page, decoded)

    assert caption.inner_text() != caption_before, f"the slider did not move: {caption_before}"
    assert after != before, "moving a latent slider must redraw the decoded image"
    # No second training: no running status, and the run still says it was trained once.
    assert page.get_by_text(re.compile(r"^Training vae")).count() == 0
    assert page.get_by_text(re.compile(r"Epoch \d+ of \d+")).filter(visible=True).count() == 0
    assert_no_exception(page)
    page.screenshot(path=screenshot_dir / "vae-trained.png", full_page=True)


def test_reload_and_train_again_is_served_from_cache(page, app_url, screenshot_dir):
    page.goto(app_url)
    open_page(page, app_url, "Stacked", "Stacked autoencoder")
    train(page)
    assert_no_exception(page)
    page.screenshot(path=screenshot_dir / "stacked-trained.png", full_page=True)

    page.reload()
    page.get_by_role("heading", name="Stacked autoencoder").first.wait_for()
    wait_idle(page)
    train(page)
    assert page.get_by_text("Loaded from cache").first.is_visible()
    assert page.get_by_text(re.compile(r"^Training stacked")).count() == 0
    assert_no_exception(page)


def test_model_download_opens_in_keras(page, app_url, tmp_path):
    page.goto(app_url)
    open_page(page, app_url, "Convolutional", "Convolutional autoencoder")
    train(page)
    page.get_by_role("tab", name="Model").click()
    with page.expect_download(timeout=60_000) as download_info:
        page.get_by_role("button", name=re.compile(r"Download the trained model")).click()
    path = tmp_path / download_info.value.suggested_filename
    download_info.value.save_as(path)
    assert path.suffix == ".keras" and path.stat().st_size > 0

    import keras

    import aecore.models  # noqa: F401  (registers aecore's Keras classes)

    model = keras.models.load_model(path)
    assert model.output_shape == (None, 28, 28, 1)




def test_beyond_the_notes_views(page, app_url, screenshot_dir):
    """Denoising and replay tabs, a digit drawn on the canvas, and the anomaly scores of a trained model."""
    page.goto(app_url)
    open_page(page, app_url, "Stacked", "Stacked autoencoder")
    train(page)
    for tab in ("Denoising", "Replay"):
        page.get_by_role("tab", name=tab).click()
        wait_idle(page)
        assert_no_exception(page)
    page.get_by_role("button", name="Download the replay (GIF)").wait_for()

    open_page(page, app_url, "Your digit", "Your digit")
    page.get_by_text("Draw a digit or upload an image above").wait_for()
    canvas = page.locator("canvas.upper-canvas")  # the component draws in the page (no iframe)
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.2)
    page.mouse.down()
    for t in range(1, 11):  # a vertical stroke: a "1"
        page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * (0.2 + 0.06 * t), steps=2)
    page.mouse.up()
    page.get_by_role("button", name="Download these reconstructions (PNG)").wait_for(timeout=60_000)
    wait_idle(page)
    assert_no_exception(page)
    page.screenshot(path=screenshot_dir / "your-digit.png", full_page=True)

    open_page(page, app_url, "Anomaly scores", "Anomaly scores")
    page.get_by_text(re.compile(r"ROC-AUC")).first.wait_for(timeout=60_000)
    assert_no_exception(page)
    page.screenshot(path=screenshot_dir / "anomaly-scores.png", full_page=True)
