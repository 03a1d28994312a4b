"""Beyond the notes (issue 7): anomaly scores, the replay GIF, denoising numbers and your digit's latent ellipse."""

import io

import numpy as np
import pytest
from PIL import Image
from sklearn.decomposition import PCA

from aecore import anomaly, denoise, figures, latent
from aecore import metrics as M


def images(n, seed=0):
    return np.random.default_rng(seed).random((n, 28, 28, 1), dtype=np.float32)


# Anomaly scores


def test_scores_of_a_threshold_that_separates_perfectly():
    normal, anomalies = np.array([0.01, 0.02, 0.03]), np.array([0.2, 0.3])
    s = anomaly.score(normal, anomalies, threshold=0.1)
    assert (s.precision, s.recall, s.false_alarms, s.roc_auc) == (1.0, 1.0, 0.0, 1.0)


def test_scores_match_counts_by_hand():
    normal = np.array([0.1, 0.2, 0.3, 0.4])  # 0.3 and 0.4 are false alarms at 0.25
    anomalies = np.array([0.05, 0.35, 0.5])  # 0.35 and 0.5 are caught, 0.05 is missed
    s = anomaly.score(normal, anomalies, threshold=0.25)
    assert s.precision == pytest.approx(2 / 4)
    assert s.recall == pytest.approx(2 / 3)
    assert s.false_alarms == pytest.approx(2 / 4)
    # Pairs (anomaly, normal) ordered correctly: 0.05 beats none, 0.35 beats 3, 0.5 beats 4.
    assert s.roc_auc == pytest.approx(7 / 12)


def test_nothing_flagged_gives_zero_precision_not_a_warning():
    s = anomaly.score(np.array([0.1, 0.2]), np.array([0.3]), threshold=1.0)
    assert (s.precision, s.recall, s.false_alarms) == (0.0, 0.0, 0.0)


def test_default_threshold_and_slider_choices():
    normal = np.linspace(0.001, 0.1, 1000)
    t = anomaly.default_threshold(normal)
    assert np.mean(normal > t) == pytest.approx(0.05, abs=0.002)
    choices = anomaly.threshold_choices(np.concatenate([normal, [0.5]]))
    assert choices == sorted(choices) and len(set(choices)) == len(choices)
    assert choices[0] == pytest.approx(0.001) and choices[-1] == pytest.approx(0.5)
    assert anomaly.nearest(choices, t) in choices
    # With the default included, the slider starts at it, not at a grid point several percent away.
    wide = np.concatenate([normal, np.geomspace(0.2, 50, 1000)])
    start = anomaly.nearest(anomaly.threshold_choices(wide, include=(t,)), t)
    assert np.mean(normal > start) == pytest.approx(0.05, abs=0.002)
    assert abs(np.log(anomaly.nearest(choices, t) / t)) < 0.05


def test_different_inputs_are_as_many_as_the_test_images():
    x = images(10)
    inputs = anomaly.different_inputs(x, seed=1, foreign=("fashion-mnist", images(30, seed=2)))
    assert list(inputs) == ["inverted", "random noise", "fashion-mnist"]
    assert all(v.shape == x.shape and v.dtype == np.float32 for v in inputs.values())
    np.testing.assert_allclose(inputs["inverted"], 1 - x)
    assert 0 <= inputs["random noise"].min() and inputs["random noise"].max() <= 1


def test_fashion_mnist_is_never_downloaded(tmp_path, monkeypatch):
    import aecore.datasets.builtin

    monkeypatch.setenv("KERAS_HOME", str(tmp_path))  # an empty Keras cache
    monkeypatch.setattr(aecore.datasets.builtin, "reachable", lambda *a: pytest.fail("probed the network"))
    assert anomaly.foreign_dataset("mnist-sample") == "fashion-mnist"
    assert anomaly.load_offline("fashion-mnist") is None
    assert anomaly.foreign_dataset("fashion-mnist") == "mnist-sample"
    assert anomaly.foreign_dataset("my-scans") is None  # an upload: inverted images and noise only, no note
    assert anomaly.load_offline("mnist-sample").shape[1:] == (28, 28, 1)


