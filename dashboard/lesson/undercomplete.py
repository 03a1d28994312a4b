"""Lesson step 2: a code narrower than the input has to learn the data's pattern; one as wide can just copy
(basic on points3d with codes of 1, 2 and 3 numbers)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.express as px
import streamlit as st

from aecore import lesson
from aecore.config import RunConfig
from aecore.models import get_spec
from dashboard.lesson.step import Step, lesson_run, view_of
from dashboard.run_view import RunView

RUNS = {k: f"lesson-code-{k}" for k in (1, 2, 3)}
FIGURE_HEIGHT = 330  # px: the figure stays on a 1280 x 720 projector's first screen under the claim
PUSHED, RECONSTRUCTED, TEST = "pushed off the plane", "their reconstructions", "test points"


@st.cache_data(max_entries=12, show_spinner="Pushing the test points off the plane...")
def _code_width(key: str, _view: RunView) -> lesson.CodeWidth:
    """Step 2's figures of a run, once per run (key names it)."""
    view = _view
    return lesson.code_width(view.run.model, view.data.x_train, view.data.x_test, view.config.latent_dim,
                             view.run.metrics["test_mse"])


def _edge_on(x_train: np.ndarray, x_test: np.ndarray, widths: dict[str, lesson.CodeWidth]) -> pd.DataFrame:
    rows = []
    for facet, width in widths.items():
        for what, points in ((TEST, x_test), (PUSHED, width.pushed), (RECONSTRUCTED, width.reconstructed)):
            along, up = lesson.edge_on(x_train, points)
            rows.append(pd.DataFrame({"along the plane": along, "height above the plane": up, "points": what,
                                      "code": facet}))
    return pd.concat(rows, ignore_index=True)


def _figure(x_train, x_test, widths):
    frame = _edge_on(x_train, x_test, widths)
    fig = px.scatter(frame, x="along the plane", y="height above the plane", color="points", facet_col="code",
                     color_discrete_map={TEST: "#d1d5db", PUSHED: "#6b7280",
                                         RECONSTRUCTED: get_spec("basic").colour},
                     category_orders={"points": [TEST, PUSHED, RECONSTRUCTED]})
    fig.update_traces(marker=dict(size=4))
    fig.for_each_annotation(lambda a: a.update(text=a.text.split("=")[-1], font=dict(size=15)))
    fig.update_layout(height=FIGURE_HEIGHT, margin=dict(l=0, r=0, t=30, b=0), legend_title_text="",
                      legend=dict(orientation="h", y=-0.22, x=0))
    return fig


def _size_words(name: str) -> str:
    """'code of 3, seed 4' -> '3 of 3, seed 4'."""
    size, comma, rest = name.removeprefix("code of ").partition(",")
    return f"{size} of 3{comma}{rest}"


def _table(widths: dict[str, lesson.CodeWidth]) -> pd.DataFrame:
    names, widths = list(widths), list(widths.values())
    return pd.DataFrame({
        "code size": [_size_words(name) for name in names],
        "test MSE (per coord.)": [f"{w.test_mse:.3g}" for w in widths],
        "R² of a linear map code → input": [f"{w.code_r2:.3f}" for w in widths],
        f"push kept (% of {lesson.OFF_PLANE_DISTANCE:g})": [f"{100 * w.offset_kept:.0f} %" for w in widths],
        "MSE on pushed points (per coord.)": [f"{w.pushed_mse:.3g}" for w in widths],
    })


def _draw() -> None:
    shown = st.container()
    st.markdown("**Try it:** train a code again from another seed: does the code of 3 still copy, the code of 2 "
                "still find the plane?")
    size_box, seed_box, button = st.columns([2, 1, 2], vertical_alignment="bottom")
    # At most 3: a code wider than the points trains no PCA baseline (aecore.models.basic) and copies as 3 does.
    k = size_box.slider("Code size (numbers)", 1, 3, 3, key="lesson.undercomplete.k", persist_state="session")
    seed = seed_box.number_input("Seed", 0, 2**31 - 1, 1, key="lesson.undercomplete.seed", persist_state="session")
    views = {f"code of {size}": lesson_run(name) for size, name in RUNS.items()}
    config = RunConfig.for_arch("basic", latent_dim=k, seed=int(seed))
    with button:
        if config == lesson.LESSON_RUNS[RUNS[k]]:
            st.caption(f"The code of {k} from seed {seed} is shown above; choose another seed to train one.")
        elif (yours := view_of(config, "lesson.undercomplete", f"Train a code of {k} from seed {seed}")) is not None:
            views[f"code of {k}, seed {seed}"] = yours
    with shown:
        ready = {name: view for name, view in views.items() if view is not None}
        if not ready:
            st.info("The lesson's runs of this step are not here; train one below.")
            return
        any_view = next(iter(ready.values()))
        widths = {name: _code_width(view.key, view) for name, view in ready.items()}
        st.plotly_chart(_figure(any_view.data.x_train, any_view.x_view, widths), key="lesson.undercomplete.figure")
        st.dataframe(_table(widths), hide_index=True, width="stretch")
        st.caption(
            f"Edge-on to the points' plane: every test point pushed {lesson.OFF_PLANE_DISTANCE:g} off it along its "
            "normal, then through each model. The code of 3 reconstructs the pushed points where they are, and a "
            "linear map of its code gives the input back (R² near 1): an invertible map of the input that learned "
            "nothing about the plane. The code of 2 puts them back on the plane: it learned the plane.")


STEP = Step(
    "undercomplete", "Narrower than the input",
    "The code must be smaller than the input (undercomplete), \"otherwise there will be a straight path from inputs "
    "to outputs and no pattern to represent data will be learned\". Codes of 1, 2 and 3 numbers for 3-D points "
    "near a plane:",
    _draw, "Undercomplete")
