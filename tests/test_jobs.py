"""aecore.jobs: the training queue, without Streamlit.

Order, the bound, leaving, heartbeats and wait estimates are tested with a stand-in for
train() that waits for the test's go-ahead (so the test decides when a job ends) and a
clock the test moves; sharing one training, the live snapshots and Stop use real tiny
Keras training.
"""

from __future__ import annotations

import threading

import pytest

import aecore.train
from aecore import jobs
from aecore.datasets import load_dataset
from aecore.jobs import JobState, TrainingQueue
from aecore.run import Run
from aecore.train import TrainProgress
from tests.helpers import wait_until

WAIT_S = 120  # a bound on waits for real training, never a figure the test expects


@pytest.fixture(scope="module")
def data():
    return load_dataset("mnist-sample")


class GatedTraining:
    """Stands in for aecore.train.train: records each training as it starts and holds it until released."""

    def __init__(self):
        self.queues: list[TrainingQueue] = []
        self.jobs: list = []
        self.gates: dict[int, threading.Event] = {}
        self.running: set[int] = set()
        self.most_at_once = 0
        self.lock = threading.Lock()

    def gate(self, seed: int) -> threading.Event:
        with self.lock:
            return self.gates.setdefault(seed, threading.Event())

    def queue(self, **kwargs) -> TrainingQueue:
        """A queue whose jobs the test's end cleans up, and whose submissions are remembered."""
        queue = TrainingQueue(**kwargs)
        submit = queue.submit

        def remembered(*args, **kw):
            job = submit(*args, **kw)
            self.jobs.append(job)
            return job

        queue.submit = remembered
        self.queues.append(queue)
        return queue

    def release(self, seed: int) -> None:
        self.gate(seed).set()

    def __call__(self, config, data, progress, strategy=None):
        with self.lock:
            self.running.add(config.seed)
            self.most_at_once = max(self.most_at_once, len(self.running))
        try:
            assert self.gate(config.seed).wait(WAIT_S)
            progress(TrainProgress(1, 1, 1, 1, 0.0, {"loss": 1.0}))  # where a real training would notice Stop
            return Run(config, None, {"loss": [1.0]}, {"seconds": 0.0}, data.fingerprint)
        finally:
            with self.lock:
                self.running.discard(config.seed)


@pytest.fixture
def gated(monkeypatch):
    fake = GatedTraining()
    monkeypatch.setattr(aecore.train, "train", fake)
    yield fake
    # No job outlives its test (a later test's training would count it): all are left, and all end.
    for queue in fake.queues:
        for job in queue.jobs():
            for subscriber in list(job.subscribers):
                queue.leave(job, subscriber)
    for gate in list(fake.gates.values()):
        gate.set()
    for job in fake.jobs:
        assert job.wait(WAIT_S)


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize("n", [1, 2])
def test_jobs_start_in_submission_order_and_at_most_n_train_at_once(n, gated, tiny, data):
    queue = gated.queue(max_running=n)
    submitted = [queue.submit(tiny("vae", seed=seed), data, None, f"session {seed}") for seed in range(5)]
    wait_until(lambda: len(gated.running) == n)
    assert [job.state for job in submitted] == [JobState.TRAINING] * n + [JobState.QUEUED] * (5 - n)
    assert [queue.position(job) for job in submitted] == [0] * n + list(range(1, 6 - n))

    for seed in range(5):  # ended one by one, each frees a place for the next in line
        gated.release(seed)
        assert submitted[seed].wait(WAIT_S)
    assert [job.state for job in submitted] == [JobState.DONE] * 5
    assert queue.started == [1, 2, 3, 4, 5]
    assert gated.most_at_once == n
    assert queue.jobs() == []


def test_the_same_run_submitted_twice_is_one_job_and_one_leaving_does_not_stop_it(gated, tiny, data):
    queue = gated.queue(max_running=1)
    first = queue.submit(tiny("vae"), data, None, "a")
    second = queue.submit(tiny("vae"), data, None, "b")
    assert second is first and set(first.subscribers) == {"a", "b"}

    queue.leave(first, "a")  # one of two presses Stop: the other still follows it
    assert not first.cancel.is_set()
    gated.release(tiny("vae").seed)
    assert first.wait(WAIT_S) and first.state is JobState.DONE
    assert queue.started == [1]


