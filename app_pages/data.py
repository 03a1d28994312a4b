"""Your data: upload a .npz, a zip of images or a CSV, see what it holds, and store it for every page."""

import streamlit as st

from aecore import uploads
from dashboard import data_view

st.title("Your data")
st.caption(data_view.limits_caption())

upload = st.file_uploader("A dataset file", type=list(uploads.UPLOAD_TYPES), key="data.upload")
if upload is not None and (preview := data_view.inspected(upload)) is not None:
    st.subheader(f"What {upload.name} holds")
    data_view.show_preview(preview)
    if name := data_view.store_form(preview):
        st.success(f"Stored as **{name}**: choose it in the Dataset select of any architecture page, or "
                   f"`python -m aecore train --dataset {name}`.")
        data_view.train_link(name, preview.kind)

st.subheader("Stored datasets")
data_view.stored_table()
