"""The Anomaly page's held-out set-up: a model of every class but one, scored on the one it never saw."""

from __future__ import annotations

import dataclasses
import math

import numpy as np

import streamlit as st

from aecore.datasets import DataError, OFFLINE_DATASETS, held_out_name, label_text, load_dataset
from aecore.errors import ConfigError
from aecore.models import check_trainable, get_spec, specs, takes_images
from aecore.store import RunStore
from dashboard.forms import defaults_for
from dashboard.run_page import trained_run
from dashboard.state import followed_job
from dashboard.views.anomaly import held_out_groups, reconstruction_errors, scores_view

PAGE_KEY = "anomaly"  # the Anomaly page's job in this session's state
# The page's first offer: a narrow code that must learn the classes it saw (measured: docs/PERFORMANCE.md,
# "Held-out digits"); conv's code is wider than the image and reconstructs an unseen digit as well as any.
DEFAULT_ARCH = "stacked"


def section(store: RunStore) -> None:
    """Pick the dataset, the class left out and the architecture; train that run if it is not stored; score it."""
    archs = [spec.name for spec in specs() if takes_images(spec.name)]
    left, middle, right = st.columns(3)
    base = left.selectbox("Dataset", OFFLINE_DATASETS, key="anomaly.held.base",
                          help="The labelled image datasets on this machine.")
    full = load_dataset(base)
    classes = sorted(set(full.y_train.tolist()))
    label = middle.selectbox("Class left out", classes,
                             format_func=lambda v: label_text(v, full.label_names), key=f"anomaly.held.label.{base}")
    arch = right.selectbox("Architecture", archs, index=archs.index(DEFAULT_ARCH) if DEFAULT_ARCH in archs else 0,
                           format_func=lambda name: get_spec(name).title,
                           key="anomaly.held.arch")
    try:
        data = load_dataset(held_out_name(base, label))
        config = dataclasses.replace(defaults_for(arch), dataset=data.name).validated()
        check_trainable(config, data)
    except (DataError, ConfigError) as exc:
        st.error(str(exc))
        return
    picked = trained_run(PAGE_KEY, config, data, store, f"Train {config.describe()}")
    if picked is None:
        if followed_job(PAGE_KEY) is not None:  # its live panel is up
            return
        st.info(f"No run of **{config.describe()}** is stored yet: train it to score "
                f"{label_text(label, full.label_names)} against the other classes.")
        return
    key, run = picked
    groups = held_out_groups(data, label)
    errors = reconstruction_errors(key, f"held out {label}", run.model, groups)
    scores_view(key, errors, groups, run.model)
    _why(config, data, errors, label_text(label, full.label_names))


def _why(config, data, errors: dict, name: str) -> None:
    """What a low score means: the unseen class reconstructs as well as the others, and where that comes from."""
    normal, unseen = errors.values()
    shape, size = get_spec(config.arch).bottleneck(config, data.input_shape)
    pixels = math.prod(data.input_shape)
    if size >= pixels:
        st.warning(f"This model's code ({shape}, {size:,} values) holds at least as many values as an image "
                   f"({pixels:,} pixels): it can reconstruct almost any image, seen or not, so the {name}s it never "
                   "saw come back nearly as well as the rest. A narrower code (Stacked's) must learn the classes it "
                   "saw, and scores the unseen one higher.")
    elif np.median(unseen) < np.median(normal):
        st.info(f"The {name}s it never saw reconstruct better than the rest: reconstruction error counts ink, and a "
                f"{name} has less of it than most images. A class with more ink stands out more.")
