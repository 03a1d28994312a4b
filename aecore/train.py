"""One training entry for the CLI and the app: get_run (cache hit or train) and train."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import keras
import numpy as np

from aecore import metrics as M
from aecore.config import RunConfig
from aecore.data import Dataset, load_dataset, subsample
from aecore.models import VAE, build_model, reconstruct

REPLAY_IMAGES = 8  # test digits reconstructed after every epoch (the training replay)
MAX_VALIDATION = 1000  # validation examples per epoch: enough for a curve, cheap on 2 cores


@dataclass(frozen=True)
class TrainProgress:
    """What a progress bar needs: where training is and the loss so far."""

    epoch: int  # 1-based
    epochs: int
    batch: int  # 1-based, within the epoch
    batches: int
    seconds: float
    logs: dict[str, float]

    @property
    def fraction(self) -> float:
        return min(1.0, ((self.epoch - 1) * self.batches + self.batch) / max(1, self.epochs * self.batches))


ProgressFn = Callable[[TrainProgress], None]


@dataclass
class Run:
    """A trained model with its history (per epoch), test metrics and timings."""

    config: RunConfig
    model: keras.Model
    history: dict[str, list[float]]
    metrics: dict[str, float]
    data_fingerprint: str
    replay: np.ndarray | None = None  # (epochs + 1, REPLAY_IMAGES, 28, 28, 1): before training, then after each epoch
    cached: bool = False
    trained_at: float = field(default_factory=time.time)

    @property
    def seconds(self) -> float:
        return self.metrics["seconds"]

    def summary(self) -> dict:
        """The JSON-ready facts of this run (what the CLI prints and the store keeps)."""
        return {
            "arch": self.config.arch,
            "dataset": self.config.dataset,
            "epochs": self.config.epochs,
            "cached": self.cached,
            "parameters": int(self.model.count_params()),
            **self.metrics,
        }


class _Progress(keras.callbacks.Callback):
    """Reports progress and measures training throughput after the first step (compile excluded)."""

    def __init__(self, n_train: int, batch_size: int, epochs: int, progress: ProgressFn | None, replay_x):
        super().__init__()
        self.batches = int(np.ceil(n_train / batch_size))
        self.n_train, self.batch_size, self.epochs = n_train, batch_size, epochs
        self.progress, self.replay_x = progress, replay_x
        self.replay = []
        self.start = time.perf_counter()
        self.epoch = 0
        self.last = None  # end of the previous timed step; None until the first step is done
        self.first_step_done = False
        self.busy = 0.0
        self.images = 0
        self.min_interval = 0.2  # seconds between batch reports: a UI need not redraw faster

    def on_train_begin(self, logs=None):
        if self.replay_x is not None:
            self.replay.append(reconstruct(self.model, self.replay_x))

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch + 1
        self.last = time.perf_counter() if self.first_step_done else None
        self.last_report = 0.0

    def on_train_batch_end(self, batch, logs=None):
        now = time.perf_counter()
        if self.last is not None:
            self.busy += now - self.last
            self.images += min(self.batch_size, self.n_train - batch * self.batch_size)
        self.first_step_done = True
        self.last = now
        if self.progress and (now - self.last_report >= self.min_interval or batch + 1 == self.batches):
            self.last_report = now
            self._report(batch + 1, logs)

    def on_test_begin(self, logs=None):
        self.last = None  # validation time is not training time

    def on_epoch_end(self, epoch, logs=None):
        if self.replay_x is not None:
            self.replay.append(reconstruct(self.model, self.replay_x))
        if self.progress:
            self._report(self.batches, logs)

    def _report(self, batch, logs):
        logs = {k: float(v) for k, v in (logs or {}).items()}
        self.progress(TrainProgress(self.epoch, self.epochs, batch, self.batches, time.perf_counter() - self.start, logs))

    @property
    def img_per_s(self) -> float:
        return self.images / self.busy if self.busy > 0 else float("nan")


def _noisy(x: np.ndarray, level: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(x + level * rng.standard_normal(x.shape, dtype=np.float32), 0.0, 1.0)


def train(config: RunConfig, data: Dataset | None = None, progress: ProgressFn | None = None) -> Run:
    """Train config's model on its dataset (seeded) and evaluate it on the test split."""
    config = config.validated()
    data = data or load_dataset(config.dataset)
    x_train, _ = subsample(data.x_train, data.y_train, config.train_size)
    x_val = data.x_test[:MAX_VALIDATION]
    keras.utils.set_random_seed(config.seed)
    model = build_model(config, data.input_shape)

    # Denoising: noisy inputs, clean targets. The noise is fixed per seed so runs repeat.
    inputs_train = _noisy(x_train, config.noise, config.seed) if config.noise else x_train
    inputs_val = _noisy(x_val, config.noise, config.seed + 1) if config.noise else x_val
    replay_x = data.x_test[:REPLAY_IMAGES] if data.is_image else None
    if replay_x is not None and config.noise:
        replay_x = _noisy(replay_x, config.noise, config.seed + 2)

    callback = _Progress(len(x_train), config.batch_size, config.epochs, progress, replay_x)
    started = time.perf_counter()
    fit = model.fit(
        inputs_train,
        x_train,
        validation_data=(inputs_val, x_val),
        epochs=config.epochs,
        batch_size=config.batch_size,
        shuffle=True,
        callbacks=[callback],
        verbose=0,
    )
    seconds = time.perf_counter() - started
    history = {k: [float(v) for v in vs] for k, vs in fit.history.items()}
    results = evaluate(model, config, data)
    results.update(seconds=round(seconds, 3), train_img_per_s=round(callback.img_per_s, 1))
    replay = np.stack(callback.replay).astype(np.float16) if callback.replay else None
    return Run(config, model, history, results, data.fingerprint, replay)


