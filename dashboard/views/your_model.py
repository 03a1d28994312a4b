"""The Your model page's parts: upload a .keras autoencoder and store it for a dataset, the stored models, and what
the page shows of one (test errors, reconstructions, anomaly scores, and through its encoder the latent view and
what its codes are worth).

The shared views take a RunView of a trained run; an uploaded model has no run, so UploadedView carries what those
views read of one (the model, the data, a cache key and the owner of the widget keys) and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import streamlit as st

from aecore import own_models
from aecore.datasets import OFFLINE_DATASETS, VECTOR_DATASETS, Dataset, load_dataset, stored_datasets
from aecore.errors import DataError, ModelError
from aecore.limits import MAX_MODEL_FILE_BYTES, mib
from aecore.models.spec import BCE_QUALITY, MSE_HELP, PSNR_HELP
from dashboard.model_cache import uploaded
from dashboard.run_view import VIEW_EXAMPLES
from dashboard.views import anomaly, common, probe

OWNER = "your_model"  # the views' widget keys start with it, as an architecture page's start with its name
UPLOAD_KEY = "your_model.upload"
CHOSEN_KEY = "your_model.chosen"


@dataclass(frozen=True)
class _Owner:
    arch: str  # what the shared views read of a run's config: the prefix of their widget keys


@dataclass(frozen=True)
class UploadedView:
    """What the shared views (reconstructions, latent space, codes' worth, tabs) read of a RunView."""

    run: own_models.UploadedModel  # .model, as a Run's
    data: Dataset
    key: str  # the caches' key: the model file's content and the dataset's
    parts: bool  # it has sub-models named encoder and decoder, the encoder taking the data (own_models.has_parts)
    config: _Owner = _Owner(OWNER)

    @property
    def x_view(self) -> np.ndarray:
        return self.data.x_test[:VIEW_EXAMPLES]

    @property
    def y_view(self) -> np.ndarray | None:
        return None if self.data.y_test is None else self.data.y_test[:VIEW_EXAMPLES]


def dataset_choices() -> list[str]:
    """The datasets a model can be checked against: the built-ins that never need a network, then the uploads."""
    return [*OFFLINE_DATASETS, *VECTOR_DATASETS, *stored_datasets()]


def upload_section() -> str | None:
    """The uploader, the dataset it is for and a store form; the stored model's name once stored."""
    # Streamlit's own upload bound (megabytes of 2**20 bytes) may be the lower one.
    bound = min(MAX_MODEL_FILE_BYTES, st.get_option("server.maxUploadSize") * 2**20)
    upload = st.file_uploader("A Keras model (.keras)", type=["keras"], key=UPLOAD_KEY,
                              help=f"Saved with model.save('name.keras'), up to {mib(bound)}.")
    if upload is None:
        return None
    with st.form("your_model.store"):
        left, right = st.columns(2)
        dataset = left.selectbox("Dataset it is for", dataset_choices(), key="your_model.dataset",
                                 help="Its input and its output must both be one example of this dataset.")
        name = right.text_input("Name", own_models.suggested_name(upload.name), max_chars=own_models.NAME_MAX,
                                help=f"1 to {own_models.NAME_MAX} letters, digits, '-' or '_'.")
        pressed = st.form_submit_button("Check and store the model", type="primary")
    if not pressed:
        return None
    try:
        own_models.check_file_size(upload.size, upload.name)  # before its bytes are read
        with st.spinner("Checking the model against the dataset..."):
            stored = own_models.accept(upload.name, upload.getvalue(), name.strip(), load_dataset(dataset))
    except (ModelError, DataError) as exc:
        st.error(str(exc))
        return None
    st.success(f"Stored as **{stored.name}**, checked against {stored.dataset}.")
    return stored.name


def stored_table(models: list[own_models.StoredModel]) -> None:
    """The stored models: name, dataset, parameters, test errors, whether it has an encoder and a decoder."""
    rows = [{"name": m.name, "dataset": m.dataset, "parameters": m.parameters,
             "test MSE (per pixel or coordinate)": m.metrics.get("test_mse"),
             "test BCE (nats per pixel)": m.metrics.get("test_bce"),
             "encoder and decoder": "yes" if m.parts else "no", "file": m.source} for m in models]
    st.dataframe(pd.DataFrame(rows), hide_index=True, column_config={
        "parameters": st.column_config.NumberColumn(format="localized"),
        "test MSE (per pixel or coordinate)": st.column_config.NumberColumn(format="%.4f"),
        "test BCE (nats per pixel)": st.column_config.NumberColumn(format="%.4f"),
    })
    with st.popover("Delete a stored model", icon=":material/delete:"):
        name = st.selectbox("Model", [m.name for m in models], key="your_model.delete.name")
        if st.button(f"Delete {name}", type="primary", key="your_model.delete.confirm"):
            try:
                own_models.remove(name)
            except ModelError as exc:
                st.error(str(exc))
            else:
                st.rerun()


def choose(models: list[own_models.StoredModel], just_stored: str | None) -> own_models.StoredModel:
    """A selectbox over the stored models (the one just stored chosen)."""
    names = [m.name for m in models]
    if just_stored in names:
        st.session_state[CHOSEN_KEY] = just_stored
    name = st.selectbox("Show the model", names, key=CHOSEN_KEY)
    return next(m for m in models if m.name == name)


@st.cache_data(max_entries=12, show_spinner="Measuring the test errors...")
def _test_errors(key: str, _model, _data: Dataset) -> dict[str, float]:
    return own_models.test_errors(_model, _data)


def view_of(stored: own_models.StoredModel) -> UploadedView | None:
    """The stored model loaded (once, in the bounded model cache) with its dataset; None with one sentence."""
    try:
        data = load_dataset(stored.dataset)
        held = uploaded(stored)
        own_models.check_fits(held.model, data, stored.name)  # the dataset of that name may have changed
    except (ModelError, DataError) as exc:
        st.error(str(exc))
        return None
    return UploadedView(held, data, stored.key_on(data), own_models.has_parts(held.model, data))


def header(view: UploadedView) -> None:
    """The model's test errors on its dataset's whole test split, with units, and its size."""
    stored = view.run.stored
    m = stored.metrics if stored.fingerprint == view.data.fingerprint else _test_errors(view.key, view.run.model,
                                                                                       view.data)
    per = "pixel" if view.data.is_image else "coord."
    shown = [(f"MSE (per {per})", m.get("test_mse"), "{:.4f}", MSE_HELP)]
    if view.data.is_image:
        shown += [(BCE_QUALITY.title, m.get("test_bce"), BCE_QUALITY.fmt, BCE_QUALITY.help),
                  ("PSNR (dB)", m.get("test_psnr"), "{:.1f}", PSNR_HELP)]
    shown += [("Parameters", stored.parameters, "{:,}", "What Keras's count_params() gives.")]
    for column, (label, value, fmt, meaning) in zip(st.columns(len(shown)), shown):
        column.metric(label, "n/a" if value is None or not np.isfinite(value) else fmt.format(value),
                      help=meaning or None)
    st.caption(f"Uploaded as {stored.source}, checked against {stored.dataset}; never trained here. Errors over "
               f"its {len(view.data.x_test):,} test examples.")


def _anomaly(view: UploadedView) -> None:
    groups, note = anomaly.different_groups(view.data)
    errors = anomaly.reconstruction_errors(view.key, "different", view.run.model, groups)
    anomaly.scores_view(view.key, errors, groups, view.run.model, note)


def _needs_parts(draw):
    def drawn(view: UploadedView) -> None:
        if not view.parts:
            st.info(own_models.parts_sentence(view.run.stored.name))
            return
        draw(view)
    return drawn


VIEWS = {"Reconstructions": common.reconstruction_grid, "Anomaly scores": _anomaly,
         "Latent space": _needs_parts(common.latent), "Codes' worth": _needs_parts(probe.codes_worth)}


def show(view: UploadedView) -> None:
    """The header, then the views in tabs (only the open one drawn)."""
    header(view)
    if not view.parts:
        st.caption(own_models.parts_sentence(view.run.stored.name))
    common.tabbed(view, VIEWS)