def test_a_queued_job_left_by_all_leaves_the_queue_and_never_trains(gated, tiny, data):
    queue = gated.queue(max_running=1)
    running = queue.submit(tiny("vae", seed=0), data, None, "a")
    waiting = queue.submit(tiny("vae", seed=1), data, None, "b")
    last = queue.submit(tiny("vae", seed=2), data, None, "c")
    assert queue.position(last) == 2

    queue.leave(waiting, "b")
    assert waiting.wait(0) and waiting.state is JobState.STOPPED
    assert queue.position(last) == 1  # it moved up
    gated.release(0)
    gated.release(2)
    assert last.wait(WAIT_S) and running.state is JobState.DONE
    assert queue.started == [1, 3]


def test_a_follower_not_seen_for_the_timeout_is_dropped(gated, tiny, data):
    clock = Clock()
    queue = gated.queue(max_running=1, heartbeat_timeout=10, clock=clock)
    training = queue.submit(tiny("vae", seed=0), data, None, "a")
    waiting = queue.submit(tiny("vae", seed=1), data, None, "b")

    clock.now = 8
    queue.heartbeat(training, "a")  # a's page still polls; b's has closed
    clock.now = 12
    queue.heartbeat(training, "a")
    assert waiting.state is JobState.STOPPED and queue.position(waiting) == 0
    assert training.state is JobState.TRAINING

    clock.now = 30  # a has gone too: its training is cancelled, and stops at its next report
    assert queue.jobs() == [training] and training.cancel.is_set()
    gated.release(0)
    assert training.wait(WAIT_S) and training.state is JobState.STOPPED and training.run is None


def test_a_follower_whose_alive_check_fails_is_dropped_at_once(gated, tiny, data):
    connected = {"a": True, "b": True}
    queue = gated.queue(max_running=1)
    training = queue.submit(tiny("vae", seed=0), data, None, "a", lambda: connected["a"])
    waiting = queue.submit(tiny("vae", seed=1), data, None, "b", lambda: connected["b"])
    connected["b"] = False  # b's tab closed: no timeout to wait for
    assert queue.jobs() == [training]
    assert waiting.state is JobState.STOPPED and not training.cancel.is_set()


def test_wait_estimates_come_from_measured_trainings(gated, tiny, data):
    clock = Clock()
    queue = gated.queue(max_running=1, heartbeat_timeout=1000, clock=clock)  # nobody is dropped here
    first = queue.submit(tiny("vae", seed=0), data, None, "a")
    second = queue.submit(tiny("vae", seed=1), data, None, "b")
    assert queue.wait_seconds(second) is None  # nothing measured yet: no guess

    clock.now = 20  # the first took 20 s
    gated.release(0)
    assert first.wait(WAIT_S)
    third = queue.submit(tiny("vae", seed=2), data, None, "c")
    fourth = queue.submit(tiny("vae", seed=3), data, None, "d")
    clock.now = 25  # the second (as large) has trained for 5 s
    assert queue.wait_seconds(second) == 0
    assert queue.wait_seconds(third) == pytest.approx(15)
    assert queue.wait_seconds(fourth) == pytest.approx(35)


