"""Lesson step 4: convolutional against dense on the same images; the decoder's last kernel (3x3 or the notes' 1x1);
and whether the notes' convolutional code is narrower than its input at all."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import plotly.express as px
import streamlit as st

from aecore import figures, lesson
from aecore import metrics as M
from aecore.datasets import DataError, load_dataset
from aecore.models import get_spec, reconstruct
from aecore.models.conv import filters
from aecore.models.spec import NATS_PER_PIXEL, conv_parameters
from dashboard.forms import defaults_for
from dashboard.lesson.step import Step, lesson_run, ready_made_view
from dashboard.model_cache import reconstructions
from dashboard.run_page import trained_run
from dashboard.run_view import RunView
from dashboard.state import get_store

SHOWN = 6  # test digits in a row: a row and its label fit the main figure's column on a projector
TRY_KEY = "lesson.conv.try"  # this step's "try it" job in the session
NOTES_CODE = (7, 7, 256)  # the notes' conv bottleneck, as they draw it

CLAIM = ("The notes swap the dense layers for **convolutions with pooling** (\"CONV2D ... MaxPooling2D\") and end the "
         "decoder on \"CONV2D(filters=1) (28x28x1) (1x1 convolution?)\". Below: both kinds on the same test digits, "
         "the last layer's kernel answered, and a question the notes leave open: is their 7x7x256 code narrower than "
         "the image at all?")


def _code(view: RunView) -> tuple[str, int]:
    return get_spec(view.config.arch).bottleneck(view.config, view.data.input_shape)


def _parameters(view: RunView) -> int:
    return get_spec(view.config.arch).parameters(view.config, view.data.input_shape)


def _trained_words(view: RunView) -> str:
    images = view.config.train_size or len(view.data.x_train)
    return f"{view.config.epochs} epochs of {images:,} images, {view.run.seconds:.0f} s"


def _table(views: dict[str, RunView], floor: float) -> pd.DataFrame:
    pixels = math.prod(next(iter(views.values())).data.input_shape)
    rows = []
    for name, view in views.items():
        shape, values = _code(view)
        bce = view.run.metrics["test_bce"]
        rows.append({"model": name, "code": shape, "code values": values, "code ÷ pixels": values / pixels,
                     "parameters": _parameters(view), f"test BCE ({NATS_PER_PIXEL})": bce,
                     f"above the floor ({NATS_PER_PIXEL})": bce - floor, "trained": _trained_words(view)})
    return pd.DataFrame(rows)


def _bce_bars(table: pd.DataFrame, floor: float, views: dict[str, RunView]):
    column = f"test BCE ({NATS_PER_PIXEL})"
    # One colour per architecture, as in every chart of the app that tells runs apart by it.
    colours = {name: get_spec(view.config.arch).colour for name, view in views.items()}
    fig = px.bar(table, x=column, y="model", orientation="h", text=table[column].map(lambda v: f"{v:.4f}"),
                 color="model", color_discrete_map=colours)
    fig.add_vline(x=floor, line_dash="dot", line_color="#1f2333",
                  annotation_text=f"floor {floor:.4f}", annotation_position="top")
    fig.update_layout(height=330, margin=dict(l=0, r=10, t=30, b=10), showlegend=False,
                      yaxis_title=None, xaxis_title=f"test BCE ({NATS_PER_PIXEL})")
    fig.update_yaxes(autorange="reversed")
    return fig


def labelled_rows(rows: list[tuple[str, np.ndarray, list[str]]], scale: int = 2) -> None:
    """Rows of images, each with its label on the left and a caption under every image (a projector reads the
    label at once, where a figure's legend would be a look away)."""
    for label, images, captions in rows:
        name, strip = st.columns([1, 4], vertical_alignment="center")
        name.markdown(label)
        strip.image(figures.data_url(figures.png_grid([images], [captions], scale=scale, pad=4)))


def _model_rows(views: dict[str, RunView], x: np.ndarray) -> list[tuple[str, np.ndarray, list[str]]]:
    rows = []
    for name, view in views.items():
        recon = reconstructions(view.key, view.run.model, view.x_view)[:len(x)]
        rows.append((f"**{name}**", recon, [f"{b:.3f}" for b in M.per_example_bce(x, recon)]))
    return rows


def _side_by_side(views: dict[str, RunView]) -> None:
    """The same test digits reconstructed by each model, one row each, captioned with per-pixel BCE."""
    first = next(iter(views.values()))
    x = first.x_view[:SHOWN]
    labelled_rows([("test digits", x, [first.data.test_title(i) for i in range(SHOWN)]), *_model_rows(views, x)])


@st.cache_data(max_entries=4, show_spinner=False)
def _unlike_reconstructions(keys: tuple[str, ...], _models: tuple, digit: np.ndarray):
    inputs = lesson.unlike_images(digit)
    x = np.stack(list(inputs.values()))
    return list(inputs), x, [reconstruct(model, x) for model in _models]


def _copying(wide: RunView, narrow: RunView | None) -> None:
    """Inputs unlike any training digit through the wide code and the narrow one: what comes back is a digit-like
    picture, not a copy."""
    pixels = math.prod(wide.data.input_shape)
    views = {f"{_code(wide)[0]} code": wide, **({f"{_code(narrow)[0]} code": narrow} if narrow else {})}
    names, x, recons = _unlike_reconstructions(tuple(v.key for v in views.values()),
                                               tuple(v.run.model for v in views.values()), wide.x_view[0])
    labelled_rows([("inputs", x, [name.split(" ")[-1] for name in names])]
                  + [(f"**{name}**", recon, [f"{b:.3f}" for b in M.per_example_bce(x, recon)])
                     for name, recon in zip(views, recons)], scale=3)
    wide_values = _code(wide)[1]
    st.caption(f"Top: inputs, one a test digit, the others unlike any training image. Below: their reconstructions by "
               f"the {wide_values:,}-value code ({wide_values / pixels:.0f} times the {pixels} pixels)"
               + (f" and by the {_code(narrow)[1]}-value one" if narrow else "")
               + f", titled with BCE ({NATS_PER_PIXEL}). A code that copied would give every input back.")


def _kernel_section(three: RunView | None, one: RunView | None) -> None:
    st.subheader("The last layer: 3x3, or the notes' 1x1?")
    channels_in = filters(64, 0.25 if three is None else three.config.width)
    per_kernel = {k: conv_parameters(channels_in, 1, k) for k in (3, 1)}
    st.markdown(
        f"Here the decoder's last layer is a **3x3** convolution ('same' padding, sigmoid): each output pixel blends "
        f"the features of its 3x3 neighbourhood. A **1x1** one has 9 times fewer weights there "
        f"({per_kernel[1]} against {per_kernel[3]} with {channels_in} features in, biases included) and each pixel "
        f"sees only its own {channels_in} features (64 in the notes' network), so it cannot smooth across "
        "neighbours: whatever spreads ink between pixels must happen a layer earlier.")
    if three is None or one is None:
        return
    columns = st.columns(4)
    for column, (name, view) in zip(columns, (("3x3", three), ("1x1", one))):
        column.metric(f"Test BCE, {name} ({NATS_PER_PIXEL})", f"{view.run.metrics['test_bce']:.4f}")
    columns[2].metric("Last layer's weights, 3x3 / 1x1", f"{per_kernel[3]} / {per_kernel[1]}")
    columns[3].metric("Whole model's weights, 3x3", f"{_parameters(three):,}",
                      help=f"1x1: {_parameters(one):,}; the rest of the two models is the same")
    x = three.x_view[:SHOWN]
    labelled_rows([("test digits", x, [three.data.test_title(i) for i in range(SHOWN)]),
                   *_model_rows({"last kernel 3x3": three, "last kernel 1x1": one}, x)])
    st.caption(f"The same recipe ({three.config.describe()}) with the last kernel 3x3, then 1x1; under each image its "
               f"BCE ({NATS_PER_PIXEL}).")


def _undercomplete_section(wide: RunView | None, narrow: RunView | None, stacked: RunView | None) -> None:
    st.subheader("Is the notes' convolutional code undercomplete?")
    pixels = 28 * 28
    notes = math.prod(NOTES_CODE)
    page = 7 * 7 * get_spec("conv").defaults["latent_dim"]
    narrow_words = (f"; a genuinely narrow code, 7x7x{narrow.config.latent_dim} = {_code(narrow)[1]} values, scores "
                    f"{narrow.run.metrics['test_bce']:.4f} {NATS_PER_PIXEL}") if narrow else ""
    dense_words = (f", and the dense code of {_code(stacked)[1]} values {stacked.run.metrics['test_bce']:.4f}"
                   if stacked else "")
    st.markdown(
        f"No. The notes' bottleneck of 7x7x256 holds **{notes:,} values, {notes // pixels} times the {pixels} pixels** "
        f"it encodes (this page's default 7x7x{page // 49}: {page:,} values, still {page // pixels} times), so by "
        "their own rule, a code narrower than the input, it is not undercomplete. What keeps it from copying is the "
        "path around it: two 2x2 poolings keep one value in four of each map, so fine detail is gone before the code, "
        f"and the upsampling decoder can only paint smooth, digit-like strokes back{narrow_words}{dense_words}.")
    if wide is not None:
        _copying(wide, narrow)


def _try_it(shown: dict[str, RunView]) -> None:
    st.subheader("Try it: another code or last kernel")
    left, right = st.columns([3, 1])
    code = left.select_slider("Bottleneck filters (7 x 7 x filters)", (1, 2, 4, 8, 16, 32, 64, 128), 8,
                              key="lesson.conv.try.filters")
    kernel = right.radio("Last layer's kernel", (3, 1), horizontal=True, key="lesson.conv.try.kernel",
                         format_func=lambda k: f"{k}x{k}")
    base = lesson.IMAGE_RUNS["lesson-conv-3x3"]
    config = dataclasses.replace(defaults_for("conv"), width=base.width, latent_dim=code, out_kernel=kernel)
    config = config.validated()
    same = [name for name, view in shown.items() if view.config == config]
    if same:
        st.info(f"That is the run drawn above as {same[0]}: pick another code or kernel to train one.")
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
    view = RunView(run, data, key, get_store(), False)
    bce = run.metrics["test_bce"]
    reference = shown.get("conv 3x3 (lesson)")
    st.success(f"{config.describe()}: test BCE **{bce:.4f} {NATS_PER_PIXEL}**, {_parameters(view):,} parameters, a "
               f"code of {_code(view)[1]:,} values"
               + (f" (the shipped 3x3, 7x7x{reference.config.latent_dim} run: "
                  f"{reference.run.metrics['test_bce']:.4f})." if reference else "."))
    x = view.x_view[:SHOWN]
    labelled_rows([("test digits", x, [view.data.test_title(i) for i in range(SHOWN)]),
                   *_model_rows({"your run": view}, x)])


def _draw() -> None:
    stacked, conv = ready_made_view("stacked"), ready_made_view("conv")
    three = lesson_run("lesson-conv-3x3", "Train the 3x3 lesson run")
    one = lesson_run("lesson-conv-1x1", "Train the 1x1 lesson run")
    narrow = lesson_run("lesson-conv-code-2", "Train the narrow-code lesson run")
    shown = {name: view for name, view in (("dense (stacked, ready-made)", stacked), ("conv (ready-made)", conv),
                                           ("conv 3x3 (lesson)", three), ("conv 1x1 (lesson)", one),
                                           ("conv 7x7x2 (lesson)", narrow)) if view is not None}
    if not shown:
        st.info("No run of this step is here yet: train one with the buttons above.")
        return
    first = next(iter(shown.values()))
    floor = lesson.bce_floor(first.data.x_test).per_pixel
    grid, bars = st.columns([3, 2])
    with grid:  # the kernels' pair has its own section below
        _side_by_side({name: view for name, view in shown.items() if "lesson" not in name or "7x7x2" in name})
    with bars:
        table = _table(shown, floor)
        st.plotly_chart(_bce_bars(table, floor, shown), key="lesson.conv.bars")
    st.caption(f"Left: test digits, then each model's reconstructions, under each its BCE ({NATS_PER_PIXEL}). "
               f"Right: test BCE over the whole test set; the dotted line is the test images' own floor (step 6), "
               f"{floor:.4f} {NATS_PER_PIXEL}, which no model can beat.")
    st.dataframe(table, hide_index=True, column_config={
        "code ÷ pixels": st.column_config.NumberColumn(format="%.2f ×"),
        "parameters": st.column_config.NumberColumn(format="%d"),
        f"test BCE ({NATS_PER_PIXEL})": st.column_config.NumberColumn(format="%.4f"),
        f"above the floor ({NATS_PER_PIXEL})": st.column_config.NumberColumn(format="%.4f")})
    _kernel_section(three, one)
    _undercomplete_section(conv or three, narrow, stacked)
    _try_it(shown)


STEP = Step("convolutional", "Convolutional against dense", CLAIM, _draw, "Convolutional")
