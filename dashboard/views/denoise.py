"""The Denoising tab of the stacked and convolutional pages: noisy / clean / reconstructed triplets and PSNR gains."""

from __future__ import annotations

import numpy as np
import streamlit as st

from aecore import denoise, figures
from aecore.config import RunConfig
from aecore.models import reconstruct
from dashboard.run_view import RunView, VIEW_EXAMPLES
from dashboard.state import view_key


@st.cache_data(max_entries=4, show_spinner=False)
def noisy_view_inputs(key: str, _config: RunConfig, _x_test: np.ndarray) -> np.ndarray:
    """The noisy inputs of the view's test images, exactly those the run's test metrics used."""
    return denoise.noisy_test_inputs(_x_test, _config)[:VIEW_EXAMPLES]


@st.fragment
def denoising(view: RunView) -> None:
    """PSNR of noisy inputs and of reconstructions over the test set, and triplets of chosen test images.

    A fragment: its own widgets rerun only this view, not the page."""
    st.subheader("Denoising")
    config = view.config
    if not config.noise:
        # A hint, not an alert: a run without noise is the normal case.
        st.markdown(":material/info: This run was trained without noise. Set **Noise level** above 0 in the "
                    "sidebar and train: the model then learns to map noisy inputs to the clean images.")
        return
    m = view.run.metrics
    gain = denoise.overall_gain_db(m)
    shown = [("Noise level (std, pixels in 0–1)", f"{config.noise:g}"),
             ("Noisy input PSNR (dB)", f"{m['noisy_psnr']:.1f}" if "noisy_psnr" in m else "n/a"),
             ("Reconstruction PSNR (dB)", f"{m['test_psnr']:.1f}" if "test_psnr" in m else "n/a"),
             ("PSNR gain (dB)", f"{gain:+.1f}" if gain is not None else "n/a")]
    for column, (label, value) in zip(st.columns(len(shown)), shown):
        column.metric(label, value)

    arch = config.arch
    left, right = st.columns([3, 1])
    how_many = left.slider("How many", 2, 12, 6, key=view_key(arch, "denoise.count"))
    seed = right.number_input("Seed", 0, 10_000, 0, key=view_key(arch, "denoise.seed"))
    clean = view.x_view
    noisy = noisy_view_inputs(view.key, config, view.data.x_test)
    idx = np.random.default_rng(seed).choice(len(clean), size=how_many, replace=False)
    recon = reconstruct(view.run.model, noisy[idx])
    noisy_psnr = denoise.psnr_db(clean[idx], noisy[idx])
    recon_psnr = denoise.psnr_db(clean[idx], recon)
    st.plotly_chart(figures.image_grid(
        [noisy[idx], clean[idx], recon],
        [[f"noisy {p:.1f} dB" for p in noisy_psnr],
         [view.data.test_title(i) for i in idx],
         [f"{p:.1f} dB ({p - q:+.1f})" for p, q in zip(recon_psnr, noisy_psnr)]],
        tile_px=130,  # three rows of titles need the room
    ), key=f"{arch}.denoise.grid")
    st.caption("Top: noisy inputs, with their PSNR against the clean image. Middle: the clean test images "
               "(index and label). Bottom: the model's reconstructions of the noisy inputs, with their PSNR "
               "and, in brackets, the gain over the noisy input, in dB. Test-set PSNRs above are of the mean "
               "per-pixel MSE over all test images.")