def evaluate(model: keras.Model, config: RunConfig, data: Dataset) -> dict[str, float]:
    """Test metrics: MSE/BCE/PSNR for images, ELBO parts for the VAE, the PCA baseline for basic."""
    x_test = data.x_test
    inputs = _noisy(x_test, config.noise, config.seed + 3) if config.noise else x_test
    recon = reconstruct(model, inputs)
    out: dict[str, float] = {}
    if data.is_image:
        out.update(M.image_metrics(x_test, recon))
        if config.noise:
            out["noisy_psnr"] = float(M.psnr(M.per_example_mse(x_test, inputs).mean()))
    else:
        out["test_mse"] = float(M.per_example_mse(x_test, recon).mean())
    if isinstance(model, VAE):
        # The ELBO estimate samples z; seed it so a repeated evaluation gives the same numbers.
        keras.utils.set_random_seed(config.seed)
        parts = model.evaluate(inputs, x_test, batch_size=500, verbose=0, return_dict=True)
        out.update(test_loss=float(parts["loss"]), test_rec=float(parts["rec"]), test_kl=float(parts["kl"]))
    if config.arch == "basic":
        pca_mse, pca = M.pca_baseline(data.x_train, x_test, config.latent_dim)
        out["pca_mse"] = pca_mse
        if config.activation == "linear" and config.latent_dim < data.input_shape[0]:
            # The decoder's weight rows span the learned plane (its bias shifts it).
            w = model.get_layer("decoder").get_layer("reconstruction").get_weights()[0]
            out["pca_angle_deg"] = M.plane_angle_deg(w, pca.components_)
    return out


def get_run(config: RunConfig, store=None, progress: ProgressFn | None = None, data: Dataset | None = None) -> Run:
    """The run for config: from the store when it has it (cached=True), else trained and saved."""
    config = config.validated()
    data = data or load_dataset(config.dataset)
    if store is not None:
        run = store.load(config, data.fingerprint)
        if run is not None:
            return run
    run = train(config, data, progress)
    if store is not None:
        store.save(run)
    return run
