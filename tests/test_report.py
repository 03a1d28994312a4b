"""A run as a report (aecore.report): its sections, the CLI's `report`, and the download on an architecture page.

The runs are the session's tiny ones (conftest's trained_runs), loaded from the run cache: nothing here trains.
"""

import json
import re
import shlex

import pytest
from plotly.offline import get_plotlyjs

import aecore.train
from aecore import probe, report
from aecore.datasets import load_dataset
from aecore.datasets.dataset import make_dataset
from aecore.runner import get_run
from aecore.store import RunStore
from dashboard.views.report import LABEL
from tests.helpers import app_tiny, assert_one_sentence, open_page, refuse_training


@pytest.fixture
def cached(cached_runs, monkeypatch):
    """cached(config): the session's run of config and its dataset, loaded from this test's run cache."""
    monkeypatch.setattr(aecore.train, "train", refuse_training)

    def load(config):
        cached_runs(config)
        data = load_dataset(config.dataset)
        return get_run(config, RunStore(), data=data), data

    return load


def sections(page: str) -> list[str]:
    return re.findall(r"<section id='([a-z-]+)'>", page)


def test_the_report_of_an_image_run_holds_every_section_and_nothing_from_outside(cached):
    run, data = cached(app_tiny("stacked"))
    # The probe on about a hundred training images: its section, not the probe's figures, is under test here.
    small = make_dataset(data.name, data.x_train[:120], data.x_test[:200], data.y_train[:120], data.y_test[:200])
    points = probe.codes_worth(run.model, small, counts=(10,), draws=2)
    page = report.report_html(run, data, points, report.score_anomalies(run.model, data))
    assert sections(page) == ["settings", "metrics", "training", "reconstructions", "latent", "codes-worth",
                              "anomaly", "reproduce"]
    assert f"<h1>{run.config.describe()}</h1>" in page
    for words in ("MSE (per pixel)", "BCE (nats/pixel)", "PSNR (dB)", "Training (s)", "Speed (images/s)",
                  "Loss unit: BCE, nats/pixel", "test accuracy (mean, %)", "median error (MSE per pixel)"):
        assert words in page, words
    assert f"{run.metrics['test_mse']:.4f}" in page
    assert report.train_command(run.config) in page
    # Self-contained: plotly.js once, inline; figures drawn by it; images as data: URLs; no address outside.
    assert page.count("<script type='text/javascript'>/**\n* plotly.js") == 1
    assert page.count("Plotly.newPlot") == 6  # loss, latent map, probe, histogram, the two error maps
    assert "src='data:image/png;base64," in page
    own = page.replace(get_plotlyjs(), "")  # the report's own markup (plotly.js holds addresses it never asks for)
    assert not re.search(r"""(src|href)=["'](https?:)?//""", own)
    assert not re.search(r"<(script|link|iframe)[^>]+(src|href)=", own)
    # Real colours, whatever plotly's default template in this process (here Streamlit's, of placeholders).
    assert not re.search(r"#0000[0-3][0-9]\b", own)


def test_the_report_of_a_vector_run_tabulates_its_reconstructions(cached):
    run, data = cached(app_tiny("basic"))
    page = report.report_html(run, data)
    assert sections(page) == ["settings", "metrics", "training", "reconstructions", "latent", "reproduce"]
    assert "MSE (per coord.)" in page and "PCA MSE (per coord.)" in page
    assert "reconstructed x3" in page and "Speed (points/s)" in page
    assert "<img" not in page  # no image of points
    assert page.count("Plotly.newPlot") == 2


def test_the_train_command_spells_out_every_setting(tiny):
    config = tiny("stacked", hidden=(64, 32), lr=3e-4)
    command = report.train_command(config)
    assert command.startswith("python -m aecore train --arch stacked --dataset mnist-sample ")
    assert "--hidden 64,32" in command and "--lr 0.0003" in command and "--train-size 256" in command
    from aecore.__main__ import _parser

    args = _parser().parse_args(command.split()[3:])  # the CLI reads back the config it came from
    assert {name: getattr(args, name) for name in config.settings()} == {**config.settings(), "hidden": (64, 32)}


