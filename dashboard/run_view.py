"""RunView: what a page draws from (the run, its data, its store key, where it came from). A leaf of the dashboard."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from aecore.config import RunConfig
from aecore.datasets import Dataset
from aecore.run import Run
from aecore.showcase import COMMAND
from aecore.store import RunStore

# Views (reconstructions, latent scatter) use at most this many test examples, so a
# 10 000-image test set costs no more than mnist-sample's 1000.
VIEW_EXAMPLES = 1000


@dataclass
class RunView:
    """What a page draws from: the run, its data, its store key and where it came from."""

    run: Run
    data: Dataset
    key: str
    store: RunStore
    just_trained: bool  # in this very script run: the training status above the page says so
    ready_made: bool = False  # the page's ready-made run (aecore.showcase), shown before anything was trained here
    trained_here: str | None = None  # "Trained ... in 12.3 s and saved ...", when this session trained it

    @property
    def config(self) -> RunConfig:
        return self.run.config

    @property
    def x_view(self) -> np.ndarray:
        return self.data.x_test[:VIEW_EXAMPLES]

    @property
    def y_view(self) -> np.ndarray | None:
        return None if self.data.y_test is None else self.data.y_test[:VIEW_EXAMPLES]


def when(timestamp: float) -> str:
    """A run's training time as local 'YYYY-MM-DD HH:MM'."""
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(timestamp))


def provenance(view: RunView) -> str:
    """Where a run shown without training came from: 'Loaded from cache (trained 14.2 s on 2025-05-01 10:31):
    <its name>.'"""
    if view.trained_here:
        return view.trained_here
    if view.ready_made:
        return (f"A ready-made run of this page: {view.config.describe()}, trained in {view.run.seconds:.0f} s by "
                f"`{COMMAND}`. Press **Train** to train the form's settings.")
    return (f"Loaded from cache (trained {view.run.seconds:.1f} s on {when(view.run.trained_at)}): "
            f"{view.config.describe()}.")