def test_a_wait_estimate_leaves_the_first_steps_compile_out_of_the_pace(monkeypatch, tiny, data):
    """The seconds before a run's first step (building, tracing, compiling) are not a share of its steps: a run 1 %
    done after a 10 s compile is not 99 x 10 s from its end."""
    clock, reported, advance, finish = Clock(), threading.Event(), threading.Event(), threading.Event()

    def compiling_training(config, data, progress, strategy=None):
        clock.now = 10  # ten seconds before the first of 100 steps
        progress(TrainProgress(1, 1, 1, 100, 10.0, {"loss": 1.0}))
        reported.set()
        assert advance.wait(WAIT_S)
        clock.now = 20  # ten more steps in ten seconds: a second a step
        progress(TrainProgress(1, 1, 11, 100, 20.0, {"loss": 1.0}))
        reported.set()
        assert finish.wait(WAIT_S)
        return Run(config, None, {"loss": [1.0]}, {"seconds": 0.0}, data.fingerprint)

    monkeypatch.setattr(aecore.train, "train", compiling_training)
    queue = TrainingQueue(max_running=1, heartbeat_timeout=1000, clock=clock)
    training = queue.submit(tiny("vae", seed=0), data, None, "a")
    waiting = queue.submit(tiny("vae", seed=1), data, None, "b")
    try:
        assert reported.wait(WAIT_S)
        reported.clear()
        advance.set()
        assert reported.wait(WAIT_S)
        assert queue.wait_seconds(waiting) == pytest.approx(89)  # 89 steps left at a second each
    finally:
        queue.leave(waiting, "b")
        finish.set()
        assert training.wait(WAIT_S)


def test_max_trainings_setting(monkeypatch):
    monkeypatch.delenv(jobs.MAX_TRAININGS_ENV, raising=False)
    assert jobs.max_trainings_setting() == 1
    monkeypatch.setenv(jobs.MAX_TRAININGS_ENV, "3")
    assert TrainingQueue().max_running == 3
    for bad in ("0", "two"):
        monkeypatch.setenv(jobs.MAX_TRAININGS_ENV, bad)
        with pytest.raises(jobs.ConfigError, match="whole number"):
            jobs.max_trainings_setting()


# --- real tiny training -------------------------------------------------------------------------


@pytest.fixture
def counted(monkeypatch):
    """aecore.train.train, counting its calls."""
    calls = []
    real = aecore.train.train

    def train(config, data, progress=None, strategy=None):
        calls.append(config)
        return real(config, data, progress)

    monkeypatch.setattr(aecore.train, "train", train)
    return calls


def test_two_followers_of_one_config_train_it_once_and_see_every_epoch(monkeypatch, counted, tiny, data, store):
    counting, first_seen = aecore.train.train, threading.Event()

    def train(config, data, progress=None, strategy=None):
        def held(p):  # training waits after the first epoch's snapshot until the test has read it
            progress(p)
            if p.epoch_end and p.epoch == 1:
                assert first_seen.wait(WAIT_S)

        return counting(config, data, held)

    monkeypatch.setattr(aecore.train, "train", train)
    queue = TrainingQueue(max_running=2)
    config = tiny("vae", epochs=2)
    snapshots = []
    job = queue.submit(config, data, store, "a")
    assert queue.submit(config, data, store, "b") is job
    wait_until(lambda: job.snapshot is not None)
    snapshots.append(job.snapshot)
    first_seen.set()
    assert job.wait(WAIT_S) and job.state is JobState.DONE, job.error
    snapshots.append(job.snapshot)

    assert len(counted) == 1
    assert job.saved and store.contains(config, data.fingerprint)
    last = snapshots[-1]
    assert last.epoch == 2 and len(last.history["loss"]) == 2 and len(last.history["val_loss"]) == 2
    assert last.history["loss"] == job.run.history["loss"]
    assert last.replay_frame.shape == (aecore.train.REPLAY_IMAGES, 28, 28, 1)
    assert last.replay_frame == pytest.approx(job.run.replay[-1], abs=1e-3)  # the replay's own frame
    assert last.latent_points.shape == (jobs.LIVE_LATENT_EXAMPLES, 2)
    assert len(last.latent_labels) == jobs.LIVE_LATENT_EXAMPLES
    # The live loss curve: the running training loss at each report, within epochs too, up to the end.
    at = [x for x, _ in job.loss_trace]
    assert len(at) > 2 and at == sorted(at) and at[-1] == pytest.approx(2.0)
    assert job.loss_trace[-1][1] == pytest.approx(job.run.history["loss"][-1], rel=1e-4)
    first = snapshots[0]  # the first epoch's view, and it differs from the last
    assert first.epoch == 1 and len(first.history["loss"]) == 1
    assert not (first.latent_points == last.latent_points).all()


