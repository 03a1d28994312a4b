"""Your own data, driven as a user would: upload a file on the Your data page, store it, choose it in an
architecture page's Dataset select and train on it (real server, real Chromium, tiny runs)."""

from __future__ import annotations

import io
import re
import zipfile

import numpy as np
from PIL import Image

from tests.helpers import (
    TRAIN_TIMEOUT_MS,
    browser_assert_no_exception,
    browser_goto,
    browser_open_page,
    browser_rerun,
    browser_wait_idle,
    browser_wait_image,
)

UPLOADER = '[data-testid="stFileUploaderDropzoneInput"]'


def sample_patches_zip(per_class: int = 20, side: int = 32) -> bytes:
    """A zip of side x side colour PNGs cut from scikit-learn's two sample photographs (shipped with it, no
    network), a folder per photograph: 'china' (a temple) and 'flower'.

    Each photograph is shrunk first so that a patch shows a recognisable piece of it, not a few pixels of texture.
    The members alternate between the classes because the Data page previews the first images of the zip.
    """
    from sklearn.datasets import load_sample_images

    photos = load_sample_images()
    tiles = {}
    for filename, photo in zip(photos.filenames, photos.images):
        name = filename.rsplit("/", 1)[-1].split(".")[0]
        small = np.asarray(Image.fromarray(photo).reduce(3))
        rows, cols = small.shape[0] // side, small.shape[1] // side
        patches = [small[r * side:(r + 1) * side, c * side:(c + 1) * side] for r in range(rows) for c in range(cols)]
        # The most detailed patches first: the sky and the blurred background say little about the photograph.
        tiles[name] = sorted(patches, key=lambda patch: -float(patch.std()))[:per_class]
        assert len(tiles[name]) == per_class, f"{name} gives only {len(tiles[name])} patches"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for i in range(per_class):
            for name, patches in tiles.items():
                png = io.BytesIO()
                Image.fromarray(patches[i]).save(png, format="PNG")
                archive.writestr(f"{name}/{i:03d}.png", png.getvalue())
    return buffer.getvalue()


def vectors_csv(n: int = 60, dim: int = 12) -> bytes:
    """Vectors of two well separated clusters, with a header and a label column."""
    rng = np.random.default_rng(0)
    rows = [",".join([f"x{i + 1}" for i in range(dim)] + ["label"])]
    for i in range(n):
        label = i % 2
        rows.append(",".join(f"{v:.4f}" for v in rng.normal(2.0 * label, 0.5, dim)) + f",{label}")
    return ("\n".join(rows) + "\n").encode()


def upload_and_store(page, path, shape: str, n: int, name: str) -> None:
    """On the Your data page: upload the file, wait for its preview, and store it under its suggested name."""
    from playwright.sync_api import expect

    browser_open_page(page, "Your data", "Your data")
    with browser_rerun(page):  # the upload's end reruns the page, which reads the file into a preview
        page.locator(UPLOADER).set_input_files(path)
    metrics = page.locator('[data-testid="stMetric"]')
    expect(metrics.filter(has_text="Examples")).to_contain_text(f"{n:,}")
    expect(metrics.filter(has_text="Each example")).to_contain_text(shape)
    expect(metrics.filter(has_text="Classes")).to_contain_text("2")
    expect(page.get_by_role("textbox", name="Name")).to_have_value(name)
    browser_assert_no_exception(page)
    with browser_rerun(page):
        page.get_by_role("button", name="Store the dataset").click()
    page.get_by_text(re.compile(rf"^Stored as {re.escape(name)}:")).wait_for()
    expect(page.locator('[data-testid="stDataFrame"]').last).to_contain_text(name)  # the stored datasets' table
    browser_assert_no_exception(page)


def train_on(page, label: str, heading: str, dataset: str) -> None:
    """Open an architecture page, choose `dataset` in its sidebar form and train; the run must be on it."""
    browser_open_page(page, label, heading)
    sidebar = page.locator('[data-testid="stSidebar"]')
    # A select inside a form: choosing an option runs nothing until Train is pressed.
    sidebar.locator('[data-testid="stSelectbox"]').filter(has_text="Dataset").click()
    page.get_by_role("option", name=dataset, exact=True).click()
    with browser_rerun(page, TRAIN_TIMEOUT_MS):
        sidebar.get_by_role("button", name="Train", exact=True).click()
    # Not the first provenance on the page: while this run trains, the page still shows the last run it showed
    # below the live panel, with that run's "Loaded from cache".
    page.get_by_text(re.compile(rf"^Trained \w+, {re.escape(dataset)}, ")).wait_for(timeout=TRAIN_TIMEOUT_MS)
    browser_wait_idle(page, TRAIN_TIMEOUT_MS)
    browser_assert_no_exception(page)


def test_a_zip_of_colour_images_trains_conv_and_the_vae(page, app_url, tmp_path, screenshot_dir):
    path = tmp_path / "china-flower.zip"
    path.write_bytes(sample_patches_zip())
    browser_goto(page, app_url)
    upload_and_store(page, path, "32 × 32 × 3", 40, "china-flower")
    # Streamlit scrolls its own main block, not the document: a window as tall as the page shows all of it.
    page.set_viewport_size({"width": 1400, "height": 1400})
    browser_wait_idle(page)
    page.get_by_role("heading", name="Your data", level=1).scroll_into_view_if_needed()  # storing scrolled down
    page.mouse.move(0, 0)  # off the chart, whose toolbar shows under the pointer
    page.screenshot(path=screenshot_dir / "data-upload.png", full_page=True)
    page.set_viewport_size({"width": 1400, "height": 1000})

    train_on(page, "Convolutional", "Convolutional autoencoder", "china-flower")
    # The test images above their reconstructions: a plotly grid of images, drawn.
    page.get_by_text(re.compile(r"^Top: test images")).wait_for()
    page.locator('[data-testid="stPlotlyChart"] image').first.wait_for()
    browser_assert_no_exception(page)

    train_on(page, "Variational", "Variational autoencoder", "china-flower")
    browser_wait_image(page, "decoder(z)")
    decoded = page.locator('[data-testid="stImageContainer"]').filter(has_text="decoder(z)").locator("img")
    # The decoder draws a 32-pixel colour image, ten screen pixels a pixel (a digit would be 28).
    assert decoded.evaluate("img => img.naturalWidth") == 320
    browser_assert_no_exception(page)


def test_a_csv_of_vectors_trains_stacked(page, app_url, tmp_path):
    path = tmp_path / "clusters.csv"
    path.write_bytes(vectors_csv())
    browser_goto(page, app_url)
    upload_and_store(page, path, "12", 60, "clusters")

    train_on(page, "Stacked", "Stacked autoencoder", "clusters")
    # Vectors are shown as rows, test vectors beside their reconstructions.
    page.get_by_role("button", name="Download these rows (CSV)").wait_for()
    browser_assert_no_exception(page)
