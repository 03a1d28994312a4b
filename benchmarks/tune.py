"""python -m benchmarks.tune --arch ARCH: Optuna's search for a recipe that reaches a page's quality sooner.

Two objectives, both minimised: the wall seconds of aecore's train() (build, compile, train
and evaluate: what a person waits for after pressing Train) and the test quality its page
reports (its spec's quality metric). The search moves only the recipe (batch size, learning rate, schedule,
epochs and training-set size); the layer shapes stay the notes'. The result is the
time-quality frontier (Optuna's Pareto front) as a table and one JSON line per trial.
The architecture's current default is the first trial, so the frontier is read against it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

BATCH_SIZES = (16, 32, 64, 128)
LEARNING_RATES = (1e-3, 3e-3, 1e-2)  # the form's choices around Adam's usual rate
SCHEDULES = ("constant", "cosine")
TRAIN_SIZES = (2048, 0)  # 0 = every training image (4,000 of mnist-sample)
# Epochs the search may try, around each page's default; an architecture not named here is searched from
# 1 to twice its default.
EPOCHS = {"basic": (5, 60), "stacked": (2, 15), "conv": (1, 3), "vae": (2, 8)}


def epoch_range(arch: str) -> tuple[int, int]:
    """(fewest, most) epochs the search tries for arch."""
    from aecore.models import get_spec

    return EPOCHS.get(arch) or (1, 2 * get_spec(arch).defaults["epochs"])


def recipe_fields(arch: str) -> tuple[str, ...]:
    """The RunConfig fields the search moves for arch: the training-set size only where the architecture has one
    (basic's three-dimensional points are few already)."""
    from aecore.models import get_spec

    sized = "train_size" in get_spec(arch).field_names
    return ("batch_size", "lr", "schedule", "epochs", *(("train_size",) if sized else ()))


def search_space(trial, arch: str) -> dict:
    """One trial's recipe: the RunConfig overrides Optuna suggests."""
    choices = {"batch_size": BATCH_SIZES, "lr": LEARNING_RATES, "schedule": SCHEDULES, "train_size": TRAIN_SIZES}
    return {name: trial.suggest_int(name, *epoch_range(arch)) if name == "epochs" else
            trial.suggest_categorical(name, choices[name]) for name in recipe_fields(arch)}


def today(arch: str) -> dict:
    """The architecture's default recipe, as a trial's parameters."""
    from benchmarks.api import RunConfig

    default = RunConfig.for_arch(arch)
    return {name: getattr(default, name) for name in recipe_fields(arch)}


def tune(arch: str, trials: int, budget_s: float, fixed: dict | None = None, seed: int = 0, log=print) -> list[dict]:
    """Run the search; every trial as {recipe, seconds, quality, phases, pareto}."""
    import keras
    import optuna

    from benchmarks.api import RunConfig, get_spec, load_dataset, train

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    fixed = fixed or {}
    metric = get_spec(arch).quality.key
    default = RunConfig.for_arch(arch)
    data = load_dataset(default.dataset)
    study = optuna.create_study(directions=["minimize", "minimize"],
                                sampler=optuna.samplers.TPESampler(seed=seed, n_startup_trials=min(8, trials)))
    study.enqueue_trial(today(arch))  # a value outside the space is tried as it is (Optuna warns)

    def objective(trial):
        recipe = search_space(trial, arch)
        done = trial.study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
        if any(t.params == trial.params for t in done):  # a recipe tried already: its time was measured
            raise optuna.TrialPruned()
        keras.backend.clear_session()
        run = train(RunConfig.for_arch(arch, **fixed, **recipe), data)
        m = run.metrics
        trial.set_user_attr("phases", {p: m[f"seconds_{p}"] for p in ("build", "first_step", "fit", "evaluate")})
        log(f"  trial {trial.number:2d}: {m['seconds']:5.1f} s, {metric} {m[metric]:.4f}  {recipe}")
        return m["seconds"], m[metric]

    study.optimize(objective, n_trials=trials, timeout=budget_s)
    front = {t.number for t in study.best_trials}
    return [{"trial": t.number, "recipe": {**fixed, **t.params}, "seconds": t.values[0], "quality": t.values[1],
             "phases": t.user_attrs["phases"], "pareto": t.number in front}
            for t in study.trials if t.values is not None]


def main(argv: list[str] | None = None) -> int:
    from aecore.models import get_spec, names, specs  # the registry alone: TensorFlow waits for the first trial

    widened = [spec.name for spec in specs() if "width" in spec.field_names]
    parser = argparse.ArgumentParser(prog="python -m benchmarks.tune", description=__doc__.splitlines()[0])
    parser.add_argument("--arch", required=True, choices=sorted(names()))
    parser.add_argument("--trials", type=int, default=30, help="at most this many trials (default 30)")
    parser.add_argument("--budget-s", type=float, default=900, help="stop starting trials after this many seconds")
    parser.add_argument("--width", type=float, help=f"{', '.join(widened)}'s filter multiplier, fixed for the search")
    parser.add_argument("--seed", type=int, default=0, help="the sampler's seed")
    args = parser.parse_args(argv)
    if args.trials < 1 or args.budget_s <= 0:
        parser.error("--trials and --budget-s must be positive")
    if args.width is not None and args.arch not in widened:
        parser.error(f"--width is {', '.join(widened)}'s setting")
    fixed = {"width": args.width} if args.width is not None else {}

    quality = get_spec(args.arch).quality
    metric = quality.key
    started = time.perf_counter()
    print(f"# tuning {args.arch}{f' width {args.width:g}' if fixed else ''}: up to {args.trials} trials or "
          f"{args.budget_s:.0f} s; {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}", file=sys.stderr)
    results = tune(args.arch, args.trials, args.budget_s, fixed, args.seed,
                   log=lambda line: print(line, file=sys.stderr))
    print(f"{'trial':>5} {'front':>5} {'seconds':>8} {metric + ' (' + quality.unit + ')':>40}  recipe")
    for r in sorted(results, key=lambda r: r["seconds"]):
        front = "*" if r["pareto"] else ""
        print(f"{r['trial']:>5} {front:>5} {r['seconds']:8.1f} {r['quality']:40.4f}  {r['recipe']}")
    print(f"# {len(results)} trials in {time.perf_counter() - started:.0f} s; trial 0 is today's default; "
          f"* marks the time-quality frontier")
    for r in results:
        print(json.dumps({"arch": args.arch, "quality_metric": metric, **r}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
