"""Lesson step 1: an autoencoder learns to copy its input to its output, through a narrower code (basic on points3d)."""

from __future__ import annotations

import numpy as np
import plotly.express as px
import streamlit as st

from aecore import lesson
from aecore.config import RunConfig
from dashboard.lesson.step import Step, lesson_run, view_of
from dashboard.model_cache import latent_points, reconstructions
from dashboard.run_view import RunView

RUN = "lesson-code-2"  # basic's page defaults: the notes' 3 -> 2 -> 3
PANEL_HEIGHT = 250  # px: three panels and the claim above them fit a 1280 x 720 projector's first screen
# One colour per point, the same in all three panels, that runs along the curve the points make.
COLOURS = px.colors.sequential.Viridis


def _scatter(points: np.ndarray, colour: np.ndarray, title: str):
    if points.shape[1] >= 3:
        fig = px.scatter_3d(x=points[:, 0], y=points[:, 1], z=points[:, 2], color=colour,
                            color_continuous_scale=COLOURS, labels=dict(x="x1", y="x2", z="x3"))
        fig.update_traces(marker=dict(size=3))
        fig.update_layout(scene=dict(aspectmode="data", camera=dict(eye=dict(x=1.25, y=1.25, z=0.8))))
    else:
        ys = points[:, 1] if points.shape[1] > 1 else np.zeros(len(points))
        fig = px.scatter(x=points[:, 0], y=ys, color=colour, color_continuous_scale=COLOURS,
                         labels=dict(x="code 1", y="code 2" if points.shape[1] > 1 else ""))
        fig.update_yaxes(scaleanchor="x")
    fig.update_layout(title=dict(text=title, font=dict(size=15)), height=PANEL_HEIGHT, coloraxis_showscale=False,
                      margin=dict(l=0, r=0, t=30, b=0))
    return fig


def _figures(view: RunView) -> None:
    x = view.x_view
    codes = latent_points(view.key, view.run.model, x)[0]
    recon = reconstructions(view.key, view.run.model, x)
    colour = lesson.code_angle(codes)
    k = codes.shape[1]
    panels = ((x, f"Input: {x.shape[1]}-D points"), (codes, f"Code: {k} number{'s' * (k > 1)} each"),
              (recon, f"Output: {recon.shape[1]}-D reconstructions"))
    for column, (points, title), part in zip(st.columns(3), panels, ("input", "code", "output")):
        column.plotly_chart(_scatter(points, colour, title), key=f"lesson.copy.{part}")
    mse = view.run.metrics["test_mse"]
    st.caption(f"{len(x)} test points, coloured by where their code lies, so a point keeps its colour from input to "
               f"code to output. Test reconstruction error {mse:.4f} (MSE per coordinate, the data's units "
               f"squared); {view.config.describe()}, trained in {view.run.seconds:.1f} s.")


def _draw() -> None:
    shown = st.container()  # the figures first, on the first screen; the try-it below chooses what they show
    code, tried = st.columns([3, 2])
    base = lesson.LESSON_RUNS[RUN]
    with tried:
        st.markdown("**Try it:** train the same network again with another seed or length.")
        seed_box, epochs_box = st.columns(2)
        # Kept for the session when the step is left: coming back finds the same try.
        kept = dict(persist_state="session")
        seed = seed_box.number_input("Seed", 0, 2**31 - 1, base.seed, key="lesson.copy.seed", **kept)
        epochs = epochs_box.number_input("Epochs", 1, 200, base.epochs, key="lesson.copy.epochs", **kept)
        config = RunConfig.for_arch("basic", seed=int(seed), epochs=int(epochs))
        view = view_of(config, "lesson.copy", f"Train it (seed {seed}, {epochs} epochs)")
    with code:
        st.markdown("The training call: the inputs are the targets.")
        st.code(lesson.fit_call(config), language="python")
    with shown:
        if view is None:  # the button or the live panel below says why; meanwhile the lesson's own run
            view = lesson_run(RUN)
            if view is not None:
                st.caption("Shown until yours is trained: the lesson's own run.")
        if view is not None:
            _figures(view)


STEP = Step(
    "copy", "Copy the input to the output",
    "Autoencoders are for dimensionality reduction, visualisation and generating data; an autoencoder **learns to "
    "copy its input to its output**. Here 3-D points pass through a code of 2 numbers and come back as 3-D points.",
    _draw, "Copy")
