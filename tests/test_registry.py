"""The architecture registry: one spec per model file, read by config, CLI, form and store; runs seeded alone.

A fifth architecture registered here (a dense autoencoder with one tanh code layer)
is trained through the CLI and drawn by the sidebar form with no change elsewhere.
"""

from __future__ import annotations

import importlib
import json
import threading

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from aecore import models
from aecore.__main__ import main
from aecore.config import ConfigError, RunConfig
from aecore.models.spec import ANY, BATCH_SIZE, EPOCHS, LATENT_DIM, SEED, TRAIN_SIZE, ArchSpec, LayerSeeds
from aecore.runner import get_run
from aecore.store import run_key
from tests.helpers import assert_one_sentence


def _build_tanh(config, input_shape):
    import keras

    seeds = LayerSeeds(config.seed)
    inputs = keras.Input(input_shape, name="x")
    flat = keras.layers.Flatten(name="flatten")(inputs)
    code = keras.layers.Dense(config.latent_dim, activation="tanh", kernel_initializer=seeds.glorot(),
                              name="bottleneck")(flat)
    encoder = keras.Model(inputs, code, name="encoder")
    code_in = keras.Input((config.latent_dim,), name="z")
    out = keras.layers.Dense(int(np.prod(input_shape)), activation="sigmoid", kernel_initializer=seeds.glorot(),
                             name="reconstruction")(code_in)
    decoder = keras.Model(code_in, keras.layers.Reshape(input_shape, name="unflatten")(out), name="decoder")
    model = keras.Model(inputs, decoder(encoder(inputs)), name="tanh")
    model.compile(optimizer=keras.optimizers.Adam(config.lr), loss="binary_crossentropy")
    return model


TANH = ArchSpec(
    name="tanh", title="Tanh", description="one tanh code layer", summary="A test architecture.",
    icon=":material/science:", colour="#6b7280", order=99, input_kind=ANY, build=_build_tanh, loss=lambda config: "bce",
    defaults=dict(dataset="mnist-sample", epochs=1, batch_size=64, latent_dim=8, lr=1e-3, train_size=256),
    fields=(EPOCHS, BATCH_SIZE, LATENT_DIM.with_label("Code units"), TRAIN_SIZE, SEED),
    quality=models.spec.BCE_QUALITY, bottleneck=models.spec.latent_bottleneck, diagram="784 → 8 → 784",
)


@pytest.fixture
def fifth_architecture():
    models.register(TANH)
    try:
        yield TANH
    finally:
        models.unregister(TANH.name)


def test_the_four_architectures_come_from_their_model_files():
    assert models.names() == ("basic", "stacked", "conv", "vae")
    for spec in models.specs():
        assert importlib.import_module(f"aecore.models.{spec.name}").SPEC is spec
        assert set(spec.defaults) <= set(spec.field_names)
        assert set(spec.tiny) <= set(spec.field_names)
        RunConfig.for_arch(spec.name)  # its defaults make a valid run
        RunConfig.for_arch(spec.name, **spec.tiny)


