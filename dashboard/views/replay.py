"""The Replay tab: a fixed set of test images reconstructed before training and after every epoch."""

from __future__ import annotations

import numpy as np
import streamlit as st

from aecore import denoise, figures
from aecore import metrics as M
from aecore.config import RunConfig
from aecore.datasets import Dataset
from dashboard.run_view import RunView
from dashboard.state import view_key
def replay_rows(data: Dataset, config: RunConfig, count: int) -> tuple[list[np.ndarray], list[list[str]]]:
    """The rows above a replay's reconstructions of the first count test images, with titles: (noisy inputs,)
    targets. The Replay tab and the live panel both draw these."""
    targets = data.x_test[:count]
    titles = [data.test_title(i) for i in range(len(targets))]
    if not config.noise:
        return [targets], [titles]
    noisy = denoise.replay_inputs(data.x_test, config)
    return [noisy, targets], [["noisy input"] * len(targets), titles]


def rows_described(config: RunConfig) -> str:
    """What the rows above the reconstructions are, top down, as a caption starts."""
    if config.noise:
        return "Top: the noisy inputs the model sees; middle: the clean targets"
    return "Top: the first test images"


@st.fragment
def replay(view: RunView) -> None:
    """A slider scrubbing through the epochs, and the replay as an animated GIF."""
    st.subheader("Training replay")
    frames = view.run.replay
    if frames is None:
        st.info("This run has no training replay: replays are recorded for image datasets only.")
        return
    frames = frames.astype(np.float32)  # stored as float16
    last = len(frames) - 1
    rows, titles = replay_rows(view.data, view.config, frames.shape[1])
    # The browser plays the GIF itself: no rerun per frame, so it is smooth however loaded the server is.
    if st.toggle("Play", key=view_key(view.config.arch, "replay.play"), help="Play the epochs as an animation"):
        st.image(_gif(view.key, frames, rows, titles), output_format="GIF",
                 caption=f"{rows_described(view.config)}; bottom: their reconstructions, from before training to "
                         f"epoch {last}, then again.")
        return
    # Keyed by run: another run has another number of epochs (and starts at its last).
    epoch = st.slider("Epoch (0 = before training)", 0, last, last,
                      key=view_key(view.config.arch, f"replay.epoch.{view.key}"))
    targets = rows[-1]
    errors = M.per_example_mse(targets, frames[epoch])
    st.plotly_chart(figures.image_grid([*rows, frames[epoch]], [*titles, [f"MSE {e:.4f}" for e in errors]],
                                       tile_px=130 if len(rows) > 1 else 110),  # three rows of titles need room
                    key="replay.grid")
    when = "before training" if epoch == 0 else f"after epoch {epoch} of {last}"
    st.caption(f"{rows_described(view.config)}; bottom: their reconstructions {when}, with per-pixel MSE "
               f"(mean {errors.mean():.4f} per pixel).")
    st.download_button("Download the replay (GIF)", lambda: _gif(view.key, frames, rows, titles),
                       f"{view.config.arch}-{view.key[:8]}-replay.gif", mime="image/gif", on_click="ignore")


@st.cache_data(max_entries=4, show_spinner=False)
def _gif(key: str, _frames: np.ndarray, _rows: list, _titles: list) -> bytes:
    """The run's replay as an animated GIF, made once per run (the key names it)."""
    return figures.replay_gif(_frames, _rows, _titles)
