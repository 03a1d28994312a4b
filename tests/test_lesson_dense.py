"""The Lesson's steps 1-3 (dashboard/lesson/copying.py, undercomplete.py, stacking.py; aecore.lesson's dense part): the
figures' computations, the shallow stacked model they compare against (hidden=()), the points5d dataset, the shipped
runs, and each step drawn from them, its "try it" training through the queue."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

import aecore.train
from aecore import lesson, showcase
from aecore.config import RunConfig
from aecore.datasets import VECTOR_DATASETS, holds_images, load_dataset
from aecore.datasets import builtin as D
from aecore.errors import ConfigError
from aecore.models import build_model, get_spec
from aecore.models.spec import parse_sizes
from tests.helpers import APP, TIMEOUT, assert_clean, cli_env, open_link, refuse_training, texts

TRAIN = aecore.train.train  # the real one, whatever a test puts in its place
SHIPPED_BUDGET = int(1.5 * 2**20)  # bytes: every dense lesson run together


# --- aecore.lesson: the steps' computations ------------------------------------------------------------------


def test_the_fit_call_has_the_inputs_as_the_targets_and_the_runs_settings():
    basic = lesson.DENSE_RUNS["lesson-code-2"]
    text = lesson.fit_call(basic)
    assert "model.fit(x_train, x_train," in text and f"epochs={basic.epochs}" in text
    assert 'loss="mse"' in text and "Adam(0.01)" in text
    assert 'loss="binary_crossentropy"' in lesson.fit_call(lesson.DENSE_RUNS["lesson-stacked-mnist"])
    assert 'loss="mse"' in lesson.fit_call(lesson.DENSE_RUNS["lesson-stacked-5d"])
    compile(lesson.fit_call(basic), "fit", "exec")  # Python as it stands


def _plane_points(n=400, seed=0):
    """Points near the plane z = 0.5 x (normal along (-0.5, 0, 1) / its length), a little noise off it."""
    rng = np.random.default_rng(seed)
    xy = rng.normal(size=(n, 2)) * 3
    return np.column_stack([xy, 0.5 * xy[:, 0] + 0.01 * rng.normal(size=n)]).astype(np.float32)


def test_the_plane_its_normal_and_the_share_of_a_push_a_reconstruction_keeps():
    x = _plane_points()
    centre, normal = lesson.plane_of(x)
    expected = np.array([-0.5, 0.0, 1.0]) / np.linalg.norm([-0.5, 0.0, 1.0])
    assert abs(abs(normal @ expected) - 1) < 1e-3 and np.linalg.norm(normal) == pytest.approx(1)
    pushed = lesson.pushed_off_plane(x, normal, 2.0)
    assert pushed.dtype == np.float32
    np.testing.assert_allclose(lesson.height(pushed, centre, normal) - lesson.height(x, centre, normal), 2.0,
                               atol=1e-4)
    # A copy keeps the whole push; a projection onto the plane keeps none of it.
    assert lesson.offset_kept(x, pushed, centre, normal, 2.0) == pytest.approx(1.0, abs=1e-4)
    projected = pushed - np.outer(lesson.height(pushed, centre, normal), normal)
    assert abs(lesson.offset_kept(x, projected, centre, normal, 2.0)) < 0.01
    along, up = lesson.edge_on(x, pushed)
    assert np.all(np.abs(up - 2.0) < 0.1) and np.std(along) > 2  # seen edge-on: a line, at the push's height


def test_a_linear_map_from_codes_gives_the_inputs_back_only_when_the_code_keeps_them():
    rng = np.random.default_rng(1)
    x_train, x_test = rng.normal(size=(300, 3)), rng.normal(size=(100, 3))
    mix = np.array([[2.0, 0.3, -1.0], [0.5, 1.0, 0.2], [0.0, -0.7, 1.5]])  # invertible
    assert lesson.linear_r2(x_train @ mix, x_train, x_test @ mix, x_test) == pytest.approx(1.0, abs=1e-9)
    two = lesson.linear_r2(x_train[:, :2], x_train, x_test[:, :2], x_test)  # the third coordinate lost
    assert 0.5 < two < 0.8


def test_the_codes_colour_runs_along_their_curve_from_its_gap():
    angles = np.radians(np.linspace(-150, 150, 61))  # a C open to the left: its gap is around 180 degrees
    codes = np.column_stack([np.cos(angles), np.sin(angles)]) + 5
    colour = lesson.code_angle(codes)
    assert np.all(np.diff(colour) > 0), "the colour jumps inside the curve"
    assert 0 < colour[0] < 60 and 300 < colour[-1] < 360  # the cut in the gap, not on a code
    assert lesson.code_angle(codes[::-1])[0] == pytest.approx(colour[-1])  # the order of the points is no matter
    np.testing.assert_allclose(lesson.code_angle(codes[:, :1]), codes[:, 0])  # a code of one number: its value


def test_the_pairs_differ_in_their_hidden_layers_alone_and_are_the_lessons_at_its_code_sizes():
    for dataset, (shallow_name, stacked_name) in lesson.PAIRS.items():
        size = lesson.DENSE_RUNS[stacked_name].latent_dim
        shallow, stacked = lesson.shallow_and_stacked(dataset, size)
        assert (shallow, stacked) == (lesson.DENSE_RUNS[shallow_name], lesson.DENSE_RUNS[stacked_name])
        assert shallow.hidden == () and stacked.hidden
        assert {k: v for k, v in shallow.settings().items() if k != "hidden"} == {
            k: v for k, v in stacked.settings().items() if k != "hidden"}
    shallow, stacked = lesson.shallow_and_stacked("points5d", 3)
    assert shallow.latent_dim == stacked.latent_dim == 3 and stacked.hidden == (4, 3)
    with pytest.raises(ValueError, match="Step 3 compares on mnist-sample or points5d"):
        lesson.shallow_and_stacked("points3d", 2)
    assert lesson.layer_widths(lesson.DENSE_RUNS["lesson-stacked-5d"], (5,)) == "5 → 4 → 3 → 2 → 3 → 4 → 5"
    assert lesson.layer_widths(lesson.DENSE_RUNS["lesson-shallow-mnist"], (28, 28, 1)) == "784 → 32 → 784"
    assert lesson.layer_widths(lesson.DENSE_RUNS["lesson-code-1"], (3,)) == "3 → 1 → 3"


def test_the_dense_runs_are_named_small_and_shipped_current():
    assert set(lesson.DENSE_RUNS) <= set(lesson.LESSON_RUNS)
    assert all(name.startswith("lesson-") for name in lesson.DENSE_RUNS)
    assert lesson.DENSE_RUNS["lesson-code-2"] == RunConfig.for_arch("basic")  # the notes' 3 -> 2 -> 3
    # The stacked page's defaults but one hidden layer of 64: the shipped runs' size budget.
    assert lesson.DENSE_RUNS["lesson-stacked-mnist"] == RunConfig.for_arch("stacked", hidden=(64,))
    total = 0
    for name in lesson.DENSE_RUNS:
        assert showcase.load(name) is not None, f"{name} is not shipped, or stale: python -m aecore showcase"
        total += sum(f.stat().st_size for f in (showcase.FOLDER / name).iterdir())
    assert total <= SHIPPED_BUDGET, f"the dense lesson runs hold {total / 2**20:.2f} MiB"


def test_the_shipped_code_of_3_copies_and_the_code_of_2_learned_the_plane():
    """Real trained models (the shipped runs): a push off the plane survives a code as wide as the input, not a
    narrower one; the wide code is a linear map of the input, the narrow ones lose some of it."""
    data = load_dataset("points3d")
    widths = {}
    for k in (1, 2, 3):
        run = showcase.load(f"lesson-code-{k}")
        widths[k] = lesson.code_width(run.model, data.x_train, data.x_test, k, run.metrics["test_mse"])
    assert widths[3].code_r2 > 0.999 and widths[3].offset_kept > 0.9
    assert widths[3].test_mse < widths[2].test_mse < widths[1].test_mse
    for k in (1, 2):
        assert widths[k].code_r2 < 0.99 and abs(widths[k].offset_kept) < 0.1
        assert widths[k].pushed_mse > 10 * widths[3].pushed_mse
    assert widths[2].pushed.shape == widths[2].reconstructed.shape == data.x_test.shape


def test_a_stacked_pair_is_better_with_its_hidden_layers():
    for dataset, (shallow, stacked) in lesson.PAIRS.items():
        metric = "test_bce" if lesson.DENSE_RUNS[stacked].loss == "bce" else "test_mse"
        errors = [showcase.load(name).metrics[metric] for name in (shallow, stacked)]
        assert errors[1] < errors[0], (dataset, errors)


# --- The shallow stacked model: hidden=() -------------------------------------------------------------------


def test_a_stacked_model_with_no_hidden_layers_is_the_shallow_one():
    config = RunConfig.for_arch("stacked", hidden=())
    assert config.validated() is config and config.hidden == ()
    model = build_model(config, (28, 28, 1))
    assert model.count_params() == 784 * 32 + 32 + 32 * 784 + 784
    assert get_spec("stacked").parameters(config, (28, 28, 1)) == model.count_params()
    assert [layer.name for layer in model.get_layer("encoder").layers[1:]] == ["flatten", "bottleneck"]
    assert "hidden layers none" in config.describe()
    assert RunConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config  # as run.json keeps it
    # The defaults' keys are as before an empty list was allowed: cached and shipped runs keep theirs.
    assert RunConfig.for_arch("stacked").digest() == "0fc6da0a20abc07434063fa73101aad68267792289b2a1320b86be8bc703bfd2"
    assert RunConfig.for_arch("stacked").hidden == (128, 64)
    assert config.digest() != RunConfig.for_arch("stacked").digest()
    with pytest.raises(ConfigError, match="does not use hidden"):
        RunConfig.for_arch("basic", hidden=())  # only the stacked model's hidden layers may be none


def test_blank_sizes_mean_no_layers_and_other_text_is_still_refused():
    assert parse_sizes("") == parse_sizes("   ") == ()
    for bad in ("a, 3", ",,", "3,,x"):
        with pytest.raises(ValueError, match="whole numbers separated by commas"):
            parse_sizes(bad)


RUN_ONE_SCRIPT = """
import json, runpy, sys
space = runpy.run_path(sys.argv[1], run_name="not_main")
model = space["build_model"]()
print(json.dumps({"parameters": model.count_params(),
                  "layers": [layer.name for layer in model.get_layer("encoder").layers[1:]]}))
