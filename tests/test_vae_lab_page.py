"""AppTest of the Variational page's lab tabs: Dimensions, Reparameterisation and Scorecard.

The tiny default VAE is trained once for the session (conftest's trained_runs) and copied into
each test's fresh run cache, so the page loads it (no test here trains it again).
"""

from __future__ import annotations

import json
import re

import pytest

import aecore.train
from aecore.store import RunStore
from dashboard.forms import defaults_for
from tests.helpers import assert_clean, open_page, open_tab, refuse_training, texts


@pytest.fixture(autouse=True)
def _cached_tiny_vae(monkeypatch, cached_runs):
    monkeypatch.setenv("AECORE_STUDIO_TEST_DEFAULTS", "1")
    cached_runs(defaults_for("vae"))  # the form's default under the tiny defaults, trained once for the session
    monkeypatch.setattr(aecore.train, "train", refuse_training)


def metric(at, label: str) -> str:
    (value,) = [m.value for m in at.metric if m.label == label]
    return value


def plotly_traces(at, name: str) -> list[dict]:
    specs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    return [t for spec in specs for t in spec["data"] if t.get("name") == name]


def test_dimensions_tab_counts_active_dimensions_and_warns_of_collapse():
    at = open_tab(open_page("vae"), "vae", "Dimensions")
    k = defaults_for("vae").latent_dim
    active, total = metric(at, "Active dimensions").split(" of ")
    assert int(total) == k and 0 <= int(active) <= k
    assert metric(at, "KL weight β") == "1"
    bars = plotly_traces(at, "active") + plotly_traces(at, "inactive")
    assert sum(len(t["x"]) for t in bars) == k  # one bar per dimension
    # The warning shows exactly when the run has collapsed (the tiny run, one epoch on 256 images, has).
    collapsed = int(active) == 0 or float(metric(at, "KL, all dimensions (nats/image)")) < 0.1
    assert collapsed
    assert any("posterior has collapsed" in w for w in texts(at.warning)) == collapsed
    assert any(d.label.startswith("Download the encodings") for d in at.get("download_button"))


def draw_counts(at) -> list[int]:
    """How many draws each plane shows (the prior's whole plane, then the close-up that numbers them)."""
    planes = plotly_traces(at, "draws z")
    assert [t["mode"] for t in planes] == ["markers", "markers+text"]
    return [len(t["text"]) for t in planes]


def test_reparameterisation_draws_as_many_points_as_asked():
    at = open_tab(open_page("vae"), "vae", "Reparameterisation")
    assert draw_counts(at) == [8, 8]  # one point per draw on both planes
    at.slider(key="vae.view.lab.draws").set_value(5).run()
    assert_clean(at)
    assert draw_counts(at) == [5, 5]
    # Another tab open and back: the closed tab's widget kept its value.
    open_tab(open_tab(at, "vae", "Manifold"), "vae", "Reparameterisation")
    assert at.slider(key="vae.view.lab.draws").value == 5
    assert draw_counts(at) == [5, 5]
    assert {t["name"] for t in plotly_traces(at, "1 sd of q(z | x)") + plotly_traces(at, "2 sd of q(z | x)")} == {
        "1 sd of q(z | x)", "2 sd of q(z | x)"}
    # One axis convention with the explorer's scatter: the lower-numbered dimension across.
    planes = [json.loads(c.proto.spec)["layout"] for c in at.get("plotly_chart") if "lab." in (c.proto.id or "")]
    assert planes and all((p["xaxis"]["title"]["text"], p["yaxis"]["title"]["text"]) == ("z1", "z2") for p in planes)


def test_scorecard_waits_for_its_button_then_shows_nll_below_the_elbo_and_the_classifier_figures():
    at = open_tab(open_page("vae"), "vae", "Scorecard")
    assert not [m for m in at.metric if m.label.startswith("NLL estimate")]  # nothing computed on page load
    (button,) = [b for b in at.button if b.label == "Compute the scorecard"]
    button.click().run()
    assert_clean(at)
    assert not [b for b in at.button if b.label == "Compute the scorecard"]  # the offer is gone once taken
    nll = float(metric(at, "NLL estimate (nats/image)"))
    same_draws = float(metric(at, "ELBO, same draws (nats/image)"))
    assert nll <= same_draws
    assert metric(at, "Classes covered").endswith(" of 10")
    assert float(metric(at, "Classifier test accuracy (%)").rstrip("%")) > 50  # the yardstick is a real classifier
    at.run()  # the scorecard stays for this run
    assert [m for m in at.metric if m.label.startswith("NLL estimate")]
    assert any("real training digits against the test digits score" in c for c in texts(at.caption))
    # Another visitor's offer says how long it takes, from this server's measurement of its parts.
    again = open_tab(open_page("vae"), "vae", "Scorecard")
    assert any(re.search(r"It takes about \d+ s here, once per run", t) for t in texts(again.markdown)), \
        texts(again.markdown)


@pytest.mark.slow  # the likelihood estimate and a classifier trained on mnist-sample
def test_the_classifier_is_cached_in_the_run_store():
    from dashboard.views import vae_lab as vae_lab_view  # after AppTest has set up Streamlit (the drawing canvas it imports needs it)

    vae_lab_view._quality.clear()  # figures of an earlier test's run would be served from memory
    at = open_tab(open_page("vae"), "vae", "Scorecard")
    [b for b in at.button if b.label == "Compute the scorecard"][0].click().run()
    root = RunStore().root
    assert list((root / ".classifiers").glob("*.keras"))
    assert all(e["config"]["arch"] == "vae" for e in RunStore().entries())  # no entry was made of it

