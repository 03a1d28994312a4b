"""Run: the record of one trained model, its history per epoch, test metrics and training replay."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import keras
    import numpy as np

    from aecore.config import RunConfig


@dataclass
class Run:
    """A trained model with its history (per epoch), test metrics and timings."""

    config: RunConfig
    model: keras.Model
    history: dict[str, list[float]]
    metrics: dict[str, float]
    data_fingerprint: str
    replay: np.ndarray | None = None  # (epochs + 1, replay images, *example shape): before training, then per epoch
    cached: bool = False
    trained_at: float = field(default_factory=time.time)
    placement: dict | None = None  # where it trained: strategy, devices, replicas, workers (aecore.distribute)

    @property
    def seconds(self) -> float:
        return self.metrics["seconds"]

    def summary(self) -> dict:
        """The JSON-ready facts of this run (what the CLI prints and the store keeps)."""
        return {
            **self.config.key_dict(),  # arch, dataset and the settings this architecture uses
            "cached": self.cached,
            "parameters": int(self.model.count_params()),
            **self.metrics,
            **(self.placement or {}),
        }
