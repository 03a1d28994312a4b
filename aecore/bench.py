"""python -m aecore bench [--quick] [--app]: aecore against plain Keras, side by side.

Training throughput of stacked, conv (width 1.0, the notes' network) and vae is measured
in one process, on the same data (mnist-sample) and batch size, against a reference of
the same network written the way the tutorials write it: compile(optimizer="adam", ...)
and fit(x, x, batch_size=128) on NumPy arrays (the VAE: keras.io's custom train_step, no
XLA). Repetitions alternate aecore and reference so a busy machine hurts both alike; the
first step of every fit (compile) is excluded, a warm-up repetition is dropped and the
median is reported. Both are measured by the same rule: images per second of training
steps after the first, validation excluded.

Then: test loss of both at the same epochs, decode latency of one latent vector (the
slider path) and of a 20 x 20 manifold grid (aecore's decode against Keras' predict),
time from a cached run request to a ready model (a fresh process: first and later),
peak resident memory and seconds of training each default config (a process each), and
`import aecore` time. `--app` measures `streamlit run app.py` instead: start to first
page ready, and the server's peak memory after every page was visited.

Output: a table on stdout, then one JSON line per figure with `name`, `value`, `unit`,
and `reference` and `ratio` where there is a reference. The machine has 2 cores that
others may share: ratios from one run are the numbers to trust, absolute numbers less.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO = Path(__file__).resolve().parent.parent
BATCH = 128  # the tutorials' batch size, used by both sides


@dataclass
class Figure:
    name: str
    value: float | None
    unit: str
    reference: float | None = None
    ratio: float | None = None
    note: str = ""
    target: str = ""
    extra: dict = field(default_factory=dict)

    def line(self) -> str:
        d = {"name": self.name, "value": _round(self.value), "unit": self.unit}
        if self.reference is not None:
            d["reference"] = _round(self.reference)
        if self.ratio is not None:
            d["ratio"] = _round(self.ratio, 3)
        if self.target:
            d["target"] = self.target
        if self.note:
            d["note"] = self.note
        d.update(self.extra)
        return json.dumps(d, allow_nan=False)


def _round(x, digits: int = 4):
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return None
    return float(f"{x:.{digits}g}") if abs(x) < 10**digits else round(x, 1)


def _median(xs):
    xs = [x for x in xs if x is not None and math.isfinite(x)]
    return statistics.median(xs) if xs else float("nan")


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _env() -> dict:
    """The environment for child processes: this package importable, TensorFlow quiet."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return env


def _child(code: str, timeout: float = 600) -> dict:
    """Run code in a fresh Python; its last stdout line is a JSON object."""
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True, text=True, env=_env(), cwd=REPO, timeout=timeout, check=False,
    )
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
    if out.returncode != 0 or not lines:
        raise RuntimeError(f"child failed ({out.returncode}): {out.stderr.strip()[-400:]}")
    return json.loads(lines[-1])


# ---------------------------------------------------------------------------------------
# The references: the same networks, written as the tutorials write them.


def _reference_conv():
    import keras
    from keras import layers

    model = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            layers.Conv2D(64, 3, activation="relu", padding="same"),
            layers.MaxPooling2D(2),
            layers.Conv2D(128, 3, activation="relu", padding="same"),
            layers.MaxPooling2D(2),
            layers.Conv2D(256, 3, activation="relu", padding="same"),
            layers.Conv2D(128, 3, activation="relu", padding="same"),
            layers.UpSampling2D(2),
            layers.Conv2D(64, 3, activation="relu", padding="same"),
            layers.UpSampling2D(2),
            layers.Conv2D(1, 3, activation="sigmoid", padding="same"),
        ]
    )
    model.compile(optimizer="adam", loss="binary_crossentropy")
    return model


def _reference_stacked():
    import keras
    from keras import layers

    model = keras.Sequential(
        [
            keras.Input((784,)),
            layers.Dense(128, activation="relu"),
            layers.Dense(64, activation="relu"),
            layers.Dense(32, activation="relu"),
            layers.Dense(64, activation="relu"),
            layers.Dense(128, activation="relu"),
            layers.Dense(784, activation="sigmoid"),
        ]
    )
    model.compile(optimizer="adam", loss="binary_crossentropy")
    return model


