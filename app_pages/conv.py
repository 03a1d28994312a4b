"""Convolutional: Conv64 + pool, Conv128 + pool, Conv256 bottleneck at 7x7, mirrored decoder."""

import streamlit as st

from aecore.models import get_spec
from dashboard.views import common
from dashboard.run_page import current_run

st.title("Convolutional autoencoder")
st.caption(get_spec("conv").description + ". The width multiplier scales every filter count (1.0 = the notes' network).")
if view := current_run("conv"):
    common.standard(view)
