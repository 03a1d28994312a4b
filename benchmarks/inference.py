"""What a dashboard user waits for: decoding (the slider path, the manifold grid) and a stored run made ready.

Decoding is aecore's decode() against Keras' predict() on the same decoder. A cached run is
measured in a fresh process (benchmarks.child), as a restarted app would request it.
"""

from __future__ import annotations

import statistics
import tempfile
import time

from benchmarks import child
from benchmarks.report import Figure, compared, median, percentile, rounded


def _ms_since(t: float) -> float:
    return (time.perf_counter() - t) * 1000


def bench_inference(run, quick: bool) -> list[Figure]:
    """The slider path (decode one latent vector) and the 20 x 20 manifold grid, vs Keras' predict."""
    import numpy as np

    from benchmarks.api import decode

    model = run.model
    decoder = model.decoder if hasattr(model, "decoder") else model.get_layer("decoder")
    k = decoder.input_shape[-1]
    n = 50 if quick else 300
    zs = np.random.default_rng(0).standard_normal((n, k)).astype(np.float32)
    decode(model, zs[0])  # first call: tracing, off the measured path (and the user's: see warm_up)
    ours = []
    for z in zs:
        t = time.perf_counter()
        decode(model, z[None])
        ours.append(_ms_since(t))
    ref = []
    decoder.predict(zs[:1], verbose=0)
    for z in zs[: n // 3]:  # predict is the slow side: fewer samples keep the run short
        t = time.perf_counter()
        decoder.predict(z[None], verbose=0)
        ref.append(_ms_since(t))

    side = np.linspace(-3, 3, 20, dtype=np.float32)
    grid = np.stack(np.meshgrid(side, side[::-1]), axis=-1).reshape(-1, 2)
    if k != 2:
        grid = np.pad(grid, ((0, 0), (0, k - 2)))
    decode(model, grid)
    decoder.predict(grid, verbose=0, batch_size=len(grid))
    grid_ours, grid_ref = [], []
    for _ in range(5 if quick else 20):
        t = time.perf_counter()
        decode(model, grid)
        grid_ours.append(_ms_since(t))
        t = time.perf_counter()
        decoder.predict(grid, verbose=0, batch_size=len(grid))
        grid_ref.append(_ms_since(t))

    note = f"{run.config.arch} decoder, latent {k}; reference: decoder.predict"
    return [
        compared("decode_latency_p50", percentile(ours, 50), "ms", percentile(ref, 50), note=note, target="<= 10 ms"),
        compared("decode_latency_p95", percentile(ours, 95), "ms", percentile(ref, 95), note=note),
        compared("manifold_grid_20x20", median(grid_ours), "ms", median(grid_ref), note=note, target="<= 150 ms"),
    ]


def cached_run_ready(root: str, configs: dict, repeats: int) -> dict:
    """In a fresh process (run by benchmarks.child): get_run of runs saved in the store at root,
    the first request of each config and then the median of later ones, in seconds."""
    t0 = time.perf_counter()
    from benchmarks.api import RunConfig, RunStore, get_run, load_dataset, reconstruct

    out = {"import_s": time.perf_counter() - t0, "first": {}, "later": {}, "first_inference": {}}
    data = load_dataset("mnist-sample")
    store = RunStore(root)
    for arch, d in configs.items():
        config = RunConfig.from_dict(d)
        t = time.perf_counter()
        run = get_run(config, store, data=data)
        out["first"][arch] = time.perf_counter() - t
        if not run.cached:
            raise RuntimeError(f"the {arch} run was not served from the store")
        t = time.perf_counter()
        reconstruct(run.model, data.x_test[:1])
        out["first_inference"][arch] = time.perf_counter() - t
    for arch, d in configs.items():
        config = RunConfig.from_dict(d)
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            get_run(config, store, data=data)
            times.append(time.perf_counter() - t)
        out["later"][arch] = statistics.median(times)
    return out


def bench_cached_ready(runs: dict, quick: bool) -> tuple[list[Figure], float]:
    """A fresh process asks get_run for runs saved in the store: the first request, then later ones.
    Also returns that process's import time of aecore's training (for the import figures)."""
    from benchmarks.api import RunStore

    configs = {arch: run.config.to_dict() for arch, run in runs.items()}
    repeats = 3 if quick else 7
    with tempfile.TemporaryDirectory(prefix="aecore-bench-store-") as root:
        store = RunStore(root)
        for run in runs.values():
            store.save(run)
        result = child.run("cached_run_ready", root=root, configs=configs, repeats=repeats)
    first_arch = next(iter(configs))
    figures = [
        Figure("cached_run_ready_first", result["first"][first_arch] * 1000, "ms",
               note=f"first get_run in a fresh process ({first_arch}), store hit, imports done"),
    ]
    for arch in configs:
        figures.append(Figure(f"cached_run_ready_{arch}", result["later"][arch] * 1000, "ms", target="<= 1000 ms",
                              note=f"later get_run of a stored {arch} run (median of {repeats})",
                              extra={"first_ms": rounded(result["first"][arch] * 1000),
                                     "first_inference_ms": rounded(result["first_inference"][arch] * 1000)}))
    return figures, result["import_s"]
