"""The Keras code of a run (aecore.script): each architecture's standalone script, really run, builds aecore's network
(the same layers, output shapes, parameter count and seeded starting weights) and honours the run's settings; the
`code` command prints or writes it; every architecture page's Code tab shows it.

The scripts run in one subprocess, one after another (TensorFlow is imported once for them all), on tiny data.
"""

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

import aecore.train
from aecore import script
from aecore.__main__ import main
from aecore.config import RunConfig
from aecore.datasets.library import accept, entry
from aecore.models import build_model
from tests.helpers import (
    REPO,
    app_tiny,
    assert_one_sentence_exit_2,
    cli,
    cli_env,
    last_json,
    npz_of,
    open_page,
    open_tab,
    refuse_training,
    texts,
    tiny_config,
)

# Runs each script given as __main__ in turn, in a fresh namespace, and prints each one's last line (its facts).
# Eagerly: on a few batches of tiny data, tracing the compiled steps would cost more than running them; the scripts'
# code is the same either way.
RUN_SCRIPTS = """
import contextlib, io, runpy, sys
import keras
import tensorflow as tf
tf.config.run_functions_eagerly(True)
for path in sys.argv[1:]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        runpy.run_path(path, run_name="__main__")
    keras.backend.clear_session()
    print(out.getvalue().strip().splitlines()[-1])
"""
ODD_SHAPE = (10, 14)  # padded to 12 x 16 on the way in, cropped back on the way out


def odd_images(tmp_path) -> str:
    """An npz:PATH dataset of tiny 10 x 14 grey images of 0-255, as a user's file may hold them."""
    rng = np.random.default_rng(0)
    path = tmp_path / "odd.npz"
    np.savez(path, x_train=(rng.random((64, *ODD_SHAPE)) * 255).astype(np.uint8),
             x_test=(rng.random((32, *ODD_SHAPE)) * 255).astype(np.uint8))
    return f"npz:{path}"


def shapes_and_weights(model) -> tuple[dict, int, float]:
    """(each layer's output shape by name inside the encoder and decoder, count_params(), the weights' sum), as
    the scripts report them."""
    shapes = {layer.name: list(layer.output.shape[1:])
              for part in ("encoder", "decoder") for layer in model.get_layer(part).layers[1:]}
    return shapes, model.count_params(), float(sum(np.sum(w) for w in model.get_weights()))