"""


@pytest.mark.slow  # a process of its own importing TensorFlow
def test_the_shallow_models_standalone_script_builds_the_same_network(tmp_path):
    from aecore import script

    config = RunConfig.for_arch("stacked", hidden=())
    text = script.keras_script(config)
    assert "HIDDEN = ()" in text and "none: a shallow autoencoder" in text
    assert "--hidden ''" in script.command(config)
    path = tmp_path / "shallow.py"
    path.write_text(text)
    done = subprocess.run([sys.executable, "-c", RUN_ONE_SCRIPT, str(path)], cwd=tmp_path, env=cli_env(),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    facts = json.loads(done.stdout.strip().splitlines()[-1])
    assert facts == {"parameters": 784 * 32 + 32 + 32 * 784 + 784, "layers": ["flatten", "bottleneck"]}


def test_a_link_with_no_hidden_layers_opens_the_stacked_form_on_the_shallow_model(monkeypatch):
    monkeypatch.setattr(aecore.train, "train", refuse_training)
    at = open_link("stacked", {"hidden": "", "latent_dim": "16"})
    assert at.sidebar.text_input(key="form.stacked.hidden").value == ""
    assert not texts(at.error) and not texts(at.warning), (texts(at.error), texts(at.warning))
    assert at.query_params.get("hidden") in ([""], "")  # the URL follows the form's config: an empty list


# --- points5d ------------------------------------------------------------------------------------------------


def test_points5d_is_seeded_standardised_vectors_near_a_curved_surface():
    data = load_dataset("points5d")
    assert "points5d" in VECTOR_DATASETS and not holds_images("points5d")
    assert data.x_train.shape == (400, 5) and data.x_test.shape == (100, 5) and data.x_train.dtype == np.float32
    assert data.y_train is None and data.input_shape == (5,)
    np.testing.assert_allclose(data.x_train.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(data.x_train.std(axis=0), 1, atol=1e-4)
    assert D.points5d().fingerprint == data.fingerprint  # same seed, same data
    assert D.points5d(seed=6).fingerprint != data.fingerprint
    # Not flat: a plane through it (PCA's two components) leaves a good share of the variance out.
    centred = data.x_train - data.x_train.mean(axis=0)
    variances = np.linalg.svd(centred, compute_uv=False) ** 2
    assert variances[2:].sum() / variances.sum() > 0.3


# --- The steps, drawn ----------------------------------------------------------------------------------------


def _open_step(slug: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params["step"] = slug
    at.run()
    at.switch_page("app_pages/lesson.py").run()
    assert_clean(at)
    return at


@pytest.fixture
def shipped(monkeypatch):
    """The lesson's shipped runs on, and no training: every step opens at once."""
    monkeypatch.setenv("AECORE_READY_MADE", "1")
    monkeypatch.setattr(aecore.train, "train", refuse_training)


