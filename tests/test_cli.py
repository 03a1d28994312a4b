"""python -m aecore as real subprocesses: bad arguments exit 2 with one sentence; train prints JSON."""

import socket

import numpy as np
import pytest

from tests.helpers import assert_one_sentence_exit_2, cli, cli_finished, cli_started, last_json

TINY = ["--epochs", "1", "--train-size", "128"]
CONV = ("train", "--arch", "conv", *TINY, "--width", "0.25")


@pytest.fixture(scope="module")
def trainings(tmp_path_factory):
    """The module's trainings by python -m aecore, each a fresh process with a fresh run cache, started side by
    side (each pays its own TensorFlow import, mostly on one core) and finished before a test reads one:
    name -> (the completed process, its cache folder). conv's second run, in a process where any training fails
    it, starts once the first has filled its cache."""
    root = tmp_path_factory.mktemp("cli-trainings")
    caches = {name: root / name for name in ("conv", "vae", "basic")}
    started = {
        "conv": cli_started(*CONV, cache=caches["conv"]),
        "vae": cli_started("train", "--arch", "vae", *TINY, cache=caches["vae"]),
        "basic": cli_started("train", "--arch", "basic", "--epochs", "2", "--no-cache", cache=caches["basic"]),
    }
    done = {"conv": cli_finished(started.pop("conv"))}
    done["conv again"] = cli_finished(cli_started(*CONV, cache=caches["conv"], no_training=True))
    done.update((name, cli_finished(process)) for name, process in started.items())
    return {name: (result, caches[name.split()[0]]) for name, result in done.items()}


@pytest.fixture
def regular_file(tmp_path):
    path = tmp_path / "a-file"
    path.write_text("not a folder")
    return path


BAD = {
    "unknown arch": (["--arch", "transformer"], "invalid choice: 'transformer'"),
    "unknown dataset": (["--arch", "conv", "--dataset", "cifar"], "Unknown dataset 'cifar'"),
    "epochs 0": (["--arch", "conv", "--epochs", "0"], "epochs must be a whole number from 1 to 500, got 0"),
    "epochs negative": (["--arch", "conv", "--epochs", "-3"], "got -3"),
    "epochs absurd": (["--arch", "conv", "--epochs", "1000000000"], "got 1000000000"),
    "epochs not whole": (["--arch", "conv", "--epochs", "1.5"], "'1.5' is not a whole number"),
    "batch size 0": (["--arch", "conv", "--batch-size", "0"], "batch size must be"),
    "latent 0": (["--arch", "vae", "--latent-dim", "0"], "latent size must be"),
    "lr 0": (["--arch", "conv", "--lr", "0"], "Learning rate must be"),
    "lr negative": (["--arch", "conv", "--lr", "-0.1"], "Learning rate must be"),
    "lr NaN": (["--arch", "conv", "--lr", "nan"], "'nan' is not a finite number"),
    "lr infinite": (["--arch", "conv", "--lr", "inf"], "'inf' is not a finite number"),
    "lr text": (["--arch", "conv", "--lr", "abc"], "'abc' is not a number"),
    "width 0": (["--arch", "conv", "--width", "0"], "Width multiplier"),
    "seed negative": (["--arch", "conv", "--seed", "-1"], "seed must be"),
    "no arch": ([], "required: --arch"),
    "wrong kind for conv": (["--arch", "conv", "--dataset", "points3d"], "The conv model needs images of 8 to 128"),
    "wrong kind for vae": (["--arch", "vae", "--dataset", "points3d"], "The vae model needs images of 8 to 128"),
    "missing npz": (["--arch", "conv", "--dataset", "npz:/no/such/file.npz"], "There is no file at"),
    "empty npz path": (["--arch", "conv", "--dataset", "npz:"], "Unknown dataset 'npz:'"),
}


@pytest.mark.parametrize("args, words", BAD.values(), ids=BAD.keys())
def test_bad_train_argument_exits_2_with_one_sentence(tmp_path, args, words):
    cache = tmp_path / "cache"
    result = cli("train", *args, cache=cache)
    assert words in assert_one_sentence_exit_2(result)
    assert not cache.exists()  # nothing written to the cache


def test_wrong_kind_image_dataset_for_basic(tmp_path):
    cache = tmp_path / "cache"
    message = assert_one_sentence_exit_2(cli("train", "--arch", "basic", "--dataset", "mnist-sample", cache=cache))
    assert "The basic model needs vectors" in message and not cache.exists()


