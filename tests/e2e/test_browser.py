"""The dashboard driven as a user would: real server, real Chromium, real (tiny) training."""

from __future__ import annotations

import re

from tests.helpers import (
    BROWSER_PAGES,
    TRAIN_TIMEOUT_MS,
    browser_assert_no_exception,
    browser_element_png,
    browser_goto,
    browser_open_page,
    browser_provenance,
    browser_reload,
    browser_rerun,
    browser_run_ends,
    browser_train,
    browser_wait_idle,
    browser_wait_image,
)

def test_every_page_through_the_navigation(page, app_url, screenshot_dir):
    browser_goto(page, app_url)
    for label, heading in BROWSER_PAGES:
        browser_open_page(page, label, heading)
        # Its run is over: the page's own title is the only one (nothing left of the page before).
        assert page.get_by_role("heading", level=1).all_inner_texts() == [heading]
        browser_assert_no_exception(page)
        page.screenshot(path=screenshot_dir / f"page-{label.lower()}.png", full_page=True)


def _settled_value(page, slider) -> float:
    """The slider's value once it has stopped moving: the page applies the last key presses a moment after they
    return (read at once, it can be one step behind the caption)."""
    value = slider.input_value()
    for _ in range(50):
        page.wait_for_timeout(200)
        if (now := slider.input_value()) == value:
            break
        value = now
    return float(value)


def test_vae_slider_redraws_without_retraining(page, app_url, screenshot_dir):
    from playwright.sync_api import expect

    browser_goto(page, app_url)
    browser_open_page(page, "Variational", "Variational autoencoder")
    browser_train(page)
    browser_assert_no_exception(page)
    provenance = browser_provenance(page)
    src_before = browser_wait_image(page, "decoder(z)")
    decoded = page.locator('[data-testid="stImageContainer"]').filter(has_text="decoder(z)")
    before = browser_element_png(page, decoded)
    caption = page.get_by_text(re.compile(r"^z = \(")).first
    caption_before = caption.inner_text()
    runs_before = len(browser_run_ends(page))

    slider = page.locator('[data-testid="stSlider"]').filter(has_text="z1").get_by_role("slider")
    slider.focus()
    for _ in range(20):  # 20 steps of 0.05: z1 moves towards 1.0
        page.keyboard.press("ArrowRight", delay=30)
    z1 = _settled_value(page, slider)  # the range input's value: where the keys left the slider
    assert z1 > 0, "the slider did not move"
    # The fragment reruns as the slider moves: wait for the caption of the slider's last value, then the new image.
    expect(caption).to_have_text(re.compile(rf"^z = \({z1:.2f}[,)]"), timeout=60_000)
    browser_wait_idle(page)
    browser_wait_image(page, "decoder(z)", before=src_before)
    after = browser_element_png(page, decoded)

    assert caption.inner_text() != caption_before
    assert after != before, "moving a latent slider must redraw the decoded image"
    # No second training, not even a whole-page run: only the explorer fragment ran, and the run's sentence is the
    # one of the training above (a page run would say 'Loaded from cache', a new training another time).
    # A fragment run that the next key press interrupts ends early: that is a fragment run too.
    moves = browser_run_ends(page)[runs_before:]
    assert "FINISHED_FRAGMENT_RUN_SUCCESSFULLY" in moves, moves
    assert set(moves) <= {"FINISHED_FRAGMENT_RUN_SUCCESSFULLY", "FINISHED_EARLY_FOR_RERUN"}, moves
    assert browser_provenance(page) == provenance
    browser_assert_no_exception(page)
    page.screenshot(path=screenshot_dir / "vae-trained.png", full_page=True)


def test_reload_and_train_again_is_served_from_cache(page, app_url, screenshot_dir):
    browser_goto(page, app_url)
    browser_open_page(page, "Stacked", "Stacked autoencoder")
    browser_train(page)
    browser_assert_no_exception(page)
    page.screenshot(path=screenshot_dir / "stacked-trained.png", full_page=True)

    browser_reload(page, "Stacked autoencoder")  # a new session: the run cache has the run, so it shows at once
    assert browser_provenance(page).startswith("Loaded from cache"), browser_provenance(page)
    browser_train(page)  # Train pressed again: served from the cache, not trained again
    assert browser_provenance(page).startswith("Loaded from cache"), browser_provenance(page)
    assert page.get_by_text(re.compile(r"^(Trained in|Trained stacked|Training stacked)")).count() == 0
    browser_assert_no_exception(page)


