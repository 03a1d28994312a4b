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
    """A tiny, fast config of an architecture: its spec's run of seconds, in batches of 64."""
    from aecore.config import RunConfig
    from aecore.models import get_spec

    def make(arch, **overrides):
        return RunConfig.for_arch(arch, **{**get_spec(arch).tiny, "batch_size": 64, **overrides})

    return make


# The one Hypothesis profile, for property tests that set no settings of their own (tests/test_properties.py): no
# deadline per example, as a shared machine's pauses are no bugs, and few enough examples for the default suite.
from hypothesis import HealthCheck, settings  # noqa: E402

settings.register_profile("aecore", deadline=None, max_examples=100, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("aecore")
