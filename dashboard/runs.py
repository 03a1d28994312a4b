"""The run getter: the shared bounded model cache (runs from the store, and runs just trained), else train.

Every model the server holds sits in one st.cache_resource bounded by MAX_MODELS, keyed
by its run-store key: those loaded from the store and those a session has just trained
alike. They are read-only once there; a model is fitted only before it is put there.

Train submits the config to the process's training queue (aecore.jobs), or joins the job
of the same run another session started; the session follows its job on that page (one
per page) in a live panel (dashboard.live_view) that polls, and the page shows the run
once the job is done.
"""

from __future__ import annotations

import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import streamlit as st

from aecore import figures, jobs
from aecore import metrics as M
from aecore.config import RunConfig
from aecore.data import DataError, Dataset, load_dataset
from aecore.models import check_fits, warm_up
from aecore.run import Run
from aecore.store import RunStore, run_key
from dashboard.forms import config_form

# Views (reconstructions, latent scatter) use at most this many test examples, so a
# 10 000-image test set costs no more than mnist-sample's 1000.
VIEW_EXAMPLES = 1000
# Models the server holds in memory at once, whoever trained or loaded them (README's number).
MAX_MODELS = 6


def view_key(arch: str, name: str, upper: int | None = None) -> str:
    """The session-state key of a widget in one of the page's tabs: sections.tabbed keeps its value while its
    tab is closed (and so not drawn). upper: the widget's upper bound where it follows the run (its dimensions,
    its test images), so that a value kept from a wider run never meets a narrower widget, which Streamlit
    would refuse."""
    return f"{arch}.view.{name}" + (f".of{upper}" if upper is not None else "")


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


def training_queue() -> jobs.TrainingQueue:
    """The server's one training queue."""
    return jobs.shared_queue()


def subscriber_id() -> str:
    """This session's name in the training queue."""
    if "training.subscriber" not in st.session_state:
        st.session_state["training.subscriber"] = uuid.uuid4().hex
    return st.session_state["training.subscriber"]


def session_alive():
    """A check of whether this session's browser is still connected (None outside a server, as in AppTest):
    a closed tab leaves the queue at once, without waiting for its heartbeats to lapse."""
    from streamlit import runtime
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    if ctx is None or not runtime.exists():
        return None
    server, session_id = runtime.get_instance(), ctx.session_id
    return lambda: server.is_active_session(session_id)


def followed_job(arch: str) -> jobs.Job | None:
    """The job this session follows on the page of arch (pressed Train, not yet shown), if any."""
    return st.session_state.get(f"training.{arch}")


def follow(arch: str, job: jobs.Job | None) -> None:
    """Follow job on arch's page (None: follow none), leaving the one followed before."""
    before = followed_job(arch)
    if before is not None and before is not job:
        training_queue().leave(before, subscriber_id())
    if job is None:
        st.session_state.pop(f"training.{arch}", None)
    else:
        st.session_state[f"training.{arch}"] = job


def stop(arch: str) -> None:
    """Stop following this page's job (a job nobody follows is cancelled and stores nothing)."""
    job = followed_job(arch)
    follow(arch, None)
    if job is not None:
        st.session_state[f"training.{arch}.stopped"] = job.key


def _ended(arch: str, store: RunStore) -> str | None:
    """Take this page's followed job if it has ended and say how, once: one status line when it trained
    (its run held in the model cache), one sentence when it failed or was stopped. The key of a run just
    trained, else None."""
    job = followed_job(arch)
    if job is None or job.active:
        return None
    follow(arch, None)
    if job.state is jobs.JobState.DONE and job.run is not None:
        hold(store, job.key, job.run)
        st.session_state[f"shown.{arch}"] = job.key  # shown below, should the form have moved on meanwhile
        if job.run.cached:  # another process saved it meanwhile: the header says where it came from
            return None
        kept = "saved to the run cache" if job.saved else "not kept in the run cache"
        st.status(f"Trained {job.config.describe()} in {job.run.seconds:.1f} s and {kept}.", state="complete",
                  expanded=False)
        return job.key
    if job.state is jobs.JobState.FAILED:
        st.error(job.error or "Training failed.")
    else:  # no page of this session polled it for a while (a tab left in the background)
        st.warning(f"Training {job.config.describe()} was stopped: this page had not been seen for a while.")
    return None


def current_run(arch: str) -> RunView | None:
    """Draw the sidebar form and return the run of its config, or None (with one sentence saying why).

    Train submits the config to the training queue (or joins the job of the same run); while the job is
    queued or trains, a live panel shows it, above the last run this page showed (if any). A config already
    trained (this session or in the store) is shown at once.
    """
    from dashboard.live_view import live_panel

    config, submitted = config_form(arch)
    st.sidebar.page_link("app_pages/data.py", label="Train on your own data", icon=":material/upload_file:")
    store = get_store()
    trained_key = _ended(arch, store)
    try:
        data = load_dataset(config.dataset) if config is not None else None
        if data is not None:
            check_fits(arch, data)  # before training: a dataset of the wrong kind is one sentence
    except DataError as exc:
        st.error(str(exc))
        data = None
    if data is None:  # the form's values make no run (the sentence is out): a training under way goes on
        if followed_job(arch) is not None:  # no panel, no poll
            live_panel(arch)
        return None

    key = run_key(config, data.fingerprint)
    job = followed_job(arch)
    # While this page's own job for the run is still going (saving it, say), the store is not asked: its copy
    # would be loaded into the shared model cache for nothing, and the job's end says "Trained", not "Loaded
    # from cache".
    following = job is not None and job.key == key and job.active
    run = None if following else load_stored(store, key)
    if submitted and (job is None or job.key != key):
        job = training_queue().submit(config, data, store, subscriber_id(), session_alive()) if run is None else None
        follow(arch, job)
        following = job is not None
    stopped = st.session_state.pop(f"training.{arch}.stopped", None) == key
    if job is not None:
        live_panel(arch)
    show_store_problems(store)
    if run is not None:
        st.session_state[f"shown.{arch}"] = key
        return RunView(run, data, key, store, key == trained_key)
    if not following:
        said = "Training stopped: " if stopped else ""
        st.info(f"{said}**{config.describe()}** has not been trained yet: press **Train** in the sidebar.")
    return _last_shown(arch, store)


def _last_shown(arch: str, store: RunStore) -> RunView | None:
    """The last run this page showed in this session, while the form's config has none: the page stays usable."""
    key = st.session_state.get(f"shown.{arch}")
    run = load_stored(store, key) if key else None
    if run is None:
        return None
    try:
        data = load_dataset(run.config.dataset)
    except DataError:
        return None
    st.caption(f"Below: the last run shown here, **{run.config.describe()}**.")
    return RunView(run, data, key, store, False)


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
def _latent_scatter(key: str, _points: np.ndarray, _labels: np.ndarray | None, axis_label: str,
                    label_names: tuple[str, ...] | None):
    return figures.latent_scatter_base(_points, _labels, axis_label, label_names)


def latent_scatter(view: RunView, points: np.ndarray, axis_label: str):
    """The view's latent scatter (costly to build), made once per run and shared by all sessions:
    never mutate it (figures.with_marks copies it)."""
    return _latent_scatter(view.key, points, view.y_view, axis_label, view.data.label_names)
