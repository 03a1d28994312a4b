"""The Data page's parts: what an upload holds (before it is stored), storing it, and the stored datasets."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.express as px
import streamlit as st

from aecore import uploads
from aecore.data import DATASETS, DataError, MAX_DATASET_BYTES


def _mb(n_bytes: int) -> str:
    return f"{n_bytes / 2**20:,.1f} MB"


def limits_caption() -> str:
    """The two numbers an upload must fit: the file size and the memory budget."""
    upload_mb = st.get_option("server.maxUploadSize")
    return (f"Accepted: {uploads.FORMATS}. A file may be up to {upload_mb} MB; its examples may need at most "
            f"{_mb(MAX_DATASET_BYTES)} of memory as float32 (a larger dataset can be subsampled). Images from "
            "8 × 8 to 128 × 128 pixels, grey or colour; a folder per class in a zip gives labels, as does a "
            "`label` column in a CSV.")


def inspected(upload) -> uploads.Preview | None:
    """The upload read as a dataset (kept for the session, so a rerun does not decode it again), or None with
    one sentence when it is not one."""
    content = upload.getvalue()
    key = "data.preview." + hashlib.sha256(content).hexdigest()[:16]
    if key not in st.session_state:
        try:
            st.session_state[key] = uploads.inspect(upload.name, content)
        except DataError as exc:
            st.session_state[key] = str(exc)
    found = st.session_state[key]
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
    columns[3].metric("Memory (float32)", _mb(preview.float32_bytes), help=f"budget {_mb(preview.budget_bytes)}")
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


def default_name(filename: str) -> str:
    """A stored name from a file name: its stem, with what a name may not hold replaced."""
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", Path(filename).stem).strip("-")[:40] or "my-data"
    return stem if stem.lower() not in {n.lower() for n in DATASETS} else f"my-{stem}"[:40]


def store_form(preview: uploads.Preview) -> str | None:
    """Name the dataset (and agree to a subsample when it is over the budget), then store it; its name."""
    subsample = None
    if preview.over_budget:
        st.warning(f"All {preview.n:,} examples would need {_mb(preview.float32_bytes)} of memory, over the budget "
                   f"of {_mb(preview.budget_bytes)}.")
        if not st.checkbox(f"Keep a random subsample of {preview.suggested_subsample:,} examples", key="data.subsample"):
            return None
        subsample = preview.suggested_subsample
    with st.form("data.store"):
        name = st.text_input("Name", default_name(preview.filename), max_chars=40,
                             help="1 to 40 letters, digits, '-' or '_'; the Dataset selects and the command line "
                                  "(--dataset NAME) use it")
        pressed = st.form_submit_button("Store the dataset", type="primary")
    if not pressed:
        return None
    try:
        return uploads.accept(preview, name.strip(), subsample=subsample)
    except DataError as exc:
        st.error(str(exc))
    except OSError as exc:
        st.error(f"The dataset could not be stored in the run cache folder ({exc.strerror or exc}).")
    return None


def stored_table() -> None:
    """The stored uploads: name, kind, source file and classes."""
    names = uploads.stored_datasets()
    if not names:
        st.caption("No dataset has been uploaded yet.")
        return
    rows = [{"name": name, "kind": uploads.stored_kind(name),
             "classes": ", ".join(uploads.stored_label_names(name) or []) or "none"} for name in names]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
