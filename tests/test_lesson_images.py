"""The Lesson's steps 4-6 (dashboard/lesson/convolution.py, sampling.py, loss.py; aecore.lesson's image part): the
loss's computations (binary entropy, BCE's minimum, the test set's floor, the KL summed and averaged), conv's last
kernel (out_kernel: 1x1 builds, the default's key is the key of before), the shipped runs, and each step drawn from
them, its "try it" training through the queue."""

import json
import math

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

import aecore.train
from aecore import lesson, script, showcase, vae_lab
from aecore.config import RunConfig
from aecore.datasets import load_dataset
from aecore.errors import ConfigError
from aecore.models import build_model, get_spec
from aecore.store import run_key
from tests.helpers import APP, TIMEOUT, assert_clean, assert_one_sentence, metrics, texts

TRAIN = aecore.train.train  # the real one, whatever a test puts in its place
SHIPPED_BUDGET = 3 * 2**20  # bytes: every image lesson run together
# conv's page-default run key as it was before out_kernel existed (computed at commit 2600d12).
CONV_DEFAULT_DIGEST = "94a4b7859ca2e689b4ad360b178d0561e8bfc8a0f9a41a686fdb2c20f4a30d85"


# --- aecore.lesson: the loss's computations -------------------------------------------------------------------


def test_binary_entropy_by_hand_and_bces_minimum_is_it_at_p_equal_y():
    assert lesson.binary_entropy(0.0) == 0.0 and lesson.binary_entropy(1.0) == 0.0
    assert lesson.binary_entropy(0.5) == pytest.approx(math.log(2))
    assert lesson.binary_entropy(0.2) == pytest.approx(-(0.2 * math.log(0.2) + 0.8 * math.log(0.8)))
    p, curves = lesson.bce_curves()
    assert set(curves) == set(lesson.BCE_TARGETS)
    fine = np.linspace(0.001, 0.999, 999)
    for y in lesson.BCE_TARGETS:
        values = lesson.bce(fine, y)
        assert fine[np.argmin(values)] == pytest.approx(min(max(y, 0.001), 0.999), abs=1.5e-3), y
        assert values.min() >= lesson.binary_entropy(y) - 1e-12  # never below the entropy...
        assert values.min() == pytest.approx(lesson.binary_entropy(y), abs=1e-2)  # ...and it reaches it at p = y
        assert np.all(curves[y] >= lesson.binary_entropy(y) - 1e-12)
    assert lesson.bce(0.5, 0.5) == pytest.approx(math.log(2))  # its minimum 0.693, not 0
    assert np.isfinite(lesson.bce(0.0, 1.0)) and lesson.bce(0.0, 1.0) == pytest.approx(-math.log(lesson.BCE_EPS))


def test_the_floor_of_a_tiny_array_by_hand():
    images = np.array([[0.0, 0.5], [1.0, 0.2]], np.float32).reshape(2, 1, 2, 1)
    floor = lesson.bce_floor(images)
    h02 = -(0.2 * math.log(0.2) + 0.8 * math.log(0.8))
    assert floor.pixels == 2
    assert floor.per_image == pytest.approx((math.log(2) + h02) / 2)  # image 1: 0 + log 2; image 2: 0 + H(0.2)
    assert floor.per_pixel == pytest.approx((math.log(2) + h02) / 4)
    assert lesson.bce_floor(np.zeros((3, 4, 4, 1))).per_pixel == 0.0  # black and white pixels cost nothing


def test_the_floor_is_below_every_reconstructions_bce():
    x = load_dataset("mnist-sample").x_test[:200]
    floor = lesson.bce_floor(x)
    rng = np.random.default_rng(0)
    for guess in (np.clip(x + rng.normal(0, 0.05, x.shape), 0, 1), np.full_like(x, x.mean()), x):
        assert lesson.bce(guess, x).mean() >= floor.per_pixel - 1e-6
    assert lesson.bce(x, x).mean() == pytest.approx(floor.per_pixel, rel=1e-3)  # a perfect copy scores the floor
    assert 0 < floor.per_pixel < 0.2 and floor.per_image == pytest.approx(floor.per_pixel * 784)


