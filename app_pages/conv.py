"""Convolutional: Conv + pool twice, a 7x7 bottleneck, mirrored decoder."""

import streamlit as st

from aecore.models import get_spec
from dashboard.views import common
from dashboard.run_page import current_run

st.title("Convolutional autoencoder")
st.caption(get_spec("conv").description + ".")
if view := current_run("conv"):
    common.standard(view)
