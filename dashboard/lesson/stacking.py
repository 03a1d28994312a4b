"""Lesson step 3: stacked (deep) against shallow at the same code size, on MNIST digits and on the notes' own
5 -> 4 -> 3 -> 2 shapes (stacked with and without hidden layers)."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import streamlit as st

from aecore import figures, lesson
from aecore.datasets import MNIST_SHAPE
from aecore.models import get_spec
from dashboard.lesson.step import Step, lesson_run, view_of
from dashboard.model_cache import reconstructions
from dashboard.run_view import RunView

BAR_HEIGHT = 210  # px: both pairs' bars on a 1280 x 720 projector's first screen
DIGITS = 6  # test digits in the reconstruction grid, beside the try-it
KINDS = ("shallow", "stacked")
BAR_COLOURS = {"shallow": "#9ca3af", "stacked": get_spec("stacked").colour}


def _error(view: RunView) -> tuple[float, str]:
    """The run's test reconstruction error as its loss measures it, and the unit."""
    if view.config.loss == "bce":
        return view.run.metrics["test_bce"], "BCE, nats/pixel"
    return view.run.metrics["test_mse"], "MSE per coordinate"


def _rows(views: dict[str, RunView]) -> pd.DataFrame:
    rows = []
    for kind, view in views.items():
        error, unit = _error(view)
        shape = view.data.input_shape
        rows.append({"model": f"{kind}: {lesson.layer_widths(view.config, shape)}", "kind": kind,
                     "error": error, "unit": unit,
                     "parameters": get_spec("stacked").parameters(view.config, shape),
                     "seconds": view.run.seconds, "epochs": view.config.epochs})
    return pd.DataFrame(rows)


def _bars(table: pd.DataFrame, title: str):
    unit = table["unit"].iloc[0]
    fig = px.bar(table, x="error", y="model", color="kind", orientation="h", color_discrete_map=BAR_COLOURS,
                 text=[f"{e:.4f} · {p:,} parameters" for e, p in zip(table["error"], table["parameters"])],
                 labels={"error": f"test error ({unit})", "model": ""})
    fig.update_traces(textposition="auto")  # inside a bar wide enough for it, else beside it
    fig.update_layout(title=dict(text=f"{title} (lower is better)", font=dict(size=15)), height=BAR_HEIGHT,
                      showlegend=False,
                      margin=dict(l=0, r=10, t=36, b=0), yaxis=dict(autorange="reversed"))
    return fig


def _pair(dataset: str, latent_dim: int) -> dict[str, RunView] | None:
    """The lesson's shallow and stacked runs of a dataset (both, or None while one is missing)."""
    names = lesson.PAIRS[dataset]
    views = {kind: lesson_run(name) for kind, name in zip(KINDS, names)}
    return views if all(views.values()) else None


def _panel(views: dict[str, RunView], title: str, key: str) -> None:
    st.plotly_chart(_bars(_rows(views), title), key=key)


def _words(views: dict[str, RunView]) -> str:
    table = _rows(views)
    shallow, stacked = table.iloc[0], table.iloc[1]
    better = "stacked" if stacked["error"] < shallow["error"] else "shallow"
    ratio = stacked["error"] / shallow["error"]
    return (f"{better} wins: the stacked one's error is {ratio:.0%} of the shallow one's, with "
            f"{stacked['parameters'] / shallow['parameters']:.1f} times the parameters "
            f"({stacked['epochs']} epochs each; trained in {shallow['seconds']:.0f} s and {stacked['seconds']:.0f} s)")


def _digits(views: dict[str, RunView]) -> None:
    any_view = views["shallow"]
    x = any_view.x_view[:DIGITS]
    rows = [x] + [reconstructions(view.key, view.run.model, view.x_view)[:DIGITS] for view in views.values()]
    # No titles over the tiles: with three short rows they would sit on the images above; the caption names the rows.
    st.plotly_chart(figures.image_grid(rows, tile_px=60), key="lesson.stacked.digits")
    st.caption("Rows, top to bottom: test digits, then their reconstructions by the shallow model ("
               f"{lesson.layer_widths(views['shallow'].config, any_view.data.input_shape)}) and by the stacked one ("
               f"{lesson.layer_widths(views['stacked'].config, any_view.data.input_shape)}).")


def _try_it() -> None:
    st.markdown("**Try it:** another code size, the pair trained through the queue one after the other (same "
                "epochs, same data).")
    data_box, size_box = st.columns([3, 2], vertical_alignment="bottom")
    dataset = data_box.radio("Dataset", tuple(lesson.PAIRS), horizontal=True, key="lesson.stacked.dataset",
                             persist_state="session")
    stacked = lesson.DENSE_RUNS[lesson.PAIRS[dataset][1]]
    # No wider than the narrowest hidden layer: a code behind a narrower layer is narrowed by it.
    k = size_box.number_input("Code size", 1, min(stacked.hidden), stacked.latent_dim,
                              key=f"lesson.stacked.k.{dataset}", persist_state="session")
    if k == stacked.latent_dim:
        st.caption(f"A code of {k} on {dataset} is the pair shown above; choose another size to train one.")
        return
    shallow_config, stacked_config = lesson.shallow_and_stacked(dataset, int(k))
    # One after the other under one page key: one live panel at a time, as on the architecture pages.
    views = {"shallow": view_of(shallow_config, "lesson.stacked.pair", "Train the shallow one (1 of 2)")}
    if views["shallow"] is None:
        return
    views["stacked"] = view_of(stacked_config, "lesson.stacked.pair", "Train the stacked one (2 of 2)")
    if views["stacked"] is not None:
        _panel(views, f"Yours: {dataset}, code of {k}", "lesson.stacked.yours")
        st.caption(_words(views) + ".")


def _draw() -> None:
    digits, points = _pair("mnist-sample", 32), _pair("points5d", 2)
    left, right = st.columns(2)
    with left:
        if digits is None:
            st.info("The lesson's MNIST pair is not here; train one below.")
        else:
            _panel(digits, "MNIST digits, code of 32", "lesson.stacked.mnist")
    with right:
        if points is None:
            st.info("The lesson's points5d pair is not here; train one below.")
        else:
            _panel(points, "points5d (the notes' 5 → 4 → 3 → 2), code of 2", "lesson.stacked.points5d")
    if digits is not None and points is not None:
        st.caption(f"MNIST: {_words(digits)}. points5d, points near a curved 2-D surface in 5-D: {_words(points)}.")
    shown, tried = st.columns(2)
    with tried:
        _try_it()
    if digits is not None:
        with shown:
            _digits(digits)


STEP = Step(
    "stacked", "Stacked against shallow",
    "A **stacked** autoencoder has hidden layers each side of the code, mirrored: "
    f"{lesson.layer_widths(lesson.DENSE_RUNS['lesson-stacked-mnist'], MNIST_SHAPE)} on digits, the notes' "
    f"{lesson.layer_widths(lesson.DENSE_RUNS['lesson-stacked-5d'], (5,))} on 5-D points. At the same code size, the "
    "extra "
    "layers each side let the encoder and decoder bend the data more than one layer each side (shallow) can, for "
    "more parameters; here is what that buys.",
    _draw, "Stacked")

