"""Variational: the convolutional VAE, with live latent sliders (and your digit), the manifold grid and interpolation."""

import streamlit as st

from aecore.models import get_spec
from dashboard import replay_view, sections, vae_views
from dashboard.runs import current_run

st.title("Variational autoencoder")
st.caption(get_spec("vae").description + ". Loss per image: reconstruction (summed BCE) + KL divergence, in nats.")

if view := current_run("vae"):
    sections.header(view)
    tabs = st.tabs(["Latent explorer", "Manifold", "Interpolation", "Reconstructions", "Training", "Replay", "Model"])
    with tabs[0]:
        vae_views.explorer(view)
    with tabs[1]:
        vae_views.manifold(view)
    with tabs[2]:
        vae_views.interpolation(view)
    with tabs[3]:
        sections.reconstruction_grid(view)
    with tabs[4]:
        sections.training(view)
    with tabs[5]:
        replay_view.replay(view)
    with tabs[6]:
        sections.model_summary(view)
