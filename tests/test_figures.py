"""aecore.figures: pure figure builders (no Streamlit, no Keras)."""

import io
import subprocess
import sys

import numpy as np
import pytest
import pandas as pd
from PIL import Image

from aecore import figures
from aecore.models import get_spec


def images(n, seed=0):
    return np.random.default_rng(seed).random((n, 28, 28, 1), dtype=np.float32)


def test_figures_module_never_imports_streamlit():
    code = "import sys, aecore.figures; assert 'streamlit' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_loss_curves_plain_model_has_train_and_validation():
    fig = figures.loss_curves({"loss": [0.3, 0.2, 0.1], "val_loss": [0.35, 0.25, 0.2]}, "MSE per pixel")
    assert sorted(t.name for t in fig.data) == ["train", "validation"]
    assert list(fig.data[0].x) == [1, 2, 3]
    assert fig.layout.yaxis.title.text == "MSE per pixel"


def test_loss_curves_vae_shows_reconstruction_and_kl_separately():
    history = {k: [3.0, 2.0] for k in ("loss", "rec", "kl", "val_loss", "val_rec", "val_kl")}
    fig = figures.loss_curves(history, "nats per image", get_spec("vae").loss_parts)
    assert len(fig.data) == 6  # three parts x (train, validation)
    assert {a.text for a in fig.layout.annotations} == {"total", "reconstruction", "KL divergence"}
    assert fig.layout.yaxis2.matches is None  # KL and reconstruction keep their own scales


def test_image_grid_puts_originals_above_reconstructions_with_titles():
    originals, recons = images(4), images(4, seed=1)
    titles = [[f"#{i}" for i in range(4)], [f"MSE {i}" for i in range(4)]]
    fig = figures.image_grid([originals, recons], titles)
    assert len(fig.data) == 8
    assert all(t.source.startswith("data:image/png;base64,") for t in fig.data)
    # The first original sits in the top row, the first reconstruction right below it.
    by_text = {a.text: a for a in fig.layout.annotations}
    assert by_text["#0"].y > by_text["MSE 0"].y
    assert by_text["#0"].x == by_text["MSE 0"].x


def test_tile_and_manifold_lay_images_out_row_by_row():
    stack = np.stack([np.full((28, 28), i, np.float32) for i in range(6)])
    tiled = figures.tile(stack, 3)
    assert tiled.shape == (56, 84)
    assert tiled[0, 28] == 1 and tiled[28, 0] == 3
    fig = figures.manifold(images(9), np.linspace(-1, 1, 3))
    assert list(fig.layout.xaxis.ticktext) == ["-1", "0", "1"]
    assert list(fig.layout.yaxis.ticktext) == ["1", "0", "-1"]  # z2 grows upwards


def test_latent_scatter_colours_by_label_and_marks_a_point():
    points = np.random.default_rng(0).normal(size=(50, 2))
    labels = np.arange(50) % 10
    fig = figures.latent_scatter(points, labels, "latent", marker=(0.5, -0.5))
    names = [t.name for t in fig.data]
    assert names[:10] == [str(i) for i in range(10)]  # one trace per label, in numeric order
    assert names[-1] == "slider point" and list(fig.data[-1].x) == [0.5]
    assert "test index" in fig.data[0].hovertemplate
    assert fig.layout.xaxis.title.text == "latent 1"


def test_latent_scatter_names_labels_in_label_order():
    names = ("T-shirt/top", "Trouser", "Pullover")
    fig = figures.latent_scatter(np.zeros((6, 2)), np.array([2, 0, 1, 2, 0, 1]), "latent", label_names=names)
    assert [t.name for t in fig.data] == list(names)  # label order, not alphabetical
    fig = figures.latent_scatter(np.zeros((2, 2)), np.array([0, 5]), "latent", label_names=names)
    assert [t.name for t in fig.data] == ["T-shirt/top", "5"]  # a label the names do not cover: its number


def test_move_marker_moves_only_the_copy():
    points = np.random.default_rng(0).normal(size=(50, 2))
    base = figures.latent_scatter_base(points, np.arange(50) % 10, "latent")
    fig = figures.with_marks(base, (0.5, -0.5))
    figures.move_marker(fig, (1.25, 2.0))
    assert (list(fig.data[-1].x), list(fig.data[-1].y)) == ([1.25], [2.0])
    assert figures.SLIDER_POINT not in [t.name for t in base.data]  # the base, shared between sessions, is untouched


def test_latent_scatter_without_labels():
    fig = figures.latent_scatter(np.zeros((5, 2)), None, "PCA of 3-D latent")
    assert len(fig.data) == 1


def test_points_3d_joins_each_point_to_its_reconstruction():
    points = np.random.default_rng(0).normal(size=(10, 3))
    fig = figures.points_3d(points, points * 0.9)
    assert [t.name for t in fig.data] == ["test points", "reconstructed", "error"]
    assert len(fig.data[2].x) == 30  # point, reconstruction, gap


