"""Training: train(config) builds, fits and evaluates one model, seeded by its config alone."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from aecore import distribute
from aecore import metrics as M
from aecore.config import RunConfig
from aecore.datasets import Dataset, load_dataset, subsample
from aecore.models import build_model, get_spec, reconstruct
from aecore.run import Run

REPLAY_IMAGES = 8  # test digits reconstructed after every epoch (the training replay)
MAX_VALIDATION = 500  # validation examples per epoch: enough for a curve, a small share of an epoch's time
VALIDATION_BATCH = 250  # one fixed validation batch shape (divides MAX_VALIDATION): XLA compiles it once
WARMUP_SHARE = 0.1  # of a cosine schedule's steps, spent rising from 0 to the config's learning rate
# Within an epoch, the replay images are reconstructed again this often for a live view (a forward pass of a
# few images, next to seconds of training): a picture moves while a long epoch runs, at each tick of a live view
# that polls less often than this.
LIVE_FRAME_S = 1.0
REPORT_S = 0.2  # seconds between batch reports at most: a UI need not redraw faster



@dataclass(frozen=True)
class TrainProgress:
    """What a progress bar needs: where training is and the loss so far (and, at epoch ends, what a live view needs)."""

    epoch: int  # 1-based
    epochs: int
    batch: int  # 1-based, within the epoch
    batches: int
    seconds: float
    logs: dict[str, float]
    # For live views: the replay images reconstructed now (before training, every LIVE_FRAME_S within an epoch
    # and at its end; None for vectors and in between), and at an epoch's end the model being trained, to
    # read, never to fit (reading them costs no extra pass over the data).
    epoch_end: bool = False
    replay_frame: np.ndarray | None = None
    model: keras.Model | None = None

    @property
    def fraction(self) -> float:
        return min(1.0, ((self.epoch - 1) * self.batches + self.batch) / max(1, self.epochs * self.batches))

    @property
    def started(self) -> bool:
        """Whether a training step has run (before that: building, tracing and compiling the first one)."""
        return self.epoch > 1 or self.batch > 0


ProgressFn = Callable[[TrainProgress], None]


class _Progress(keras.callbacks.Callback):
    """Reports progress and measures training throughput after the first step (compile excluded).

    Keras calls on_train_batch_end once per execution (steps_per_execution steps) with the
    index of the last step in it, so images are counted from step indices, never per call.
    """

    def __init__(self, steps: int, batch_size: int, epochs: int, progress: ProgressFn | None, replay_x):
        super().__init__()
        self.batches, self.batch_size, self.epochs = steps, batch_size, epochs
        self.progress, self.replay_x = progress, replay_x
        self.replay = []
        self.start = time.perf_counter()
        self.epoch = 0
        self.last = None  # end of the previous timed execution; None until the first one is done
        self.last_step = -1  # index (within the epoch) of the last step done
        self.first_step_done = False
        self.first_step_at = None  # perf_counter() when the first execution ended: tracing and compiling included
        self.busy = 0.0
        self.images = 0
        self.last_report = 0.0
        self.last_frame = 0.0

    def on_train_begin(self, logs=None):
        if self.replay_x is not None:
            self.replay.append(reconstruct(self.model, self.replay_x))
        if self.progress:  # the untrained model's reconstructions, while the first step compiles
            self.epoch = 1
            self.last_frame = time.perf_counter()
            self._report(0, logs, frame=self.replay[-1] if self.replay else None)

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch + 1
        self.last = time.perf_counter() if self.first_step_done else None
        self.last_step = -1
        self.last_report = 0.0

    def on_train_batch_end(self, batch, logs=None):
        now = time.perf_counter()
        batch = min(batch, self.batches - 1)
        if self.last is not None:
            self.busy += now - self.last
            self.images += (batch - self.last_step) * self.batch_size
        if not self.first_step_done:
            self.first_step_done, self.first_step_at = True, now
        self.last, self.last_step = now, batch
        if self.progress and batch + 1 < self.batches and now - self.last_report >= REPORT_S:
            self.last_report = now
            frame = None
            if self.replay_x is not None and now - self.last_frame >= LIVE_FRAME_S:
                self.last_frame = now
                frame = reconstruct(self.model, self.replay_x)
            self._report(batch + 1, logs, frame=frame)
            self.last = time.perf_counter()  # reporting is not training time

    def on_test_begin(self, logs=None):
        self.last = None  # validation time is not training time

    def on_epoch_end(self, epoch, logs=None):
        if self.replay_x is not None:
            self.replay.append(reconstruct(self.model, self.replay_x))
        if self.progress:
            self._report(self.batches, logs, epoch_end=True)

    def _report(self, batch, logs, epoch_end=False, frame=None):
        logs = {k: float(v) for k, v in (logs or {}).items()}
        if epoch_end and self.replay:
            frame = self.replay[-1]
            self.last_frame = time.perf_counter()
        self.progress(TrainProgress(self.epoch, self.epochs, batch, self.batches, time.perf_counter() - self.start, logs,
                                    epoch_end, frame, self.model if epoch_end else None))

    @property
    def img_per_s(self) -> float:
        return self.images / self.busy if self.busy > 0 else float("nan")


class _ReplicaWork(keras.callbacks.Callback):
    """Examples each of this process's replicas trained on in the last epoch, read from the loss metric's
    per-replica counts at the epoch's last step (before validation resets them)."""

    def __init__(self, steps: int):
        super().__init__()
        self.steps = steps
        self.examples: list[int] = []

    def on_train_batch_end(self, batch, logs=None):
        if batch >= self.steps - 1:
            count = next(v for v in self.model.metrics[0].variables if v.name == "count").value
            self.examples = [int(c.numpy()) for c in self.model.distribute_strategy.experimental_local_results(count)]


