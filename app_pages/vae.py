"""Variational: the convolutional VAE, with live latent sliders (and your digit), the manifold grid, interpolation,
and the lab: what each dimension carries, the reparameterisation on one image, and a scorecard."""

import streamlit as st

from aecore.models import get_spec
from aecore.models.spec import NATS_PER_IMAGE
from dashboard import replay_view, sections, vae_lab_view, vae_views
from dashboard.runs import current_run

st.title("Variational autoencoder")
st.caption(get_spec("vae").description + ". Loss per image: reconstruction (summed BCE) + β × KL divergence, in "
           f"{NATS_PER_IMAGE}; with β = 1 it is the negative ELBO.")

if view := current_run("vae"):
    sections.header(view)
    views = {"Latent explorer": vae_views.explorer, "Manifold": vae_views.manifold,
             "Interpolation": vae_views.interpolation, "Dimensions": vae_lab_view.dimensions,
             "Reparameterisation": vae_lab_view.reparameterisation, "Scorecard": vae_lab_view.scorecard,
             "Reconstructions": sections.reconstruction_grid, "Training": sections.training,
             "Replay": replay_view.replay, "Model": sections.model_summary}
    sections.tabbed(view, views)