def test_a_job_left_by_its_only_follower_stops_stores_nothing_and_its_thread_ends(counted, tiny, data, store):
    queue = TrainingQueue(max_running=1)
    config = tiny("stacked", epochs=200)  # far longer than the test waits (stacked: no VAE graphs to trace)
    job = queue.submit(config, data, store, "a")
    wait_until(lambda: job.snapshot is not None)
    assert job.state is JobState.TRAINING

    queue.leave(job, "a")
    assert job.wait(WAIT_S) and job.state is JobState.STOPPED
    job.thread.join(WAIT_S)
    assert job.thread not in threading.enumerate()
    assert job.run is None and job.snapshot.epoch < 200
    assert not store.contains(config, data.fingerprint) and store.entries() == []
    assert queue.jobs() == [] and len(counted) == 1


def test_a_run_submitted_again_after_its_job_was_stopped_gets_a_fresh_job(monkeypatch, tiny, data, store):
    """Stop then Train again on one config: the stopped job, still ending in its thread, is not joined."""
    real, resubmitted = aecore.train.train, threading.Event()

    def train(config, data, progress=None, strategy=None):
        def held(p):  # a cancelled training's thread lingers until the test has submitted again
            try:
                progress(p)
            except jobs.Cancelled:
                assert resubmitted.wait(WAIT_S)
                raise

        return real(config, data, held)

    monkeypatch.setattr(aecore.train, "train", train)
    queue = TrainingQueue(max_running=1)
    config = tiny("stacked", epochs=200)  # far longer than the test waits (stacked: no VAE graphs to trace)
    stopped = queue.submit(config, data, store, "a")
    wait_until(lambda: stopped.snapshot is not None)
    queue.leave(stopped, "a")  # Stop
    fresh = queue.submit(config, data, store, "a")  # Train again, before the stopped one's thread has ended
    resubmitted.set()
    assert fresh is not stopped and not fresh.cancel.is_set()
    assert stopped.wait(WAIT_S) and stopped.state is JobState.STOPPED
    wait_until(lambda: fresh.snapshot is not None)  # it trains
    assert fresh.state is JobState.TRAINING and queue.jobs() == [fresh]
    queue.leave(fresh, "a")
    assert fresh.wait(WAIT_S) and fresh.state is JobState.STOPPED


def test_the_load_tests_order_check_allows_only_runs_that_started_together_to_swap():
    from tools.loadtest import order_kept

    queued = [7, 3, 5, 1]
    assert order_kept(queued, [7, 3, 5, 1], 1)
    assert not order_kept(queued, [3, 7, 5, 1], 1)  # one at a time: any swap is unfair
    assert order_kept(queued, [3, 7, 5, 1], 2)  # two slots: 7 and 3 started together
    assert not order_kept(queued, [5, 3, 7, 1], 2)  # 5 went ahead of two that queued before it
    assert not order_kept(queued, [7, 3, 5], 2)  # one never started


def test_a_job_shows_the_untrained_reconstructions_before_its_first_step(monkeypatch, tiny, data, store):
    """The live frame is there while the first step compiles: a picture within a second or two of Train."""
    real, at_begin, go = aecore.train.train, threading.Event(), threading.Event()

    def train(config, data, progress=None, strategy=None):
        def held(p):  # training waits at its first report (before any step) until the test has looked
            progress(p)
            if not p.started:
                at_begin.set()
                assert go.wait(WAIT_S)

        return real(config, data, held)

    monkeypatch.setattr(aecore.train, "train", train)
    job = TrainingQueue(max_running=1).submit(tiny("conv"), data, store, "a")
    assert at_begin.wait(WAIT_S)
    frame = job.live_frame
    assert frame is not None and not frame.started and job.snapshot is None
    assert frame.replay_frame.shape == (aecore.train.REPLAY_IMAGES, 28, 28, 1)
    go.set()
    assert job.wait(WAIT_S) and job.state is JobState.DONE, job.error
    assert job.live_frame.epoch_end and job.live_frame.replay_frame == pytest.approx(job.run.replay[-1], abs=1e-3)