def test_fashion_mnist_is_used_when_it_is_on_this_machine(monkeypatch):
    from aecore.datasets import Dataset

    fake = Dataset("fashion-mnist", images(4), images(6), None, None, "f")
    monkeypatch.setattr(anomaly, "in_keras_cache", lambda name: True)
    monkeypatch.setattr(anomaly, "load_dataset", lambda name: fake)
    assert anomaly.load_offline("fashion-mnist") is fake.x_test
    inputs = anomaly.different_inputs(images(3), foreign=("fashion-mnist", fake.x_test))
    assert inputs["fashion-mnist"].shape == (3, 28, 28, 1)  # as many as the test images


def test_nothing_is_loaded_for_a_model_of_another_image_shape(monkeypatch):
    monkeypatch.setattr(anomaly, "in_keras_cache", lambda name: pytest.fail("looked for the dataset"))
    monkeypatch.setattr(anomaly, "load_dataset", lambda name: pytest.fail("loaded the dataset"))
    assert anomaly.load_offline("fashion-mnist", (32, 32, 3)) is None
    assert anomaly.load_offline("mnist-sample", (8, 8, 1)) is None


def test_error_histogram_has_one_trace_per_group_and_the_threshold():
    groups = {"test images": np.full(50, 0.01), "random noise": np.full(50, 0.3)}
    fig = figures.error_histogram(groups, threshold=0.05, unit="MSE per pixel")
    assert [t.name for t in fig.data] == ["test images", "random noise"]
    assert sum(fig.data[0].y) == 50
    (line,) = fig.layout.shapes
    assert line.x0 == pytest.approx(np.log10(0.05))
    assert "0.01" in fig.layout.xaxis.ticktext and "log scale" in fig.layout.xaxis.title.text


# Training replay as a GIF


def test_replay_gif_has_one_frame_per_epoch_and_loops():
    replay = images(4 * 8).reshape(4, 8, 28, 28, 1).astype(np.float16)  # epochs 0..3
    targets = images(8, seed=9)
    data = figures.replay_gif(replay, [targets], [[f"#{i}" for i in range(8)]], frame_ms=200, scale=2)
    gif = Image.open(io.BytesIO(data))
    assert gif.format == "GIF" and gif.is_animated and gif.n_frames == 4
    assert gif.info["loop"] == 0
    caption, title = figures.caption_px(2) + 4, figures.caption_px(2) + 6
    assert gif.size == (8 * (56 + 6) + 6, title + 2 * (56 + caption + 6) + 6)  # title, targets, reconstructions
    durations = []
    for frame in range(gif.n_frames):
        gif.seek(frame)
        durations.append(gif.info["duration"])
    assert durations == [200, 200, 200, 600]  # the result is held longer
    # Frame 2 shows epoch 2's first reconstruction under the first target.
    gif.seek(2)
    pixels = np.asarray(gif.convert("L"), np.float32) / 255
    top = title + 6 + (56 + caption + 6)  # title, padding, then the targets row
    expected = replay[2, 0, ..., 0].astype(np.float32)
    assert np.abs(pixels[top:top + 56:2, 6:62:2] - expected).max() < 2 / 255


def test_png_grid_is_unchanged_by_the_shared_sheet():
    data = figures.png_grid([images(3)], None, scale=1, pad=2)
    assert Image.open(io.BytesIO(data)).size == (3 * 30 + 2, 30 + 2)


# Denoising


def test_psnr_gain_by_hand():
    clean = np.zeros((2, 28, 28, 1), np.float32)
    noisy = np.full_like(clean, 0.1)  # MSE 0.01: 20 dB
    recon = np.full_like(clean, np.sqrt(0.001))  # MSE 0.001: 30 dB
    np.testing.assert_allclose(denoise.psnr_db(clean, noisy), [20, 20], rtol=1e-5)
    np.testing.assert_allclose(denoise.psnr_gain_db(clean, noisy, recon), [10, 10], rtol=1e-4)
    assert denoise.overall_gain_db({"test_psnr": 18.5, "noisy_psnr": 12.0}) == pytest.approx(6.5)
    assert denoise.overall_gain_db({"test_psnr": 18.5}) is None


