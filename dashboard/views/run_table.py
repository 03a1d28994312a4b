"""The stored runs as a table (the Compare page's), and choosers over it (Your digit, Anomaly scores): one row
per stored run, with its bottleneck as its architecture's spec gives it."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from aecore import own_models
from aecore.config import RunConfig
from aecore.datasets import MNIST_SHAPE, DataError, Dataset, holds_images, load_dataset
from aecore.errors import ConfigError
from aecore.models import get_spec, names, takes_images
from aecore.run import Run
from aecore.store import RunStore
from dashboard.model_cache import load_stored

COLUMNS = ["run", "architecture", "dataset", "epochs", "parameters", "bottleneck", "bottleneck size",
           "test MSE (per pixel)", "test BCE (nats per pixel)", "PSNR (dB)", "training time (s)", "trained at", "key"]


def runs_table(entries: list[dict]) -> pd.DataFrame:
    """One row per stored run (run.json dicts), labelled uniquely, with units in the column names."""
    rows = []
    for entry in entries:
        try:
            config = RunConfig.from_dict(entry["config"])
        except (ConfigError, TypeError):  # an architecture this server no longer has, or an older entry's fields
            continue
        m = entry.get("metrics", {})
        # Runs stored before their input shape was recorded: MNIST's, what nearly all of them trained on.
        shape, size = get_spec(config.arch).bottleneck(config, tuple(entry.get("input_shape") or MNIST_SHAPE))
        rows.append({
            "run": config.describe(),
            "architecture": config.arch,
            "dataset": config.dataset,
            "epochs": config.epochs,
            "parameters": entry.get("parameters"),
            "bottleneck": shape,
            "bottleneck size": size,
            "test MSE (per pixel)": m.get("test_mse"),
            "test BCE (nats per pixel)": m.get("test_bce"),
            "PSNR (dB)": m.get("test_psnr"),
            "training time (s)": m.get("seconds"),
            # A time pandas cannot hold (an edited run.json's, past the year 2262) is shown as none.
            "trained at": pd.to_datetime(entry.get("trained_at", 0), unit="s", errors="coerce"),
            "key": entry["key"],
        })
    table = pd.DataFrame(rows, columns=COLUMNS)
    if len(table):
        # Names hold every setting: two runs of one name were trained on different contents of one dataset's name
        # (an upload replaced), and their training time tells them apart.
        repeated = table["run"].duplicated(keep=False)
        table.loc[repeated, "run"] += ", trained " + table.loc[repeated, "trained at"].dt.strftime("%Y-%m-%d %H:%M:%S")
    return table


UPLOADED_KEY = "uploaded:"  # the key column of an uploaded model's row: this prefix and its stored name


def uploaded_table(models: list[own_models.StoredModel]) -> pd.DataFrame:
    """One row per stored uploaded model (aecore.own_models) in runs_table's columns: "uploaded" as its
    architecture, its test errors as measured when it was checked, and no training time (it was never trained
    here)."""
    rows = [{"run": f"{m.name} (uploaded)", "architecture": own_models.ARCHITECTURE, "dataset": m.dataset,
             "parameters": m.parameters, "bottleneck": m.bottleneck or "", "bottleneck size": m.bottleneck_size,
             "test MSE (per pixel)": m.metrics.get("test_mse"),
             "test BCE (nats per pixel)": m.metrics.get("test_bce"), "PSNR (dB)": m.metrics.get("test_psnr"),
             "key": f"{UPLOADED_KEY}{m.name}"} for m in models]
    return pd.DataFrame(rows, columns=COLUMNS)


def image_runs(store: RunStore) -> pd.DataFrame:
    """One row per stored run that may take images (runs_table's rows), newest first."""
    return runs_table([e for e in store.entries()
                       if e["config"]["arch"] in names() and takes_images(e["config"]["arch"])
                       and holds_images(e["config"]["dataset"]) is not False])


def scorable_runs(store: RunStore) -> pd.DataFrame:
    """One row per stored run of an architecture this server has, on images or vectors alike (runs_table's rows),
    newest first: the Anomaly page scores either."""
    return runs_table([e for e in store.entries() if e["config"]["arch"] in names()])


def no_runs_yet() -> None:
    """What to do when the store has no image runs: one sentence and a link."""
    st.info("No image model has been trained yet: train one on the Stacked, Convolutional or Variational page first.")
    st.page_link("app_pages/conv.py", label="Train the convolutional autoencoder", icon=":material/arrow_forward:")


def choose_dataset(table: pd.DataFrame, key: str, vectors: bool = False) -> tuple[str, Dataset] | None:
    """A selectbox over the datasets of the runs (mnist-sample first if present); the loaded dataset or None
    (vectors: a dataset of vectors is taken too, else refused in one sentence)."""
    datasets = sorted(set(table["dataset"]))
    default = datasets.index("mnist-sample") if "mnist-sample" in datasets else 0
    name = st.selectbox("Dataset", datasets, index=default, key=key,
                        help="Models are grouped by the dataset they were trained on.")
    try:
        data = load_dataset(name)
    except DataError as exc:
        st.error(str(exc))
        return None
    if not data.is_image and not vectors:
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
