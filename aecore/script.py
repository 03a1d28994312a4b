"""The Keras code of a run: a standalone script (Keras 3 and NumPy only, no aecore) that builds the same network,
loads the same offline data and trains with the same settings."""

from __future__ import annotations

from aecore.config import RunConfig


def keras_script(config: RunConfig) -> str:
    """The standalone Python script that reproduces the run of config."""
    raise NotImplementedError  # being written
