"""Basic: the undercomplete autoencoder 3 -> 2 -> 3 against PCA (with a hidden width, curved surfaces too)."""

import streamlit as st

from aecore.models import get_spec
from dashboard import basic_view, sections
from dashboard.runs import current_run

st.title("Basic autoencoder")
st.caption(get_spec("basic").description)

if view := current_run("basic"):
    sections.header(view)
    tabs = st.tabs(["Point cloud", "Codes", "Against PCA", "Reconstructions", "Training", "Model"])
    with tabs[0]:
        basic_view.point_cloud(view)
    with tabs[1]:
        sections.latent(view)
    with tabs[2]:
        basic_view.against_pca(view)
    with tabs[3]:
        sections.reconstruction_grid(view)
    with tabs[4]:
        sections.training(view)
    with tabs[5]:
        sections.model_summary(view)
