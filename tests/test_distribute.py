"""tf.distribute: bad placements are one sentence; mirrored over two logical CPU devices matches one device;
two real worker processes on loopback train the VAE together and only the chief writes the run cache."""

import json
import os
import socket
import subprocess
import sys

import pytest

from aecore.__main__ import main
from aecore.distribute import DistributeError, Placement
from aecore.precision import gpus
from aecore.store import RunStore
from tests.helpers import (
    REPO,
    assert_one_sentence,
    assert_one_sentence_exit_2,
    cli,
    cli_finished,
    cli_started,
    last_json,
)

# Two epochs of 512 images in global batches of 64: 8 steps an epoch, 4 images-per-replica batches of 32.
RUN = ["--epochs", "2", "--train-size", "512", "--batch-size", "64"]
# Mirrored over 2 CPU devices against one device, same seed: the replicas' batch statistics (BatchNorm) and
# sampling noise differ from one device's, and summation order; the test loss stays within this share.
LOSS_TOLERANCE = 0.03


def _two_workers(port_a: int, port_b: int, index: int) -> str:
    return json.dumps({"cluster": {"worker": [f"localhost:{port_a}", f"localhost:{port_b}"]},
                       "task": {"type": "worker", "index": index}})


def _free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.mark.parametrize("placement, batch, tf_config, says", [
    (Placement("multiworker"), 64, None, "needs TF_CONFIG"),
    (Placement("multiworker"), 64, "{not json", "not valid JSON"),
    (Placement("multiworker"), 64, '{"task": {"type": "worker", "index": 0}}', 'no "cluster"'),
    (Placement("multiworker"), 64, _two_workers(1, 2, 2), '"task" must name this process'),
    (Placement("multiworker"), 64, '{"cluster": {"worker": ["nohost"]}, "task": {"type": "worker", "index": 0}}',
     "host:port"),
    (Placement("mirrored", cpu_devices=3), 32, None, "divide evenly across the 3"),
    (Placement("one", cpu_devices=2), 64, None, "choose --strategy mirrored"),
    (Placement(cpu_devices=0), 64, None, "from 1 to 64"),
    (Placement("ring"), 64, None, "Unknown strategy"),
])
def test_a_bad_placement_is_one_sentence(placement, batch, tf_config, says, monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    if tf_config is not None:
        monkeypatch.setenv("TF_CONFIG", tf_config)
    with pytest.raises(DistributeError) as refused:
        placement.checked(batch)
    assert says in assert_one_sentence(str(refused.value))


@pytest.mark.parametrize("args, says", [
    (["--strategy", "multiworker"], "needs TF_CONFIG"),
    (["--device", "gpu"], "No GPU is visible"),
])
def test_the_cli_says_a_bad_placement_in_one_line_exit_2_and_caches_nothing(args, says, tmp_path):
    if "gpu" in args and gpus():
        pytest.skip("this machine has a GPU: --device gpu is a good request here")
    cache = tmp_path / "cache"
    assert says in assert_one_sentence_exit_2(cli("train", "--arch", "vae", *args, cache=cache, env={"TF_CONFIG": ""}))
    assert not cache.exists() or not any(cache.iterdir())


@pytest.fixture(scope="module")
def split_cpu_runs():
    """The module's fresh processes whose CPU is split in two before TensorFlow starts (it cannot be split in this
    process): the CLI's mirrored training of each arch, and the VAE's one-step script. Started side by side (each
    pays its own TensorFlow import, mostly on one core), all finished before a test reads one."""
    started = {arch: cli_started("train", "--arch", arch, *RUN, "--no-cache", "--strategy", "mirrored",
                                 "--cpu-devices", "2") for arch in ("stacked", "vae")}
    started["vae step"] = subprocess.Popen([sys.executable, str(REPO / "tests" / "mirrored_vae_step.py")], cwd=REPO,
                                           env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=subprocess.PIPE,
                                           stderr=subprocess.PIPE, text=True)
    return {name: cli_finished(process) for name, process in started.items()}


@pytest.mark.slow
@pytest.mark.parametrize("arch", ["stacked", "vae"])
def test_mirrored_over_two_cpu_devices_matches_one_device_and_both_replicas_work(arch, split_cpu_runs, capsys):
    # One device needs no split: the CLI's own main, in this process.
    assert main(["train", "--arch", arch, *RUN, "--no-cache", "--strategy", "one"]) == 0
    one = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    mirrored = last_json(split_cpu_runs[arch])
    assert (one["strategy"], one["devices"], one["replicas"]) == ("one", ["CPU:0"], 1)
    assert (mirrored["strategy"], mirrored["devices"], mirrored["replicas"]) == ("mirrored", ["CPU:0", "CPU:1"], 2)
    assert one["replica_examples"] == [512]
    assert mirrored["replica_examples"] == [256, 256]  # each replica half of every batch of the last epoch
    loss = "test_loss" if arch == "vae" else "test_bce"
    assert mirrored[loss] == pytest.approx(one[loss], rel=LOSS_TOLERANCE)


@pytest.mark.slow
def test_the_vae_step_averages_its_loss_across_replicas(split_cpu_runs):
    """Plain SGD: a replica that took its whole loss (not its share) would make the mirrored update twice as big."""
    out = split_cpu_runs["vae step"]
    assert out.returncode == 0, out.stderr[-2000:]
    sizes = json.loads(out.stdout.strip().splitlines()[-1])
    assert 0.7 < sizes["mirrored"] / sizes["one"] < 1.3, sizes


@pytest.mark.slow
def test_two_workers_on_loopback_train_the_vae_and_only_the_chief_writes_the_cache(tmp_path):
    """Each worker has its own cache folder (as on two machines): the chief's ends with the one valid entry."""
    ports = _free_ports(2)
    caches = [tmp_path / "chief-cache", tmp_path / "worker-cache"]
    command = [sys.executable, "-m", "aecore", "train", "--arch", "vae", "--epochs", "1", "--train-size", "512",
               "--batch-size", "64", "--strategy", "multiworker", "--cache-dir"]
    workers = [subprocess.Popen([*command, str(caches[i])], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2",
                                                "TF_CONFIG": _two_workers(*ports, i)})
               for i in range(2)]
    try:
        outputs = [worker.communicate(timeout=300) for worker in workers]
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
    results = [last_json(subprocess.CompletedProcess(command, w.returncode, *o)) for w, o in zip(workers, outputs)]
    for summary in results:
        assert (summary["strategy"], summary["workers"], summary["replicas"]) == ("multiworker", 2, 2)
        assert summary["replica_examples"] == [256]  # this worker's half of every batch
        assert summary["cached"] is False
    # The losses are read across both workers: one figure.
    assert results[0]["test_loss"] == results[1]["test_loss"]
    chief, worker = RunStore(caches[0]), RunStore(caches[1])
    assert worker.entries() == []
    entries = chief.entries()
    assert len(entries) == 1, entries
    run = chief.load_key(entries[0]["key"])
    assert run is not None and run.placement["workers"] == 2


def _requirements(name: str) -> list[str]:
    lines = (REPO / name).read_text().splitlines()
    return [line for line in lines if line.strip() and not line.startswith("#")]


def test_the_gpu_requirements_are_the_app_requirements_with_tensorflows_cuda_build():
    app, gpu = _requirements("requirements.txt"), _requirements("requirements-gpu.txt")
    assert [line for line in app if not line.startswith("tensorflow")] == \
        [line for line in gpu if not line.startswith("tensorflow")]
    assert 'tensorflow-cpu>=2.18,<2.22; sys_platform == "linux"' in app
    assert 'tensorflow[and-cuda]>=2.18,<2.22; sys_platform == "linux"' in gpu
    assert not any("tensorflow-cpu" in line for line in gpu)  # it would shadow the CUDA build
