"""Training throughput and test loss: aecore's train() against the plain-Keras references.

Both sides train the same network on the same data (mnist-sample) with the same batch size,
in one process. Repetitions alternate which side goes first, so a busy machine hurts both
alike; the first step of every fit (the compile) is excluded, a warm-up repetition is
dropped and the median is reported. Test losses are computed by the same code for both sides.
"""

from __future__ import annotations

import os
import statistics

from benchmarks import reference
from benchmarks.report import Figure, compared, log, median

BATCH = reference.BATCH
# arch: (training images, epochs) per repetition.
PLAN = {
    # Runs long enough for the architecture's XLA (ArchSpec.xla_min_images): the steady pace of a long run.
    "stacked": (4000, 25),
    "conv": (4000, 3),
    "vae": (4000, 2),
}
QUICK_PLAN = {"stacked": (1024, 1), "conv": (384, 1), "vae": (512, 1)}
TARGETS = {"stacked": 3.0, "conv": 1.5, "vae": 1.5}  # throughput ratio wanted against the reference (issue #22)


def bce_loss(x, recon) -> float:
    """Mean per-pixel binary cross-entropy (nats) of reconstructions of x."""
    from benchmarks.api import metrics

    return float(metrics.per_example_bce(x, recon).mean())


def vae_elbo(encode_distribution, decode, x, seed: int = 0) -> float:
    """Per-image ELBO loss (summed BCE + KL, nats) with fixed noise, from a side's encoder and decoder."""
    import numpy as np

    mean, log_var = encode_distribution(x)
    eps = np.random.default_rng(seed).standard_normal(mean.shape).astype(np.float32)
    recon = np.clip(decode(mean + np.exp(0.5 * log_var) * eps), 1e-7, 1 - 1e-7)
    rec = -(x * np.log(recon) + (1 - x) * np.log(1 - recon)).reshape(len(x), -1).sum(axis=1)
    kl = -0.5 * (1 + log_var - mean**2 - np.exp(log_var)).sum(axis=1)
    return float((rec + kl).mean())


def measures_elbo(config) -> bool:
    """Whether a run of config is measured by the ELBO (a VAE's objective, per image) rather than per-pixel BCE:
    the loss its architecture trains on decides, and the reference of the same architecture is measured alike."""
    from benchmarks.api import get_spec

    return get_spec(config.arch).loss(config) == "elbo"


def loss_unit(config) -> str:
    """The unit of config's test loss, as its figures write it."""
    from benchmarks.api import NATS_PER_IMAGE, NATS_PER_PIXEL

    return f"{NATS_PER_IMAGE} (ELBO)" if measures_elbo(config) else f"{NATS_PER_PIXEL} (BCE)"


def measured_loss(config, encode_distribution, decode, reconstruct, x) -> float:
    """config's test loss on x from one side's functions (bound to its model), by the same code for both sides."""
    if measures_elbo(config):
        return vae_elbo(encode_distribution, decode, x)
    return bce_loss(x, reconstruct(x))


def aecore_test_loss(run, data) -> float:
    """An aecore run's test loss, computed as the reference's is."""
    from benchmarks.api import decode, encode_distribution, reconstruct

    model = run.model
    return measured_loss(run.config, lambda x: encode_distribution(model, x), lambda z: decode(model, z),
                         lambda x: reconstruct(model, x), data.x_test)


def train_aecore(arch: str, data, n: int, epochs: int, seed: int):
    """(images/s, test loss, run) of aecore's own training, through its public train()."""
    from benchmarks.api import RunConfig, get_spec, train

    # The reference's recipe (Adam at 1e-3, constant), not the page's: the two sides differ only in how they train.
    config = RunConfig.for_arch(arch, dataset="mnist-sample", epochs=epochs, batch_size=BATCH, train_size=n,
                                seed=seed, lr=1e-3, schedule="constant", **get_spec(arch).notes_overrides)
    run = train(config, data)
    loss = aecore_test_loss(run, data)
    return run.metrics["train_img_per_s"], loss, run


def train_reference(arch: str, data, n: int, epochs: int, seed: int):
    """(images/s, test loss) of the tutorial-style reference."""
    from benchmarks.api import RunConfig

    rate, model = reference.fit(arch, data.x_train[:n], data.x_test, epochs, seed)
    loss = measured_loss(RunConfig.for_arch(arch), lambda x: reference.encode_distribution(model, x),
                         lambda z: reference.decode(model, z), lambda x: reference.reconstruct(model, x),
                         data.x_test)
    return rate, loss


def bench_training(quick: bool) -> tuple[list[Figure], dict]:
    """Throughput and test-loss figures of each arch, and aecore's last run of each (for the later parts)."""
    from benchmarks.api import load_dataset

    data = load_dataset("mnist-sample")
    plan = QUICK_PLAN if quick else PLAN
    reps = 1 if quick else 3
    warmup = 0 if quick else 1
    archs = [a for a in os.environ.get("AECORE_BENCH_ARCHS", ",".join(plan)).split(",") if a in plan]
    results = {a: {"aecore": [], "reference": [], "loss_aecore": [], "loss_reference": []} for a in archs}
    runs = {}
    for rep in range(warmup + reps):
        for arch in archs:
            n, epochs = plan[arch]
            order = ("aecore", "reference") if rep % 2 == 0 else ("reference", "aecore")
            for side in order:
                if side == "aecore":
                    rate, loss, runs[arch] = train_aecore(arch, data, n, epochs, seed=rep)
                else:
                    rate, loss = train_reference(arch, data, n, epochs, seed=rep)
                log(f"  {'warm-up' if rep < warmup else f'rep {rep - warmup + 1}'} {arch:7s} {side:9s} "
                    f"{rate:8.1f} img/s  test loss {loss:.4f}")
                if rep >= warmup:
                    results[arch][side].append(rate)
                    results[arch]["loss_" + side].append(loss)
    figures = []
    for arch in archs:
        r = results[arch]
        n, epochs = plan[arch]
        figures.append(compared(f"train_throughput_{arch}", median(r["aecore"]), "img/s", median(r["reference"]),
                                target=f">= {TARGETS[arch]}x",
                                extra={"batch_size": BATCH, "images": n, "epochs": epochs, "repetitions": reps}))
    for arch in archs:
        # Both sides start from the same weights with the same seed, so each repetition is a
        # pair that differs only by batch order and arithmetic: mean over pairs, and each pair's ratio.
        r = results[arch]
        n, epochs = plan[arch]
        unit = loss_unit(runs[arch].config)
        pairs = [round(a / b, 3) for a, b in zip(r["loss_aecore"], r["loss_reference"])]
        figures.append(compared(f"test_loss_{arch}", statistics.fmean(r["loss_aecore"]), unit,
                                statistics.fmean(r["loss_reference"]), target="<= reference",
                                note=f"mean of {len(pairs)}, {epochs} epoch(s) on {n} images, "
                                     f"test set of {len(data.x_test)}",
                                extra={"pair_ratios": pairs}))
    return figures, runs