def _reference_vae():
    """keras.io's VAE (examples/generative/vae.py) with the notes' BatchNorm layers, latent 2."""
    import keras
    import tensorflow as tf
    from keras import layers, ops

    class Sampling(layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.seed_generator = keras.random.SeedGenerator(1337)

        def call(self, inputs):
            z_mean, z_log_var = inputs
            batch, dim = ops.shape(z_mean)[0], ops.shape(z_mean)[1]
            epsilon = keras.random.normal(shape=(batch, dim), seed=self.seed_generator)
            return z_mean + ops.exp(0.5 * z_log_var) * epsilon

    latent_dim = 2
    encoder_inputs = keras.Input(shape=(28, 28, 1))
    x = layers.Conv2D(32, 3, activation="relu", strides=2, padding="same")(encoder_inputs)
    x = layers.BatchNormalization()(x)
    x = layers.Conv2D(64, 3, activation="relu", strides=2, padding="same")(x)
    x = layers.BatchNormalization()(x)
    x = layers.Flatten()(x)
    x = layers.Dense(16, activation="relu")(x)
    x = layers.BatchNormalization()(x)
    z_mean = layers.Dense(latent_dim, name="z_mean")(x)
    z_log_var = layers.Dense(latent_dim, name="z_log_var")(x)
    z = Sampling()([z_mean, z_log_var])
    encoder = keras.Model(encoder_inputs, [z_mean, z_log_var, z], name="encoder")

    latent_inputs = keras.Input(shape=(latent_dim,))
    x = layers.Dense(7 * 7 * 64, activation="relu")(latent_inputs)
    x = layers.BatchNormalization()(x)
    x = layers.Reshape((7, 7, 64))(x)
    x = layers.Conv2DTranspose(64, 3, activation="relu", strides=2, padding="same")(x)
    x = layers.BatchNormalization()(x)
    x = layers.Conv2DTranspose(32, 3, activation="relu", strides=2, padding="same")(x)
    x = layers.BatchNormalization()(x)
    decoder_outputs = layers.Conv2DTranspose(1, 3, activation="sigmoid", padding="same")(x)
    decoder = keras.Model(latent_inputs, decoder_outputs, name="decoder")

    class VAE(keras.Model):
        def __init__(self, encoder, decoder, **kwargs):
            super().__init__(**kwargs)
            self.encoder = encoder
            self.decoder = decoder
            self.total_loss_tracker = keras.metrics.Mean(name="total_loss")
            self.reconstruction_loss_tracker = keras.metrics.Mean(name="reconstruction_loss")
            self.kl_loss_tracker = keras.metrics.Mean(name="kl_loss")

        @property
        def metrics(self):
            return [self.total_loss_tracker, self.reconstruction_loss_tracker, self.kl_loss_tracker]

        def train_step(self, data):
            with tf.GradientTape() as tape:
                z_mean, z_log_var, z = self.encoder(data, training=True)
                reconstruction = self.decoder(z, training=True)
                reconstruction_loss = ops.mean(
                    ops.sum(keras.losses.binary_crossentropy(data, reconstruction), axis=(1, 2))
                )
                kl_loss = -0.5 * (1 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var))
                kl_loss = ops.mean(ops.sum(kl_loss, axis=1))
                total_loss = reconstruction_loss + kl_loss
            grads = tape.gradient(total_loss, self.trainable_weights)
            self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
            self.total_loss_tracker.update_state(total_loss)
            self.reconstruction_loss_tracker.update_state(reconstruction_loss)
            self.kl_loss_tracker.update_state(kl_loss)
            return {m.name: m.result() for m in self.metrics}

    vae = VAE(encoder, decoder)
    vae.compile(optimizer=keras.optimizers.Adam())
    return vae


