"""Lesson step 6: the loss. BCE's least value is the target's own entropy, not 0; the test set's BCE floor beside the
models' scores; and the notes' averaged KL against the summed one the models here train (a KL weight of 1 / latent)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import plotly.express as px
import streamlit as st

from aecore import lesson
from aecore.datasets import DataError, load_dataset
from aecore.models import encode_distribution
from aecore.models.spec import NATS_PER_IMAGE, NATS_PER_PIXEL
from dashboard.forms import defaults_for
from dashboard.lesson.step import Step, lesson_run, ready_made_view
from dashboard.run_page import trained_run
from dashboard.run_view import RunView
from dashboard.state import get_store

TRY_KEY = "lesson.loss.try"
BETAS = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0)  # on the VAE page's β field's steps of 0.25

CLAIM = ("The notes train on binary cross-entropy, whose minimum \"won't necessarily be equal to 0 because the "
         "normalized MNIST pixel values are in the range [0, 1]\": BCE(p; y) = −(y log p + (1 − y) log(1 − p)) is "
         "least at p = y, where it equals the entropy H(y). So a model's score has a true zero, the test images' own "
         "floor; and the notes' VAE loss averages its KL over the latent dimensions where the models here sum it.")


def _curves_figure():
    p, curves = lesson.bce_curves()
    long = pd.DataFrame([{"p": pv, "BCE (nats)": b, "target": f"y = {y:g}"} for y, values in curves.items()
                         for pv, b in zip(p, values)])
    fig = px.line(long, x="p", y="BCE (nats)", color="target", color_discrete_sequence=px.colors.qualitative.Bold)
    targets = np.array(list(curves))
    fig.add_scatter(x=targets, y=lesson.binary_entropy(targets), mode="markers", name="minimum: H(y) at p = y",
                    marker=dict(size=11, color="#1f2333", symbol="diamond"),
                    hovertemplate="p = y = %{x:g}: H(y) = %{y:.3f} nats<extra></extra>")
    fig.update_layout(height=340, margin=dict(l=0, r=10, t=30, b=10), yaxis_range=[0, 3],
                      title=dict(text="BCE(p; y) against the prediction p", font=dict(size=14)),
                      xaxis_title="prediction p", yaxis_title="BCE (nats per pixel)",
                      legend=dict(orientation="h", y=-0.22, title=None))
    return fig


def _floor_table(floor: lesson.BCEFloor, views: dict[str, RunView]) -> pd.DataFrame:
    rows = [{"model": "the floor", f"BCE ({NATS_PER_PIXEL})": floor.per_pixel,
             f"BCE ({NATS_PER_IMAGE})": floor.per_image}]
    for name, view in views.items():
        m = view.run.metrics
        # The VAE's reconstruction term sums BCE over an image's pixels; the others average it.
        per_image = m["test_rec"] if "test_rec" in m else m["test_bce"] * floor.pixels
        rows.append({"model": name, f"BCE ({NATS_PER_PIXEL})": per_image / floor.pixels,
                     f"BCE ({NATS_PER_IMAGE})": per_image})
    table = pd.DataFrame(rows)
    table[f"above the floor ({NATS_PER_PIXEL})"] = table[f"BCE ({NATS_PER_PIXEL})"] - floor.per_pixel
    table[f"above the floor ({NATS_PER_IMAGE})"] = table[f"BCE ({NATS_PER_IMAGE})"] - floor.per_image
    return table


def _floor_figure(table: pd.DataFrame):
    column = f"BCE ({NATS_PER_PIXEL})"
    above = f"above the floor ({NATS_PER_PIXEL})"
    floor = float(table[column].iloc[0])
    models = table.iloc[1:].assign(floor=floor)
    long = pd.concat([models.assign(part="the floor", value=floor), models.assign(part="above the floor",
                                                                                  value=models[above])])
    fig = px.bar(long, x="value", y="model", color="part", orientation="h", barmode="stack",
                 color_discrete_map={"the floor": "#c7c9d9", "above the floor": "#dc2626"},
                 text=long["value"].map(lambda v: f"{v:.3f}"))
    fig.update_layout(height=340, margin=dict(l=0, r=10, t=30, b=10), yaxis_title=None,
                      title=dict(text="Test BCE: the floor, then what the model adds", font=dict(size=14)),
                      xaxis_title=f"test BCE, {NATS_PER_PIXEL}", legend=dict(orientation="h", y=-0.22, title=None))
    return fig


@st.cache_data(max_entries=4, show_spinner="Encoding the test set...")
def _kl(key: str, _model, _x: np.ndarray) -> lesson.KLTerms:
    return lesson.kl_terms(*encode_distribution(_model, _x))


def _kl_section(vae: RunView | None, one: RunView | None, quarter: RunView | None) -> None:
    st.subheader("The KL term: the notes' average against the models' sum")
    if vae is not None:
        terms = _kl(vae.key, vae.run.model, vae.data.x_test)
        k = terms.dimensions
        st.markdown(
            f"The notes' `kl_reconstruction_loss` takes `reduce_mean` of the KL over the latent dimensions; the "
            f"models here sum it per image, the ELBO's own term. On the ready-made VAE ({k} dimensions) the one is "
            f"the other divided by {k}: training on the average is training on the sum with a **KL weight β = 1/{k} "
            f"= {terms.beta_equivalent:g}**, the VAE page's \"KL weight β\" field.")
        columns = st.columns(3)
        columns[0].metric(f"KL summed ({NATS_PER_IMAGE})", f"{terms.summed:.2f}",
                          help="Over the latent dimensions, as the models here train; averaged over the test images")
        columns[1].metric(f"KL averaged ({NATS_PER_IMAGE} ÷ {k})", f"{terms.averaged:.2f}",
                          help="The notes' reduce_mean over the latent dimensions, averaged over the test images")
        columns[2].metric("Summed ÷ averaged (dimensions)", f"{terms.summed / terms.averaged:.2f}"
                          if terms.averaged else "n/a")
    pair = {name: view for name, view in (("β = 1: the sum", one), ("β = 1/4: the notes' mean", quarter))
            if view is not None}
    if not pair:
        return
    rec, kl = f"reconstruction ({NATS_PER_IMAGE})", f"KL ({NATS_PER_IMAGE})"
    rows = [{"run": name, rec: view.run.metrics["test_rec"], kl: view.run.metrics["test_kl"],
             f"rec. + β·KL ({NATS_PER_IMAGE})": view.run.metrics["test_rec"]
             + view.config.beta * view.run.metrics["test_kl"]} for name, view in pair.items()]
    table = pd.DataFrame(rows)
    chart, numbers = st.columns([2, 3])
    long = table.melt(id_vars="run", value_vars=[rec, kl], var_name="term", value_name="nats")
    long["term"] = long["term"].str.split(" ").str[0]
    fig = px.bar(long, x="term", y="nats", color="run", barmode="group", text=long["nats"].map(lambda v: f"{v:.1f}"),
                 color_discrete_sequence=["#4f46e5", "#d97706"])
    fig.update_layout(height=280, margin=dict(l=0, r=10, t=10, b=10), xaxis_title=None,
                      yaxis_title=NATS_PER_IMAGE, legend=dict(orientation="h", y=-0.25, title=None))
    chart.plotly_chart(fig, key="lesson.loss.kl")
    numbers.dataframe(table, hide_index=True, column_config={c: st.column_config.NumberColumn(format="%.2f")
                                                             for c in table.columns[1:]})
    recipe = next(iter(pair.values())).config
    words = f"Two runs of one recipe ({recipe.describe().split(', KL')[0]}), test set, differing only in β."
    if one is not None and quarter is not None:
        m1, mq = one.run.metrics, quarter.run.metrics
        words += (f" At β = 1/4 the codes stray further from the prior: KL {mq['test_kl']:.1f} against "
                  f"{m1['test_kl']:.1f} {NATS_PER_IMAGE}; reconstruction {mq['test_rec']:.1f} against "
                  f"{m1['test_rec']:.1f}" + (", the better for it." if mq["test_rec"] < m1["test_rec"] else
                                             ": in so short a training that bought no better reconstruction."))
    numbers.caption(words)


def _try_it(shown: list[RunView]) -> None:
    st.subheader("Try it: train the VAE at another β")
    left, right = st.columns([2, 3], vertical_alignment="bottom")
    beta = left.select_slider("KL weight β", BETAS, 2.0, key="lesson.loss.try.beta", format_func=lambda b: f"{b:g}")
    config = dataclasses.replace(defaults_for("vae"), beta=beta).validated()
    right.caption(f"Trains {config.describe()} through the queue, as the VAE page's Train does.")
    if any(view.config == config for view in shown):
        st.info("That run is drawn above: pick another β to train one.")
        return
    try:
        data = load_dataset(config.dataset)
    except DataError as exc:
        st.error(str(exc))
        return
    picked = trained_run(TRY_KEY, config, data, get_store(), f"Train {config.describe()}")
    if picked is None:
        return
    _, run = picked
    m = run.metrics
    st.success(f"{config.describe()}: test reconstruction **{m['test_rec']:.1f} {NATS_PER_IMAGE}** "
               f"({m['test_rec'] / np.prod(data.input_shape):.4f} {NATS_PER_PIXEL}), KL **{m['test_kl']:.2f} "
               f"{NATS_PER_IMAGE}**, objective {m['test_rec'] + beta * m['test_kl']:.1f} {NATS_PER_IMAGE}.")


def _draw() -> None:
    stacked, conv, vae = (ready_made_view(arch) for arch in ("stacked", "conv", "vae"))
    one = lesson_run("lesson-vae-beta-1", "Train the VAE lesson run at β = 1")
    quarter = lesson_run("lesson-vae-beta-quarter", "Train the VAE lesson run at β = 1/4")
    models = {name: view for name, view in (("conv (ready-made)", conv), ("stacked (ready-made)", stacked),
                                            ("VAE (ready-made), reconstruction term", vae)) if view is not None}
    try:
        data = load_dataset("mnist-sample")
    except DataError as exc:
        st.error(str(exc))
        return
    floor = lesson.bce_floor(data.x_test)
    curves, floors = st.columns(2)
    curves.plotly_chart(_curves_figure(), key="lesson.loss.curves")
    table = _floor_table(floor, models)
    if models:
        floors.plotly_chart(_floor_figure(table), key="lesson.loss.floor")
    top = st.columns(3)
    top[0].metric(f"Test set's BCE floor ({NATS_PER_PIXEL})", f"{floor.per_pixel:.4f}",
                  help="The mean binary entropy of mnist-sample's test pixels: what a perfect model scores")
    top[1].metric(f"The same floor ({NATS_PER_IMAGE})", f"{floor.per_image:.1f}",
                  help=f"Summed over an image's {floor.pixels} pixels, as the VAE's reconstruction term counts")
    top[2].metric(f"H(0.5), the largest ({NATS_PER_PIXEL})", f"{float(lesson.binary_entropy(0.5)):.4f}",
                  help="A grey pixel of 0.5 costs log 2 nats even when predicted exactly")
    st.caption(f"Left: BCE against the prediction p for targets y; each curve bottoms out at p = y, at H(y), 0 only "
               f"for y = 0 or 1. Right: each model's test BCE ({NATS_PER_PIXEL}, the VAE's reconstruction term divided "
               f"by its {floor.pixels} pixels) split into the floor and what it adds.")
    st.dataframe(table, hide_index=True, column_config={c: st.column_config.NumberColumn(format="%.4f")
                                                        for c in table.columns[1:]})
    _kl_section(vae, one, quarter)
    _try_it([view for view in (one, quarter, vae) if view is not None])


STEP = Step("loss", "The loss", CLAIM, _draw, "Loss")
