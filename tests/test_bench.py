"""The benchmark: `python -m benchmarks --quick` runs and prints every figure as a parseable JSON line.

Only that it runs and what it prints are checked here. How fast things are is the benchmark's
output (its targets are in the `target` field), not a test: wall-clock limits fail at random
on a shared 2-core machine.
"""

import json
import math
import os
import signal
import subprocess

import pytest

from tests.helpers import quick_bench_key, start_quick_bench

pytestmark = pytest.mark.slow  # the benchmark's own processes: minutes on 2 cores

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
    + ["matmul_peak_float32", "matmul_peak_bfloat16"] + [f"train_flops_share_{a}" for a in IMAGE_ARCHS]
    + [f"train_throughput_vae_{n}" for n in ("1cpu", "2cpu")]  # quick mode places the VAE alone
)
WITH_REFERENCE = (
    [f"train_throughput_{a}" for a in IMAGE_ARCHS]
    + [f"test_loss_{a}" for a in IMAGE_ARCHS]
    + ["decode_latency_p50", "decode_latency_p95", "manifold_grid_20x20"]
)


@pytest.fixture(scope="module")
def quick_bench(request):
    """The finished run of `python -m benchmarks --quick`: the one the suite started in the background (conftest), or
    one started now (a worker of pytest-xdist, whose other worker keeps the other core busy), not niced."""
    started = request.config.stash.get(quick_bench_key, None)
    if started is None:
        started = request.config.stash[quick_bench_key] = start_quick_bench(niced=False)  # sessionfinish cleans it
    try:
        returncode = started["process"].wait(timeout=900)
    except subprocess.TimeoutExpired:
        os.killpg(started["process"].pid, signal.SIGKILL)
        raise
    stdout, stderr = ((started["folder"] / name).read_text() for name in ("stdout", "stderr"))
    assert returncode == 0, stderr[-2000:]
    return subprocess.CompletedProcess(started["process"].args, returncode, stdout, stderr)


@pytest.fixture(scope="module")
def figures(quick_bench):
    lines = [ln for ln in quick_bench.stdout.splitlines() if ln.startswith("{")]
    by_name = {}
    for line in lines:
        figure = json.loads(line, parse_constant=lambda c: pytest.fail(f"{c} in {line}"))  # strict JSON
        by_name[figure["name"]] = figure
    assert len(by_name) == len(lines), "figure names repeat"
    return by_name


def test_every_figure_is_a_json_line_with_a_finite_positive_value_and_a_unit(figures):
    assert set(EXPECTED) <= set(figures), set(EXPECTED) - set(figures)
    for name in EXPECTED:
        f = figures[name]
        assert isinstance(f["unit"], str) and f["unit"], f
        assert isinstance(f["value"], (int, float)) and math.isfinite(f["value"]) and f["value"] > 0, f
    assert figures["train_throughput_conv"]["unit"] == "img/s"
    assert figures["decode_latency_p50"]["unit"] == "ms"


def test_compared_figures_carry_the_reference_and_their_ratio(figures):
    for name in WITH_REFERENCE:
        f = figures[name]
        assert math.isfinite(f["reference"]) and f["reference"] > 0, f
        assert f["ratio"] == pytest.approx(f["value"] / f["reference"], rel=0.01), f


def test_the_table_names_every_figure_before_the_json_lines(quick_bench):
    table = quick_bench.stdout.split("\n{", 1)[0]
    assert table.startswith("figure")
    assert all(name in table for name in EXPECTED)
