"""Where a run trains: one device, all local devices (MirroredStrategy) or several workers
(MultiWorkerMirroredStrategy, configured by TF_CONFIG), through TensorFlow's own tf.distribute.

A Placement is checked before TensorFlow starts (every mistake is one sentence), then
`start()` sets up the devices and returns the strategy; `train` builds its model in that
strategy's scope. The batch size of a run is the global batch, split across replicas.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

import numpy as np

from aecore.errors import DistributeError
from aecore.precision import gpus

STRATEGIES = ("auto", "one", "mirrored", "multiworker")
DEVICES = ("auto", "cpu", "gpu")
MAX_CPU_DEVICES = 64


@dataclass(frozen=True)
class Placement:
    """How to place a run: the strategy, the device kind and how many logical CPU devices to split the CPU into."""

    strategy: str = "auto"
    device: str = "auto"
    cpu_devices: int = 1  # > 1: mirror over that many logical CPU devices (how the tests run here)

    def checked(self, batch_size: int) -> Placement:
        """Self, or DistributeError naming the first problem; reads TF_CONFIG and the visible GPUs only."""
        if self.strategy not in STRATEGIES:
            raise DistributeError(f"Unknown strategy '{self.strategy}'; choose one of {', '.join(STRATEGIES)}.")
        if self.device not in DEVICES:
            raise DistributeError(f"Unknown device '{self.device}'; choose one of {', '.join(DEVICES)}.")
        if isinstance(self.cpu_devices, bool) or not isinstance(self.cpu_devices, int) \
                or not 1 <= self.cpu_devices <= MAX_CPU_DEVICES:
            raise DistributeError(f"The number of CPU devices must be a whole number from 1 to {MAX_CPU_DEVICES}, "
                                  f"got {self.cpu_devices}.")
        if self.device == "gpu" and not gpus():
            raise DistributeError("No GPU is visible to TensorFlow on this machine; leave out --device gpu, or "
                                  "install requirements-gpu.txt on a Linux machine with a CUDA GPU.")
        if self.cpu_devices > 1 and self.device == "gpu":
            raise DistributeError("--cpu-devices splits the CPU into devices, so it cannot go with --device gpu.")
        if self.cpu_devices > 1 and self.strategy == "one":
            raise DistributeError(f"The 'one' strategy trains on one device; to use {self.cpu_devices} CPU devices "
                                  "choose --strategy mirrored.")
        if self.strategy == "multiworker":
            cluster_spec()  # raises on a missing or malformed TF_CONFIG
        replicas = self.replicas()
        if batch_size % replicas:
            raise DistributeError(f"The batch size ({batch_size}) must divide evenly across the {replicas} replicas "
                                  f"of the '{self.strategy}' strategy; try {max(replicas, batch_size // replicas * replicas)}.")
        return self

    def local_devices(self) -> list[str]:
        """The devices this process trains on, e.g. ['CPU:0', 'CPU:1'] or ['GPU:0']."""
        visible = [] if self.device == "cpu" or self.cpu_devices > 1 else gpus()
        if self.strategy == "one" or (self.strategy == "auto" and self.cpu_devices == 1 and len(visible) <= 1):
            return ["GPU:0" if visible else "CPU:0"]
        if visible:
            return [f"GPU:{i}" for i in range(len(visible))]
        return [f"CPU:{i}" for i in range(self.cpu_devices)]

    @property
    def kind(self) -> str:
        """The strategy auto resolves to: 'one' unless there are several local devices to mirror over."""
        if self.strategy != "auto":
            return self.strategy
        return "mirrored" if len(self.local_devices()) > 1 else "one"

    def replicas(self) -> int:
        """Replicas in sync: local devices times workers."""
        workers = len(cluster_spec()["worker"]) if self.kind == "multiworker" else 1
        return workers * (1 if self.kind == "one" else len(self.local_devices()))

    def start(self):
        """Set up the devices and return the tf.distribute strategy. Call once, before TensorFlow runs anything."""
        import tensorflow as tf  # deferred: TensorFlow

        try:
            if self.device == "cpu" or self.cpu_devices > 1:
                tf.config.set_visible_devices([], "GPU")
            if self.cpu_devices > 1:
                cpu = tf.config.list_physical_devices("CPU")[0]
                tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()]
                                                           * self.cpu_devices)
        except RuntimeError:
            raise DistributeError("TensorFlow has started already in this process, so its devices can no longer "
                                  "be split or hidden; choose the devices in a fresh process.") from None
        kind = self.kind
        if kind == "one":
            return tf.distribute.get_strategy()  # the default strategy: exactly a plain Keras run
        if kind == "mirrored":
            return tf.distribute.MirroredStrategy([f"/{d}" for d in self.local_devices()])
        return tf.distribute.MultiWorkerMirroredStrategy()


def cluster_spec() -> dict:
    """TF_CONFIG's cluster, checked: worker (and chief) addresses, and this task among them."""
    text = os.environ.get("TF_CONFIG", "")
    if not text.strip():
        raise DistributeError("The multiworker strategy needs TF_CONFIG, the JSON that names the cluster's workers "
                              "and this process's task (see README, Beyond one machine).")
    try:
        config = json.loads(text)
    except ValueError:
        raise DistributeError("TF_CONFIG is not valid JSON.") from None
    cluster = config.get("cluster") if isinstance(config, dict) else None
    task = config.get("task") if isinstance(config, dict) else None
    if not isinstance(cluster, dict) or not cluster.get("worker") and not cluster.get("chief"):
        raise DistributeError('TF_CONFIG has no "cluster" with a "worker" list of host:port addresses.')
    for role, addresses in cluster.items():
        if role not in ("chief", "worker") or not isinstance(addresses, list) \
                or not all(isinstance(a, str) and a.rpartition(":")[2].isdigit() for a in addresses):
            raise DistributeError(f'TF_CONFIG\'s cluster "{role}" must be a list of host:port addresses, and only '
                                  '"chief" and "worker" roles are used.')
    if not isinstance(task, dict) or task.get("type") not in cluster or not isinstance(task.get("index"), int) \
            or not 0 <= task["index"] < len(cluster[task["type"]]):
        raise DistributeError('TF_CONFIG\'s "task" must name this process: a "type" of the cluster and an "index" '
                              "within its list.")
    return {"worker": cluster.get("chief", []) + cluster.get("worker", []), "task": task}


