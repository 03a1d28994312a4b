"""The recipe search (benchmarks/tune.py) and the time-to-reference-quality measure, on tiny budgets.

What they find is the benchmark's output, not a test; here: that they run real trainings and report
what the README's tables are read from.
"""

import math

import pytest

from benchmarks.time_to_quality import reach_reference, xla_pace
from benchmarks.tune import tune

pytestmark = pytest.mark.slow  # real trial trainings


def test_the_search_starts_from_today_and_marks_a_frontier():
    results = tune("basic", trials=3, budget_s=120, log=lambda line: None)
    assert results[0]["recipe"] == {"batch_size": 32, "lr": 0.01, "schedule": "constant", "epochs": 60}  # basic's
    assert 2 <= len(results) <= 3  # a repeated recipe is not trained again
    assert all(r["seconds"] > 0 and math.isfinite(r["quality"]) for r in results)
    front = [r for r in results if r["pareto"]]
    assert front  # the quickest trial is on it, whatever its quality
    quickest = min(results, key=lambda r: r["seconds"])
    assert quickest["pareto"]
    for r in front:  # no trial is both quicker and better than a point of the frontier
        assert not any(o["seconds"] < r["seconds"] and o["quality"] < r["quality"] for o in results)
    assert set(results[0]["phases"]) == {"build", "first_step", "fit", "evaluate"}


def test_reaching_the_reference_loss_reports_both_sides():
    r = reach_reference("vae", epochs=1, max_epochs=2, train_size=256)
    assert r["reference_s"] > 0 and math.isfinite(r["reference_loss"]) and r["reference_epochs"] == 1
    assert 1 <= len(r["aecore"]) <= 2 and [t["epochs"] for t in r["aecore"]] == list(range(1, len(r["aecore"]) + 1))
    if r["reached"] is not None:
        assert r["reached"] == r["aecore"][-1] and r["reached"]["loss"] <= r["reference_loss"]
    else:
        assert all(t["loss"] > r["reference_loss"] for t in r["aecore"])


def test_xla_pace_trains_both_ways_and_leaves_the_registry_as_it_was():
    from aecore.models import get_spec

    spec = get_spec("stacked")
    r = xla_pace("stacked", epochs=1, train_size=512)
    assert set(r) == {"xla", "plain"}
    assert all(v["first_step_s"] > 0 and v["img_per_s"] > 0 for v in r.values())
    assert get_spec("stacked") is spec
