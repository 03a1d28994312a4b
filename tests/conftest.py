"""Shared fixtures. Every test gets a fresh run cache; nothing touches ~/.cache or the network.

The Hypothesis settings of every property test are the one profile registered here.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402

from tests.helpers import tiny_config  # noqa: E402

settings.register_profile(
    "aecore",
    max_examples=60,
    deadline=None,  # a first example pays for imports and warm-up
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],  # tmp_path: never reused
)
settings.load_profile("aecore")


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
    return tiny_config
