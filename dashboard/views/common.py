"""Rendering sections shared by the architecture pages: metrics, curves, grids, latent view, model, downloads."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import numpy as np
import pandas as pd
import streamlit as st

from aecore import figures, report
from aecore import latent_map as LM
from aecore import metrics as M
from aecore.errors import DataError
from aecore.models import get_spec, layer_table
from dashboard.views.code import keras_code
from dashboard.views.denoise import denoising
from dashboard.views.probe import codes_worth
from dashboard.views.replay import replay
from dashboard.views.report import report_download
from dashboard.model_cache import latent_map, latent_map_figure, latent_points, model_bytes, reconstructions
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


@st.fragment
def latent(view: RunView) -> None:
    """The test set in latent space, coloured by label: codes of more than two dimensions drawn by PCA, t-SNE or
    their most-variance pair (each computed once per run), test images drawn at their codes on request, hover for a
    point's label, index and error, a click for its test image and reconstruction beside the map.

    A fragment: its own widgets (and a click on the map) rerun only this view."""
    arch, x, image = view.config.arch, view.x_view, view.data.is_image
    codes, _, _ = latent_points(view.key, view.run.model, x)
    k = int(np.prod(codes.shape[1:]))
    try:  # encode flattens a conv model's maps: the decoder's input has their shape, which names a dimension's place
        code_shape = tuple(view.run.model.get_layer("decoder").input_shape[1:])
    except (ValueError, AttributeError):
        code_shape = (k,)
    codes = codes.reshape(len(codes), *code_shape) if int(np.prod(code_shape)) == k else codes
    method = LM.PCA
    choice, toggle = st.columns([3, 1], vertical_alignment="bottom")
    if k > 2:
        method = choice.segmented_control(
            "Projection", LM.METHODS, default=LM.PCA, required=True, key=view_key(arch, "latent.method"),
            help="PCA: the plane the codes vary most in, linear. t-SNE: keeps each code's near neighbours near. "
                 "Most-variance pair: the two dimensions of the code that vary most, as they are.")
    thumbnails = image and toggle.toggle("Thumbnails", key=view_key(arch, "latent.thumbnails"),
                                         help="Draw test images at their codes, spread evenly over the map")
    expected = LM.expected_tsne_seconds(len(codes))
    wait = (f"about {expected:.0f} s at this server's last t-SNE's pace" if expected is not None
            else "the first on this server, so its wait is not known yet")
    try:
        with st.spinner(f"Computing the t-SNE of {len(codes):,} codes ({wait})...", show_time=True) \
                if method == LM.TSNE else contextlib.nullcontext():
            drawn = latent_map(view.key, method, codes)
    except DataError as refusal:
        st.info(str(refusal))
        drawn = latent_map(view.key, LM.PCA, codes)
    errors = M.per_example_mse(x, reconstructions(view.key, view.run.model, x))
    error_label = f"MSE per {'pixel' if image else 'coordinate'}"
    fig = latent_map_figure(view, drawn, errors, error_label, thumbnails)
    chart, detail = st.columns([3, 1]) if image else (st.container(), st.container())
    # Not a view_key: tabbed writes its keys back into session state, which a chart's selection refuses.
    event = chart.plotly_chart(fig, on_select="rerun", selection_mode="points",
                               key=f"{arch}.latent-map.{view.key}.{drawn.method}")
    picked = None
    points = (event.selection.points if event else None) or []
    if points:  # the test index from the figure's own customdata: the event's copy of it comes in no fixed form
        try:
            trace = fig.data[points[0]["curve_number"]]
            picked = int(np.asarray(trace.customdata)[points[0]["point_index"], 0])
        except (KeyError, IndexError, TypeError, ValueError):
            picked = None
    if picked is not None and 0 <= picked < len(x):
        i = picked
        recon = reconstructions(view.key, view.run.model, x)
        if image:
            detail.image(figures.data_url(figures.png_grid([x[[i]], recon[[i]]], scale=4, pad=2)),
                         caption=f"Test image {view.data.test_title(i)} above its reconstruction "
                                 f"({error_label} {errors[i]:.4f})")
        else:
            detail.dataframe(pd.DataFrame({"test example": x[i], "reconstruction": recon[i]},
                                          index=[f"x{j + 1}" for j in range(x.shape[1])]))
            detail.caption(f"Test example {view.data.test_title(i)}: {error_label} {errors[i]:.4f}.")
    elif image:
        detail.caption("Click a point to see its test image and its reconstruction here.")
    shown = len(LM.spread_subset(drawn.points)) if thumbnails else None
    chart.caption(latent_caption(len(codes), k, drawn.name, view.y_view is not None, method=drawn.method,
                                 thumbnails=shown, code_shape=tuple(codes.shape[1:]), error_label=error_label)
                  + (" Colour: each point's place along the surface it lies on (the roll's unrolled length): a code "
                     "that unrolls it runs through the colours in order." if view.data.position_test is not None
                     else ""))


def latent_caption(n: int, k: int, axis_label: str, labelled: bool, *, method: str | None = None,
                   thumbnails: int | None = None, code_shape: tuple[int, ...] = (),
                   error_label: str | None = None) -> str:
    """What the latent scatter shows, in words: the codes, how they were drawn (method: one of
    aecore.latent_map.METHODS, else told from axis_label), what hovering and clicking show, and how many
    thumbnails are drawn."""
    codes = (f"{' x '.join(map(str, code_shape))} maps ({k:,} numbers each)" if len(code_shape) > 1
             else f"{k}-D codes")
    if method == LM.TSNE:
        how = ("embedded in 2-D by t-SNE (seeded, PCA start). It keeps each code's near neighbours near: the "
               "distances between clusters and their sizes mean little")
    elif method == LM.PAIR:
        how = (f"on {axis_label.removeprefix('raw pair: ')}, the two of their {k:,} dimensions that vary most over "
               f"these examples, as they are (the other {k - 2:,} are not drawn)")
    elif method == LM.PCA or axis_label.startswith("PCA"):
        how = "projected on their first two principal components (each axis says its share of the variance)"
    else:
        how = "as they are"
    if error_label:
        told = "label, test index" if labelled else "test index"
        hover = (f"Hover a point for its {told} and reconstruction error ({error_label}); click one to see it and "
                 "its reconstruction.")
    else:
        hover = f"Hover a point for its {'label and test index' if labelled else 'test index'}."
    shown = (f" Thumbnails: {thumbnails} test images at their codes, one per occupied cell of a "
             f"{LM.THUMBNAIL_CELLS} x {LM.THUMBNAIL_CELLS} grid over the map." if thumbnails else "")
    return f"The first {n} test examples' {codes}, {how}. {hover}{shown}"


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
