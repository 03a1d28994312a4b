"""Your data: upload a .npz, a zip of images or a CSV, see what it holds, and store it for every page."""

import streamlit as st

from aecore.datasets import uploads
from dashboard.views import data

st.title("Your data")
st.caption(data.limits_caption())

upload = st.file_uploader("A dataset file", type=list(uploads.UPLOAD_TYPES), key="data.upload")
if upload is not None and (preview := data.inspected(upload)) is not None:
    st.subheader(f"What {upload.name} holds")
    data.show_preview(preview)
    if name := data.store_form(preview):
        st.success(f"Stored as **{name}**: choose it in the Dataset select of any architecture page, or "
                   f"`python -m aecore train --dataset {name}`.")
        data.train_link(name, preview.kind)

st.subheader("Stored datasets")
data.stored_table()