def test_denoising_run_inputs_are_those_its_metrics_used(tiny):
    from aecore.datasets import load_dataset
    from aecore.train import train

    data = load_dataset("mnist-sample")
    run = train(tiny("stacked", noise=0.3), data)
    noisy = denoise.noisy_test_inputs(data.x_test, run.config)
    assert not np.allclose(noisy, data.x_test) and noisy.min() >= 0 and noisy.max() <= 1
    # The same noise as train.evaluate's: its noisy PSNR comes out again.
    assert float(M.psnr(M.per_example_mse(data.x_test, noisy).mean())) == pytest.approx(run.metrics["noisy_psnr"])
    assert run.replay.shape == (2, 8, 28, 28, 1)
    assert denoise.replay_inputs(data.x_test, run.config).shape == (8, 28, 28, 1)
    clean_config = tiny("stacked")
    assert denoise.noisy_test_inputs(data.x_test, clean_config) is data.x_test


def test_run_labels_name_the_noise():
    from aecore.config import RunConfig
    from dashboard.views.run_table import runs_table

    entries = [{"key": k, "config": RunConfig.for_arch("stacked", noise=n).to_dict()} for k, n in (("a", 0), ("b", 0.3))]
    assert runs_table(entries)["run"].tolist() == [
        "stacked, mnist-sample, 15 epochs, latent 32", "stacked, mnist-sample, 15 epochs, latent 32, noise level 0.3"]


@pytest.mark.parametrize("input_shape", [(28, 28, 1), (30, 30, 1), (32, 32, 3), (9, 16, 1)])
def test_the_conv_bottleneck_the_compare_page_names_is_the_models(input_shape):
    from aecore.config import RunConfig
    from aecore.models.conv import build_conv
    from dashboard.views.run_table import runs_table

    config = RunConfig.for_arch("conv")
    code = build_conv(config.width, config.latent_dim, 0, input_shape).get_layer("encoder").output.shape[1:]
    entry = {"key": "a", "config": config.to_dict(), "input_shape": list(input_shape)}
    row = runs_table([entry]).iloc[0]
    assert row["bottleneck"] == "x".join(map(str, code)) and row["bottleneck size"] == np.prod(code)
    # A run stored before input shapes were recorded is taken as MNIST's.
    assert runs_table([{**entry, "input_shape": None}]).iloc[0]["bottleneck"] == f"7x7x{code[-1]}"


# Your digit in the latent space


def test_gaussian_in_two_dimensions_and_its_ellipse():
    mean2, cov2 = latent.project_gaussian(np.array([1.0, -2.0]), np.array([0.25, 4.0]))
    np.testing.assert_allclose(mean2, [1, -2])
    outline = latent.ellipse(mean2, cov2, points=37)
    assert outline.shape == (37, 2)
    np.testing.assert_allclose(outline[0], outline[-1])
    # Every outline point is one standard deviation away (Mahalanobis distance 1).
    d = outline - mean2
    np.testing.assert_allclose(d[:, 0] ** 2 / 0.25 + d[:, 1] ** 2 / 4.0, 1.0, rtol=1e-9)
    np.testing.assert_allclose(outline.mean(axis=0)[1], -2, atol=0.2)


def test_gaussian_through_the_scatters_pca():
    codes = np.random.default_rng(0).normal(size=(200, 5)) * [3, 2, 1, 0.5, 0.1]
    pca = PCA(n_components=2).fit(codes)
    mean, var = codes[0], np.full(5, 0.04)
    mean2, cov2 = latent.project_gaussian(mean, var, pca.components_, pca.mean_)
    np.testing.assert_allclose(mean2, pca.transform(mean[None])[0])
    np.testing.assert_allclose(cov2, 0.04 * np.eye(2), atol=1e-12)  # isotropic stays isotropic (orthonormal axes)
    with pytest.raises(ValueError):
        latent.project_gaussian(mean, var)


def test_one_dimensional_gaussian_lies_on_the_axis():
    mean2, cov2 = latent.project_gaussian(np.array([0.5]), np.array([1.0]))
    outline = latent.ellipse(mean2, cov2)
    assert np.allclose(outline[:, 1], 0) and outline[:, 0].min() == pytest.approx(-0.5)


def test_latent_scatter_draws_the_ellipse_and_its_mean():
    mean = np.array([1.0, 1.0])
    outline = latent.ellipse(mean, np.eye(2) * 0.01)
    fig = figures.latent_scatter(np.zeros((5, 2)), None, "latent", marker=(0, 0), encoding=(mean, outline))
    assert [t.name for t in fig.data][-2:] == ["your digit (mean)", "your digit (±1 sd)"]
    assert list(fig.data[-2].x) == [1.0] and len(fig.data[-1].x) == len(outline)