def test_the_summed_kl_over_the_latent_size_is_the_notes_averaged_kl():
    rng = np.random.default_rng(1)
    mean, log_var = rng.normal(size=(50, 4)), rng.normal(-1, 0.5, size=(50, 4))
    terms = lesson.kl_terms(mean, log_var)
    assert terms.dimensions == 4 and terms.beta_equivalent == 0.25
    assert terms.summed / 4 == pytest.approx(terms.averaged)
    assert terms.summed == pytest.approx(vae_lab.kl_per_dimension(mean, log_var).sum())  # the lab's KL, the VAE's
    assert lesson.kl_terms(np.zeros((3, 2)), np.zeros((3, 2))).summed == 0.0  # the prior itself costs nothing
    # What the notes' average weighs at beta = 1, the sum weighs at beta = 1 / k: the same objective.
    assert 1.0 * terms.averaged == pytest.approx(terms.beta_equivalent * terms.summed)


def test_the_sampling_step_and_the_prior_draws():
    eps = lesson.prior_samples(5, 3, seed=7)
    assert eps.shape == (5, 3) and eps.dtype == np.float32
    np.testing.assert_array_equal(eps, lesson.prior_samples(5, 3, seed=7))  # seeded by its argument alone
    assert not np.array_equal(eps, lesson.prior_samples(5, 3, seed=8))
    z = lesson.reparameterised(np.array([1.0, -2.0, 0.0]), np.log(np.array([4.0, 1.0, 0.25])), eps)
    np.testing.assert_allclose(z, [1.0, -2.0, 0.0] + np.array([2.0, 1.0, 0.5]) * eps, rtol=1e-5)
    digit = load_dataset("mnist-sample").x_test[0]
    unlike = lesson.unlike_images(digit)
    assert all(image.shape == digit.shape and image.dtype == np.float32 for image in unlike.values())
    np.testing.assert_allclose(unlike["the digit inverted"], 1 - digit)
    assert lesson.code_to_pixels(7 * 7 * 256, (28, 28, 1)) == 16 and lesson.code_to_pixels(98, (28, 28, 1)) < 1


# --- conv's last kernel ----------------------------------------------------------------------------------------


def test_a_1x1_last_layer_builds_with_nine_times_fewer_weights_there():
    three = RunConfig.for_arch("conv", width=0.25, latent_dim=8)
    one = RunConfig.for_arch("conv", width=0.25, latent_dim=8, out_kernel=1)
    last = {}
    for config in (three, one):
        model = build_model(config, (28, 28, 1))
        assert model.output_shape == (None, 28, 28, 1)
        layer = model.get_layer("decoder").get_layer("reconstruction")
        assert layer.kernel.shape == (config.out_kernel, config.out_kernel, 16, 1)
        last[config.out_kernel] = layer.count_params()
        assert model.count_params() == get_spec("conv").parameters(config, (28, 28, 1))
    assert last == {3: 9 * 16 + 1, 1: 16 + 1}
    text = script.keras_script(one)
    assert "OUT_KERNEL = 1" in text and "layers.Conv2D(IMAGE_SHAPE[2], OUT_KERNEL," in text
    assert "OUT_KERNEL" not in script.keras_script(three)  # the default's script is the one of before


def test_the_default_kernel_keeps_every_conv_run_key():
    default = RunConfig.for_arch("conv")
    assert default.out_kernel == 3 and "out_kernel" not in default.key_dict()
    assert default.digest() == CONV_DEFAULT_DIGEST
    assert RunConfig.for_arch("conv", out_kernel=3) == default
    assert RunConfig.for_arch("conv", out_kernel=1).key_dict()["out_kernel"] == 1
    # The shipped conv run's key, written when it was made, is what its config gives now.
    meta = json.loads((showcase.FOLDER / "conv" / "run.json").read_text())
    config = showcase.config_of("conv")
    assert run_key(config, load_dataset(config.dataset).fingerprint) == meta["key"]
    assert RunConfig.from_dict({k: v for k, v in meta["config"].items() if k != "out_kernel"}) == config


def test_the_kernel_takes_1_or_3_alone_and_only_for_conv():
    assert RunConfig.for_arch("conv", out_kernel=1.0).out_kernel == 1  # as the CLI parses a number
    assert type(RunConfig.for_arch("conv", out_kernel=1.0).out_kernel) is int
    for bad in (2, 5, True, "1", 1.5):
        with pytest.raises(ConfigError) as refused:
            RunConfig.for_arch("conv", out_kernel=bad)
        assert_one_sentence(str(refused.value), quoted=True)
        assert "kernel" in str(refused.value)
    with pytest.raises(ConfigError, match="does not use out_kernel"):
        RunConfig.for_arch("stacked", out_kernel=1)
    assert "last layer's kernel 1" in RunConfig.for_arch("conv", out_kernel=1).describe()


