"""The Variational page's live views: latent sliders (with your digit's encoding), manifold grid and interpolation.

Each is an st.fragment: moving its widgets reruns only that view, never the page or training.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from aecore import figures, latent
from aecore.metrics import Projection2D
from aecore.models import decode, encode_distribution
from dashboard.views.your_digit import OTHER_SHAPE, current_digit, takes_digit
from dashboard.model_cache import latent_points, latent_scatter
from dashboard.run_view import RunView
from dashboard.state import view_key
from dashboard.views.common import latent_caption

MAX_SLIDERS = 8
SLIDER_LIMIT = 3.0  # the prior N(0, I) puts 99.7% of its mass within 3 standard deviations; the least range
SLIDER_STEP = 0.05


def slider_key(arch: str, i: int) -> str:
    """The session-state key of latent slider i on the page of arch."""
    return view_key(arch, f"z{i}")


def _random_sample(arch: str, shown: int) -> None:
    """Button callback: draw z from the prior N(0, I) into the sliders (before they are drawn)."""
    rng = np.random.default_rng()
    for i in range(shown):
        value = float(np.clip(rng.standard_normal(), -SLIDER_LIMIT, SLIDER_LIMIT))
        st.session_state[slider_key(arch, i)] = round(value / SLIDER_STEP) * SLIDER_STEP


def _jump(arch: str, mean: np.ndarray) -> None:
    """Button callback: move the sliders to your digit's mean (before they are drawn)."""
    for i, value in enumerate(mean):
        st.session_state[slider_key(arch, i)] = round(float(value) / SLIDER_STEP) * SLIDER_STEP


def _marker(projection: Projection2D, z: np.ndarray) -> tuple[float, float]:
    """z where the latent scatter draws it (through the projection that drew the scatter)."""
    x, y = projection.transform(z[None])[0]
    return float(x), float(y)


def _digit_encoding(
    view: RunView, projection: Projection2D, digit: np.ndarray
) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """Your digit's encoding: (its mean, (that mean on the scatter, its one-standard-deviation ellipse there))."""
    mean, log_var = encode_distribution(view.run.model, digit[None, ..., None])
    mean, var = mean[0], np.exp(log_var[0])
    if projection.pca is not None:  # drawn through the scatter's PCA, like the sliders' cross
        pca = projection.pca
        mean_2d, cov_2d = latent.project_gaussian(mean, var, pca.components_, pca.mean_)
    else:
        mean_2d, cov_2d = latent.project_gaussian(mean, var)
    return mean, (mean_2d, latent.ellipse(mean_2d, cov_2d))


def _session_scatter(view: RunView, points: np.ndarray, projection: Projection2D, digit: np.ndarray | None) -> tuple:
    """(this session's scatter with your digit's encoding drawn, your digit's mean or None), made again only
    when the run or the digit changes: a slider move just moves the cross in it (figures.move_marker)."""
    token = (view.key, None if digit is None else hash(digit.tobytes()))
    held = st.session_state.get(f"{view.config.arch}.scatter")
    if held is None or held[0] != token:
        digit_mean, digit_on_scatter = _digit_encoding(view, projection, digit) if digit is not None else (None, None)
        base = latent_scatter(view, points, projection.label)
        held = (token, figures.with_marks(base, (0.0, 0.0), encoding=digit_on_scatter), digit_mean)
        st.session_state[f"{view.config.arch}.scatter"] = held
    return held[1], held[2]


@st.fragment
def explorer(view: RunView) -> None:
    """One slider per latent dimension (up to 8); the decoded image and its place on the scatter follow live."""
    arch, k = view.config.arch, view.config.latent_dim
    shown = min(k, MAX_SLIDERS)
    codes, points, projection = latent_points(view.key, view.run.model, view.x_view)
    # At least the prior's +-3, wider when the codes spread further (they often do).
    limit = float(np.clip(np.ceil(np.abs(codes[:, :shown]).max()), SLIDER_LIMIT, 10.0))
    for i in range(shown):
        value = st.session_state.get(slider_key(arch, i), 0.0)
        st.session_state[slider_key(arch, i)] = float(np.clip(value, -limit, limit))  # a new run may narrow the range

    fits_digit = takes_digit(view.data)
    digit = current_digit() if fits_digit else None
    scatter, digit_mean = _session_scatter(view, points, projection, digit)

    controls, image_column, scatter_column = st.columns([1, 1, 2])
    with controls:
        st.button("Random sample", on_click=_random_sample, args=(arch, shown), icon=":material/casino:",
                  help="Draw z from the prior N(0, I)")
        if fits_digit:  # else no button: the scatter's caption says why
            st.button("Jump to my digit", on_click=_jump, args=(arch, digit_mean[:shown] if digit is not None else ()),
                      icon=":material/my_location:", disabled=digit is None,
                      help="Move the sliders to the mean of your digit's encoding" if digit is not None
                      else "Draw or upload a digit on the Your digit page first")
        z = np.zeros(k, np.float32)
        for i in range(shown):
            z[i] = st.slider(f"z{i + 1}", -limit, limit, step=SLIDER_STEP, key=slider_key(arch, i))
        if k > shown:
            st.caption(f"The other {k - shown} dimensions stay at 0, the prior's mean.")
    image = decode(view.run.model, z[None])[0]
    # A PNG, not a plotly heatmap: it follows the slider at a fraction of the cost on both ends
    # (far cheaper to make than a heatmap, and nothing for the browser to lay out).
    image_column.image(figures.data_url(figures.png_grid([image[None]], scale=10, pad=0)), caption="decoder(z)")
    image_column.caption("z = (" + ", ".join(f"{v:.2f}" for v in z[:shown]) + (", ...)" if k > shown else ")"))
    figures.move_marker(scatter, _marker(projection, z))
    scatter_column.plotly_chart(scatter)
    scatter_column.caption(latent_caption(len(codes), k, projection.label, view.y_view is not None)
                           + " The black cross is the sliders' z."
                           + (" The red star and ellipse are your digit's encoding: its mean and one standard "
                              "deviation." if digit is not None else ""))
    if not fits_digit:
        scatter_column.caption(OTHER_SHAPE)
    elif digit is None:
        scatter_column.page_link("app_pages/your_digit.py", label="Draw your own digit to see where it lands",
                                 icon=":material/draw:")