def test_a_fifth_architecture_trains_through_the_cli(fifth_architecture, tmp_path, capsys):
    assert main(["train", "--arch", "tanh", "--epochs", "1", "--cache-dir", str(tmp_path)]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["arch"] == "tanh" and summary["cached"] is False
    assert 0 < summary["test_bce"] < 1
    assert main(["train", "--arch", "tanh", "--epochs", "1", "--cache-dir", str(tmp_path)]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["cached"] is True  # loads back


def _tanh_form():
    from dashboard.forms import config_form

    config, _ = config_form("tanh")
    import streamlit as st

    st.write(f"config: {config.describe()}")


def test_a_fifth_architecture_is_drawn_by_the_form(fifth_architecture):
    at = AppTest.from_function(_tanh_form).run()
    assert not at.exception, [e.value for e in at.exception]
    labels = [w.label for w in at.sidebar.number_input]
    assert labels == ["Epochs", "Code units", "Batch size", "Training images (0 = all)", "Seed"]
    at.sidebar.number_input(key="form.tanh.latent_dim").set_value(5)
    at.sidebar.button[0].click().run()
    assert "config: tanh, mnist-sample, 1 epoch, latent 5" in [m.value for m in at.markdown]


def test_a_field_the_architecture_does_not_use_is_refused():
    with pytest.raises(ConfigError, match="does not use width"):
        RunConfig.for_arch("vae", width=0.5)
    with pytest.raises(ConfigError, match="does not use width"):
        RunConfig(arch="vae", width=0.5).validated()
    assert RunConfig.for_arch("conv", width=1.0) != RunConfig.for_arch("conv")  # its default is 0.5


def test_the_run_key_holds_only_the_fields_the_architecture_uses():
    config = RunConfig.for_arch("vae")
    assert "width" not in config.key_dict() and "hidden" not in config.key_dict()
    assert "width" in RunConfig.for_arch("conv").key_dict()
    assert run_key(config, "data") != run_key(RunConfig.for_arch("vae", latent_dim=3), "data")


def test_the_cli_refuses_a_field_the_architecture_does_not_use(capsys):
    assert main(["train", "--arch", "vae", "--width", "0.5", "--no-cache"]) == 2
    err = capsys.readouterr().err.strip()
    assert assert_one_sentence(err).startswith("error: The vae model does not use width")


def _trained_figures(run) -> tuple[dict, list[np.ndarray]]:
    metrics = {k: v for k, v in run.metrics.items() if not k.startswith(("seconds", "train_img_per_s"))}
    return metrics, [np.asarray(w) for w in run.model.get_weights()]


@pytest.mark.slow
def test_two_runs_in_two_threads_give_what_each_gives_alone(tiny):
    """No process-wide random state: training seeds its initializers, sampling and shuffling per run."""
    configs = [tiny("stacked", epochs=2), tiny("vae", seed=3)]
    alone = [_trained_figures(get_run(config)) for config in configs]
    together: list = [None, None]
    barrier = threading.Barrier(2)

    def train(i):
        barrier.wait()  # start side by side
        together[i] = _trained_figures(get_run(configs[i]))

    threads = [threading.Thread(target=train, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Usually exactly equal; the tolerance only spares a last-bit difference of multithreaded
    # float sums (see test_train's same-seed test). Process-wide random state moves them by far more.
    for (metrics_alone, weights_alone), (metrics_together, weights_together) in zip(alone, together):
        assert metrics_together == pytest.approx(metrics_alone, rel=1e-6)
        for a, b in zip(weights_alone, weights_together):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


def test_sizes_are_parsed_in_one_place_for_form_and_cli(capsys):
    from aecore.models.spec import parse_sizes

    assert parse_sizes("128, 64") == (128, 64) and parse_sizes("8") == (8,)
    assert parse_sizes("") == ()  # no hidden layers: the shallow stacked model
    for bad in ("a, 3", ",,"):
        with pytest.raises(ValueError, match="whole numbers separated by commas"):
            parse_sizes(bad)
    assert main(["train", "--arch", "stacked", "--hidden", "12,x", "--no-cache"]) == 2
    err = capsys.readouterr().err.strip()
    assert "whole numbers separated by commas" in assert_one_sentence(err)


def test_a_run_name_says_every_setting_unlike_the_defaults():
    """One name per run: each field moved off its architecture's default changes the name, in words of its label."""
    for spec in models.specs():
        default = RunConfig.for_arch(spec.name)
        names = {default.describe()}
        for field in spec.fields:
            value = getattr(default, field.name)
            if field.kind == "choice":
                other = next(c for c in field.choices if c != value)
            elif field.kind == "sizes":
                other = (*value, 8)
            elif field.kind == "float":
                other = round(value + field.step, 6) if value + field.step <= field.high else field.low
            else:
                other = value + 1 if value + 1 <= field.high else value - 1
            changed = RunConfig.for_arch(spec.name, **{field.name: other, **(
                {"epochs": other} if field.name == "kl_warmup" and other > default.epochs else {})})
            names.add(changed.describe())
        assert len(names) == 1 + len(spec.fields), spec.name


def test_a_revised_architecture_keys_its_runs_anew(monkeypatch):
    """A cached run of a network the same settings no longer build is never served: the revision is in the key."""
    import dataclasses

    config = RunConfig.for_arch("stacked")
    before = run_key(config, "data")
    revised = dataclasses.replace(models.get_spec("stacked"), revision=1)
    monkeypatch.setitem(models._REGISTRY, "stacked", revised)
    assert run_key(config, "data") != before
    assert RunConfig.for_arch("conv").key_dict()["revision"] == 1  # width no longer scales its bottleneck
