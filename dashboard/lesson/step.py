"""A Lesson step (what the Lesson page draws for one claim of the notes) and the runs a step shows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import streamlit as st

from aecore import lesson
from aecore.config import RunConfig
from aecore.datasets import DataError, load_dataset
from aecore.store import run_key
from dashboard.model_cache import load_stored, ready_made
from dashboard.run_page import trained_run
from dashboard.run_view import RunView
from dashboard.state import get_store


@dataclass(frozen=True)
class Step:
    """One step of the Lesson: its place in the URL (?step=slug), its title, the notes' claim in a sentence or two
    (Markdown), draw(): the live figure from real models and the step's "try it" action, and its word in the step
    bar (short, so the six fit one row of a projector's screen)."""

    slug: str
    title: str
    claim: str
    draw: Callable[[], None]
    word: str


def lesson_run(name: str, offer: str | None = None) -> RunView | None:
    """The lesson run `name` (aecore.lesson.LESSON_RUNS) as a view: the shipped one, else this server's stored run of
    its config, else (with offer) a button that trains it through the queue as the pages' Train does; None until
    there is one (the button or the live panel says so)."""
    config = lesson.LESSON_RUNS[name]
    try:
        data = load_dataset(config.dataset)
    except DataError as exc:
        st.error(str(exc))
        return None
    store = get_store()
    if (run := ready_made(name)) is not None:
        return RunView(run, data, f"ready-made.{name}", store, False, ready_made=True)
    key = run_key(config, data.fingerprint)
    if (run := load_stored(store, key)) is not None:
        return RunView(run, data, key, store, False)
    if offer is None:
        return None
    if (trained := trained_run(f"lesson.{name}", config, data, store, offer)) is None:
        return None
    key, run = trained
    return RunView(run, data, key, store, False)


def ready_made_view(arch: str) -> RunView | None:
    """An architecture's ready-made run (aecore.showcase) as a view; None where none is shown (AECORE_READY_MADE=0, or
    it is stale)."""
    if (run := ready_made(arch)) is None:
        return None
    try:
        data = load_dataset(run.config.dataset)
    except DataError:
        return None
    return RunView(run, data, f"ready-made.{arch}", get_store(), False, ready_made=True)


def view_of(config: RunConfig, page_key: str, offer: str) -> RunView | None:
    """The run of a "try it" config: the lesson's own where config is one of its runs, else this server's stored run,
    else a button (offer) that trains it through the queue as the pages' Train does; None until there is one."""
    for name, lesson_config in lesson.LESSON_RUNS.items():
        if lesson_config == config:
            return lesson_run(name, offer)
    try:
        data = load_dataset(config.dataset)
    except DataError as exc:
        st.error(str(exc))
        return None
    store = get_store()
    if (trained := trained_run(page_key, config, data, store, offer)) is None:
        return None
    key, run = trained
    return RunView(run, data, key, store, False)
