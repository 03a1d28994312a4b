"""Variational: the convolutional VAE, with live latent sliders (and your digit), the manifold grid, interpolation,
and the lab: what each dimension carries, the reparameterisation on one image, and a scorecard."""

import streamlit as st

from aecore.models import get_spec
from aecore.models.spec import NATS_PER_IMAGE
from dashboard.views import code, common, probe, replay, vae, vae_lab
from dashboard.run_page import current_run

SPEC = get_spec("vae")
OURS, NOTES = SPEC.defaults["latent_dim"], SPEC.notes_overrides["latent_dim"]
st.title("Variational autoencoder")
st.caption(SPEC.description + ". Loss per image: reconstruction (summed BCE) + β × KL divergence, in "
           f"{NATS_PER_IMAGE}; with β = 1 it is the negative ELBO. {OURS} latent dimensions by default, where the "
           f"notes have {NOTES}: with {NOTES}, a classifier recognises far fewer of its reconstructions (set *Latent "
           f"dimensions* to {NOTES} for the notes' own).")

if view := current_run("vae"):
    common.header(view)
    views = {"Latent explorer": vae.explorer, "Manifold": vae.manifold,
             "Interpolation": vae.interpolation, "Dimensions": vae_lab.dimensions,
             "Reparameterisation": vae_lab.reparameterisation, "Scorecard": vae_lab.scorecard,
             "Latent map": common.latent, "Reconstructions": common.reconstruction_grid,
             "Codes' worth": probe.codes_worth, "Training": common.training,
             "Replay": replay.replay, "Model": common.model_summary, "Code": code.keras_code}
    common.tabbed(view, views)
