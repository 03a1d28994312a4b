"""python -m benchmarks [--quick] [--app | --time-to-quality]: aecore against plain Keras, a table and JSON lines."""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's start-up chatter is not a figure

from benchmarks.report import Figure, log, table  # noqa: E402


def bench(quick: bool) -> list[Figure]:
    """Training, inference, cached runs, default configs, import time and placements, in that order."""
    import keras  # noqa: F401  (loaded once here, before anything is timed)

    from benchmarks.api import get_spec
    from benchmarks.distribute import bench_placements
    from benchmarks.flops import bench_flops
    from benchmarks.footprint import bench_default_runs, bench_import
    from benchmarks.inference import bench_cached_ready, bench_inference
    from benchmarks.training import bench_training

    log("training (median of repetitions, first step excluded):")
    figures, runs = bench_training(quick)
    # Decoding latent codes is the generative model's path (its page's sliders and manifold grid).
    generative = next((run for arch, run in runs.items() if get_spec(arch).samples), None)
    if generative is not None:
        log("inference:")
        figures += bench_inference(generative, quick)
    train_import_s = None
    if runs:
        log("cached runs:")
        cached, train_import_s = bench_cached_ready(runs, quick)
        figures += cached
    log("default configs, one process each:")
    default_runs = bench_default_runs(quick)
    figures += default_runs
    log("the machine's share (training FLOP/s against the matmul peak):")
    figures += bench_flops(default_runs, quick)
    figures += bench_import(quick, train_import_s)
    log("placements (tf.distribute), one process each:")
    figures += bench_placements(quick)
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes and one repetition, for a smoke run")
    parts = parser.add_mutually_exclusive_group()
    parts.add_argument("--app", action="store_true", help="measure the Streamlit app instead")
    parts.add_argument("--time-to-quality", action="store_true",
                       help="seconds from Train to a drawn page and to the tutorial recipe's test loss instead")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    load = os.getloadavg()
    mode = " --app" if args.app else " --time-to-quality" if args.time_to_quality else ""
    log(f"benchmarks{' --quick' if args.quick else ''}{mode}: {os.cpu_count()} cores, "
        f"load average {load[0]:.2f} (others' work slows both sides alike; compare ratios)")
    if args.app:
        from benchmarks.app import bench_app

        figures = bench_app(args.quick)
    elif args.time_to_quality:
        from benchmarks.time_to_quality import bench_time_to_quality

        figures = bench_time_to_quality(args.quick)
    else:
        figures = bench(args.quick)
    load_end = os.getloadavg()
    print(table(figures))
    print(f"# {time.perf_counter() - started:.0f} s; load average {load[0]:.2f} at start, {load_end[0]:.2f} at end"
          f"{'; quick mode: tiny sizes, one repetition, numbers are a smoke test only' if args.quick else ''}")
    for f in figures:
        print(f.line())
    return 0


if __name__ == "__main__":
    sys.exit(main())