class _CosineSchedule(keras.callbacks.Callback):
    """The 'cosine' schedule: Keras's CosineDecay with a linear warm-up, over every step of the run.

    Set before each execution of the compiled step on the optimizer's learning-rate variable, so
    the compiled step is traced once, and the saved model keeps a plain optimizer.
    """

    def __init__(self, lr: float, steps: int, epochs: int):
        super().__init__()
        total = steps * epochs
        warmup = max(1, round(WARMUP_SHARE * total))
        self.steps = steps
        self.epoch = 0
        self.rate = keras.optimizers.schedules.CosineDecay(
            initial_learning_rate=0.0, decay_steps=max(1, total - warmup), warmup_target=lr, warmup_steps=warmup)

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        # The rate at the step's end, so the first step already moves (CosineDecay starts from 0).
        self.model.optimizer.learning_rate = float(self.rate(self.epoch * self.steps + batch + 1))


def schedule_callbacks(config: RunConfig, steps: int) -> list[keras.callbacks.Callback]:
    """The callbacks that carry out config.schedule over epochs of `steps` steps (none for 'constant')."""
    return [_CosineSchedule(config.lr, steps, config.epochs)] if config.schedule == "cosine" else []


# Denoising runs draw fixed noise per seed and purpose, so a run's exact inputs can be drawn again.
NOISE_SEED_OFFSETS = {"train": 0, "validation": 1, "replay": 2, "test": 3}


def noisy(x: np.ndarray, config: RunConfig, purpose: str) -> np.ndarray:
    """x with the run's Gaussian noise for purpose ('train', 'validation', 'replay' or 'test'), clipped
    to [0, 1]; x itself when the run has no noise."""
    if not config.noise:
        return x
    rng = np.random.default_rng(config.seed + NOISE_SEED_OFFSETS[purpose])
    return np.clip(x + config.noise * rng.standard_normal(x.shape, dtype=np.float32), 0.0, 1.0)


