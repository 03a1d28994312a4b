"""This session's state, in st.session_state: its run-store handle, its name in the training queue, the job it
follows on each page, and the keys of the widgets in a page's tabs."""

from __future__ import annotations

import uuid

import streamlit as st
from streamlit import runtime
from streamlit.runtime.scriptrunner import get_script_run_ctx

from aecore import jobs
from aecore.store import RunStore


def view_key(arch: str, name: str, upper: int | None = None) -> str:
    """The session-state key of a widget in one of the page's tabs: sections.tabbed keeps its value while its
    tab is closed (and so not drawn). upper: the widget's upper bound where it follows the run (its dimensions,
    its test images), so that a value kept from a wider run never meets a narrower widget, which Streamlit
    would refuse."""
    return f"{arch}.view.{name}" + (f".of{upper}" if upper is not None else "")


def get_store() -> RunStore:
    """This session's handle on the run store (its `problems` are told to this session once)."""
    if "store" not in st.session_state:
        st.session_state["store"] = RunStore()
    return st.session_state["store"]


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