# --- The shipped runs ------------------------------------------------------------------------------------------


def test_the_image_lesson_runs_are_shipped_current_and_within_their_budget():
    total = 0
    for name, config in lesson.IMAGE_RUNS.items():
        assert name.startswith("lesson-") and config.dataset == "mnist-sample"
        assert config.epochs <= get_spec(config.arch).defaults["epochs"], name  # page-default epochs or fewer
        run = showcase.load(name)
        assert run is not None, f"{name} is not shipped or is stale: python -c \"from aecore import showcase; " \
                                f"showcase.make('{name}')\""
        total += sum(f.stat().st_size for f in (showcase.FOLDER / name).iterdir())
    assert total <= SHIPPED_BUDGET, total
    quarter = lesson.IMAGE_RUNS["lesson-vae-beta-quarter"]
    assert quarter.beta == 1 / quarter.latent_dim  # the notes' averaged KL, as a weight on the summed one
    assert lesson.IMAGE_RUNS["lesson-conv-1x1"].out_kernel == 1


# --- The steps on the Lesson page ------------------------------------------------------------------------------


def _open_step(slug: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params["step"] = slug
    at.run()
    at.switch_page("app_pages/lesson.py").run()
    assert_clean(at)
    return at


def _charts(at: AppTest) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def _images(at: AppTest) -> list[str]:
    return [img.url for element in at.get("image") for img in element.proto.imgs]


def _shipped_bce(name: str) -> float:
    return showcase.load(name).metrics["test_bce"]


@pytest.fixture
def shipped(monkeypatch):
    monkeypatch.setenv("AECORE_READY_MADE", "1")
    monkeypatch.setattr(aecore.train, "train", _refuse)  # a step opens at once: nothing trains to draw it


def _refuse(*args, **kwargs):
    raise AssertionError("training happened, but the step should have opened on its shipped runs")


def test_the_convolution_step_shows_both_kinds_their_bce_parameters_and_the_kernels(shipped):
    at = _open_step("convolutional")
    assert not texts(at.error)
    (table, *_) = [d.value for d in at.dataframe]
    rows = table.set_index("model")
    assert {"dense (stacked, ready-made)", "conv (ready-made)", "conv 1x1 (lesson)", "conv 7x7x2 (lesson)"} <= \
        set(rows.index)
    assert rows.loc["conv 1x1 (lesson)", "test BCE (nats/pixel)"] == pytest.approx(_shipped_bce("lesson-conv-1x1"))
    assert rows.loc["conv (ready-made)", "code values"] == 7 * 7 * 128
    assert rows.loc["conv 7x7x2 (lesson)", "code values"] == 98
    floor = lesson.bce_floor(load_dataset("mnist-sample").x_test).per_pixel
    assert (rows["above the floor (nats/pixel)"] > 0).all()
    assert rows.loc["conv (ready-made)", "above the floor (nats/pixel)"] == pytest.approx(
        _shipped_bce("conv") - floor)
    shown = metrics(at)
    assert shown["Last layer's weights, 3x3 / 1x1"] == "145 / 17"
    assert shown["Test BCE, 1x1 (nats/pixel)"] == f"{_shipped_bce('lesson-conv-1x1'):.4f}"
    bars = [t for chart in _charts(at) for t in chart["data"] if t.get("type") == "bar"]
    assert len(bars) == len(rows)  # one bar per model
    assert len(_images(at)) >= 4 + 3 + 3  # the side by side, the kernels' and the unlike inputs' rows
    markdown = " ".join(m.value for m in at.markdown)
    assert "12,544 values, 16 times the 784 pixels" in markdown and "not undercomplete" in markdown


def test_the_sampling_step_shows_the_heads_the_draws_and_new_samples_on_a_reseed(shipped):
    at = _open_step("vae")
    assert not texts(at.error)
    heads = [c for c in _charts(at) if any(t.get("name") == "mean" for t in c["data"])]
    assert heads, "no figure of the encoder's mean and log_var"
    names = {t.get("name") for c in heads for t in c["data"]}
    assert "log_var (the notes' sigma)" in names
    before = _images(at)
    assert len(before) >= 3 and all(url.startswith("data:image/png") for url in before)
    (reseed,) = [b for b in at.button if b.label == "Draw new samples"]
    reseed.click().run()
    assert_clean(at)
    after = _images(at)
    assert after[1] != before[1] and after[0] == before[0]  # new prior samples; the digit's draws stay
    assert any("completely new data" in c.lower() for c in texts(at.caption))


def test_the_loss_step_shows_the_curves_the_floor_and_the_kl_summed_and_averaged(shipped):
    at = _open_step("loss")
    assert not texts(at.error)
    floor = lesson.bce_floor(load_dataset("mnist-sample").x_test)
    shown = metrics(at)
    assert shown["Test set's BCE floor (nats/pixel)"] == f"{floor.per_pixel:.4f}"
    assert shown["The same floor (nats/image)"] == f"{floor.per_image:.1f}"
    summed = float(shown["KL summed (nats/image)"])
    averaged = float(shown["KL averaged (nats/image ÷ 4)"])
    assert summed == pytest.approx(4 * averaged, abs=0.03) and shown["Summed ÷ averaged (dimensions)"] == "4.00"
    lines = [t for c in _charts(at) for t in c["data"] if t.get("mode") == "lines" or t.get("type") == "scatter"]
    assert {f"y = {y:g}" for y in lesson.BCE_TARGETS} <= {t.get("name") for t in lines}
    floor_table, kl_table = [d.value for d in at.dataframe]
    vae_row = floor_table[floor_table["model"].str.startswith("VAE")].iloc[0]
    assert vae_row["BCE (nats/image)"] == pytest.approx(showcase.load("vae").metrics["test_rec"])
    assert vae_row["above the floor (nats/image)"] == pytest.approx(vae_row["BCE (nats/image)"] - floor.per_image)
    assert kl_table["run"].tolist() == ["β = 1: the sum", "β = 1/4: the notes' mean"]
    quarter = showcase.load("lesson-vae-beta-quarter").metrics
    assert kl_table["KL (nats/image)"].iloc[1] == pytest.approx(quarter["test_kl"])


@pytest.mark.slow  # trains a tiny VAE through the queue
def test_the_loss_steps_try_it_trains_the_vae_at_another_beta_through_the_queue(monkeypatch):
    from dashboard.state import training_queue

    monkeypatch.setenv("AECORE_READY_MADE", "1")
    monkeypatch.setenv("AECORE_STUDIO_TEST_DEFAULTS", "1")  # the try-it's runs are the tiny ones
    monkeypatch.setattr(aecore.train, "train", TRAIN)
    at = _open_step("loss")
    at.select_slider(key="lesson.loss.try.beta").set_value(0.5).run()
    assert_clean(at)
    (offer,) = [b for b in at.button if b.label.startswith("Train vae, ") and "β 0.5" in b.label]
    assert not [s for s in texts(at.success) if "test reconstruction" in s]
    offer.click().run()
    job = at.session_state["training.lesson.loss.try"]
    while not job.wait(1):
        training_queue().heartbeat(job, at.session_state["training.subscriber"])
    at.run()
    assert_clean(at)
    (result,) = [s for s in texts(at.success) if "test reconstruction" in s]
    assert "nats/image" in result and "KL weight β 0.5" in result
    monkeypatch.setattr(aecore.train, "train", _refuse)
    again = _open_step("loss")  # a new session: the run is in the run cache, shown at once
    again.select_slider(key="lesson.loss.try.beta").set_value(0.5).run()
    assert [s for s in texts(again.success) if "test reconstruction" in s]


def test_without_ready_made_runs_each_step_offers_to_train_its_runs_and_raises_nothing(monkeypatch):
    monkeypatch.setattr(aecore.train, "train", _refuse)  # AECORE_READY_MADE=0 (conftest): nothing shipped is shown
    for slug in ("convolutional", "vae", "loss"):
        at = _open_step(slug)
        assert not texts(at.error), slug
        offers = [b.label for b in at.button if b.label.startswith("Train")]
        assert any("lesson run" in label or "defaults" in label for label in offers), (slug, offers)
