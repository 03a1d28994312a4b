"""The VAE's KL weight beta and KL warm-up: in the config, the key, the CLI, and what they do to the codes."""

from __future__ import annotations

import json

import numpy as np
import pytest

from aecore.__main__ import main
from aecore.config import ConfigError, RunConfig
from aecore.datasets import load_dataset
from aecore.models import encode_distribution
from aecore.runner import get_run
from aecore.store import RunStore, run_key
from tests.helpers import assert_one_sentence


def vae(**overrides) -> RunConfig:
    """A short VAE run with enough steps for BatchNorm's moving statistics to settle (inference-mode codes)."""
    recipe = {"epochs": 2, "train_size": 1024, "batch_size": 32, "lr": 1e-3, "schedule": "constant"}
    return RunConfig.for_arch("vae", **{**recipe, **overrides})


@pytest.fixture(scope="module")
def trained():
    """beta 1, 0 and 8, each with 8 latent dimensions (three VAE trainings of 64 steps: the slow tests')."""
    return {beta: get_run(vae(latent_dim=8, beta=beta)) for beta in (1.0, 0.0, 8.0)}


@pytest.mark.slow
def test_beta_zero_lets_the_kl_grow_well_above_beta_one(trained):
    assert trained[0.0].history["kl"][-1] > 1.5 * trained[1.0].history["kl"][-1]


@pytest.mark.slow
def test_a_large_beta_presses_the_codes_towards_the_prior(trained):
    # Two short epochs shrink the codes without switching dimensions off (that takes a longer run; with
    # BatchNorm's moving averages stale, inference-mode codes once looked switched off after two epochs).
    x = load_dataset("mnist-sample").x_test[:500]
    spread = {beta: encode_distribution(run.model, x)[0].var(axis=0) for beta, run in trained.items()}
    assert spread[8.0].sum() < 0.3 * spread[1.0].sum(), spread


@pytest.mark.slow
def test_the_objective_is_reported_apart_from_the_elbo(trained):
    ones, eights = trained[1.0].metrics, trained[8.0].metrics
    assert "test_objective" not in ones
    assert eights["test_loss"] == pytest.approx(eights["test_rec"] + eights["test_kl"])
    assert eights["test_objective"] == pytest.approx(eights["test_rec"] + 8.0 * eights["test_kl"])


def test_beta_and_warm_up_key_the_run():
    keys = {run_key(vae(beta=b, kl_warmup=w), "data") for b, w in ((1.0, 0), (4.0, 0), (1.0, 1))}
    assert len(keys) == 3


def test_the_kl_weight_rises_over_the_warm_up_and_ends_at_beta():
    from aecore.models import build_model
    from aecore.models._vae_network import KLWarmup

    model = build_model(vae(beta=4.0, kl_warmup=2), (28, 28, 1))
    warmup = KLWarmup(beta=4.0, warmup_steps=2 * 4)  # 2 epochs of 4 steps
    warmup.set_model(model)
    warmup.set_params({"steps": 4, "epochs": 3})
    seen = []
    warmup.on_train_begin()
    for epoch in range(3):
        warmup.on_epoch_begin(epoch)
        for step in range(4):
            warmup.on_train_batch_begin(step)
            seen.append(float(model.kl_weight.numpy()))
    assert seen[:9] == pytest.approx([4.0 * i / 8 for i in range(9)])  # from 0, linear, beta after 8 steps
    assert seen[8:] == [4.0] * 4
    warmup.on_train_end()
    assert float(model.kl_weight.numpy()) == 4.0


def test_training_ends_with_the_kl_weighed_by_beta(tiny):
    run = get_run(tiny("vae", epochs=2, beta=3.0, kl_warmup=2))
    assert float(run.model.kl_weight.numpy()) == 3.0  # evaluation weighs the KL by beta itself


@pytest.mark.parametrize(("args", "words"), [
    (["--beta", "-1"], "beta must be a number from 0 to 10"),
    (["--beta", "nan"], "'nan' is not a finite number"),
    (["--beta", "11"], "beta must be a number from 0 to 10"),
    (["--epochs", "2", "--kl-warmup", "3"], "cannot be longer than the training"),
    (["--kl-warmup", "x"], "'x' is not a whole number"),
])
def test_bad_kl_settings_are_one_sentence_and_cache_nothing(args, words, tmp_path, capsys):
    assert main(["train", "--arch", "vae", *args, "--cache-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert words in assert_one_sentence(err)
    assert not RunStore(tmp_path).entries()


def test_the_cli_json_carries_beta(tmp_path, capsys):
    assert main(["train", "--arch", "vae", "--epochs", "1", "--train-size", "128", "--beta", "2",
                 "--cache-dir", str(tmp_path)]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["beta"] == 2.0 and summary["kl_warmup"] == 0
    assert np.isfinite(summary["test_objective"])


def test_beta_is_refused_where_the_architecture_has_none():
    with pytest.raises(ConfigError, match="does not use beta"):
        RunConfig.for_arch("conv", beta=2.0)


def _small_npz(path, labelled: bool):
    data = load_dataset("mnist-sample")
    arrays = {"x_train": data.x_train[:256], "x_test": data.x_test[:64]}
    if labelled:
        arrays.update(y_train=data.y_train[:256], y_test=data.y_test[:64])
    np.savez(path, **arrays)
    return f"npz:{path}"


def test_the_scorecard_on_an_unlabelled_dataset_is_one_sentence_and_caches_nothing(tmp_path, capsys):
    dataset = _small_npz(tmp_path / "unlabelled.npz", labelled=False)
    cache = tmp_path / "cache"
    assert main(["train", "--arch", "vae", "--dataset", dataset, "--epochs", "1", "--scorecard",
                 "--cache-dir", str(cache)]) == 2
    err = capsys.readouterr().err.strip()
    assert "has no labels" in assert_one_sentence(err)
    assert not RunStore(cache).entries()


@pytest.mark.slow
def test_the_scorecard_adds_the_likelihood_and_the_classifier_figures(tmp_path, capsys):
    dataset = _small_npz(tmp_path / "labelled.npz", labelled=True)
    assert main(["train", "--arch", "vae", "--dataset", dataset, "--epochs", "1", "--scorecard",
                 "--cache-dir", str(tmp_path / "cache")]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["test_nll"] <= summary["nll_elbo_loss"] and summary["nll_images"] == 64
    assert 0 <= summary["sample_confident_share"] <= 1 and 0 <= summary["sample_classes_covered"] <= 10
    assert summary["sample_frechet_distance"] >= 0 and 0 <= summary["active_dims"] <= 2