def test_model_download_opens_in_keras(page, app_url, tmp_path):
    browser_goto(page, app_url)
    browser_open_page(page, "Convolutional", "Convolutional autoencoder")
    browser_train(page)
    with browser_rerun(page):
        page.get_by_role("tab", name="Model").click()
    with page.expect_download(timeout=60_000) as download_info:
        page.get_by_role("button", name=re.compile(r"Download the trained model")).click()
    path = tmp_path / download_info.value.suggested_filename
    download_info.value.save_as(path)
    assert path.suffix == ".keras" and path.stat().st_size > 0

    import keras

    from aecore.models import custom_objects

    model = keras.models.load_model(path, custom_objects=custom_objects())
    assert model.output_shape == (None, 28, 28, 1)


def test_beyond_the_notes_views(page, app_url, screenshot_dir):
    """Denoising and replay tabs, a digit drawn on the canvas, and the anomaly scores of a trained model."""
    browser_goto(page, app_url)
    browser_open_page(page, "Stacked", "Stacked autoencoder")
    browser_train(page)
    # Opening a tab reruns the page, which draws that tab alone.
    with browser_rerun(page):
        page.get_by_role("tab", name="Denoising").click()
    page.get_by_role("heading", name="Denoising").wait_for()
    browser_assert_no_exception(page)
    with browser_rerun(page):
        page.get_by_role("tab", name="Replay").click()
    page.get_by_role("button", name="Download the replay (GIF)").wait_for()
    browser_assert_no_exception(page)

    browser_open_page(page, "Your digit", "Your digit")
    page.get_by_text("Draw a digit or upload an image above").wait_for()
    canvas = page.locator("canvas.upper-canvas")  # the component draws in the page (no iframe)
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.2)
    page.mouse.down()
    for t in range(1, 11):  # a vertical stroke: a "1"
        page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * (0.2 + 0.06 * t), steps=2)
    with browser_rerun(page):  # the stroke's end sends the drawing
        page.mouse.up()
    page.get_by_role("button", name="Download these reconstructions (PNG)").wait_for()
    browser_wait_idle(page)
    browser_assert_no_exception(page)
    page.screenshot(path=screenshot_dir / "your-digit.png", full_page=True)

    browser_open_page(page, "Anomaly scores", "Anomaly scores")
    page.get_by_text(re.compile(r"ROC-AUC")).first.wait_for()
    browser_assert_no_exception(page)
    page.screenshot(path=screenshot_dir / "anomaly-scores.png", full_page=True)


def test_vae_lab_tabs(page, app_url, screenshot_dir):
    """The Variational page's lab: KL per dimension and traversals, one image's posterior, and the scorecard."""
    browser_goto(page, app_url)
    browser_open_page(page, "Variational", "Variational autoencoder")
    browser_train(page)
    # Opening a tab reruns the page, which draws that tab alone.
    with browser_rerun(page):
        page.get_by_role("tab", name="Dimensions").click()
    page.get_by_text(re.compile(r"^Traversals")).wait_for()
    page.get_by_role("button", name=re.compile(r"Download the encodings")).wait_for()
    browser_assert_no_exception(page)
    page.screenshot(path=screenshot_dir / "vae-dimensions.png", full_page=True)

    with browser_rerun(page):
        page.get_by_role("tab", name="Reparameterisation").click()
    page.get_by_text(re.compile(r"^The encoder maps test image #0")).wait_for()
    browser_assert_no_exception(page)
    page.screenshot(path=screenshot_dir / "vae-reparameterisation.png", full_page=True)

    with browser_rerun(page):
        page.get_by_role("tab", name="Scorecard").click()
    with browser_rerun(page, 300_000):  # the likelihood estimate and the classifier take a while
        page.get_by_role("button", name="Compute the scorecard").click()
    page.get_by_text("NLL estimate (nats/image)").wait_for()
    page.get_by_text("Classes covered").wait_for()
    browser_assert_no_exception(page)
    page.screenshot(path=screenshot_dir / "vae-scorecard.png", full_page=True)


