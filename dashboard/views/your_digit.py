"""Your own digit: draw it or upload it, see it as MNIST would, and have every trained model reconstruct it.

The processed digit lives in session state (DIGIT_KEY), so the Variational page can show
its encoding too. An input is processed when it changes, and the latest change wins:
drawing after uploading shows the drawing, and the other way round.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import streamlit as st
from streamlit_drawable_canvas import st_canvas

from aecore import figures, images
from aecore import metrics as M
from aecore.datasets import MNIST_SHAPE, Dataset
from aecore.models import reconstruct
from aecore.store import RunStore
from dashboard.model_cache import load_stored

DIGIT_KEY = "my_digit"  # {"image": (28, 28) float32 in [0, 1], "source": str}
SEEN_KEY = "my_digit.inputs"  # source -> (signature of the input, error sentence or None)
CANVAS_PX = 280  # 10 canvas pixels per MNIST pixel
STROKE_PX = 22  # after scaling a digit drawn at full height into MNIST's 20-pixel box, about 2 pixels wide
UPLOAD_TYPES = ["png", "jpg", "jpeg", "gif", "bmp", "webp", "tif", "tiff"]
MAX_MODELS = 6  # models loaded side by side: each costs memory
TILE_PX = 150  # every digit shown at the same size, whatever the column width
OTHER_SHAPE = "Your digit is a 28 x 28 grey image, so only models of 28 x 28 grey datasets can take it."


def current_digit() -> np.ndarray | None:
    """The last digit drawn or uploaded in this session, (28, 28) in [0, 1], or None."""
    held = st.session_state.get(DIGIT_KEY)
    return None if held is None else held["image"]


def takes_digit(data: Dataset) -> bool:
    """Whether models of this dataset take your digit: its images are MNIST's 28 x 28 grey."""
    return data.input_shape == MNIST_SHAPE


def take_input(source: str, signature: str, convert) -> str | None:
    """Process an input once per new version: convert() -> digit into session state, or its ImageError sentence.

    Returns the error sentence of the input's current version (None when it converted).
    """
    seen = st.session_state.setdefault(SEEN_KEY, {})
    if source in seen and seen[source][0] == signature:
        return seen[source][1]
    try:
        digit = convert()
        error = None
    except images.ImageError as exc:
        digit, error = None, str(exc)
    seen[source] = (signature, error)
    if digit is not None:
        st.session_state[DIGIT_KEY] = {"image": digit, "source": source}
    return error


def upload_input(upload) -> str | None:
    """An st.file_uploader file as the digit; the error sentence if it is not a usable image."""
    if upload is None:
        return None
    return take_input(f"upload '{upload.name}'", upload.file_id, lambda: images.to_mnist(upload.getvalue()))


def canvas_input(result) -> str | None:
    """A drawable-canvas result as the digit (an empty canvas changes nothing); the error sentence, if any."""
    objects = (result.json_data or {}).get("objects") or []
    pixels = result.image_data  # None until the browser has sent a picture
    if not objects or pixels is None:
        return None
    signature = hashlib.sha1(json.dumps(objects, sort_keys=True).encode()).hexdigest()
    return take_input("drawing", signature, lambda: images.from_array(pixels))


def digit_input() -> np.ndarray | None:
    """Draw (canvas) or upload; show the digit as MNIST sees it. The current digit, or None."""
    draw, upload, seen = st.columns([3, 3, 2])
    with draw:
        st.markdown("**Draw a digit**")
        result = st_canvas(stroke_width=STROKE_PX, stroke_color="#FFFFFF", background_color="#000000",
                           width=CANVAS_PX, height=CANVAS_PX, return_image_data=True, key="digit.canvas")
        st.caption("White on black, like MNIST. The canvas toolbar undoes and clears.")
        if error := canvas_input(result):
            st.error(error)
    with upload:
        # One photo of a digit: the server's cap is sized for the Your data page's datasets.
        file = st.file_uploader("Or upload an image of one", type=UPLOAD_TYPES, key="digit.upload", max_upload_size=10,
                                help="A photo or scan of a handwritten digit; dark on light or light on dark.")
        if error := upload_input(file):
            st.error(error)
    digit = current_digit()
    with seen:
        st.markdown("**As MNIST sees it**")
        if digit is None:
            st.caption("Nothing yet: draw a digit or upload an image.")
        else:
            st.image(figures.data_url(figures.png_grid([digit[None]], scale=5)),
                     caption=f"28 x 28, from your {_source()}", width=TILE_PX)
    return digit


def _source() -> str:
    return st.session_state[DIGIT_KEY]["source"]


def reconstructed_by_each(digit: np.ndarray, runs: pd.DataFrame, store: RunStore) -> None:
    """The digit reconstructed by each run (newest first, at most MAX_MODELS), side by side, with per-pixel MSE.

    The runs are of one dataset that takes your digit (takes_digit): the caller checks before any model is loaded.
    """
    x = digit[None, ..., None]
    recons, captions, archs = [], [], []
    for _, row in runs.head(MAX_MODELS).iterrows():
        run = load_stored(store, row["key"])
        if run is None:
            continue
        recon = reconstruct(run.model, x)[0]
        recons.append(recon)
        captions.append(f"{row['run']}: MSE {M.per_example_mse(x, recon[None])[0]:.4f} per pixel")
        archs.append(row["architecture"])
    if not recons:
        st.warning("None of these runs could be loaded from the run cache; train one again on its page.")
        return
    for column, recon, caption in zip(st.columns(len(recons)), recons, captions):
        column.image(figures.data_url(figures.png_grid([recon[None]], scale=5)), caption=caption, width=TILE_PX)
    if len(runs) > MAX_MODELS:
        st.caption(f"The {MAX_MODELS} newest of {len(runs)} runs are shown.")
    sheet = [np.stack([digit[..., None], *recons])]
    names = [["yours", *archs]]
    st.download_button("Download these reconstructions (PNG)", lambda: figures.png_grid(sheet, names),
                       "your-digit.png", mime="image/png", on_click="ignore")
