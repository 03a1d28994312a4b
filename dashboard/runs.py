"""The run getter: the shared bounded model cache (runs from the store, and runs just trained), else train.

Every model the server holds sits in one st.cache_resource bounded by MAX_MODELS, keyed
by its run-store key: those loaded from the store and those a session has just trained
alike. They are read-only once there; a model is fitted only before it is put there.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import streamlit as st

from aecore import figures
from aecore import metrics as M
from aecore.config import ConfigError, RunConfig
from aecore.data import DataError, Dataset, load_dataset
from aecore.models import check_fits, warm_up
from aecore.run import Run
from aecore.runner import get_run
from aecore.store import RunStore, run_key
from aecore.train import TrainProgress
from dashboard.forms import config_form

# Views (reconstructions, latent scatter) use at most this many test examples, so a
# 10 000-image test set costs no more than mnist-sample's 1000.
VIEW_EXAMPLES = 1000
# Models the server holds in memory at once, whoever trained or loaded them (README's number).
MAX_MODELS = 6


@dataclass
class RunView:
    """What a page draws from: the run, its data, its store key and where it came from."""

    run: Run
    data: Dataset
    key: str
    store: RunStore
    just_trained: bool  # in this very script run: the training status above the page says so

    @property
    def config(self) -> RunConfig:
        return self.run.config

    @property
    def x_view(self) -> np.ndarray:
        return self.data.x_test[:VIEW_EXAMPLES]

    @property
    def y_view(self) -> np.ndarray | None:
        return None if self.data.y_test is None else self.data.y_test[:VIEW_EXAMPLES]


def get_store() -> RunStore:
    """This session's handle on the run store (its `problems` are told to this session once)."""
    if "store" not in st.session_state:
        st.session_state["store"] = RunStore()
    return st.session_state["store"]


class _Missing(LookupError):
    """Raised inside the cached loader so that a miss is never cached."""


@st.cache_resource(max_entries=MAX_MODELS, show_spinner="Loading the model from the run cache...")
def _held_run(root: str, key: str, _store: RunStore, _trained: Run | None = None) -> Run:
    """The run of key: the one just trained when given (a miss only), else loaded from the store."""
    run = _trained if _trained is not None else _store.load_key(key)
    if run is None:
        raise _Missing(key)
    warm_up(run.model)  # trace inference now, so the first slider move is not the slow one
    return run


def load_stored(store: RunStore, key: str) -> Run | None:
    """A run through the shared bounded model cache (loaded from the store on a miss), or None if absent or
    damaged."""
    try:
        return _held_run(str(store.root), key, store)
    except _Missing:
        return None


def hold(store: RunStore, key: str, run: Run) -> Run:
    """Put a run just trained into the shared bounded model cache, under the bound that every held model
    shares; the held run (an equal one already there wins)."""
    return _held_run(str(store.root), key, store, run)


class StatusProgress:
    """A Keras progress callback drawn as st.status + st.progress: epoch i of n, loss so far, seconds."""

    def __init__(self, config: RunConfig):
        self.status = st.status(f"Training {config.describe()}...", expanded=True)
        with self.status:
            self.bar = st.progress(0.0, text="Building the model...")

    def __call__(self, p: TrainProgress) -> None:
        loss = p.logs.get("loss")
        loss_text = f" · loss {loss:.4g}" if loss is not None else ""
        self.bar.progress(p.fraction, text=f"Epoch {p.epoch} of {p.epochs}{loss_text} · {p.seconds:.1f} s")

    def done(self, run: Run) -> None:
        self.bar.progress(1.0, text=f"Done in {run.seconds:.1f} s")
        self.status.update(label=f"Trained {run.config.describe()} in {run.seconds:.1f} s and saved to the run cache.",
                           state="complete", expanded=False)

    def failed(self, message: str) -> None:
        self.status.update(label=message, state="error", expanded=False)


def current_run(arch: str) -> RunView | None:
    """Draw the sidebar form and return the run of its config, or None (with one sentence saying why).

    Trains only when Train was pressed; a config already trained (this session or in the
    store) is shown at once.
    """
    config, submitted = config_form(arch)
    if config is None:
        return None
    try:
        data = load_dataset(config.dataset)
        check_fits(arch, data)  # before training: a dataset of the wrong kind is one sentence
    except DataError as exc:
        st.error(str(exc))
        return None

    store = get_store()
    key = run_key(config, data.fingerprint)
    run = load_stored(store, key)
    just_trained = False
    if run is None and submitted:
        trained = _train(config, data, store)
        if trained is not None:
            run, just_trained = hold(store, key, trained), True
    show_store_problems(store)
    if run is None:
        if not submitted:
            st.info(f"**{config.describe()}** has not been trained yet: press **Train** in the sidebar.")
        return None
    return RunView(run, data, key, store, just_trained)


def _train(config: RunConfig, data: Dataset, store: RunStore) -> Run | None:
    progress = StatusProgress(config)
    try:
        run = get_run(config, store, progress=progress, data=data)
    except (ConfigError, DataError) as exc:
        progress.failed("Training could not start.")
        st.error(str(exc))
        return None
    except OSError as exc:
        progress.failed("The run could not be saved.")
        st.error(f"The run cache folder '{store.root}' could not be written ({exc.strerror or exc}).")
        return None
    progress.done(run)
    return run


def show_store_problems(store: RunStore) -> None:
    """Tell this session, once, about damaged cache entries the store discarded."""
    if problems := store.take_problems():
        st.warning(" ".join(problems))


def when(timestamp: float) -> str:
    """A run's training time as local 'YYYY-MM-DD HH:MM'."""
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(timestamp))


def provenance(view: RunView) -> str:
    """Where a run shown without training came from: 'Loaded from cache (trained 14.2 s on 2025-05-01 10:31).'"""
    return f"Loaded from cache (trained {view.run.seconds:.1f} s on {when(view.run.trained_at)})."


def model_bytes(view: RunView) -> bytes:
    """The trained model as a .keras file: the store's copy, or a fresh save if the store lost it."""
    stored = view.store.path(view.key) / "model.keras"
    if stored.is_file():
        return stored.read_bytes()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.keras"
        view.run.model.save(path)
        return path.read_bytes()


# Arrays derived from a run, cached by its store key (the leading-underscore arguments
# are not hashed: the key already names the model and the data).


@st.cache_data(max_entries=12, show_spinner=False)
def reconstructions(key: str, _model, _x: np.ndarray) -> np.ndarray:
    """The model's reconstructions of the view's test examples."""
    from aecore.models import reconstruct

    return reconstruct(_model, _x)


@st.cache_data(max_entries=12, show_spinner="Encoding the test set...")
def latent_points(key: str, _model, _x: np.ndarray) -> tuple[np.ndarray, np.ndarray, str]:
    """(codes, 2D points, axis label) of the view's test examples."""
    from aecore.models import encode

    codes = encode(_model, _x)
    points, label = M.project_2d(codes)
    return codes, points, label


@st.cache_resource(max_entries=8, show_spinner=False)
def _latent_scatter(key: str, _points: np.ndarray, _labels: np.ndarray | None, axis_label: str):
    return figures.latent_scatter_base(_points, _labels, axis_label)


def latent_scatter(view: RunView, points: np.ndarray, axis_label: str):
    """The view's latent scatter (costly to build), made once per run and shared by all sessions:
    never mutate it (figures.with_marks copies it)."""
    return _latent_scatter(view.key, points, view.y_view, axis_label)
