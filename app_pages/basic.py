"""Basic: the undercomplete autoencoder 3 -> 2 -> 3 against PCA (with a hidden width, curved surfaces too)."""

import streamlit as st

from aecore.models import get_spec
from dashboard.views import basic, code, common
from dashboard.run_page import current_run

st.title("Basic autoencoder")
st.caption(get_spec("basic").description)

if view := current_run("basic"):
    common.header(view)
    common.tabbed(view, {"Point cloud": basic.point_cloud, "Codes": common.latent,
                           "Against PCA": basic.against_pca, "Reconstructions": common.reconstruction_grid,
                           "Training": common.training, "Model": common.model_summary, "Code": code.keras_code})
