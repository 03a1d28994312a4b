"""Rendering sections shared by the architecture pages: metrics, curves, grids, latent view, model, downloads."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import streamlit as st

from aecore import figures, report
from aecore import metrics as M
from aecore.models import get_spec, layer_table
from dashboard.views.code import keras_code
from dashboard.views.denoise import denoising
from dashboard.views.probe import codes_worth
from dashboard.views.replay import replay
from dashboard.views.report import report_download
from dashboard.model_cache import latent_points, latent_scatter, model_bytes, reconstructions
from dashboard.run_view import RunView, provenance
from dashboard.state import view_key


def loss_unit(view: RunView) -> str:
    """The unit of the training loss, as the y-axis title says it."""
    return get_spec(view.config.arch).loss_unit(view.config, "pixel" if view.data.is_image else "coordinate")


def header(view: RunView) -> None:
    """Where the run came from (unless the training status just said it), and its test metrics (on the whole
    test set) with units."""
    if not view.just_trained:
        st.success(provenance(view))
    shown = report.metric_rows(view.run, view.data)  # the report lists the same figures
    # At most four to a row, rows as even as they go: a label is cut, not wrapped, where its column is narrow.
    rows = -(-len(shown) // 4)
    per_row = -(-len(shown) // rows)
    for start in range(0, len(shown), per_row):
        for column, (label, value, fmt, help) in zip(st.columns(per_row), shown[start:start + per_row]):
            column.metric(label, "n/a" if value is None or not np.isfinite(value) else fmt.format(value),
                          help=help or None)
    report_download(view)


def training(view: RunView) -> None:
    """Loss curves, train and validation, per epoch."""
    st.plotly_chart(figures.loss_curves(view.run.history, loss_unit(view), get_spec(view.config.arch).loss_parts))
    st.caption(f"Validation uses up to 1000 test examples. Loss unit: {loss_unit(view)}.")


def pick(errors: np.ndarray, how_many: int, which: str, seed: int) -> np.ndarray:
    """Indices of the examples to show: random (seeded), worst or best reconstructed."""
    if which == "worst":
        return np.argsort(errors)[::-1][:how_many]
    if which == "best":
        return np.argsort(errors)[:how_many]
    return np.random.default_rng(seed).choice(len(errors), size=min(how_many, len(errors)), replace=False)


@st.fragment
def reconstruction_grid(view: RunView) -> None:
    """Test examples above their reconstructions, per-example error, chosen by the user; PNG or CSV download.

    A fragment: its own widgets rerun only this view, not the page."""
    arch = view.config.arch
    x = view.x_view
    recon = reconstructions(view.key, view.run.model, x)
    errors = M.per_example_mse(x, recon)
    left, middle, right = st.columns([2, 2, 1])
    how_many = left.slider("How many", 2, 16, 8, key=view_key(arch, "grid.count"))
    which = middle.radio("Which", ["random", "worst", "best"], horizontal=True, key=view_key(arch, "grid.which"))
    seed = right.number_input("Seed", 0, 10_000, 0, key=view_key(arch, "grid.seed"), disabled=which != "random")
    idx = pick(errors, how_many, which, seed)

    if not view.data.is_image:
        table = pd.DataFrame(x[idx], columns=[f"x{i + 1}" for i in range(x.shape[1])])
        for i in range(recon.shape[1]):
            table[f"reconstructed x{i + 1}"] = recon[idx, i]
        table["MSE per coordinate"] = errors[idx]
        table.index = pd.Index(idx, name="test index")
        st.dataframe(table)
        st.download_button("Download these rows (CSV)", table.to_csv().encode(), f"{arch}-reconstructions.csv",
                           mime="text/csv", on_click="ignore")
        return

    top = [view.data.test_title(i) for i in idx]
    bottom = [f"MSE {errors[i]:.4f}" for i in idx]
    st.plotly_chart(figures.image_grid([x[idx], recon[idx]], [top, bottom]))
    st.caption("Top: test images (index and label). Bottom: their reconstructions, titled with per-pixel MSE. "
               f"Mean over the first {len(x)} test images: {errors.mean():.4f} per pixel.")
    rows, captions = [x[idx], recon[idx]], [top, bottom]
    st.download_button("Download this grid (PNG)", lambda: figures.png_grid(rows, captions),
                       f"{arch}-reconstructions.png", mime="image/png", on_click="ignore")


def latent(view: RunView) -> None:
    """The test set in latent space, coloured by label (hover shows it)."""
    codes, points, projection = latent_points(view.key, view.run.model, view.x_view)
    st.plotly_chart(latent_scatter(view, points, projection.label))
    st.caption(latent_caption(len(codes), codes.shape[1], projection.label, view.y_view is not None)
               + (" Colour: each point's place along the surface it lies on (the roll's unrolled length): a code "
                  "that unrolls it runs through the colours in order." if view.data.position_test is not None else ""))


def latent_caption(n: int, k: int, axis_label: str, labelled: bool) -> str:
    """What the latent scatter shows, in words."""
    how = "projected on their first two principal components" if axis_label.startswith("PCA") else "as they are"
    hover = "Hover a point for its label and test index." if labelled else "Hover a point for its test index."
    return f"The first {n} test examples' {k}-D codes, {how}. {hover}"


def model_summary(view: RunView) -> None:
    """Layers by part (encoder, bottleneck, decoder) with output shapes and parameters; the .keras download."""
    model = view.run.model
    st.dataframe(pd.DataFrame(layer_table(model)), hide_index=True)
    st.caption(f"{model.count_params():,} parameters in all. Shapes leave out the batch dimension.")
    st.download_button("Download the trained model (.keras)", lambda: model_bytes(view),
                       f"{view.config.arch}-{view.key[:8]}.keras", mime="application/octet-stream", on_click="ignore")


def tabbed(view: RunView, views: dict[str, Callable[[RunView], None]]) -> None:
    """The views in tabs, only the open one drawn: opening another reruns the page to draw it, so a page is
    ready sooner after Train and a rerun makes one view's figures, not every view's."""
    arch = view.config.arch
    # Streamlit forgets the value of a widget that a run does not draw, and a closed tab's widgets are not
    # drawn: writing their values back before any is drawn keeps them (Streamlit's documented way).
    prefix = view_key(arch, "")
    for key in [k for k in st.session_state if isinstance(k, str) and k.startswith(prefix)]:
        st.session_state[key] = st.session_state[key]
    tabs = st.tabs(list(views), key=view_key(arch, "tab"), on_change="rerun")
    for tab, draw in zip(tabs, views.values()):
        if tab.open:
            with tab:
                draw(view)


def standard_views() -> dict[str, Callable[[RunView], None]]:
    """The stacked and convolutional pages' tabs, by label."""
    return {"Reconstructions": reconstruction_grid, "Denoising": denoising, "Latent space": latent,
            "Codes' worth": codes_worth, "Training": training, "Replay": replay, "Model": model_summary,
            "Code": keras_code}


def standard(view: RunView) -> None:
    """Everything the stacked and convolutional pages show, in tabs."""
    header(view)
    tabbed(view, standard_views())