def test_compare_bars_colour_each_architecture_as_everywhere():
    from aecore.models import colours

    table = pd.DataFrame({"run": ["a", "b", "c"], "architecture": ["conv", "vae", "conv"], "bce": [0.1, 0.2, 0.3]})
    fig = figures.compare_bars(table, "bce", "run", "architecture")
    assert {t.name: t.marker.color for t in fig.data} == {"conv": colours()["conv"], "vae": colours()["vae"]}
    # Top to bottom in the table's order, whatever the colours (a horizontal chart lists its categories bottom up).
    assert list(fig.layout.yaxis.categoryarray)[::-1] == ["a", "b", "c"]
    scatter = figures.quality_against_time(table.assign(seconds=[1.0, 2.0, 3.0], n=[1, 2, 3]), "bce", "seconds",
                                           "run", "architecture", "n")
    assert {t.name: t.marker.color for t in scatter.data} == {"conv": colours()["conv"], "vae": colours()["vae"]}
    assert scatter.layout.yaxis.rangemode == "tozero" and scatter.layout.xaxis.type != "log"  # under a decade


def test_png_grid_is_a_png_of_the_right_size():
    rows = [images(5), images(5, seed=1)]
    data = figures.png_grid(rows, [["a"] * 5, ["b"] * 5], scale=2, pad=4)
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG"
    assert image.size == (5 * (56 + 4) + 4, 2 * (56 + figures.caption_px(2) + 4 + 4) + 4)
    pixels = np.asarray(image)
    # The first tile holds the first image, scaled 2x with nearest neighbours.
    expected = (np.clip(rows[0][0, ..., 0], 0, 1) * 255).astype(np.uint8)
    np.testing.assert_array_equal(pixels[4:60:2, 4:60:2], expected)


def test_the_close_up_of_an_encoding_frames_its_draws_and_numbers_them():
    from aecore import latent

    mean, var = np.array([1.5, -0.5]), np.array([0.01, 0.04])  # a narrow posterior, as a trained VAE's
    draws = mean + np.sqrt(var) * np.random.default_rng(0).standard_normal((8, 2))
    outlines = {"1 sd": latent.ellipse(*latent.project_gaussian(mean, var))}
    whole = figures.posterior_plane(mean, outlines, draws, ("z1", "z2"))
    close = figures.posterior_plane(mean, outlines, draws, ("z1", "z2"), zoom=True)
    (x0, x1), (y0, y1) = close.layout.xaxis.range, close.layout.yaxis.range
    assert x0 < draws[:, 0].min() and draws[:, 0].max() < x1 and y0 < draws[:, 1].min() and draws[:, 1].max() < y1
    assert x1 - x0 < (whole.layout.xaxis.range[1] - whole.layout.xaxis.range[0]) / 4
    assert [t.mode for t in close.data if t.name == "draws z"] == ["markers+text"]


def test_codes_of_a_rolled_surface_are_coloured_by_their_place_along_it():
    from aecore.datasets import load_dataset

    data = load_dataset("swiss-roll")
    assert data.y_test is None and data.position_test.shape == (len(data.x_test),)
    fig = figures.latent_scatter_base(data.x_test[:50, :2], None, "latent", position=data.position_test[:50])
    (trace,) = fig.data
    assert list(trace.marker.color) == pytest.approx(data.position_test[:50].tolist())
    assert fig.layout.coloraxis.colorbar.title.text == "along the surface"


def test_probe_curves_put_codes_and_pixels_on_the_counts_probed():
    from aecore.probe import ProbePoint

    points = [ProbePoint(f, n, 0.5, 0.1, 5) for f in ("codes", "pixels") for n in (10, 100, 4000)]
    fig = figures.probe_curves(points)
    assert {t.name for t in fig.data} == {"codes", "pixels"}
    assert list(fig.layout.xaxis.tickvals) == [10, 100, 4000] and fig.layout.xaxis.type == "log"


def test_error_maps_share_one_colour_scale_and_match_the_images():
    x = images(4)
    recon = np.clip(x + 0.1, 0, 1)
    fig = figures.error_maps(x, recon, ["a", "b", "c", "d"], zmax=0.5)
    heatmaps = [t for t in fig.data if t.type == "heatmap"]
    assert len(heatmaps) == 4 and {t.coloraxis for t in heatmaps} == {"coloraxis"}
    assert fig.layout.coloraxis.cmin == 0 and fig.layout.coloraxis.cmax == 0.5
    expected = ((x[0] - recon[0]) ** 2).mean(axis=-1)[::-1]  # drawn bottom up: the image's top row at the top
    np.testing.assert_allclose(np.asarray(heatmaps[0].z), expected, rtol=1e-6)
    assert len([t for t in fig.data if t.type == "image"]) == 8  # each image and its reconstruction


def test_probe_across_runs_colours_each_run_by_its_architecture_beside_the_pixels():
    from aecore.models import colours
    from aecore.probe import ProbePoint

    def points(level):
        return [ProbePoint(f, n, level, 0.0, 5) for f in ("codes", "pixels") for n in (10, 4000)]

    fig = figures.probe_across_runs({"#1 a": ("conv", points(0.6)), "#2 b": ("conv", points(0.7)),
                                     "#3 c": ("vae", points(0.4))})
    by_name = {}
    for t in fig.data:
        by_name.setdefault(t.name, []).append(t)
    assert set(by_name) == {"conv", "vae", "pixels"} and len(by_name["pixels"]) == 1
    assert by_name["conv"][0].line.color == colours()["conv"] and by_name["vae"][0].line.color == colours()["vae"]