@pytest.mark.slow  # several processes: two of TensorFlow running six scripts
def test_each_architectures_script_trains_aecores_own_network_with_its_settings(tmp_path):
    odd = odd_images(tmp_path)
    configs = [tiny_config(arch, epochs=1) for arch in ("basic", "stacked", "conv", "vae")] + [
        # Padding and cropping, denoising, the cosine schedule, a 1x1 last kernel and the KL warm-up: every optional
        # part of a script.
        RunConfig.for_arch("conv", dataset=odd, epochs=1, batch_size=16, width=0.125, latent_dim=8, noise=0.2,
                           schedule="cosine", out_kernel=1),
        RunConfig.for_arch("vae", dataset=odd, epochs=1, batch_size=16, latent_dim=2, kl_warmup=1, beta=0.5),
    ]
    paths = []
    for i, config in enumerate(configs):
        paths.append(tmp_path / f"script{i}.py")
        paths[-1].write_text(script.keras_script(config))
    # Two processes, half the scripts each, so both cores work.
    halves = [subprocess.Popen([sys.executable, "-c", RUN_SCRIPTS, *map(str, paths[start::2])], cwd=tmp_path,
                               env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
              for start in (0, 1)]
    outputs = [half.communicate(timeout=300) for half in halves]
    for half, (_, err) in zip(halves, outputs):
        assert half.returncode == 0, err[-3000:]
    lines = [out.strip().splitlines() for out, _ in outputs]
    reports = [json.loads(line) for pair in zip(*lines) for line in pair]  # back in the order of paths
    assert len(reports) == len(configs)
    for config, facts in zip(configs, reports):
        shape = (3,) if config.dataset == "points3d" else (*ODD_SHAPE, 1) if config.dataset == odd else (28, 28, 1)
        shapes, parameters, weights_sum = shapes_and_weights(build_model(config, shape))
        assert facts["layers"] == shapes, config.describe()
        assert facts["parameters"] == parameters, config.describe()
        assert facts["initial_weights_sum"] == pytest.approx(weights_sum, rel=1e-6, abs=1e-6), config.describe()
        assert facts["epochs"] == config.epochs
        expected_examples = {"points3d": 200, odd: 64}.get(config.dataset, config.train_size)
        assert facts["train_examples"] == expected_examples, config.describe()
        assert np.isfinite(facts["test"]["loss"]) and facts["test"]["loss"] > 0


def test_every_script_is_ruff_clean_python_for_each_dataset_kind(tmp_path):
    odd = odd_images(tmp_path)
    configs = [
        RunConfig.for_arch("basic", dataset="swiss-roll", hidden_width=16, activation="tanh", schedule="cosine"),
        RunConfig.for_arch("stacked", dataset="points3d", loss="mse"),
        RunConfig.for_arch("stacked", dataset="digits-8x8", noise=0.1),
        RunConfig.for_arch("conv", dataset="fashion-mnist"),
        RunConfig.for_arch("vae", dataset="cifar10"),
        RunConfig.for_arch("vae", dataset="mnist-sample-without-3"),
        RunConfig.for_arch("conv", dataset=odd),
    ]
    for i, config in enumerate(configs):
        text = script.keras_script(config)
        compile(text, config.describe(), "exec")
        assert "aecore" not in text.replace("python -m aecore", ""), "a standalone script imports nothing of aecore"
        (tmp_path / f"script{i}.py").write_text(text)
    assert "x_train = x_train[y_train != 3]" in script.keras_script(configs[5])
    assert f"DATA_PATH = {json.dumps(odd[4:])}" in script.keras_script(configs[6])
    ruff = shutil.which("ruff")
    if ruff:  # not among the test requirements: where it is installed, the scripts pass it as the code does
        rules = ["--config", str(REPO / "pyproject.toml"), "--extend-select", "E501"]  # and 120 columns
        checked = subprocess.run([ruff, "check", *rules, str(tmp_path)], capture_output=True, text=True, check=False)
        assert checked.returncode == 0, checked.stdout


def test_a_stored_uploads_script_loads_the_file_the_studio_stored():
    rng = np.random.default_rng(0)
    accept(npz_of(x_train=rng.random((40, 12, 12)), x_test=rng.random((10, 12, 12))), "my-squares", filename="s.npz")
    text = script.keras_script(RunConfig.for_arch("vae", dataset="my-squares"))
    assert f"DATA_PATH = {json.dumps(str(entry('my-squares').path.resolve()))}" in text
    assert "IMAGE_SHAPE = (12, 12, 1)" in text and "PAD = " not in text  # 12 divides by 4: no padding
    compile(text, "my-squares", "exec")


def test_the_scripts_literals_are_aecore_trains_own():
    assert script.VALIDATION_EXAMPLES == aecore.train.MAX_VALIDATION
    assert script.EVALUATION_BATCH == aecore.train.VALIDATION_BATCH
    assert script.WARMUP_SHARE == aecore.train.WARMUP_SHARE
    assert script.NOISE_SEED_OFFSETS.items() <= aecore.train.NOISE_SEED_OFFSETS.items()


def test_the_code_command_prints_or_writes_the_script_and_refuses_bad_values_in_one_sentence(tmp_path, capsys):
    config = RunConfig.for_arch("vae", latent_dim=2, epochs=3)
    out = tmp_path / "vae.py"
    written = last_json(cli("code", "--arch", "vae", "--latent-dim", "2", "--epochs", "3", "--out", str(out)))
    assert out.read_text() == script.keras_script(config)
    assert written["command"] == script.command(config) == "python -m aecore code --arch vae --epochs 3 --latent-dim 2"
    assert main(["code", "--arch", "vae", "--latent-dim", "2", "--epochs", "3"]) == 0
    assert capsys.readouterr().out == script.keras_script(config)
    for argv, words in ((["--arch", "conv", "--dataset", "points3d"], "needs images"),
                        (["--arch", "basic", "--out", str(tmp_path / "script.txt")], "ending in .py"),
                        (["--arch", "basic", "--out", str(tmp_path / "no" / "script.py")], "does not exist")):
        code = main(["code", *argv])
        captured = capsys.readouterr()
        message = assert_one_sentence_exit_2(subprocess.CompletedProcess(argv, code, captured.out, captured.err))
        assert words in message
    assert not (tmp_path / "script.txt").exists()


def test_the_code_tab_shows_the_runs_script_its_download_and_its_command(monkeypatch, cached_runs):
    monkeypatch.setenv("AECORE_STUDIO_TEST_DEFAULTS", "1")
    config = app_tiny("basic")
    cached_runs(config)
    monkeypatch.setattr(aecore.train, "train", refuse_training)
    at = open_tab(open_page("basic"), "basic", "Code")
    shown = [text.rstrip("\n") for text in texts(at.code)]
    assert script.keras_script(config).rstrip("\n") in shown
    assert script.command(config) in shown
    assert "Download script.py" in [b.label for b in at.download_button]
