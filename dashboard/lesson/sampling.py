"""Lesson step 5: the VAE's encoder outputs a mean and a log-variance, the sampling step draws z from them, and the
decoder turns draws from the prior N(0, I) into completely new digits."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import plotly.express as px
import streamlit as st

from aecore import figures, lesson
from aecore.datasets import DataError, load_dataset
from aecore.models import decode, encode_distribution
from aecore.models.spec import NATS_PER_IMAGE
from dashboard.forms import defaults_for
from dashboard.lesson.step import Step, lesson_run, ready_made_view
from dashboard.run_page import trained_run
from dashboard.run_view import RunView
from dashboard.state import get_store

SAMPLES = (4, 8)  # rows and columns of the prior's grid: beside the encoder's figure on a projector
DRAWS = 6  # draws of z from one digit's encoding, decoded under it
SEED_KEY = "lesson.vae.seed"
TRY_KEY = "lesson.vae.try"

CLAIM = ("The notes' encoder ends in two heads, a mean and \"sigma\" (here `log_var`, a log-variance), and a sampling "
         "layer draws **z = mean + exp(0.5 · log_var) · ε**, ε ~ N(0, I). Because the KL term pulls every encoding "
         "towards N(0, I), decoding draws from that prior gives \"completely new data\": digits no one drew.")


def _view() -> RunView | None:
    """The VAE this step shows: the page's ready-made run, else the lesson's run of the page's defaults."""
    return ready_made_view("vae") or lesson_run("lesson-vae-beta-1", "Train the VAE of the page's defaults")


def _reseed() -> None:
    st.session_state[SEED_KEY] = int(np.random.default_rng().integers(0, 10_000))


@st.cache_data(max_entries=8, show_spinner=False)
def _prior_decodes(key: str, _model, count: int, dimensions: int, seed: int) -> np.ndarray:
    return decode(_model, lesson.prior_samples(count, dimensions, seed))


@st.cache_data(max_entries=8, show_spinner=False)
def _one_digit(key: str, _model, x_one: np.ndarray, draws: int, seed: int):
    """One image's encoder outputs (mean, log_var), draws z = mean + exp(0.5 log_var) eps, and their decodes."""
    mean, log_var = (a[0] for a in encode_distribution(_model, x_one[None]))
    z = lesson.reparameterised(mean, log_var, lesson.prior_samples(draws, len(mean), seed))
    return mean, log_var, z, decode(_model, z)


def _encoder_outputs(view: RunView) -> None:
    """The encoder's two heads on one test digit, per dimension over the prior, and decodes of draws from them."""
    x_one = view.x_view[0]
    mean, log_var, z, decoded = _one_digit(view.key, view.run.model, x_one, DRAWS, 0)
    sigma = np.exp(0.5 * log_var)
    dims = [f"z{i + 1}" for i in range(len(mean))]
    table = pd.DataFrame({"dimension": dims * 2, "value": np.r_[mean, log_var],
                          "head": ["mean"] * len(mean) + ["log_var (the notes' sigma)"] * len(mean),
                          "± sd": np.r_[sigma, np.zeros_like(sigma)]})
    fig = px.scatter(table, x="dimension", y="value", color="head", error_y="± sd", symbol="head",
                     color_discrete_sequence=["crimson", "#4f46e5"])
    fig.add_hrect(y0=-1, y1=1, fillcolor="#c7c9d9", opacity=0.35, line_width=0,
                  annotation_text="prior N(0, 1): ±1 sd", annotation_position="top left")
    fig.update_traces(marker=dict(size=11))
    fig.update_layout(height=250, margin=dict(l=0, r=10, t=10, b=0), xaxis_title=None, yaxis_title="encoder output",
                      legend=dict(orientation="h", y=-0.18, title=None))
    st.plotly_chart(fig, key="lesson.vae.heads")
    st.image(figures.data_url(figures.png_grid([np.concatenate([x_one[None], decoded])],
                                               [[view.data.test_title(0)] + [f"z draw {i + 1}" for i in
                                                                             range(DRAWS)]], scale=2, pad=4)))
    st.caption(f"Test digit {view.data.test_title(0)} encoded: a mean and a log_var per dimension (the mean's bars: ±1 "
               "sd, exp(0.5 · log_var)); then decodes of z = mean + exp(0.5 · log_var) · ε for six draws of ε.")


def _new_digits(view: RunView) -> None:
    """A grid of decodes of z ~ N(0, I), redrawn with a new seed on request."""
    seed = st.session_state.setdefault(SEED_KEY, 0)
    rows, columns = SAMPLES
    k = view.config.latent_dim
    images = _prior_decodes(view.key, view.run.model, rows * columns, k, seed)
    grid = [images[r * columns:(r + 1) * columns] for r in range(rows)]
    st.image(figures.data_url(figures.png_grid(grid, scale=2, pad=4)))
    button, text = st.columns([1, 1], vertical_alignment="center")
    button.button("Draw new samples", icon=":material/casino:", on_click=_reseed, key="lesson.vae.reseed",
                  help="Decode another set of draws from the prior")
    text.caption(f"Completely new data: {rows * columns} draws of z from N(0, I) in {k} dimensions (seed {seed}), "
                 "decoded; none is any training image's encoding.")


def _try_it(shown: RunView) -> None:
    st.subheader("Try it: another latent size")
    left, right = st.columns([2, 3], vertical_alignment="bottom")
    k = left.select_slider("Latent dimensions", (1, 2, 3, 4, 6, 8, 16), 2, key="lesson.vae.try.latent")
    config = dataclasses.replace(defaults_for("vae"), latent_dim=k).validated()
    right.caption(f"Trains {config.describe()} through the queue, as the VAE page's Train does; its samples appear "
                  "here.")
    if config == shown.config:
        st.info("That is the VAE drawn above: pick another latent size to train one.")
        return
    try:
        data = load_dataset(config.dataset)
    except DataError as exc:
        st.error(str(exc))
        return
    picked = trained_run(TRY_KEY, config, data, get_store(), f"Train {config.describe()}")
    if picked is None:
        return
    key, run = picked
    m = run.metrics
    st.success(f"{config.describe()}: test reconstruction **{m['test_rec']:.1f} {NATS_PER_IMAGE}**, KL "
               f"**{m['test_kl']:.2f} {NATS_PER_IMAGE}** (the VAE above: {shown.run.metrics['test_rec']:.1f} and "
               f"{shown.run.metrics['test_kl']:.2f}).")
    images = _prior_decodes(key, run.model, SAMPLES[1], k, st.session_state.get(SEED_KEY, 0))
    st.image(figures.data_url(figures.png_grid([images], scale=2, pad=4)),
             caption=f"Decodes of {SAMPLES[1]} draws from N(0, I) in {k} dimensions, same seed as above.")


def _draw() -> None:
    view = _view()
    if view is None:
        return
    heads, prior = st.columns([1, 1])
    with heads:
        _encoder_outputs(view)
    with prior:
        _new_digits(view)
    st.caption(f"The VAE: {view.config.describe()}" + (" (the Variational page's ready-made run)." if view.ready_made
                                                       else "."))
    # Deferred: vae_lab brings in Your digit's drawing canvas, a component that can only be declared inside a running
    # app, and dashboard.lesson is imported outside one (its STEPS, by the tests).
    from dashboard.views.vae_lab import reparameterisation

    st.subheader("The sampling step in the latent plane: pick a digit, the draws and their seed")
    reparameterisation(view)
    _try_it(view)


STEP = Step("vae", "The VAE samples", CLAIM, _draw, "VAE")