def _captions(at: AppTest) -> str:
    return " ".join(texts(at.caption))


def test_step_1_shows_input_code_and_output_the_fit_call_and_the_error(shipped):
    at = _open_step("copy")
    assert len(at.get("plotly_chart")) == 3
    (code,) = [c.value for c in at.code]
    assert "model.fit(x_train, x_train," in code
    shown = _captions(at)
    assert "MSE per coordinate" in shown and "100 test points" in shown
    assert f"{showcase.load('lesson-code-2').metrics['test_mse']:.4f}" in shown
    assert not any(b.label.startswith("Train it") for b in at.button)  # the defaults are the shipped run
    assert not texts(at.error)


def test_step_2_shows_the_three_codes_and_what_each_makes_of_points_off_the_plane(shipped):
    at = _open_step("undercomplete")
    assert at.get("plotly_chart")
    (table,) = [d.value for d in at.dataframe]
    assert table["code size"].tolist() == ["1 of 3", "2 of 3", "3 of 3"]
    r2 = [float(v) for v in table["R² of a linear map code → input"]]
    kept = [float(v.rstrip(" %")) for v in table[f"push kept (% of {lesson.OFF_PLANE_DISTANCE:g})"]]
    assert r2[2] > 0.999 and r2[0] < r2[1] < 0.99
    assert kept[2] > 90 and abs(kept[0]) < 10 and abs(kept[1]) < 10
    assert any("straight path from inputs to outputs" in m.value for m in at.markdown)
    assert not texts(at.error)


