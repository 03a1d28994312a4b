"""The one bounded model cache of the server, and the arrays and figures derived from a run, cached by its key.

Every model the server holds sits in one st.cache_resource bounded by MAX_MODELS, keyed
by its run-store key: those loaded from the store and those a session has just trained
alike. They are read-only once there; a model is fitted only before it is put there.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import streamlit as st

from aecore import figures, own_models, showcase
from aecore import latent_map as LM
from aecore import metrics as M
from aecore.models import encode, reconstruct, warm_up
from aecore.run import Run
from aecore.store import RunStore
from dashboard.run_view import RunView

# Models the server holds in memory at once, whoever trained or loaded them (docs/RELIABILITY.md's number).
MAX_MODELS = 6


class _Missing(LookupError):
    """Raised inside the cached loader so that a miss is never cached."""


@st.cache_resource(max_entries=MAX_MODELS, show_spinner="Loading the model...")
def _held_run(root: str, key: str, _store: RunStore | None, _trained: Run | None = None,
              _load: Callable[[], Run | None] | None = None) -> Run:
    """The run of key: the one just trained when given (a miss only), else what _load gives, else loaded from
    the store."""
    run = _trained if _trained is not None else _load() if _load is not None else _store.load_key(key)
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


def ready_made(name: str) -> Run | None:
    """A ready-made run (aecore.showcase: an architecture's, or a lesson run's by its name) through the shared
    bounded model cache; None when none is shipped, it is stale, or AECORE_READY_MADE=0."""
    if not showcase.enabled():
        return None
    try:
        return _held_run(str(showcase.FOLDER), f"ready-made.{name}", None, _load=lambda: showcase.load(name))
    except _Missing:
        return None


def uploaded(stored: own_models.StoredModel) -> own_models.UploadedModel:
    """A stored uploaded model (aecore.own_models) through the shared bounded model cache, loaded once per file;
    ModelError (one sentence, never cached) when its file cannot be loaded."""
    return _held_run(str(stored.path.parent), stored.key, None, _load=lambda: own_models.load_stored(stored))


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
    return reconstruct(_model, _x)


@st.cache_data(max_entries=12, show_spinner="Encoding the test set...")
def latent_points(key: str, _model, _x: np.ndarray) -> tuple[np.ndarray, np.ndarray, M.Projection2D]:
    """(codes, 2D points, the projection that drew them) of the view's test examples."""
    codes = encode(_model, _x)
    projection = M.Projection2D.fit(codes)
    return codes, projection.transform(codes), projection


@st.cache_resource(max_entries=8, show_spinner=False)
def _latent_scatter(key: str, _points: np.ndarray, _labels: np.ndarray | None, axis_label: str,
                    label_names: tuple[str, ...] | None, _position: np.ndarray | None):
    return figures.latent_scatter_base(_points, _labels, axis_label, label_names, _position)


def latent_scatter(view: RunView, points: np.ndarray, axis_label: str):
    """The view's latent scatter (costly to build), made once per run and shared by all sessions:
    never mutate it (figures.with_marks copies it)."""
    position = view.data.position_test
    return _latent_scatter(view.key, points, view.y_view, axis_label, view.data.label_names,
                           None if position is None else position[:len(points)])


@st.cache_data(max_entries=24, show_spinner=False)
def latent_map(key: str, method: str, _codes: np.ndarray) -> LM.LatentMap:
    """The view's codes (latent_points') drawn by method (aecore.latent_map.METHODS), computed once per run and
    method; DataError (one sentence, never cached) where the method refuses them."""
    return LM.latent_map(_codes, method)


@st.cache_resource(max_entries=8, show_spinner=False)
def _latent_map_figure(key: str, method: str, thumbnails: bool, _view: RunView, _map: LM.LatentMap,
                       _errors: np.ndarray, error_label: str):
    position = _view.data.position_test
    fig = figures.latent_scatter_base(_map.points, _view.y_view, _map.name, _view.data.label_names,
                                      None if position is None else position[:len(_map.points)], axes=_map.axes,
                                      errors=_errors, error_label=error_label)
    if thumbnails:
        fig = figures.with_thumbnails(fig, _map.points, _view.x_view, LM.spread_subset(_map.points), _view.y_view,
                                      LM.THUMBNAIL_CELLS)
    return fig


def latent_map_figure(view: RunView, drawn: LM.LatentMap, errors: np.ndarray, error_label: str, thumbnails: bool):
    """The latent tab's scatter of a map (its axes named, each point's reconstruction error on hover, the test
    images drawn at evenly spread points when thumbnails), made once per run, method and thumbnails and shared by
    all sessions: never mutate it."""
    return _latent_map_figure(view.key, drawn.method, thumbnails, view, drawn, errors, error_label)
