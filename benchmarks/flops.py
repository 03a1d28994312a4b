"""How much of the machine training uses: each default's training FLOP/s against the measured matmul peak.

A training image costs about three forward passes (the forward pass, and the backward pass's gradients with
respect to activations and to weights). The forward pass is counted by TensorFlow's own profiler on the traced
graph; the peak is the best of a few large square matmuls, float32 and bfloat16, on every core.
"""

from __future__ import annotations

import time

from benchmarks.report import Figure, log

TRAINING_PASSES = 3  # forward + two backward products per layer
MATMUL_SIZE = 2048
MATMUL_SIZE_QUICK = 512


def forward_flops(arch: str, input_shape: tuple[int, ...] = (28, 28, 1)) -> float:
    """Floating-point operations of one image's forward pass through arch's default network."""
    import tensorflow as tf

    from benchmarks.api import RunConfig, build_model

    model = build_model(RunConfig.for_arch(arch), input_shape)
    graph = tf.function(lambda x: model(x, training=False)).get_concrete_function(
        tf.TensorSpec((1, *input_shape), tf.float32)).graph
    options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    return float(tf.compat.v1.profiler.profile(graph=graph, options=options).total_float_ops)


def matmul_peak(dtype: str, quick: bool = False) -> float:
    """FLOP/s of the best of several n x n matmuls in dtype (float32 or bfloat16)."""
    import tensorflow as tf

    n = MATMUL_SIZE_QUICK if quick else MATMUL_SIZE
    a = tf.random.stateless_uniform((n, n), seed=(0, 1), dtype=tf.float32)
    a = tf.cast(a, dtype)
    step = tf.function(lambda x: tf.reduce_sum(tf.cast(tf.matmul(x, x), tf.float32)))
    step(a).numpy()  # trace and warm up
    best = float("inf")
    for _ in range(3 if quick else 10):
        started = time.perf_counter()
        step(a).numpy()
        best = min(best, time.perf_counter() - started)
    return 2 * n**3 / best


def bench_flops(default_runs: list[Figure], quick: bool) -> list[Figure]:
    """The peaks, and each image default's training FLOP/s as a share of the peak of the arithmetic it trains in,
    from the default runs' measured images per second (benchmarks.footprint.bench_default_runs)."""
    from benchmarks.api import VECTORS, get_spec

    peaks = {dtype: matmul_peak(dtype, quick) for dtype in ("float32", "bfloat16")}
    n = MATMUL_SIZE_QUICK if quick else MATMUL_SIZE
    figures = [Figure(f"matmul_peak_{dtype}", peak / 1e9, "GFLOP/s", note=f"best {n} x {n} matmul, all cores")
               for dtype, peak in peaks.items()]
    log(f"  matmul peak: {peaks['float32'] / 1e9:.0f} GFLOP/s float32, {peaks['bfloat16'] / 1e9:.0f} bfloat16")
    for figure in default_runs:
        if not figure.name.startswith("default_train_seconds_"):
            continue
        arch = figure.name.removeprefix("default_train_seconds_")
        images_per_s = figure.extra.get("train_img_per_s")
        if get_spec(arch).input_kind == VECTORS or not images_per_s:
            continue
        dtype = "bfloat16" if figure.extra.get("precision") == "mixed_bfloat16" else "float32"
        per_image = TRAINING_PASSES * forward_flops(arch)
        rate = per_image * images_per_s
        share = 100 * rate / peaks[dtype]
        figures.append(Figure(f"train_flops_share_{arch}", share, f"% of {dtype} peak",
                              note=f"{per_image / 1e6:.1f} MFLOP per training image x {images_per_s:.0f} images/s "
                                   f"= {rate / 1e9:.1f} GFLOP/s (page default, {dtype}; "
                                   f"{100 * rate / peaks['float32']:.0f} % of the float32 peak)"))
        log(f"  {arch:7s} {per_image / 1e6:.1f} MFLOP/image, {rate / 1e9:.1f} GFLOP/s, {share:.0f} % of the {dtype} "
            f"peak ({100 * rate / peaks['float32']:.0f} % of float32's)")
    return figures