def test_bad_npz_exits_2(tmp_path):
    path = tmp_path / "bad.npz"
    np.savez(path, x_train=np.full((4, 28, 28), np.nan), x_test=np.zeros((2, 28, 28)))
    cache = tmp_path / "cache"
    message = assert_one_sentence_exit_2(cli("train", "--arch", "conv", "--dataset", f"npz:{path}", cache=cache))
    assert "NaN" in message and not cache.exists()


@pytest.mark.parametrize("where", ["under a file", "is a file", "empty"])
def test_unwritable_cache_dir_exits_2(regular_file, where):
    cache = {"under a file": regular_file / "cache", "is a file": regular_file, "empty": ""}[where]
    message = assert_one_sentence_exit_2(cli("train", "--arch", "basic", "--epochs", "1", cache=cache))
    assert "cache" in message
    assert regular_file.read_text() == "not a folder"


def test_unwritable_cache_dir_from_the_environment(regular_file):
    result = cli("train", "--arch", "basic", "--epochs", "1", env={"AECORE_CACHE_DIR": str(regular_file / "cache")})
    assert "cannot be written" in assert_one_sentence_exit_2(result)


@pytest.mark.parametrize("args", [["frobnicate"], [], ["list", "--extra"]], ids=["unknown command", "none", "extra"])
def test_bad_command_exits_2(args):
    assert_one_sentence_exit_2(cli(*args))


def _can_reach_keras_downloads() -> bool:
    try:
        with socket.create_connection(("storage.googleapis.com", 443), timeout=3):
            return True
    except OSError:
        return False


@pytest.mark.parametrize("dataset", ["mnist", "fashion-mnist"])
def test_keras_dataset_without_network_names_mnist_sample(tmp_path, dataset):
    if _can_reach_keras_downloads():
        pytest.skip("this machine can download from keras' servers; the offline message cannot show")
    cache = tmp_path / "cache"
    # A fresh KERAS_HOME: nothing downloaded before, so the network is really needed.
    result = cli(
        "train",
        "--arch",
        "conv",
        "--dataset",
        dataset,
        *TINY,
        cache=cache,
        env={"KERAS_HOME": str(tmp_path / "keras")},
        timeout=120,
    )
    message = assert_one_sentence_exit_2(result)
    assert "mnist-sample" in message and f"'{dataset}'" in message
    assert not cache.exists()


def test_list_names_every_arch_and_dataset():
    from aecore.models import names
    from aecore.datasets import DATASETS

    result = cli("list")
    assert result.returncode == 0 and result.stderr == ""
    lines = result.stdout.splitlines()
    for name in (*names(), *DATASETS):
        assert sum(line.split()[0] == name for line in lines if line.startswith("  ")) == 1, name


@pytest.mark.slow
def test_conv_train_prints_json_then_loads_from_cache(trainings):
    first_run, _ = trainings["conv"]
    first = last_json(first_run)
    assert first["arch"] == "conv" and first["dataset"] == "mnist-sample" and first["epochs"] == 1
    assert first["cached"] is False and first["seconds"] > 0 and first["train_img_per_s"] > 0
    assert 0 < first["test_mse"] < 1 and 0 < first["test_bce"] < 1
    assert "epoch 1/1" in first_run.stderr  # training shows its progress

    second_run, _ = trainings["conv again"]  # served from the cache: any training fails it
    second = last_json(second_run)
    assert second["cached"] is True
    assert {k: second[k] for k in ("test_mse", "test_bce", "seconds")} == {
        k: first[k] for k in ("test_mse", "test_bce", "seconds")
    }
    assert "loaded from the run cache" in second_run.stderr
    assert "epoch " not in second_run.stderr, second_run.stderr  # and no training progress


@pytest.mark.slow
def test_vae_train_reports_loss_parts(trainings):
    summary = last_json(trainings["vae"][0])
    assert summary["arch"] == "vae" and summary["cached"] is False
    for name in ("test_loss", "test_rec", "test_kl", "test_mse", "test_bce"):
        assert np.isfinite(summary[name]), name
    assert summary["test_loss"] == pytest.approx(summary["test_rec"] + summary["test_kl"], rel=1e-3)


@pytest.mark.slow
def test_basic_train_reports_pca_baseline_and_no_cache_writes_nothing(trainings):
    result, cache = trainings["basic"]
    summary = last_json(result)
    assert summary["arch"] == "basic" and summary["dataset"] == "points3d" and summary["cached"] is False
    assert summary["pca_mse"] > 0 and 0 <= summary["pca_angle_deg"] <= 90
    assert not cache.exists()