@st.cache_data(max_entries=8, show_spinner="Decoding the grid...")
def _manifold_images(key: str, _model, n: int, limit: float, dims: tuple[int, int], k: int):
    grid = np.linspace(-limit, limit, n)
    z = np.zeros((n * n, k), np.float32)  # the dimensions not drawn stay at 0, the prior's mean
    # Rows run from +limit (top) down to -limit along dims[1], columns from -limit to +limit along dims[0].
    z[:, dims[0]] = np.tile(grid, n)
    z[:, dims[1]] = np.repeat(grid[::-1], n)
    return decode(_model, z), grid


@st.fragment
def manifold(view: RunView) -> None:
    """The N x N grid of images decoded over a square of two latent dimensions (of more: the two that vary most)."""
    k = view.config.latent_dim
    if k < 2:
        st.info("The manifold grid needs at least a 2-D latent space; this run's has 1 dimension. "
                "Set *Latent dimensions* to 2 and train.")
        return
    dims = (0, 1)
    if k > 2:
        codes, _, _ = latent_points(view.key, view.run.model, view.x_view)
        dims = tuple(int(d) for d in sorted(np.argsort(codes.var(axis=0))[-2:]))
    left, right = st.columns(2)
    arch = view.config.arch
    n = left.slider("Grid size N (N x N images)", 5, 25, 12, key=view_key(arch, "manifold.n"))
    limit = right.slider("Range: z from -r to r", 0.5, 4.0, 2.0, step=0.25, key=view_key(arch, "manifold.r"))
    images, grid = _manifold_images(view.key, view.run.model, n, limit, dims, k)
    names = tuple(f"z{d + 1}" for d in dims)
    st.plotly_chart(figures.manifold(images, grid, names))
    sliced = (f" {names[0]} and {names[1]} are the two of its {k} dimensions that vary most over the test digits; "
              f"the other {k - 2} stay at 0, the prior's mean." if k > 2 else "")
    st.caption("Each image is the decoder's output for the z at its tick marks: "
               "the smooth changes between neighbours are what the KL term buys." + sliced)


@st.fragment
def interpolation(view: RunView) -> None:
    """A strip of images decoded along the straight line between two test digits' codes (means)."""
    codes, _, _ = latent_points(view.key, view.run.model, view.x_view)
    labels = view.y_view
    last = len(codes) - 1
    # By default, from the first test digit to the first one with a different label.
    other = int(np.argmax(labels != labels[0])) if labels is not None else min(1, last)
    left, middle, right = st.columns(3)
    arch = view.config.arch
    a = left.number_input("From test image #", 0, last, 0, key=view_key(arch, "interp.a", upper=last))
    b = middle.number_input("To test image #", 0, last, other, key=view_key(arch, "interp.b", upper=last))
    steps = right.slider("Steps", 3, 16, 10, key=view_key(arch, "interp.steps"))
    t = np.linspace(0, 1, steps, dtype=np.float32)[:, None]
    decoded = decode(view.run.model, (1 - t) * codes[a] + t * codes[b])
    # The two test images themselves stand at the ends of the strip.
    strip = np.concatenate([view.x_view[[a]], decoded, view.x_view[[b]]])
    ends = view.data.test_title(a), view.data.test_title(b)
    titles = [ends[0]] + [f"t = {v:.2f}" for v in t[:, 0]] + [ends[1]]
    st.plotly_chart(figures.image_grid([strip], [titles], tile_px=120))
    st.caption(f"Test images {ends[0]} and {ends[1]} at the ends; between them decoder((1 - t) mean_a + t mean_b), "
               "where mean is the encoder's mean for each image.")
