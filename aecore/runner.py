"""get_run: the one stored-or-trained path, for the CLI, scripts and the app's training queue (aecore.jobs)."""

from __future__ import annotations

from collections.abc import Callable

from aecore import distribute
from aecore import train as training
from aecore.config import RunConfig
from aecore.datasets import Dataset, load_dataset
from aecore.run import Run
from aecore.store import RunStore, run_key


def get_run(
    config: RunConfig,
    store: RunStore | None = None,
    progress: training.ProgressFn | None = None,
    data: Dataset | None = None,
    strategy=None,
    before_save: Callable[[], None] | None = None,
) -> Run:
    """The run for config: from the store when it has it (cached=True), else trained and saved.

    before_save, if given, is called between training and saving, and may raise to keep the run out of
    the store (the queue's Stop). Under a multiworker strategy every worker trains (a worker that found
    the run cached would leave the others waiting for it) and only the chief saves.
    """
    config = config.validated()
    data = data or load_dataset(config.dataset)
    several_workers = strategy is not None and distribute.is_multiworker(strategy)
    if store is not None and not several_workers:
        run = store.load_key(run_key(config, data.fingerprint))
        if run is not None:
            return run
    run = training.train(config, data, progress, strategy)
    if before_save is not None:
        before_save()
    if store is not None and (strategy is None or distribute.is_chief(strategy)):
        store.save(run)
    return run
