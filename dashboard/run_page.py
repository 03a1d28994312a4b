"""An architecture page's run: the sidebar form, then the run of its config (the model cache's or the store's),
or its training through the queue followed in a live panel, or why there is none.

Train submits the config to the process's training queue (aecore.jobs), or joins the job
of the same run another session started; the session follows its job on that page (one
per page) in a live panel (dashboard.views.live) that polls, and the page shows the run
once the job is done.
"""

from __future__ import annotations

import streamlit as st

from aecore import jobs
from aecore.config import RunConfig
from aecore.datasets import DataError, Dataset, load_dataset
from aecore.errors import ConfigError
from aecore.models import check_trainable
from aecore.run import Run
from aecore.store import RunStore, run_key
from dashboard.forms import config_form, defaults_for
from dashboard.model_cache import hold, load_stored, ready_made
from dashboard.run_view import RunView
from dashboard.state import follow, followed_job, get_store, session_alive, subscriber_id, training_queue
from dashboard.views.live import live_panel


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
        said = f"Trained {job.config.describe()} in {job.run.seconds:.1f} s and {kept}."
        # Said again above the run at every later rerun of this session (a tab opened, a slider moved), not
        # turned into "Loaded from cache": for this session it was trained here.
        st.session_state.setdefault("trained_here", {})[job.key] = said
        st.status(said, state="complete", expanded=False)
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
    config, submitted = config_form(arch)
    st.sidebar.page_link("app_pages/data.py", label="Train on your own data", icon=":material/upload_file:")
    store = get_store()
    trained_key = _ended(arch, store)
    try:
        data = load_dataset(config.dataset) if config is not None else None
        if data is not None:
            # Before training: a dataset of the wrong kind, or a model too big for the server, is one sentence.
            check_trainable(config, data)
    except (DataError, ConfigError) as exc:
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
        return RunView(run, data, key, store, key == trained_key, trained_here=st.session_state.get(
            "trained_here", {}).get(key))
    if job is not None and job.active:
        # While it waits or trains, the page is the live panel: the browser redraws the whole page at each of the
        # panel's ticks, and a run drawn below would take that CPU from the training when both share a machine.
        return None
    shown = st.session_state.get(f"shown.{arch}")
    # A first visit on the form's defaults: the ready-made run's own line says that Train trains the form.
    first_sight = not stopped and shown is None and config == defaults_for(arch)
    if not first_sight or (view := _ready_made(arch, store)) is None:
        said = "Training stopped: " if stopped else ""
        st.info(f"{said}**{config.describe()}** has not been trained yet: press **Train** in the sidebar.")
        return _last_shown(arch, store) or _ready_made(arch, store)
    return view  # its own line says what it is, and that Train trains the form's settings


def _last_shown(arch: str, store: RunStore) -> RunView | None:
    """The last run this page showed in this session, while the form's config has none: the page stays usable."""
    key = st.session_state.get(f"shown.{arch}")
    run = load_stored(store, key) if key else None
    view = None if run is None else _view_of(run, key, store)
    if view is not None:
        st.caption(f"Below: the last run shown here, **{run.config.describe()}**.")
    return view


def _ready_made(arch: str, store: RunStore) -> RunView | None:
    """The page's ready-made run, while this session has shown no other here: a first visit is not empty."""
    run = ready_made(arch)
    return None if run is None else _view_of(run, f"ready-made.{arch}", store, ready_made=True)


def _view_of(run, key: str, store: RunStore, ready_made: bool = False) -> RunView | None:
    """A view of a run not trained in this script run; None when its dataset cannot be loaded now."""
    try:
        data = load_dataset(run.config.dataset)
    except DataError:
        return None
    return RunView(run, data, key, store, False, ready_made)


def show_store_problems(store: RunStore) -> None:
    """Tell this session, once, about damaged cache entries the store discarded."""
    if problems := store.take_problems():
        st.warning(" ".join(problems))


def trained_run(page_key: str, config: RunConfig, data: Dataset, store: RunStore, offer: str) -> tuple[str, Run] | None:
    """A run a page needs besides its form's (the Anomaly page's model of all classes but one): (key, run) when
    the store has it or it has just trained; else a button (offer) that trains it through the queue as Train
    does, and the live panel while it waits or trains. page_key names the page's job in this session."""
    _ended(page_key, store)
    key = run_key(config, data.fingerprint)
    job = followed_job(page_key)
    if (job is None or not job.active) and (run := load_stored(store, key)) is not None:
        return key, run
    if job is None or job.key != key:
        estimate = training_queue().estimate_seconds(config, len(data.x_train))
        about = f"about {estimate:.0f} s on this server" if estimate else "timed the first time on this server"
        if st.button(offer, type="primary", icon=":material/model_training:", key=f"{page_key}.train",
                     help=f"Trains through the same queue as the architecture pages ({about})."):
            follow(page_key, training_queue().submit(config, data, store, subscriber_id(), session_alive()))
    if followed_job(page_key) is not None:
        live_panel(page_key)
    return None