def is_chief(strategy) -> bool:
    """Whether this process writes results: always, except a non-chief worker of a multiworker run."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return resolver.task_type == "chief" or (not has_chief and resolver.task_type == "worker" and resolver.task_id == 0)


def is_multiworker(strategy) -> bool:
    import tensorflow as tf  # deferred: TensorFlow

    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)


def describe(strategy) -> dict:
    """What the JSON says of where a run trained: strategy, this process's devices, replicas and workers."""
    import tensorflow as tf  # deferred: TensorFlow

    if is_multiworker(strategy):
        kind, workers = "multiworker", len(cluster_spec()["worker"])
    elif isinstance(strategy, tf.distribute.MirroredStrategy):
        kind, workers = "mirrored", 1
    else:
        device = "GPU:0" if tf.config.list_logical_devices("GPU") else "CPU:0"
        return {"strategy": "one", "devices": [device], "replicas": 1, "workers": 1}
    devices = [d.rpartition("device:")[2] for d in strategy.extended.worker_devices]
    return {"strategy": kind, "devices": devices, "replicas": int(strategy.num_replicas_in_sync), "workers": workers}


def prepare(model, strategy, example_shape: tuple[int, ...]) -> None:
    """Fit a model built in strategy's scope to its strategy before training.

    Several replicas: no XLA (a compiled step cannot reach variables mirrored on other
    devices) and one step per execution (Keras's multi-step loop fails to run under a
    mirrored strategy). Several workers: Keras 3's fit reduces a sample (x, y) batch across workers
    to build the model, and averages each step's scalar logs along an axis they do not
    have; both fail (tensorflow/tensorflow#72388). So the model is built here from a local
    batch, and each step reports this worker's own metric results: the epoch's figures are
    read from the metrics afterwards, summed across workers by tf.distribute.
    """
    if strategy.num_replicas_in_sync == 1 and not is_multiworker(strategy):
        return
    model.jit_compile = False
    model.steps_per_execution = 1
    if not is_multiworker(strategy):
        return
    import tensorflow as tf  # deferred: TensorFlow
    from keras import tree

    batch = np.zeros((1, *example_shape), "float32")
    with strategy.scope():
        model._symbolic_build(data_batch=(batch, batch))
    model._maybe_symbolic_build = lambda iterator=None, data_batch=None: None

    def step_on_iterator(step):
        @tf.function
        def run_step(iterator):
            outputs = strategy.run(step, args=(next(iterator),))
            return tree.map_structure(lambda v: strategy.experimental_local_results(v)[0], outputs)

        return run_step

    model.train_function = step_on_iterator(model.train_step)
    model.test_function = step_on_iterator(model.test_step)
