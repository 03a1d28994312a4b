"""The training queue: at most N trainings at once in one process, first come first served, one job per run.

Sessions of a server (or any caller) submit a config and follow the job it makes: a
second submission of the same run (same run-store key) joins the job already queued or
training instead of training again. Followers are subscriber ids that heartbeat; one
not seen for `heartbeat_timeout` seconds is dropped, and so is one whose `alive` check
(given with its submission: in a server, whether its session is still connected) says
it has gone. A job nobody follows any more is cancelled: a queued one leaves the queue, a training one stops at its next progress
report (a batch or two) and stores nothing. Each job runs in its own thread, which
ends with the job.

While a job trains it keeps its progress, the last reconstructions of the replay images
(before training, every few seconds within an epoch and at its end: live_frame) and, after
each epoch, a snapshot for live views: the loss history so far, the replay frame train()
computes anyway and, for a model whose encoder outputs a distribution (the VAE), a fixed
small test subset encoded.

Knows nothing of Streamlit; never imports it.
"""

from __future__ import annotations

import enum
import heapq
import itertools
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from aecore import metrics as M
from aecore import runner
from aecore import train as training
from aecore.config import RunConfig
from aecore.datasets import Dataset
from aecore.errors import ConfigError, DataError
from aecore.models import encode, has_distribution
from aecore.run import Run
from aecore.store import RunStore, run_key

MAX_TRAININGS_ENV = "AECORE_MAX_TRAININGS"
# One training already keeps both cores of a 2-core server busy; a second at once finishes neither sooner
# (docs/RELIABILITY.md, "Many users training at once", has the measurements behind this default).
DEFAULT_MAX_TRAININGS = 1
# A follower's page polls every second or two; a closed one stops. Generous, because an overloaded server
# delays polls, and a session that closes is usually dropped at once by its alive check.
HEARTBEAT_TIMEOUT_S = 60.0
LIVE_LATENT_EXAMPLES = 300  # test images encoded after each epoch for the live latent scatter
MAX_LOSS_TRACE = 1000  # points of a job's live loss curve: past it, every other one is dropped (the whole run stays)

log = logging.getLogger(__name__)


def max_trainings_setting() -> int:
    """N, the trainings one process runs at once: AECORE_MAX_TRAININGS (a whole number from 1), else the default."""
    text = os.environ.get(MAX_TRAININGS_ENV, "").strip()
    if not text:
        return DEFAULT_MAX_TRAININGS
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise ConfigError(f"{MAX_TRAININGS_ENV} must be a whole number of 1 or more, not '{text}'.")
    return value


class JobState(enum.Enum):
    QUEUED = "queued"
    TRAINING = "training"
    DONE = "done"
    FAILED = "failed"
    STOPPED = "stopped"


class Cancelled(Exception):
    """Raised inside training (from its progress report) to abort a job nobody follows."""


@dataclass(frozen=True)
class EpochSnapshot:
    """What a live view shows after an epoch; never changed once made."""

    epoch: int
    epochs: int
    seconds: float
    history: dict[str, list[float]]
    replay_frame: np.ndarray | None  # the replay images reconstructed after this epoch (None for vectors)
    latent_points: np.ndarray | None  # (n, 2): the fixed test subset's codes (a VAE's means), for its scatter
    latent_labels: np.ndarray | None
    latent_axis: str = "latent"


