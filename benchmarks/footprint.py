"""Fresh processes: seconds and peak memory of training each default config, and `import aecore` time.

Each is measured in its own process (benchmarks.child), because that is what a user's
process pays, and because peak memory is a process's VmHWM: it never goes down, and
ru_maxrss would carry the parent's peak across fork and exec.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from benchmarks import child
from benchmarks.report import Figure, log, median


def _peak_kb() -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))


def train_default(arch: str, quick: bool = False, cache_dir: str | None = None) -> dict:
    """In a fresh process (run by benchmarks.child): train arch's default config (in quick mode a
    tiny one) the way `python -m aecore train` does; its summary, wall seconds and peak memory.
    With cache_dir the run is saved there (or loaded, when it is there already)."""
    started = time.perf_counter()
    from benchmarks.api import RunConfig, RunStore, get_run, get_spec, load_dataset

    overrides = {}
    if quick:
        overrides["epochs"] = 1
        if "train_size" in get_spec(arch).field_names:  # one without it has a small dataset already
            overrides["train_size"] = 256
    config = RunConfig.for_arch(arch, **overrides)
    store = RunStore(cache_dir) if cache_dir else None
    run = get_run(config, store, data=load_dataset(config.dataset))
    return {"summary": run.summary(), "wall": time.perf_counter() - started, "peak_kb": _peak_kb()}


def bench_default_runs(quick: bool) -> list[Figure]:
    """Each default config trained in its own fresh process: seconds and peak resident memory.

    --quick trains tiny configs, all four processes at once.
    """
    from benchmarks.api import ARCHS

    if quick:
        with ThreadPoolExecutor(len(ARCHS)) as pool:
            results = dict(zip(ARCHS, pool.map(lambda a: child.run("train_default", arch=a, quick=True), ARCHS)))
    else:
        results = {arch: child.run("train_default", arch=arch) for arch in ARCHS}
    figures = []
    label = "tiny config (quick, four processes at once)" if quick else "default config"
    for arch in ARCHS:
        result, s = results[arch], results[arch]["summary"]
        peak_mb = result["peak_kb"] / 1024
        figures.append(Figure(f"train_peak_rss_{arch}", peak_mb, "MB", note=f"{label}, whole process"))
        figures.append(Figure(f"default_train_seconds_{arch}", s["seconds"], "s", target="<= 30 s",
                              note=f"{label}: build, compile, train, evaluate; process wall {result['wall']:.1f} s",
                              extra={"epochs": s["epochs"], "train_img_per_s": s.get("train_img_per_s"),
                                     "precision": s.get("precision")}))
        log(f"  {arch:7s} {label}: {s['seconds']:.1f} s, peak RSS {peak_mb:.0f} MB")
    return figures


def import_aecore() -> dict:
    """In a fresh process (run by benchmarks.child): seconds to `import aecore`."""
    t = time.perf_counter()
    import aecore  # noqa: F401

    return {"s": time.perf_counter() - t}


def bench_import(quick: bool, train_import_s: float | None) -> list[Figure]:
    """`import aecore` in fresh processes; aecore's training stack (TensorFlow and Keras) as the
    cached-run process saw it."""
    times = [child.run("import_aecore")["s"] for _ in range(1 if quick else 3)]
    figures = [Figure("import_aecore", median(times) * 1000, "ms", note="the package alone (its modules load on use)")]
    if train_import_s is not None:
        figures.append(Figure("import_aecore_train", train_import_s * 1000, "ms",
                              note="config, data, store and train: TensorFlow and Keras included"))
    return figures
