"""The ready-made runs: one trained run per architecture, shipped inside the package, that each page shows on a
first visit (before anything was trained there), and the Lesson's small runs (aecore.lesson.LESSON_RUNS), made by
one command: `aecore showcase`.

Each is an entry folder showcase_runs/<name>/ (an architecture's name, or a lesson run's) as the run store writes
them (model.keras, arrays.npz, run.json),
loaded read-only with Keras's safe mode. A run made for another config than the spec's showcase (a changed
default or recipe) or another dataset's contents is stale: it is not shown, and tests/test_showcase.py fails
until `aecore showcase` has made it again. Image runs of a labelled dataset carry their recognisability
(aecore.scorecard): how recognisable their reconstructions are to a classifier of the dataset.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from aecore import lesson, precision, scorecard
from aecore import train as training
from aecore.config import RunConfig
from aecore.datasets import load_dataset
from aecore.files import remove, write_atomic
from aecore.models import build_model, get_spec
from aecore.paths import cache_dir
from aecore.run import Run
from aecore.store import read_entry, run_key, write_entry

FOLDER = Path(__file__).with_name("showcase_runs")
SETTING_ENV = "AECORE_READY_MADE"  # "0": pages open without a ready-made run (the tests' pages, a bare demo)
COMMAND = "python -m aecore showcase"


def enabled() -> bool:
    """Whether pages show ready-made runs (AECORE_READY_MADE is not '0')."""
    return os.environ.get(SETTING_ENV, "1").strip() != "0"


def config_of(name: str) -> RunConfig:
    """The config of a ready-made run: an architecture's defaults with its spec's showcase overrides, or a lesson
    run's own."""
    if name in lesson.LESSON_RUNS:
        return lesson.LESSON_RUNS[name]
    return RunConfig.for_arch(name, **get_spec(name).showcase)


def make(name: str, folder: str | os.PathLike = FOLDER, progress: training.ProgressFn | None = None) -> Run:
    """Train a ready-made run (an architecture's or a lesson run's), measure its recognisability where its data is
    labelled images, and write it to folder/name (replacing what was there, whole or not at all)."""
    with precision.forced(precision.FLOAT32):  # shipped to every machine: the same arithmetic everywhere
        return _make(name, folder, progress)


def _make(name: str, folder, progress) -> Run:
    config = config_of(name)
    data = load_dataset(config.dataset)
    run = training.train(config, data, progress)
    if data.is_image and data.y_test is not None:
        # The classifier is the Scorecard's, cached in the run cache: it is a yardstick, not part of the run.
        classifier = scorecard.get_classifier(data, cache_dir())
        run.metrics.update(scorecard.recognisability(run.model, classifier, data))
    # Shipped without the optimizer's state (two more copies of every weight): a ready-made run is looked at,
    # never trained further. A freshly built model's optimizer holds nothing until its first step.
    weights_only = build_model(config, data.input_shape)
    weights_only.set_weights(run.model.get_weights())
    shipped = dataclasses.replace(run, model=weights_only)
    entry = Path(folder) / name
    entry.parent.mkdir(parents=True, exist_ok=True)
    remove(entry)
    write_atomic(entry, lambda tmp: write_entry(shipped, tmp, run_key(config, data.fingerprint)))
    return shipped


def load(name: str, folder: str | os.PathLike = FOLDER) -> Run | None:
    """A ready-made run by name (an architecture's or a lesson run's), or None when there is none, or it is stale or
    damaged."""
    entry = Path(folder) / name
    if not (entry / "run.json").is_file():
        return None
    try:
        return read_entry(entry, lambda meta: _current(meta, name))
    except Exception:  # stale or damaged: the page opens without it, as it would with none
        return None


def _current(meta: dict, name: str) -> tuple[RunConfig, str]:
    config = RunConfig.from_dict(meta["config"])
    if config != config_of(name):
        raise ValueError(f"made for {config.describe()}, not {config_of(name).describe()}")
    fingerprint = meta["data_fingerprint"]
    if fingerprint != load_dataset(config.dataset).fingerprint:
        raise ValueError("made on other data")
    return config, fingerprint