def test_a_shared_link_fills_the_form(page, app_url):
    """A page URL with parameters opens with the form filled with them, and the page offers that link to copy."""
    from playwright.sync_api import expect

    query = "epochs=3&latent_dim=12&hidden=32,16&loss=mse"
    browser_goto(page, f"{app_url}/stacked?{query}", heading="Stacked autoencoder")
    sidebar = page.locator('[data-testid="stSidebar"]')
    # A loaded machine can leave the form's first field unmounted for seconds after the run is idle (seen once in CI).
    expect(sidebar.get_by_role("spinbutton", name="Epochs", exact=True)).to_have_value("3", timeout=30_000)
    expect(sidebar.get_by_role("spinbutton", name="Bottleneck units", exact=True)).to_have_value("12")
    expect(sidebar.get_by_role("textbox", name="Hidden layers", exact=True)).to_have_value("32, 16")
    expect(sidebar.get_by_role("radio", name="mse")).to_be_checked()
    page.get_by_text("stacked, mnist-sample, 3 epochs, latent 12").first.wait_for()  # the run it offers to train
    browser_assert_no_exception(page)

    sidebar.get_by_role("button", name="Share this run").click()
    link = page.locator('[data-testid="stCode"]').filter(has_text=f"{app_url}/stacked?").first
    expect(link).to_contain_text("epochs=3")
    # The address bar holds the whole link: the fields the opened URL left out too.
    expect(link).to_contain_text("batch_size=")
    assert "latent_dim=12" in page.url and "batch_size=" in page.url and "seed=" in page.url


# The live panel's replay row: [its caption, its src] once the browser has loaded it with a caption other than
# `before`; else null.
LIVE_REPLAY_JS = """(before) => {
  const label = [...document.querySelectorAll('[data-testid="stImageCaption"]')]
    .find(e => e.textContent.startsWith("After epoch"));
  const img = label && label.parentElement.querySelector("img");
  return img && img.complete && img.naturalWidth > 0 && label.textContent !== before
    ? [label.textContent, img.src] : null;
}"""


def test_live_view_follows_the_epochs_and_stop_frees_the_page(page, app_url, screenshot_dir):
    """Train a long run: the live panel's replay row changes from one epoch to the next; Stop ends it at once."""
    browser_goto(page, app_url)
    browser_open_page(page, "Variational", "Variational autoencoder")
    sidebar = page.locator('[data-testid="stSidebar"]')
    epochs = sidebar.get_by_role("spinbutton", name="Epochs", exact=True)
    epochs.fill("200")  # far longer than the test watches
    epochs.press("Tab")
    with browser_rerun(page):
        sidebar.get_by_role("button", name="Train", exact=True).click()

    first_caption, first_src = page.wait_for_function(LIVE_REPLAY_JS, arg=None, timeout=TRAIN_TIMEOUT_MS).json_value()
    later_caption, later_src = page.wait_for_function(LIVE_REPLAY_JS, arg=first_caption).json_value()
    epochs = [int(re.match(r"After epoch (\d+) of 200", c).group(1)) for c in (first_caption, later_caption)]
    assert epochs[1] > epochs[0], (first_caption, later_caption)
    assert later_src != first_src, "the replay row must show the later epoch's reconstructions"
    assert page.get_by_text(re.compile(r"^Epoch \d+ of 200")).count() == 1  # the progress bar's text
    browser_assert_no_exception(page)
    page.screenshot(path=screenshot_dir / "vae-live-training.png", full_page=True)

    with browser_rerun(page, whole_page=True):  # Stop reruns the page from inside the live panel's fragment
        page.get_by_role("button", name="Stop").click()
    page.get_by_text(re.compile(r"^Training stopped: .* has not been trained yet")).wait_for()
    assert page.get_by_role("button", name="Stop").count() == 0
    assert page.get_by_text(re.compile(r"^After epoch")).count() == 0
    assert sidebar.get_by_role("button", name="Train", exact=True).is_enabled()
    browser_assert_no_exception(page)