class Job:
    """One training, followed by one or more subscribers. Its fields are written by the queue only."""

    def __init__(self, key: str, config: RunConfig, data: Dataset, store: RunStore | None, number: int, now: float):
        self.key, self.config, self.data, self.store = key, config, data, store
        self.number = number  # submission order, from 1
        self.state = JobState.QUEUED
        self.submitted_at, self.started_at, self.finished_at = now, None, None
        self.progress: training.TrainProgress | None = None
        self.first_step: tuple[float, float] | None = None  # (queue clock, fraction done) at its first step's report
        # (epochs done, running training loss) at each batch report: the live loss curve, within epochs too
        self.loss_trace: list[tuple[float, float]] = []
        self.live_frame: training.TrainProgress | None = None  # the last progress that held reconstructions
        self.snapshot: EpochSnapshot | None = None
        self.run: Run | None = None
        self.saved = False  # the run was kept in the store
        self.error: str | None = None  # one sentence, when FAILED
        self.subscribers: dict[str, float] = {}  # subscriber id -> last seen (queue clock)
        self.alive: dict[str, Callable[[], bool]] = {}  # subscriber id -> whether it is still there
        self.cancel = threading.Event()
        self.finished = threading.Event()
        self.thread: threading.Thread | None = None
        self._history: dict[str, list[float]] = {}

    @property
    def active(self) -> bool:
        return self.state in (JobState.QUEUED, JobState.TRAINING)

    @property
    def train_images(self) -> int:
        n = len(self.data.x_train)
        return min(self.config.train_size or n, n)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job has ended (done, failed or stopped); whether it has."""
        return self.finished.wait(timeout)

    def __repr__(self) -> str:
        return f"Job({self.number}, {self.config.describe()}, {self.state.value})"


class TrainingQueue:
    """At most max_running jobs train at once; the rest wait in submission order."""

    def __init__(self, max_running: int | None = None, heartbeat_timeout: float = HEARTBEAT_TIMEOUT_S,
                 clock=time.monotonic):
        self.max_running = max_running if max_running is not None else max_trainings_setting()
        if self.max_running < 1:
            raise ValueError("max_running must be at least 1")
        self.heartbeat_timeout = heartbeat_timeout
        self.clock = clock
        self._lock = threading.Lock()
        self._waiting: list[Job] = []
        self._running: list[Job] = []
        self._by_key: dict[str, Job] = {}  # every active job by its run key
        self._numbers = itertools.count(1)
        # Measured on finished trainings, per architecture, for wait estimates: seconds before the first step
        # (building, tracing, compiling) and wall seconds per training image and epoch after it.
        self._seconds_before_steps: dict[str, float] = {}
        self._seconds_per_image_epoch: dict[str, float] = {}
        self.started: list[int] = []  # job numbers in the order they started training (tests, the load test)

    # --- what callers do ---------------------------------------------------------------------

    def submit(self, config: RunConfig, data: Dataset, store: RunStore | None, subscriber: str,
               alive: Callable[[], bool] | None = None) -> Job:
        """Follow the job of config's run: the one queued or training already, else a new one at the back.
        alive, if given, says whether the subscriber is still there (called often: keep it cheap)."""
        key = run_key(config, data.fingerprint)
        with self._lock:
            self._prune()
            job = self._by_key.get(key)
            if job is None:
                job = Job(key, config, data, store, next(self._numbers), self.clock())
                self._by_key[key] = job
                self._waiting.append(job)
            job.subscribers[subscriber] = self.clock()
            if alive is not None:
                job.alive[subscriber] = alive
            self._dispatch()
            return job

    def heartbeat(self, job: Job, subscriber: str) -> None:
        """The subscriber still follows job (its page is open)."""
        with self._lock:
            if job.active and subscriber in job.subscribers:
                job.subscribers[subscriber] = self.clock()
            self._prune()

    def leave(self, job: Job, subscriber: str) -> None:
        """The subscriber no longer follows job (Stop, or another config); a job left with none is cancelled."""
        with self._lock:
            job.subscribers.pop(subscriber, None)
            self._prune()

    def position(self, job: Job) -> int:
        """1 for the first in line, 2 for the next...; 0 once it trains or has ended."""
        with self._lock:
            self._prune()
            return self._waiting.index(job) + 1 if job in self._waiting else 0

    def wait_seconds(self, job: Job) -> float | None:
        """About how long until a queued job starts (0 when it is not waiting); None before anything was measured."""
        with self._lock:
            if job not in self._waiting:
                return 0.0
            now = self.clock()
            slots = [self._remaining(r, now) for r in self._running]
            slots += [0.0] * (self.max_running - len(self._running))
            if any(s is None for s in slots):
                return None
            heapq.heapify(slots)
            for ahead in self._waiting[: self._waiting.index(job)]:
                duration = self._duration(ahead, now)
                if duration is None:
                    return None
                heapq.heappush(slots, heapq.heappop(slots) + duration)
            return slots[0]

    def jobs(self) -> list[Job]:
        """The active jobs: training first, then waiting in order."""
        with self._lock:
            self._prune()
            return [*self._running, *self._waiting]

    # --- inside ------------------------------------------------------------------------------

    def _prune(self) -> None:
        """Drop subscribers not seen lately and cancel the jobs nobody follows; start what may start. Lock held."""
        now = self.clock()
        for job in [*self._running, *self._waiting]:
            for subscriber, seen in list(job.subscribers.items()):
                alive = job.alive.get(subscriber)
                if now - seen > self.heartbeat_timeout or (alive is not None and not alive()):
                    del job.subscribers[subscriber]
            if not job.subscribers:
                job.cancel.set()
                # Forget its key at once: a new submission of the run (Train again after Stop) gets a fresh job,
                # not this one, which ends stopped.
                if self._by_key.get(job.key) is job:
                    del self._by_key[job.key]
                if job in self._waiting:  # never started: it ends here; a training one ends in its own thread
                    self._waiting.remove(job)
                    self._end(job, JobState.STOPPED, None, now)
        self._dispatch()

    def _dispatch(self) -> None:
        while self._waiting and len(self._running) < self.max_running:
            job = self._waiting.pop(0)
            self._running.append(job)
            job.state, job.started_at = JobState.TRAINING, self.clock()
            self.started.append(job.number)
            job.thread = threading.Thread(target=self._work, args=(job,), name=f"aecore-training-{job.key[:8]}",
                                          daemon=True)
            job.thread.start()

    def _end(self, job: Job, state: JobState, run: Run | None, now: float) -> None:
        if self._by_key.get(job.key) is job:
            del self._by_key[job.key]
        job.run, job.state, job.finished_at = run, state, now
        job.finished.set()

    def _work(self, job: Job) -> None:
        """The job's thread: train (unless the store has the run already), save, end."""
        run, trained, state = None, False, JobState.FAILED

        def unless_cancelled():  # cancelled while evaluating: a stopped run is never saved
            if job.cancel.is_set():
                raise Cancelled

        try:
            run = runner.get_run(job.config, job.store, lambda p: self._report(job, p), job.data,
                                 before_save=unless_cancelled)
            trained = not run.cached
            job.saved = job.store is not None and (run.cached or job.store.contains(job.config, job.data.fingerprint))
            state = JobState.DONE
        except Cancelled:
            run, state = None, JobState.STOPPED
        except (ConfigError, DataError) as exc:
            run, job.error = None, str(exc)
        except Exception as exc:  # a job's failure is told to its followers, never kills the server
            log.exception("training %s failed", job.config.describe())
            run, job.error = None, f"Training failed ({type(exc).__name__}: {exc})."
        finally:
            with self._lock:
                self._running.remove(job)
                now = self.clock()
                if state is JobState.DONE and trained:
                    stepped_at, done = job.first_step or (job.started_at, 0.0)
                    arch = job.config.arch
                    self._seconds_before_steps[arch] = stepped_at - job.started_at
                    self._seconds_per_image_epoch[arch] = \
                        (now - stepped_at) / ((1 - done) * job.config.epochs * job.train_images)
                self._end(job, state, run, now)
                self._prune()

    def _report(self, job: Job, p: training.TrainProgress) -> None:
        """train()'s progress function for job: keep the progress (and an epoch's snapshot); abort if cancelled."""
        if job.cancel.is_set():
            raise Cancelled
        if p.epoch_end:
            for name, value in p.logs.items():
                job._history.setdefault(name, []).append(value)
            job.snapshot = _snapshot(job, p)
        if p.replay_frame is not None:
            job.live_frame = p
        if job.first_step is None and p.started and p.fraction < 1:
            job.first_step = (self.clock(), p.fraction)
        if p.started and "loss" in p.logs:  # a new list each time: a page may be drawing the one before
            trace = job.loss_trace if len(job.loss_trace) < MAX_LOSS_TRACE else job.loss_trace[::2]
            job.loss_trace = [*trace, (p.epoch - 1 + p.batch / p.batches, p.logs["loss"])]
        job.progress = p
        with self._lock:
            self._prune()
        if job.cancel.is_set():
            raise Cancelled

    def _remaining(self, job: Job, now: float) -> float | None:
        """Seconds a training job still needs: from its own progress, else from measured rates."""
        elapsed = now - job.started_at
        p = job.progress
        # From the steps' own pace: the seconds before the first step (a compile, say) are not a share of the run.
        if p is not None and job.first_step is not None and p.fraction > job.first_step[1]:
            stepped_at, done = job.first_step
            return (now - stepped_at) * (1 - p.fraction) / (p.fraction - done)
        duration = self._duration(job, now)
        return None if duration is None else max(0.0, duration - elapsed)

    def estimate_seconds(self, config: RunConfig, train_images: int) -> float | None:
        """About how long a training of config on train_images examples takes on this server, from the trainings
        of its architecture this queue has seen end; None before one has."""
        with self._lock:
            rate = self._seconds_per_image_epoch.get(config.arch)
            if rate is None:
                return None
            return self._seconds_before_steps.get(config.arch, 0.0) + rate * config.epochs * train_images

    def _duration(self, job: Job, now: float) -> float | None:
        """Seconds a job takes: measured on finished jobs of its architecture, else on a running one's steps."""
        arch = job.config.arch
        before, rate = self._seconds_before_steps.get(arch, 0.0), self._seconds_per_image_epoch.get(arch)
        if rate is None:
            for r in self._running:
                if r.config.arch == arch and r.first_step is not None and r.progress.fraction > r.first_step[1]:
                    (stepped_at, done), fraction = r.first_step, r.progress.fraction
                    before = stepped_at - r.started_at
                    rate = (now - stepped_at) / ((fraction - done) * r.config.epochs * r.train_images)
                    break
        return None if rate is None else before + rate * job.config.epochs * job.train_images


def _snapshot(job: Job, p: training.TrainProgress) -> EpochSnapshot:
    points = labels = None
    axis = "latent"
    if p.model is not None and job.data.is_image:
        if has_distribution(p.model):  # the VAE: its latent space is what the page is about
            x = job.data.x_test[:LIVE_LATENT_EXAMPLES]
            points, axis = M.project_2d(encode(p.model, x))
            labels = None if job.data.y_test is None else job.data.y_test[:LIVE_LATENT_EXAMPLES]
    history = {name: list(values) for name, values in job._history.items()}
    return EpochSnapshot(p.epoch, p.epochs, p.seconds, history, p.replay_frame, points, labels, axis)


_shared: TrainingQueue | None = None
_shared_lock = threading.Lock()


def shared_queue() -> TrainingQueue:
    """The process's one queue (made on first use, with N from the setting)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = TrainingQueue()
        return _shared
