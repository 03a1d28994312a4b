"""The Data page's parts: what an upload holds (before it is stored), storing it, and the stored datasets."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.express as px
import streamlit as st

from aecore import limits
from aecore.datasets import library, uploads
from aecore.datasets.catalogue import NAME_MAX, suggested_name
from aecore.errors import DataError
from aecore.limits import MAX_SIDE, MIN_SIDE, mib
from aecore.models import specs
PREVIEW_SLOT = "data.preview"


def limits_caption() -> str:
    """The two numbers an upload must fit: the file size and the memory budget."""
    upload_bytes = st.get_option("server.maxUploadSize") * 2**20  # Streamlit's megabytes are 2**20 bytes
    return (f"Accepted: {uploads.FORMATS}. A file may be up to {mib(upload_bytes)}; its examples may need "
            f"at most {mib(limits.MAX_DATASET_BYTES)} of memory as float32 (a larger dataset can be subsampled). "
            f"Images from {MIN_SIDE} × {MIN_SIDE} to {MAX_SIDE} × {MAX_SIDE} pixels, grey or colour; a folder per "
            "class in a zip gives labels, as does a `label` column in a CSV.")


def inspected(upload) -> uploads.Preview | None:
    """The upload read as a dataset, or None with one sentence when it is not one. Kept in one slot for the
    session, keyed by the upload: a rerun does not decode it again, and another file takes its place."""
    slot = st.session_state.get(PREVIEW_SLOT)
    if slot is None or slot[0] != upload.file_id:
        try:
            found = uploads.inspect(upload.name, upload.getvalue())
        except DataError as exc:
            found = str(exc)
        st.session_state[PREVIEW_SLOT] = slot = (upload.file_id, found)
    found = slot[1]
    if isinstance(found, str):
        st.error(found)
        return None
    return found


def show_preview(preview: uploads.Preview) -> None:
    """What the file holds: counts, shape, value range, memory, labels and examples."""
    shape = " × ".join(map(str, preview.example_shape))
    low, high = preview.value_range
    columns = st.columns(5)
    columns[0].metric("Examples", f"{preview.n:,}", help=f"{preview.n_train:,} to train on, {preview.n_test:,} to "
                      "test on (a seeded 80/20 split)" if not preview.over_budget else None)
    columns[1].metric("Each example", f"{shape}", help="height × width × channels" if preview.kind == "images"
                      else "values per vector")
    columns[2].metric("Values", f"{low:g} to {high:g}", help="as found in the file; stored scaled to 0-1 for "
                      "images, as they are for vectors")
    columns[3].metric("Memory (float32)", mib(preview.float32_bytes),
                      help=f"budget {mib(preview.budget_bytes)}")
    columns[4].metric("Classes", len(preview.label_names) if preview.label_names else "none")
    if preview.kind == "images":
        st.image([_drawable(x) for x in preview.examples], width=72, clamp=True)
    else:
        st.dataframe(pd.DataFrame(preview.examples, columns=[f"x{i + 1}" for i in range(preview.examples.shape[1])]),
                     height=210)
    if preview.label_names:
        counts = pd.DataFrame({"class": list(preview.label_names), "examples": list(preview.label_counts)})
        figure = px.bar(counts, x="class", y="examples", height=240, title="Examples per class")
        figure.update_layout(margin=dict(l=10, r=10, t=40, b=10), xaxis_type="category")
        st.plotly_chart(figure, width="stretch")


def _drawable(image: np.ndarray) -> np.ndarray:
    return image[..., 0] if image.shape[-1] == 1 else image


def store_form(preview: uploads.Preview) -> str | None:
    """Name the dataset (and agree to a subsample when it is over the budget), then store it; its name."""
    subsample = None
    if preview.over_budget:
        st.warning(f"All {preview.n:,} examples would need {mib(preview.float32_bytes)} of memory, over "
                   f"the budget of {mib(preview.budget_bytes)}.")
        if not st.checkbox(f"Keep a random subsample of {preview.suggested_subsample:,} examples", key="data.subsample"):
            return None
        subsample = preview.suggested_subsample
    with st.form("data.store"):
        name = st.text_input("Name", suggested_name(preview.filename), max_chars=NAME_MAX,
                             help=f"1 to {NAME_MAX} letters, digits, '-' or '_'; the Dataset selects and "
                                  "the command line (--dataset NAME) use it")
        pressed = st.form_submit_button("Store the dataset", type="primary")
    if not pressed:
        return None
    try:
        return library.accept(preview, name.strip(), subsample=subsample)
    except DataError as exc:
        st.error(str(exc))
    except OSError as exc:
        st.error(f"The dataset could not be stored in the run cache folder ({exc.strerror or exc}).")
    return None


def train_link(name: str, kind: str) -> None:
    """A link to the page that trains on a stored dataset of this kind, its form set to the dataset."""
    spec = next(spec for spec in specs() if spec.uploads == kind)
    st.page_link(f"app_pages/{spec.name}.py", label=f"Train the {spec.title.lower()} autoencoder on it",
                 icon=":material/arrow_forward:", query_params={"dataset": name})


def stored_table() -> None:
    """The stored uploads: name, kind, source file and classes."""
    entries = [library.entry(name) for name in library.stored_datasets()]
    if not entries:
        st.caption("No dataset has been uploaded yet.")
        return
    rows = [{"name": e.name, "kind": e.kind, "classes": ", ".join(e.label_names or []) or "none"} for e in entries]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    with st.popover("Delete a stored dataset", icon=":material/delete:"):
        name = st.selectbox("Dataset", [e.name for e in entries], key="data.delete.name")
        st.caption("Runs trained on it stay in the run cache; it is no longer offered for training.")
        if st.button(f"Delete {name}", type="primary", key="data.delete.confirm"):
            try:
                library.remove(name)
            except DataError as exc:
                st.error(str(exc))
            else:
                st.rerun()
