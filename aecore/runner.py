"""get_run: the cache-or-train entry of the CLI and scripts (the app trains through aecore.jobs' queue)."""

from __future__ import annotations

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
) -> Run:
    """The run for config: from the store when it has it (cached=True), else trained and saved."""
    config = config.validated()
    data = data or load_dataset(config.dataset)
    if store is not None:
        run = store.load(config, data.fingerprint)
        if run is not None:
            return run
    run = training.train(config, data, progress)
    if store is not None:
        store.save(run)
    return run
