"""Variational: the convolutional VAE, with live latent sliders (and your digit), the manifold grid, interpolation,
and the lab: what each dimension carries, the reparameterisation on one image, and a scorecard."""

import streamlit as st

from aecore.models import get_spec
from dashboard import replay_view, sections, vae_lab_view, vae_views
from dashboard.runs import current_run

st.title("Variational autoencoder")
st.caption(get_spec("vae").description + ". Loss per image: reconstruction (summed BCE) + β × KL divergence, in "
           "nats; with β = 1 it is the negative ELBO.")

if view := current_run("vae"):
    sections.header(view)
    tabs = st.tabs(["Latent explorer", "Manifold", "Interpolation", "Dimensions", "Reparameterisation", "Scorecard",
                    "Reconstructions", "Training", "Replay", "Model"])
    with tabs[0]:
        vae_views.explorer(view)
    with tabs[1]:
        vae_views.manifold(view)
    with tabs[2]:
        vae_views.interpolation(view)
    with tabs[3]:
        vae_lab_view.dimensions(view)
    with tabs[4]:
        vae_lab_view.reparameterisation(view)
    with tabs[5]:
        vae_lab_view.scorecard(view)
    with tabs[6]:
        sections.reconstruction_grid(view)
    with tabs[7]:
        sections.training(view)
    with tabs[8]:
        replay_view.replay(view)
    with tabs[9]:
        sections.model_summary(view)
