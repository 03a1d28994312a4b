"""The benchmark: `python -m aecore bench --quick` runs and prints one parseable JSON line per figure."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
ARCHS = ("basic", "stacked", "conv", "vae")
IMAGE_ARCHS = ("stacked", "conv", "vae")
EXPECTED = (
    [f"train_throughput_{a}" for a in IMAGE_ARCHS]
    + [f"test_loss_{a}" for a in IMAGE_ARCHS]
    + ["decode_latency_p50", "decode_latency_p95", "manifold_grid_20x20", "cached_run_ready_first"]
    + [f"cached_run_ready_{a}" for a in IMAGE_ARCHS]
    + [f"train_peak_rss_{a}" for a in ARCHS]
    + [f"default_train_seconds_{a}" for a in ARCHS]
    + ["import_aecore", "import_aecore_train"]
)
WITH_REFERENCE = [f"train_throughput_{a}" for a in IMAGE_ARCHS] + [f"test_loss_{a}" for a in IMAGE_ARCHS] + [
    "decode_latency_p50",
    "manifold_grid_20x20",
]


@pytest.fixture(scope="module")
def quick_bench(tmp_path_factory):
    env = dict(os.environ, AECORE_CACHE_DIR=str(tmp_path_factory.mktemp("bench-cache")))
    out = subprocess.run(
        [sys.executable, "-m", "aecore", "bench", "--quick"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600, check=False,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return out


def test_quick_bench_prints_a_table_and_one_json_line_per_figure(quick_bench):
    lines = [ln for ln in quick_bench.stdout.splitlines() if ln.startswith("{")]
    figures = {}
    for line in lines:
        figure = json.loads(line)  # strict JSON: no NaN
        assert {"name", "value", "unit"} <= set(figure), figure
        figures[figure["name"]] = figure
    assert len(figures) == len(lines), "figure names repeat"
    assert set(EXPECTED) <= set(figures), set(EXPECTED) - set(figures)
    for name in EXPECTED:
        value = figures[name]["value"]
        assert isinstance(value, (int, float)) and math.isfinite(value) and value > 0, figures[name]
    for name in WITH_REFERENCE:
        f = figures[name]
        assert f["reference"] > 0 and f["ratio"] == pytest.approx(f["value"] / f["reference"], rel=0.01), f
    assert figures["train_throughput_conv"]["unit"] == "img/s"
    # The table names every figure before the JSON lines.
    table = quick_bench.stdout.split("\n{", 1)[0]
    assert all(name in table for name in EXPECTED)


def test_quick_bench_inference_meets_the_latency_targets(quick_bench):
    """The slider path and the manifold grid are fast even on a busy 2-core machine."""
    figures = {f["name"]: f for f in map(json.loads, (ln for ln in quick_bench.stdout.splitlines() if ln.startswith("{")))}
    assert figures["decode_latency_p50"]["value"] < 10
    assert figures["decode_latency_p50"]["ratio"] < 0.5  # far below Keras' predict
    assert figures["cached_run_ready_vae"]["value"] < 1000
