"""Work that must run in a fresh Python: `python -m benchmarks.child NAME JSON-KWARGS`.

A fresh process is the only way to measure what a user's process sees: import time, the
first request after start-up, and peak memory (a process's VmHWM never goes down). The
child calls one function of the benchmark modules, named in FUNCTIONS, with the keyword
arguments decoded from JSON, and prints its result (a JSON object) as the last line of stdout.
"""

from __future__ import annotations

import importlib
import json
import math
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# name -> "module:function". Only these run, and their modules import nothing heavy at the
# top, so what a function measures starts with the function.
FUNCTIONS = {
    "import_aecore": "benchmarks.footprint:import_aecore",
    "train_default": "benchmarks.footprint:train_default",
    "cached_run_ready": "benchmarks.inference:cached_run_ready",
    "train_placed": "benchmarks.distribute:train_placed",
    "reach_reference": "benchmarks.time_to_quality:reach_reference",
    "xla_pace": "benchmarks.time_to_quality:xla_pace",
}


def env() -> dict:
    """The environment for child processes: this repository importable, TensorFlow quiet."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return env


def run(name: str, timeout: float = 600, **kwargs) -> dict:
    """FUNCTIONS[name](**kwargs) in a fresh Python; its result."""
    if name not in FUNCTIONS:
        raise ValueError(f"no child function {name!r}; choose one of {', '.join(FUNCTIONS)}")
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.child", name, json.dumps(kwargs)],
        capture_output=True, text=True, env=env(), cwd=REPO, timeout=timeout, check=False,
    )
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
    if out.returncode != 0 or not lines:
        raise RuntimeError(f"child {name} failed ({out.returncode}): {out.stderr.strip()[-400:]}")
    return json.loads(lines[-1])


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in FUNCTIONS:
        print(f"usage: python -m benchmarks.child {{{','.join(FUNCTIONS)}}} JSON-KWARGS", file=sys.stderr)
        return 2
    module, function = FUNCTIONS[argv[0]].split(":")
    fn = getattr(importlib.import_module(module), function)
    result = fn(**json.loads(argv[1]))
    print(json.dumps(_finite(result), allow_nan=False))
    return 0


def _finite(value):
    """value with NaN and infinity (e.g. the throughput of a one-step run) as None: strict JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
