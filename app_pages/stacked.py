"""Stacked: dense encoder, 32-unit bottleneck, mirrored decoder."""

import streamlit as st

from aecore.models import get_spec
from dashboard.views import common
from dashboard.run_page import current_run

st.title("Stacked autoencoder")
st.caption(get_spec("stacked").description)
if view := current_run("stacked"):
    common.standard(view)