def _timer_callback(n: int, batch_size: int):
    """Images per second of training steps after the first one; validation excluded (as aecore's)."""
    import keras

    class Timer(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.last, self.done, self.busy, self.images = None, False, 0.0, 0

        def on_epoch_begin(self, epoch, logs=None):
            self.last = time.perf_counter() if self.done else None

        def on_train_batch_end(self, batch, logs=None):
            now = time.perf_counter()
            if self.last is not None:
                self.busy += now - self.last
                self.images += min(batch_size, n - batch * batch_size)
            self.done, self.last = True, now

        def on_test_begin(self, logs=None):
            self.last = None

        @property
        def img_per_s(self):
            return self.images / self.busy if self.busy else float("nan")

    return Timer()


def _reconstruct(model, x, batch: int = 500):
    import numpy as np

    return np.concatenate([np.asarray(model(x[i : i + batch], training=False)) for i in range(0, len(x), batch)])


def _vae_elbo(encode_fn, decode_fn, x, seed: int = 0) -> float:
    """Per-image ELBO loss (summed BCE + KL, nats) with fixed noise: the same code for both sides."""
    import numpy as np

    mean, log_var = encode_fn(x)
    eps = np.random.default_rng(seed).standard_normal(mean.shape).astype(np.float32)
    recon = np.clip(decode_fn(mean + np.exp(0.5 * log_var) * eps), 1e-7, 1 - 1e-7)
    rec = -(x * np.log(recon) + (1 - x) * np.log(1 - recon)).reshape(len(x), -1).sum(axis=1)
    kl = -0.5 * (1 + log_var - mean**2 - np.exp(log_var)).sum(axis=1)
    return float((rec + kl).mean())


def _same_start(model, arch: str, seed: int) -> bool:
    """Give the reference the initial weights aecore's train() starts from (same seed), so
    the test losses differ by training alone, not by the luck of the initialisation."""
    import keras

    from aecore.config import RunConfig
    from aecore.models import build_model

    extra = {"width": 1.0} if arch == "conv" else {}
    keras.utils.set_random_seed(seed)
    ours = build_model(RunConfig.for_arch(arch, seed=seed, **extra), (28, 28, 1)).get_weights()
    theirs = model.get_weights()
    if [w.shape for w in ours] != [w.shape for w in theirs]:
        return False
    model.set_weights(ours)
    return True


def _train_reference(arch: str, x_train, x_test, epochs: int, seed: int) -> tuple[float, float]:
    """(images/s, test loss) of the tutorial-style reference."""
    import keras
    import numpy as np

    from aecore import metrics as M

    keras.utils.set_random_seed(seed)
    n = len(x_train)
    timer = _timer_callback(n, BATCH)
    build = {"conv": _reference_conv, "stacked": _reference_stacked, "vae": _reference_vae}[arch]
    model = build()
    _same_start(model, arch, seed)
    keras.utils.set_random_seed(seed)
    if arch == "conv":
        model.fit(x_train, x_train, epochs=epochs, batch_size=BATCH, shuffle=True,
                  validation_data=(x_test, x_test), callbacks=[timer], verbose=0)
        loss = float(M.per_example_bce(x_test, _reconstruct(model, x_test)).mean())
    elif arch == "stacked":
        flat, flat_test = x_train.reshape(n, -1), x_test.reshape(len(x_test), -1)
        model.fit(flat, flat, epochs=epochs, batch_size=BATCH, shuffle=True,
                  validation_data=(flat_test, flat_test), callbacks=[timer], verbose=0)
        loss = float(M.per_example_bce(flat_test, _reconstruct(model, flat_test)).mean())
    else:
        model.fit(x_train, epochs=epochs, batch_size=BATCH, callbacks=[timer], verbose=0)

        def enc(x):
            outs = [model.encoder(x[i : i + 500], training=False) for i in range(0, len(x), 500)]
            return tuple(np.concatenate([np.asarray(o[k]) for o in outs]) for k in (0, 1))

        loss = _vae_elbo(enc, lambda z: _reconstruct(model.decoder, z), x_test)
    return timer.img_per_s, loss


def _train_aecore(arch: str, data, n: int, epochs: int, seed: int):
    """(images/s, test loss, run) of aecore's own training, through its public train()."""
    from aecore import metrics as M
    from aecore.config import RunConfig
    from aecore.models import decode, encode_distribution
    from aecore.train import train

    extra = {"width": 1.0} if arch == "conv" else {}
    config = RunConfig.for_arch(arch, dataset="mnist-sample", epochs=epochs, batch_size=BATCH, train_size=n, seed=seed, **extra)
    run = train(config, data)
    x_test = data.x_test
    if arch == "vae":
        loss = _vae_elbo(lambda x: encode_distribution(run.model, x), lambda z: decode(run.model, z), x_test)
    else:
        from aecore.models import reconstruct

        loss = float(M.per_example_bce(x_test, reconstruct(run.model, x_test)).mean())
    return run.metrics["train_img_per_s"], loss, run


# ---------------------------------------------------------------------------------------
# The parts of the benchmark.

TRAIN_PLAN = {
    # arch: (training images, epochs) per repetition; quick mode uses its own small plan
    "stacked": (4000, 5),
    "conv": (2048, 2),  # two epochs: after one, batch order alone moves the test loss by +-10%
    "vae": (4000, 2),
}
QUICK_PLAN = {"stacked": (1024, 1), "conv": (384, 1), "vae": (512, 1)}
TARGETS = {"stacked": 1.3, "conv": 2.0, "vae": 1.3}


def bench_training(quick: bool) -> tuple[list[Figure], dict]:
    from aecore.data import load_dataset

    data = load_dataset("mnist-sample")
    plan = QUICK_PLAN if quick else TRAIN_PLAN
    reps = 1 if quick else 3
    warmup = 0 if quick else 1
    archs = [a for a in os.environ.get("AECORE_BENCH_ARCHS", "stacked,conv,vae").split(",") if a in plan]
    results = {a: {"aecore": [], "reference": [], "loss_aecore": [], "loss_reference": []} for a in archs}
    runs = {}
    for rep in range(warmup + reps):
        for arch in archs:
            n, epochs = plan[arch]
            x_train = data.x_train[:n]
            order = ("aecore", "reference") if rep % 2 == 0 else ("reference", "aecore")
            for side in order:
                if side == "aecore":
                    rate, loss, run = _train_aecore(arch, data, n, epochs, seed=rep)
                    runs[arch] = run
                else:
                    rate, loss = _train_reference(arch, x_train, data.x_test, epochs, seed=rep)
                _log(f"  {'warm-up' if rep < warmup else f'rep {rep - warmup + 1}'} {arch:7s} {side:9s} "
                     f"{rate:8.1f} img/s  test loss {loss:.4f}")
                if rep >= warmup:
                    results[arch][side].append(rate)
                    results[arch]["loss_" + side].append(loss)
    figures = []
    for arch in archs:
        r = results[arch]
        ours, ref = _median(r["aecore"]), _median(r["reference"])
        n, epochs = plan[arch]
        figures.append(Figure(f"train_throughput_{arch}", ours, "img/s", ref, ours / ref,
                              target=f">= {TARGETS[arch]}x", extra={"batch_size": BATCH, "images": n, "epochs": epochs,
                                                                    "repetitions": reps}))
    for arch in archs:
        # Both sides start from the same weights with the same seed, so each repetition is a
        # pair that differs only by batch order and arithmetic: mean over pairs, and each pair's ratio.
        r = results[arch]
        ours, ref = statistics.fmean(r["loss_aecore"]), statistics.fmean(r["loss_reference"])
        n, epochs = plan[arch]
        unit = "nats/image (ELBO)" if arch == "vae" else "nats/pixel (BCE)"
        pairs = [round(a / b, 3) for a, b in zip(r["loss_aecore"], r["loss_reference"])]
        figures.append(Figure(f"test_loss_{arch}", ours, unit, ref, ours / ref, target="<= reference",
                              note=f"mean of {len(pairs)}, {epochs} epoch(s) on {n} images, test set of {len(data.x_test)}",
                              extra={"pair_ratios": pairs}))
    return figures, runs


def _percentile(xs, q):
    import numpy as np

    return float(np.percentile(np.asarray(xs), q))


def bench_inference(run, quick: bool) -> list[Figure]:
    """The slider path (decode one latent vector) and the 20 x 20 manifold grid, vs Keras' predict."""
    import numpy as np

    from aecore.models import decode

    model = run.model
    decoder = model.get_layer("decoder") if not hasattr(model, "decoder") else model.decoder
    rng = np.random.default_rng(0)
    k = decoder.input_shape[-1]
    n = 50 if quick else 300
    zs = rng.standard_normal((n, k)).astype(np.float32)
    decode(model, zs[0])  # first call: tracing, off the measured path (and the user's: see warm_up)
    ours = []
    for z in zs:
        t = time.perf_counter()
        decode(model, z[None])
        ours.append((time.perf_counter() - t) * 1000)
    ref = []
    decoder.predict(zs[:1], verbose=0)
    for z in zs[: n // 3]:
        t = time.perf_counter()
        decoder.predict(z[None], verbose=0)
        ref.append((time.perf_counter() - t) * 1000)
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
        grid_ours.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        decoder.predict(grid, verbose=0, batch_size=len(grid))
        grid_ref.append((time.perf_counter() - t) * 1000)
    p50, p95, r50, r95 = (_percentile(ours, 50), _percentile(ours, 95), _percentile(ref, 50), _percentile(ref, 95))
    g, gr = _median(grid_ours), _median(grid_ref)
    note = f"{run.config.arch} decoder, latent {k}; reference: decoder.predict"
    return [
        Figure("decode_latency_p50", p50, "ms", r50, p50 / r50, note=note, target="<= 10 ms"),
        Figure("decode_latency_p95", p95, "ms", r95, p95 / r95, note=note),
        Figure("manifold_grid_20x20", g, "ms", gr, g / gr, note=note, target="<= 150 ms"),
    ]


def bench_cached_ready(runs: dict, quick: bool) -> tuple[list[Figure], float]:
    """A fresh process asks get_run for runs saved in the store: the first request, then later ones."""
    from aecore.store import RunStore

    root = tempfile.mkdtemp(prefix="aecore-bench-store-")
    store = RunStore(root)
    for run in runs.values():
        store.save(run)
    configs = {arch: run.config.to_dict() for arch, run in runs.items()}
    repeats = 3 if quick else 7
    result = _child(f"""
        import json, time, statistics
        t0 = time.perf_counter()
        from aecore.config import RunConfig
        from aecore.data import load_dataset
        from aecore.store import RunStore
        from aecore.train import get_run
        t_import = time.perf_counter() - t0
        data = load_dataset("mnist-sample")
        store = RunStore({root!r})
        configs = {configs!r}
        out = {{"import_s": t_import, "first": {{}}, "later": {{}}, "first_decode": {{}}}}
        for arch, d in configs.items():
            config = RunConfig.from_dict(d)
            t = time.perf_counter()
            run = get_run(config, store, data=data)
            out["first"][arch] = time.perf_counter() - t
            assert run.cached, "not served from the store"
            from aecore.models import decode, reconstruct
            t = time.perf_counter()
            reconstruct(run.model, data.x_test[:1])
            out["first_decode"][arch] = time.perf_counter() - t
        for arch, d in configs.items():
            config = RunConfig.from_dict(d)
            times = []
            for _ in range({repeats}):
                t = time.perf_counter()
                run = get_run(config, store, data=data)
                times.append(time.perf_counter() - t)
            out["later"][arch] = statistics.median(times)
        print(json.dumps(out))
    """)
    first_arch = next(iter(configs))
    figures = [
        Figure("cached_run_ready_first", result["first"][first_arch] * 1000, "ms",
               note=f"first get_run in a fresh process ({first_arch}), store hit, imports done"),
    ]
    for arch in configs:
        figures.append(Figure(f"cached_run_ready_{arch}", result["later"][arch] * 1000, "ms", target="<= 1000 ms",
                              note=f"later get_run of a stored {arch} run (median of {repeats})",
                              extra={"first_ms": _round(result["first"][arch] * 1000),
                                     "first_inference_ms": _round(result["first_decode"][arch] * 1000)}))
    return figures, result["import_s"]


def bench_default_runs(quick: bool) -> list[Figure]:
    """Each default config trained in its own fresh process: seconds and peak resident memory.

    Peak memory is the process's VmHWM (ru_maxrss would carry the parent's peak across
    fork and exec). --quick trains tiny configs, all four processes at once.
    """
    from aecore.config import ARCHS

    code = """
        import contextlib, io, json, sys, time
        t0 = time.perf_counter()
        from aecore.__main__ import main
        out = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
            rc = main({argv!r})
        summary = json.loads(out.getvalue().strip().splitlines()[-1])
        hwm = [int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:")][0]
        print(json.dumps({{"rc": rc, "summary": summary, "wall": time.perf_counter() - t0, "peak_kb": hwm}}))
    """
    argvs = {}
    for arch in ARCHS:
        argv = ["train", "--arch", arch, "--no-cache"]
        if quick:
            argv += ["--epochs", "1"] + (["--train-size", "256"] if arch != "basic" else [])
        argvs[arch] = argv
    if quick:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(len(ARCHS)) as pool:
            results = dict(zip(ARCHS, pool.map(lambda a: _child(code.format(argv=argvs[a])), ARCHS)))
    else:
        results = {arch: _child(code.format(argv=argvs[arch])) for arch in ARCHS}
    figures = []
    label = "tiny config (quick, four processes at once)" if quick else "default config"
    for arch in ARCHS:
        result, s = results[arch], results[arch]["summary"]
        figures.append(Figure(f"train_peak_rss_{arch}", result["peak_kb"] / 1024, "MB", note=f"{label}, whole process"))
        figures.append(Figure(f"default_train_seconds_{arch}", s["seconds"], "s", target="<= 30 s",
                              note=f"{label}: build, compile, train, evaluate; process wall {result['wall']:.1f} s",
                              extra={"epochs": s["epochs"], "train_img_per_s": s.get("train_img_per_s")}))
        _log(f"  {arch:7s} {label}: {s['seconds']:.1f} s, peak RSS {result['peak_kb'] / 1024:.0f} MB")
    return figures


def bench_import(quick: bool, train_import_s: float | None) -> list[Figure]:
    """`import aecore` in fresh processes; `import aecore.train` (TensorFlow and Keras) as seen by the cached-run process."""
    times = [
        _child("""
            import json, time
            t = time.perf_counter()
            import aecore
            print(json.dumps({"s": time.perf_counter() - t}))
        """)["s"]
        for _ in range(1 if quick else 3)
    ]
    figures = [Figure("import_aecore", _median(times) * 1000, "ms", note="the package alone (its modules load on use)")]
    if train_import_s is not None:
        figures.append(Figure("import_aecore_train", train_import_s * 1000, "ms",
                              note="config, data, store and train: TensorFlow and Keras included"))
    return figures


def _wait_idle(page, timeout_ms: int) -> None:
    """Until Streamlit's 'running' indicator is gone and a heading is drawn."""
    page.wait_for_timeout(300)
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=timeout_ms)
    page.wait_for_selector("h1", timeout=timeout_ms)


def bench_app(quick: bool) -> list[Figure]:
    """`streamlit run app.py`: start to first page ready, every page's ready time, and server peak memory.

    The run cache is filled with every default run first (not in --quick), so each page
    shows a trained model, as a visitor of the hosted demo would see it.
    """
    app_file = REPO / "app.py"
    left = []
    if not app_file.is_file():
        left.append("app.py not found: bench --app runs from a checkout of the repository")
    else:
        # The repository's own launcher, shared with the browser tests and the load test.
        sys.path.insert(0, str(REPO))
        from tools.appserver import CHROMIUM, launch_chromium, memory_mb, running_app

        if not os.access(CHROMIUM, os.X_OK):
            left.append(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        left.append("playwright is not installed")
    if left:
        note = "left: " + "; ".join(left)
        return [Figure("app_first_page_ready", None, "s", note=note), Figure("app_server_peak_rss", None, "MB", note=note)]

    from aecore.config import ARCHS

    cache = tempfile.mkdtemp(prefix="aecore-bench-app-")
    if not quick:
        _log("filling the run cache with the default runs:")
        for arch in ARCHS:
            t = time.perf_counter()
            subprocess.run([sys.executable, "-m", "aecore", "train", "--arch", arch, "--cache-dir", cache],
                           env=_env(), cwd=REPO, capture_output=True, timeout=600, check=True)
            _log(f"  {arch}: {time.perf_counter() - t:.1f} s")

    figures: list[Figure] = []
    log_path = Path(cache) / "streamlit.log"
    started = time.perf_counter()
    try:
        with running_app({**_env(), "AECORE_CACHE_DIR": cache}, log_path) as (url, server):
            healthy = time.perf_counter() - started
            from playwright.sync_api import sync_playwright

            with sync_playwright() as pw:
                browser = launch_chromium(pw)
                try:
                    page = browser.new_page(viewport={"width": 1400, "height": 1000})
                    page.goto(url)
                    _wait_idle(page, 120_000)
                    first = time.perf_counter() - started
                    figures.append(Figure("app_first_page_ready", first, "s",
                                          note=f"streamlit run to the home page drawn in Chromium "
                                               f"(server healthy at {healthy:.1f} s)"))
                    _log(f"  first page ready {first:.1f} s (healthy {healthy:.1f} s)")
                    links = page.locator('[data-testid="stSidebarNav"] a')
                    hrefs = []
                    for i in range(links.count()):
                        href = links.nth(i).get_attribute("href")
                        if href and href not in hrefs:
                            hrefs.append(href)
                    for href in hrefs:
                        target = href if href.startswith("http") else url + "/" + href.lstrip("/")
                        t = time.perf_counter()
                        page.goto(target)
                        _wait_idle(page, 300_000)
                        ready = time.perf_counter() - t
                        name = target.rstrip("/").rsplit("/", 1)[-1] or "home"
                        if name.startswith("127.0.0.1"):
                            name = "home"
                        figures.append(Figure(f"app_page_ready_{name}", ready * 1000, "ms",
                                              note="page load in a new session, cached default run" if not quick else
                                              "page load in a new session, empty cache (quick)"))
                        _log(f"  {name}: {ready * 1000:.0f} ms, server RSS {memory_mb(server.pid, 'VmRSS') or 0:.0f} MB")
                finally:
                    browser.close()
            peak, now = memory_mb(server.pid), memory_mb(server.pid, "VmRSS")
            figures.append(Figure("app_server_peak_rss", peak, "MB", target="<= 1536 MB",
                                  note=f"streamlit server after visiting all {len(hrefs)} pages"
                                       f"{' with every default run cached' if not quick else ' (quick: empty cache)'};"
                                       f" resident now {now if now else float('nan'):.0f} MB"))
    except Exception as exc:  # noqa: BLE001  (report what was left, never a traceback)
        tail = log_path.read_text()[-300:].strip().replace("\n", " | ") if log_path.exists() else ""
        figures.append(Figure("app_bench_incomplete", None, "", note=f"left: {type(exc).__name__}: {str(exc)[:200]}"
                                                                   f"{'; server log: ' + tail if tail else ''}"))
    return figures


# ---------------------------------------------------------------------------------------


def _table(figures: list[Figure]) -> str:
    rows = [("figure", "aecore", "reference", "ratio", "unit", "target")]
    for f in figures:
        rows.append((f.name, _fmt(f.value), _fmt(f.reference), f"{f.ratio:.2f}x" if f.ratio is not None and math.isfinite(f.ratio) else "",
                     f.unit, f.target))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) if i in (0, 4, 5) else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _fmt(x) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return ""
    return f"{x:.4g}" if abs(x) < 1000 else f"{x:.0f}"


def main(quick: bool = False, app: bool = False) -> int:
    started = time.perf_counter()
    load = os.getloadavg()
    _log(f"aecore bench{' --quick' if quick else ''}{' --app' if app else ''}: {os.cpu_count()} cores, "
         f"load average {load[0]:.2f} (others' work slows both sides alike; compare ratios)")
    if app:
        figures = bench_app(quick)
    else:
        import keras  # noqa: F401  (imported here so import timing below is of fresh processes only)

        _log("training (median of repetitions, first step excluded):")
        figures, runs = bench_training(quick)
        if "vae" in runs:
            _log("inference:")
            figures += bench_inference(runs["vae"], quick)
        train_import_s = None
        if runs:
            _log("cached runs:")
            cached, train_import_s = bench_cached_ready(runs, quick)
            figures += cached
        _log("default configs, one process each:")
        figures += bench_default_runs(quick)
        figures += bench_import(quick, train_import_s)
    load_end = os.getloadavg()
    print(_table(figures))
    print(f"# {time.perf_counter() - started:.0f} s; load average {load[0]:.2f} at start, {load_end[0]:.2f} at end"
          f"{'; quick mode: tiny sizes, one repetition, numbers are a smoke test only' if quick else ''}")
    for f in figures:
        print(f.line())
    return 0