def _steps_per_execution(arch: str, steps: int) -> int:
    """Training steps per call of the compiled step: the largest divisor of steps up to the spec's value
    and a quarter of steps (at least 1), so progress still moves and throughput has steps after the first."""
    cap = max(1, min(get_spec(arch).steps_per_execution, steps // 4))
    return max(d for d in range(1, cap + 1) if steps % d == 0)


def _validation_size(n: int) -> int:
    """Validation examples used: a whole number of fixed-shape batches (every one if fewer than a batch)."""
    n = min(n, MAX_VALIDATION)
    return n if n <= VALIDATION_BATCH else n - n % VALIDATION_BATCH


def _training_batches(inputs: np.ndarray, targets: np.ndarray, batch_size: int, seed: int) -> tf.data.Dataset:
    """An endless, seeded, reshuffled-every-pass stream of full (inputs, targets) batches.

    Every batch has the same shape, so an XLA-compiled step is compiled once (a partial
    last batch would compile it again, several seconds for conv). Passes run into one
    another, so each example is still seen once per pass and none is dropped. Batches
    are gathered from one in-memory copy by shuffled indices (as Keras does for arrays)
    and prefetched while the previous step runs.
    """
    n = len(inputs)
    same = inputs is targets
    data = (tf.convert_to_tensor(inputs),) if same else (tf.convert_to_tensor(inputs), tf.convert_to_tensor(targets))
    indices = (
        tf.data.Dataset.range(n)
        .shuffle(n, seed=seed, reshuffle_each_iteration=True)
        .repeat()
        .batch(batch_size, drop_remainder=True)
    )

    def gather(i, arrays):
        batch = tuple(tf.gather(a, i) for a in arrays)
        return (batch[0], batch[0]) if same else batch

    batches = tf.data.Dataset.zip((indices, tf.data.Dataset.from_tensors(data).repeat()))
    # One gather per batch is cheap next to a step: a plain map and a fixed prefetch need
    # no autotuning. With tf.data's autotuning on, deleting the iterator at fit's end
    # waited for its tuning thread, for up to tens of seconds, at random.
    options = tf.data.Options()
    options.autotune.enabled = False
    # Under several workers each takes its share of every global batch (the source is in memory, not files).
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return batches.map(gather).prefetch(2).with_options(options)


def train(config: RunConfig, data: Dataset | None = None, progress: ProgressFn | None = None,
          strategy: tf.distribute.Strategy | None = None) -> Run:
    """Train config's model on its dataset (seeded) and evaluate it on the test split.

    With a tf.distribute strategy (aecore.distribute), the model is built in its scope and
    config.batch_size is the global batch, split across the replicas.
    """
    strategy = strategy or tf.distribute.get_strategy()
    config = config.validated()
    data = data or load_dataset(config.dataset)
    x_train, _ = subsample(data.x_train, data.y_train, config.train_size)
    x_val = data.x_test[:MAX_VALIDATION]
    started = time.perf_counter()  # wall seconds: building, compiling, training and evaluating
    # Seeded by the config alone (layer initializers, sampling, shuffling), never through process-wide
    # random state: other sessions of the same server may be training at this moment.
    with strategy.scope():
        model = build_model(config, data.input_shape, len(x_train))
    built = time.perf_counter()

    # Denoising: noisy inputs, clean targets. The noise is fixed per seed so runs repeat.
    inputs_train = noisy(x_train, config, "train")
    inputs_val = noisy(x_val, config, "validation")
    replay_x = noisy(data.x_test[:REPLAY_IMAGES], config, "replay") if data.is_image else None

    batch_size = min(config.batch_size, len(x_train))
    steps = math.ceil(len(x_train) / batch_size)
    model.steps_per_execution = _steps_per_execution(config.arch, steps)
    if steps * batch_size * config.epochs < get_spec(config.arch).xla_min_images:
        model.jit_compile = False
    distribute.prepare(model, strategy, data.input_shape)
    n_val = _validation_size(len(x_val))
    val_batch = min(VALIDATION_BATCH, n_val)

    callback = _Progress(steps, batch_size, config.epochs, progress, replay_x)
    replica_work = _ReplicaWork(steps)
    spec_callbacks = get_spec(config.arch).callbacks
    extra_callbacks = spec_callbacks(config, steps) if spec_callbacks else []
    fit = model.fit(
        _training_batches(inputs_train, x_train, batch_size, config.seed),
        validation_data=(inputs_val[:n_val], x_val[:n_val]),
        validation_batch_size=val_batch,
        epochs=config.epochs,
        steps_per_epoch=steps,
        shuffle=False,  # the batches are shuffled by the pipeline, seeded
        callbacks=[*schedule_callbacks(config, steps), *extra_callbacks, callback, replica_work],
        verbose=0,
    )
    history = {k: [float(v) for v in vs] for k, vs in fit.history.items()}
    fitted = time.perf_counter()
    results = evaluate(model, config, data)
    ended = time.perf_counter()
    first_step_at = callback.first_step_at or fitted
    results.update(seconds=round(ended - started, 3), train_img_per_s=round(callback.img_per_s, 1),
                   # Where the seconds went: building, the first step (tracing and compiling it), the rest of
                   # the fit (validation included) and the test evaluation.
                   seconds_build=round(built - started, 3), seconds_first_step=round(first_step_at - built, 3),
                   seconds_fit=round(fitted - first_step_at, 3), seconds_evaluate=round(ended - fitted, 3))
    replay = np.stack(callback.replay).astype(np.float16) if callback.replay else None
    placement = {**distribute.describe(strategy), "replica_examples": replica_work.examples,
                 "precision": model.dtype_policy.name}
    return Run(config, model, history, results, data.fingerprint, replay, placement=placement)


def evaluate(model: keras.Model, config: RunConfig, data: Dataset) -> dict[str, float]:
    """Test metrics: reconstruction error (MSE, BCE and PSNR for images; MSE for vectors), plus what the
    architecture's spec adds (the VAE's ELBO, basic's PCA baseline)."""
    x_test = data.x_test
    inputs = noisy(x_test, config, "test")
    recon = reconstruct(model, inputs)
    out: dict[str, float] = {}
    if data.is_image:
        out.update(M.image_metrics(x_test, recon))
        if config.noise:
            out["noisy_psnr"] = float(M.psnr(M.per_example_mse(x_test, inputs).mean()))
    else:
        out["test_mse"] = float(M.per_example_mse(x_test, recon).mean())
    extra = get_spec(config.arch).extra_metrics
    if extra is not None:
        # The validation batch size: its test function is traced already (another shape would retrace).
        out.update(extra(model, config, data, inputs, VALIDATION_BATCH))
    return out

