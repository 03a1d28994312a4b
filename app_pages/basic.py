"""Basic: the undercomplete autoencoder 3 -> 2 -> 3 against PCA (with a hidden width, curved surfaces too)."""

import streamlit as st

from aecore.models import get_spec
from dashboard import basic_view, sections
from dashboard.runs import current_run

st.title("Basic autoencoder")
st.caption(get_spec("basic").description)

if view := current_run("basic"):
    sections.header(view)
    sections.tabbed(view, {"Point cloud": basic_view.point_cloud, "Codes": sections.latent,
                           "Against PCA": basic_view.against_pca, "Reconstructions": sections.reconstruction_grid,
                           "Training": sections.training, "Model": sections.model_summary})
