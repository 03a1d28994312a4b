"""Stacked: dense encoder, 32-unit bottleneck, mirrored decoder."""

import streamlit as st

from aecore.config import ARCH_DESCRIPTIONS
from dashboard import sections
from dashboard.runs import current_run

st.title("Stacked autoencoder")
st.caption(ARCH_DESCRIPTIONS["stacked"])
if view := current_run("stacked"):
    sections.standard(view)
