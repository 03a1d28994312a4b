"""get_run: the cache-or-train entry of the CLI and scripts (the app trains through aecore.jobs' queue)."""

from __future__ import annotations

from aecore import distribute
from aecore import train as training
from aecore.config import RunConfig
from aecore.data import Dataset, load_dataset
from aecore.run import Run
from aecore.store import RunStore


def get_run(
    config: RunConfig,
    store: RunStore | None = None,
    progress: training.ProgressFn | None = None,
    data: Dataset | None = None,
    strategy=None,
) -> Run:
    """The run for config: from the store when it has it (cached=True), else trained and saved.

    Under a multiworker strategy every worker trains (a worker that found the run cached would
    leave the others waiting for it) and only the chief saves.
    """
    config = config.validated()
    data = data or load_dataset(config.dataset)
    several_workers = strategy is not None and distribute.is_multiworker(strategy)
    if store is not None and not several_workers:
        run = store.load(config, data.fingerprint)
        if run is not None:
            return run
    run = training.train(config, data, progress, strategy)
    if store is not None and (strategy is None or distribute.is_chief(strategy)):
        store.save(run)
    return run