def test_step_3_shows_both_pairs_errors_with_units_and_parameters(shipped):
    at = _open_step("stacked")
    charts = at.get("plotly_chart")
    assert len(charts) >= 3  # both pairs' bars and the digits
    spec = json.dumps([json.loads(chart.proto.spec) for chart in charts], ensure_ascii=False)
    assert "BCE, nats/pixel" in spec and "MSE per coordinate" in spec
    assert "50,992 parameters" in spec  # 784 -> 32 -> 784
    assert "784 → 64 → 32 → 64 → 784" in spec and "5 → 4 → 3 → 2 → 3 → 4 → 5" in spec
    assert "stacked wins" in _captions(at)
    assert not texts(at.error)


def test_without_shipped_runs_each_step_offers_its_training_in_a_sentence(monkeypatch):
    monkeypatch.setattr(aecore.train, "train", refuse_training)  # AECORE_READY_MADE=0: nothing shipped is shown
    for slug in ("copy", "undercomplete", "stacked"):
        at = _open_step(slug)
        assert not texts(at.error), (slug, texts(at.error))
    at = _open_step("copy")
    assert [b.label for b in at.button if b.label.startswith("Train it")] == ["Train it (seed 0, 60 epochs)"]


def _finish(at: AppTest, page_key: str) -> AppTest:
    """Wait for the lesson job this session follows under page_key, heartbeating for its live panel, then rerun."""
    from dashboard.state import training_queue

    job = at.session_state[f"training.{page_key}"]
    while not job.wait(1):
        training_queue().heartbeat(job, at.session_state["training.subscriber"])
    at.run()
    assert_clean(at)
    return at


