"""Choosing stored image runs, for the pages that work across runs (Your digit, Anomaly scores)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from aecore.data import DataError, Dataset, holds_images, load_dataset
from aecore.models import names, takes_images
from aecore.run import Run
from aecore.store import RunStore
from dashboard.compare import runs_table
from dashboard.runs import load_stored


def image_runs(store: RunStore) -> pd.DataFrame:
    """One row per stored run that may take images (runs_table's rows), newest first."""
    return runs_table([e for e in store.entries()
                       if e["config"]["arch"] in names() and takes_images(e["config"]["arch"])
                       and holds_images(e["config"]["dataset"]) is not False])


def no_runs_yet() -> None:
    """What to do when the store has no image runs: one sentence and a link."""
    st.info("No image model has been trained yet: train one on the Stacked, Convolutional or Variational page first.")
    st.page_link("app_pages/conv.py", label="Train the convolutional autoencoder", icon=":material/arrow_forward:")


def choose_dataset(table: pd.DataFrame, key: str) -> tuple[str, Dataset] | None:
    """A selectbox over the datasets of the runs (mnist-sample first if present); the loaded dataset or None."""
    datasets = sorted(set(table["dataset"]))
    default = datasets.index("mnist-sample") if "mnist-sample" in datasets else 0
    name = st.selectbox("Dataset", datasets, index=default, key=key,
                        help="Models are grouped by the dataset they were trained on.")
    try:
        data = load_dataset(name)
    except DataError as exc:
        st.error(str(exc))
        return None
    if not data.is_image:
        st.info(f"The dataset '{name}' holds vectors, not images; choose an image dataset.")
        return None
    return name, data


def choose_run(table: pd.DataFrame, store: RunStore, key: str) -> tuple[str, Run] | None:
    """A selectbox over the table's runs (newest first); (store key, run) through the cached loader, or None."""
    labels = table["run"].tolist()
    label = st.selectbox("Model", labels, key=key, help="Every stored run of this dataset, newest first.")
    run_key = table.loc[table["run"] == label, "key"].iloc[0]
    run = load_stored(store, run_key)
    if run is None:
        st.warning("This run could not be loaded from the run cache; train it again on its page.")
        return None
    return run_key, run
