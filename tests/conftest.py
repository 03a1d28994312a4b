"""Shared fixtures. Every test gets a fresh run cache; nothing touches ~/.cache or the network."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("AECORE_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture
def store(tmp_path):
    from aecore.store import RunStore

    return RunStore(tmp_path / "store")


@pytest.fixture
def tiny():
    """A tiny, fast config of an architecture (1 epoch, 256 training images)."""
    from aecore.config import RunConfig

    def make(arch, **overrides):
        base = dict(epochs=1, train_size=256, batch_size=64)
        if arch == "conv":
            base["width"] = 0.25
        if arch == "basic":
            base.pop("train_size")
        base.update(overrides)
        return RunConfig.for_arch(arch, **base)

    return make