def test_step_1s_try_it_trains_another_seed_through_the_queue_and_shows_it(monkeypatch):
    monkeypatch.setenv("AECORE_READY_MADE", "1")
    monkeypatch.setattr(aecore.train, "train", TRAIN)
    at = _open_step("copy")
    at.number_input(key="lesson.copy.seed").set_value(3)
    at.number_input(key="lesson.copy.epochs").set_value(2).run()
    assert "seed 3" not in _captions(at)  # the lesson's own run until this one is trained
    (offer,) = [b for b in at.button if b.label == "Train it (seed 3, 2 epochs)"]
    offer.click().run()
    _finish(at, "lesson.copy")
    shown = _captions(at)
    assert "2 epochs" in shown and "seed 3" in shown, shown
    assert len(at.get("plotly_chart")) == 3 and "epochs=2," in at.code[0].value
    assert not [b for b in at.button if b.label.startswith("Train it")]


@pytest.mark.slow  # trains a code of 3 (60 epochs of points3d) through the queue
def test_step_2s_try_it_trains_a_code_from_another_seed_and_adds_it_to_the_table(monkeypatch):
    monkeypatch.setenv("AECORE_READY_MADE", "1")
    monkeypatch.setattr(aecore.train, "train", TRAIN)
    at = _open_step("undercomplete")
    at.number_input(key="lesson.undercomplete.seed").set_value(4).run()
    (offer,) = [b for b in at.button if b.label == "Train a code of 3 from seed 4"]
    offer.click().run()
    _finish(at, "lesson.undercomplete")
    (table,) = [d.value for d in at.dataframe]
    assert table["code size"].tolist() == ["1 of 3", "2 of 3", "3 of 3", "3 of 3, seed 4"]
    kept = table[f"push kept (% of {lesson.OFF_PLANE_DISTANCE:g})"].iloc[3]
    assert float(kept.rstrip(" %")) > 50  # another seed's code of 3 copies too
    assert not texts(at.error)


def test_the_shipped_dense_runs_folders_hold_only_a_runs_files():
    for name in lesson.DENSE_RUNS:
        assert sorted(p.name for p in Path(showcase.FOLDER, name).iterdir()) == ["arrays.npz", "model.keras",
                                                                                  "run.json"]


@pytest.mark.slow  # trains two points5d runs of 100 epochs through the queue
def test_step_3s_try_it_trains_the_pair_one_after_the_other_and_compares_them(monkeypatch):
    monkeypatch.setenv("AECORE_READY_MADE", "1")
    monkeypatch.setattr(aecore.train, "train", TRAIN)
    at = _open_step("stacked")
    charts = len(at.get("plotly_chart"))
    at.radio(key="lesson.stacked.dataset").set_value("points5d").run()
    at.number_input(key="lesson.stacked.k.points5d").set_value(1).run()
    assert_clean(at)
    offers = [b for b in at.button if b.label.startswith("Train the")]
    assert [b.label for b in offers] == ["Train the shallow one (1 of 2)"]  # one at a time: one live panel
    offers[0].click().run()
    _finish(at, "lesson.stacked.pair")
    (offer,) = [b for b in at.button if b.label.startswith("Train the")]
    assert offer.label == "Train the stacked one (2 of 2)"
    offer.click().run()
    _finish(at, "lesson.stacked.pair")
    assert len(at.get("plotly_chart")) == charts + 1  # the pair's bars
    assert any(" wins: the stacked one's error is " in c for c in texts(at.caption))
    assert not [b for b in at.button if b.label.startswith("Train the")] and not texts(at.error)
