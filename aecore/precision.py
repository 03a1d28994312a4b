"""The arithmetic a model is built to train in: float32, or mixed bfloat16 where it was measured to pay.

An architecture names the CPU features under which mixed bfloat16 trains it faster at equal test quality
(ArchSpec.bfloat16_on, measured on such a CPU: docs/PERFORMANCE.md); on any other machine, and wherever a GPU
is visible (not measured), it trains in the caller's Keras policy: float32, unless a data team set a mixed
policy of its own. AECORE_PRECISION=float32 or mixed_bfloat16 forces one (tests, benchmarks); auto, or unset,
chooses. The ready-made runs are made in float32, so that they look and evaluate the same on every machine.
The run cache's key leaves the precision out: a run is the same run whichever arithmetic trained it.

Keras keeps its dtype policy per thread, so building under a policy here leaves the other sessions of a
server, building at the same moment, as they were.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import os
from importlib import metadata

from aecore.errors import ConfigError

SETTING_ENV = "AECORE_PRECISION"
FLOAT32, MIXED_BFLOAT16 = "float32", "mixed_bfloat16"
CHOICES = ("auto", FLOAT32, MIXED_BFLOAT16)
_FORCED: contextvars.ContextVar[str | None] = contextvars.ContextVar("aecore_precision", default=None)


@functools.cache
def cpu_flags() -> frozenset[str]:
    """This machine's CPU feature flags as Linux names them (avx512_bf16, amx_bf16, ...); empty elsewhere."""
    try:
        with open("/proc/cpuinfo") as info:
            line = next((ln for ln in info if ln.startswith("flags")), "")
    except OSError:
        return frozenset()
    return frozenset(line.partition(":")[2].split())


def gpus() -> list:
    """The GPUs TensorFlow sees; without importing it when the installed build is tensorflow-cpu."""
    try:
        metadata.version("tensorflow")
    except metadata.PackageNotFoundError:
        return []  # tensorflow-cpu (requirements.txt on Linux) has no GPU support
    import tensorflow as tf  # deferred: TensorFlow

    return tf.config.list_physical_devices("GPU")


def policy_for(spec) -> str | None:
    """The dtype policy arch spec's models are built with on this machine (or as forced); None where the
    architecture has no choice of its own here: the caller's Keras policy (float32 unless they set one)."""
    chosen = _FORCED.get() or os.environ.get(SETTING_ENV, "auto").strip() or "auto"
    if chosen not in CHOICES:
        raise ConfigError(f"{SETTING_ENV} must be one of {', '.join(CHOICES)}, got '{chosen}'.")
    if chosen != "auto":
        return chosen
    wanted = set(spec.bfloat16_on)
    return MIXED_BFLOAT16 if wanted and wanted <= cpu_flags() and not gpus() else None


@contextlib.contextmanager
def forced(policy: str):
    """Models built inside (this thread or task) use policy, whatever the machine: a run meant for every machine
    (the ready-made runs), or a model rebuilt in the precision a run records."""
    token = _FORCED.set(policy)
    try:
        yield
    finally:
        _FORCED.reset(token)


@contextlib.contextmanager
def building_in(policy: str | None):
    """Layers made inside compute in policy (this thread only); None leaves the thread's policy as it is."""
    import keras  # deferred: Keras

    if policy is None:
        yield
        return
    before = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(before)
