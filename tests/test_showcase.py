"""The ready-made runs shipped in aecore/showcase_runs/: each loads (safe mode), is the registry's current
showcase config and network, and reproduces the test figures stored with it; a page shows it on a first visit."""

import json
import re
import shutil

import pytest

import aecore.train
from aecore import lesson, precision, showcase
from aecore.datasets import load_dataset
from aecore.models import build_model, layer_table, names
from aecore.train import evaluate
from tests.helpers import TIMEOUT, assert_clean, open_page, open_tab, refuse_training, texts, train_long, wait_until


@pytest.mark.parametrize("arch", [*names(), *lesson.LESSON_RUNS])  # the architectures' and the Lesson's
def test_each_shipped_run_is_current_and_reproduces_its_test_figures(arch):
    run = showcase.load(arch)
    remake = f"--arch {arch}" if arch in names() else "--lesson"
    assert run is not None, f"no current ready-made run {arch}: make it with `{showcase.COMMAND} {remake}`"
    assert run.config == showcase.config_of(arch) and run.cached
    data = load_dataset(run.config.dataset)
    # The network the registry builds today, layer for layer (a changed model file fails here until remade).
    assert run.placement["precision"] == "float32"  # made to look the same on every machine
    with precision.forced("float32"):
        fresh = build_model(run.config, data.input_shape)
    shapes = [(row["part"], row["layer"], row["output shape"], row["parameters"]) for row in layer_table(fresh)]
    assert [(r["part"], r["layer"], r["output shape"], r["parameters"]) for r in layer_table(run.model)] == shapes
    fresh.set_weights(run.model.get_weights())  # and its weights fit the network built today
    again = evaluate(fresh, run.config, data)
    for name, value in again.items():
        assert value == pytest.approx(run.metrics[name], rel=1e-4, abs=1e-6), name
    if data.is_image:
        assert 0 < run.metrics["recognisability"] <= 1.2 and 0 < run.metrics["test_recognised"] <= 1


def test_the_shipped_runs_are_small():
    total = sum(f.stat().st_size for f in showcase.FOLDER.rglob("*") if f.is_file())
    assert total < 10 * 2**20, f"{total / 2**20:.1f} MiB"


def test_a_stale_or_damaged_run_is_not_shown(tmp_path):
    folder = tmp_path / "runs"
    shutil.copytree(showcase.FOLDER / "basic", folder / "basic")
    assert showcase.load("basic", folder) is not None
    meta = json.loads((folder / "basic" / "run.json").read_text())
    meta["config"]["epochs"] += 1  # made for another recipe than the spec's
    (folder / "basic" / "run.json").write_text(json.dumps(meta))
    assert showcase.load("basic", folder) is None
    (folder / "basic" / "run.json").write_text("{not json")
    assert showcase.load("basic", folder) is None
    assert showcase.load("basic", tmp_path / "none") is None
    assert showcase.load("lesson-no-such-run", folder) is None


def test_the_command_makes_a_run_the_loader_takes(tmp_path, capsys):
    from aecore.__main__ import main

    assert main(["showcase", "--arch", "basic", "--out", str(tmp_path)]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["arch"] == "basic" and not summary["cached"]
    run = showcase.load("basic", tmp_path)
    assert run is not None and run.metrics["test_mse"] == pytest.approx(summary["test_mse"])


def test_a_first_visit_shows_the_ready_made_run_beside_the_untrained_form(monkeypatch):
    monkeypatch.setenv("AECORE_READY_MADE", "1")
    monkeypatch.setattr(aecore.train, "train", refuse_training)  # nothing is trained to show it
    at = open_page("conv")
    assert_clean(at)
    said = [t for t in texts(at.success) if t.startswith("A ready-made run of this page: ")]
    assert said and showcase.COMMAND in said[0]
    # Its name says each setting unlike the architecture's defaults, and the line says what Train does.
    assert "conv, mnist-sample, 6 epochs, 128 bottleneck filters, training images all, trained in" in said[0]
    assert "Press **Train** to train the form's settings." in said[0]
    assert not texts(at.info)  # one box on a first visit: no "has not been trained yet" above it
    assert at.get("metric") and at.tabs


def test_while_a_training_is_followed_the_page_is_its_live_panel_and_after_stop_the_ready_made_run_is_back(monkeypatch):
    """The browser redraws the whole page at every tick of the live panel: no run is drawn below it while it trains."""
    monkeypatch.setenv("AECORE_READY_MADE", "1")
    at = open_page("stacked")
    assert at.tabs  # the ready-made run
    job = train_long(at, "stacked")
    wait_until(lambda: job.progress is not None)
    at.run()  # the live panel's next poll
    assert_clean(at)
    assert not at.tabs and not at.get("metric") and not any(t.startswith("A ready-made run") for t in texts(at.success))
    assert [b for b in at.button if b.label == "Stop"]
    at.button(key="live.stacked.stop").click().run()
    assert job.wait(TIMEOUT)
    assert at.tabs and any(t.startswith("A ready-made run of this page: ") for t in texts(at.success))


def test_the_ready_made_vae_of_four_dimensions_draws_its_manifold_over_the_two_that_vary_most(monkeypatch):
    monkeypatch.setenv("AECORE_READY_MADE", "1")
    monkeypatch.setattr(aecore.train, "train", refuse_training)
    at = open_tab(open_page("vae"), "vae", "Manifold")
    assert_clean(at)
    (caption,) = [c.value for c in at.caption if "vary most" in c.value]
    named = re.search(r"(z\d) and (z\d) are the two of its 4 dimensions that vary most", caption)
    assert named, caption
    layouts = [json.loads(c.proto.spec)["layout"] for c in at.get("plotly_chart")]
    axes = [(lay.get("xaxis", {}).get("title", {}).get("text"), lay.get("yaxis", {}).get("title", {}).get("text"))
            for lay in layouts]
    assert named.groups() in axes, axes