def test_the_report_holds_the_keras_script_of_the_run(cached):
    run, data = cached(app_tiny("stacked"))
    page = report.report_html(run, data)
    assert "import keras" in page, "no standalone Keras script in the report (aecore.script)"


def test_the_cli_writes_the_report_atomically_and_refuses_a_bad_out_in_one_sentence(tmp_path, cached_runs,
                                                                                    monkeypatch, capsys):
    from aecore.__main__ import main

    monkeypatch.setattr(aecore.train, "train", refuse_training)
    config = app_tiny("stacked")
    cache = cached_runs(config)
    options = ["report", *shlex.split(report.train_command(config))[4:], "--cache-dir", str(cache)]
    out = tmp_path / "out"
    out.mkdir()
    (out / "a folder.html").mkdir()
    for bad, words in ((out, "must end in .html"), (out / "missing" / "run.html", "does not exist"),
                       (out / "run.txt", "must end in .html"), (out / "a folder.html", "is a folder")):
        assert main([*options, "--out", str(bad)]) == 2
        captured = capsys.readouterr()
        assert captured.out == "" and words in assert_one_sentence(captured.err.strip(), quoted=True)
    assert sorted(p.name for p in out.iterdir()) == ["a folder.html"]  # nothing written

    assert main([*options, "--out", str(out / "run.html")]) == 0
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["out"] == str(out / "run.html") and line["bytes"] == (out / "run.html").stat().st_size
    assert line["run"]["cached"] is True and line["run"]["arch"] == "stacked"
    assert sorted(p.name for p in out.iterdir()) == ["a folder.html", "run.html"]  # no temporary left
    assert sections((out / "run.html").read_text()) == ["settings", "metrics", "training", "reconstructions",
                                                        "latent", "reproduce"]


def test_the_cli_refuses_a_probe_or_anomalies_a_run_cannot_have_before_training(tmp_path, capsys, monkeypatch):
    from aecore.__main__ import main

    monkeypatch.setattr(aecore.train, "train", refuse_training)
    for flag, words in (("--probe", "has no labels"), ("--anomaly", "scores images")):
        assert main(["report", "--arch", "basic", flag, "--out", str(tmp_path / "r.html"),
                     "--cache-dir", str(tmp_path / "cache")]) == 2
        assert words in assert_one_sentence(capsys.readouterr().err.strip())
    assert list(tmp_path.iterdir()) == []


def test_an_architecture_page_offers_its_run_as_a_report(monkeypatch, cached_runs):
    monkeypatch.setenv("AECORE_STUDIO_TEST_DEFAULTS", "1")
    cached_runs(app_tiny("stacked"))
    monkeypatch.setattr(aecore.train, "train", refuse_training)
    at = open_page("stacked")
    assert any(t.value.startswith("Loaded from cache") for t in at.success)
    (button,) = [b for b in at.download_button if b.label == LABEL]
    assert button.proto.deferred_file_id  # made only when pressed


def test_the_pages_report_adds_the_codes_worth_this_session_fitted_and_the_anomaly_scores(cached):
    from dashboard.views.report import report_bytes

    run, data = cached(app_tiny("vae"))
    # About a hundred training images: the Codes' worth tab's own fit (probe._points), at its counts, stays cheap.
    small = make_dataset(data.name, data.x_train[:120], data.x_test[:200], data.y_train[:120], data.y_test[:200])
    page = report_bytes("report-test-vae", True, run, small).decode()
    assert sections(page)[5:7] == ["codes-worth", "anomaly"]  # an image run's page adds its anomaly scores
    assert "ELBO loss (nats/image)" in page and "KL (nats/image)" in page  # the VAE's own header figures
