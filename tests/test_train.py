"""Training: metrics, seeding, throughput, progress, the replay, fixed batch shapes, and inference helpers.

How fast training is is the benchmark's figure (benchmarks/training.py), not a test here: only the
throughput's arithmetic is tested, on a fake clock.
"""

import dataclasses
import gc
import itertools
import math
import weakref

import numpy as np
import pytest

from aecore import train as T
from aecore.config import RunConfig
from aecore.datasets import load_dataset
from aecore.models import build_model, decode, encode, reconstruct, warm_up
from aecore.runner import get_run
from aecore.train import TrainProgress, evaluate, train
from tests.helpers import tiny_config

TIMINGS = {"seconds", "train_img_per_s", "seconds_build", "seconds_first_step", "seconds_fit", "seconds_evaluate"}
IMAGE_KEYS = {"test_mse", "test_bce", "test_psnr"} | TIMINGS
EXPECTED_KEYS = {
    "basic": {"test_mse", "pca_mse", "pca_angle_deg"} | TIMINGS,
    "stacked": IMAGE_KEYS,
    "conv": IMAGE_KEYS,
    "vae": IMAGE_KEYS | {"test_loss", "test_rec", "test_kl"},
}


@pytest.fixture(scope="module")
def two_epoch_runs():
    """arch -> train(tiny config of 2 epochs), trained on first use and shared by this module's tests, which only
    read them (metrics, history, replay, inference)."""
    runs = {}

    def get(arch):
        if arch not in runs:
            runs[arch] = train(tiny_config(arch, epochs=2))
        return runs[arch]

    return get


@pytest.mark.parametrize("arch", ["basic", "stacked", "conv", "vae"])
def test_tiny_run_has_finite_metrics_history_and_replay(arch, two_epoch_runs):
    run = two_epoch_runs(arch)
    assert set(run.metrics) == EXPECTED_KEYS[arch]
    assert all(math.isfinite(v) for v in run.metrics.values()), run.metrics
    assert run.metrics["train_img_per_s"] > 0 and run.metrics["seconds"] > 0
    phases = [run.metrics[f"seconds_{phase}"] for phase in ("build", "first_step", "fit", "evaluate")]
    assert min(phases) >= 0 and sum(phases) == pytest.approx(run.metrics["seconds"], abs=0.005)
    assert not run.cached
    assert len(run.history["loss"]) == len(run.history["val_loss"]) == 2
    if arch == "vae":
        assert {"rec", "kl", "val_rec", "val_kl"} <= set(run.history)
    if arch == "basic":
        assert run.replay is None
    else:
        # Before training, then after each epoch: 8 test digits.
        assert run.replay.shape == (3, T.REPLAY_IMAGES, 28, 28, 1)
        assert np.isfinite(run.replay.astype(np.float32)).all()
        assert not np.array_equal(run.replay[0], run.replay[-1])  # training changed the reconstructions


@pytest.mark.parametrize("arch", ["stacked", pytest.param("vae", marks=pytest.mark.slow)])  # the VAE: two more fits
def test_same_config_and_seed_give_the_same_metrics(arch, tiny, two_epoch_runs):
    config = tiny(arch, epochs=2)
    first, second = two_epoch_runs(arch), train(config)  # the first trained earlier in this process
    assert first.config == config
    def strip(m):
        return {k: v for k, v in m.items() if k not in TIMINGS}

    assert strip(first.metrics) == strip(second.metrics)
    # The VAE's per-epoch validation objective has been seen to differ in its last bit between two runs
    # while its parts matched exactly; a different seed moves it by far more than the tolerance.
    assert first.history.keys() == second.history.keys()
    for key, values in first.history.items():
        assert second.history[key] == pytest.approx(values, rel=1e-6, abs=0), key
    np.testing.assert_array_equal(first.replay, second.replay)
    other = train(tiny(arch, epochs=2, seed=1))
    assert strip(other.metrics) != strip(first.metrics)


def test_throughput_counts_only_steps_after_the_first(monkeypatch):
    """A fake clock: the first execution (compile) takes 10 s, every later one 1 s."""
    clock = iter([0.0, 10.0, 11.0, 12.0, 13.0, 13.5, 20.0, 21.0])
    monkeypatch.setattr(T.time, "perf_counter", lambda: next(clock))
    cb = T._Progress(steps=4, batch_size=32, epochs=2, progress=None, replay_x=None)  # clock 0
    cb.on_epoch_begin(0)
    for step in range(4):  # clock 10, 11, 12, 13
        cb.on_train_batch_end(step)
    cb.on_test_begin()  # validation is not training
    cb.on_epoch_begin(1)  # clock 13.5
    # Two executions of two steps each (steps_per_execution = 2): 6.5 s, then 1 s.
    cb.on_train_batch_end(1)  # clock 20
    cb.on_train_batch_end(3)  # clock 21
    assert cb.images == 3 * 32 + 4 * 32
    assert cb.img_per_s == pytest.approx(7 * 32 / (3.0 + 7.5))


def test_progress_fractions_increase_to_one_with_a_report_at_every_epoch_end(tiny):
    reports: list[TrainProgress] = []
    config = tiny("stacked", epochs=3, train_size=256, batch_size=16)
    train(config, progress=reports.append)
    fractions = [p.fraction for p in reports]
    assert all(b > a for a, b in itertools.pairwise(fractions)), fractions
    assert fractions[-1] == 1.0
    ends = [p for p in reports if p.batch == p.batches]
    assert [p.epoch for p in ends] == [1, 2, 3]
    assert all("val_loss" in p.logs and "loss" in p.logs for p in ends)
    assert all(p.batches == 256 // 16 and p.epochs == 3 for p in reports)
    assert [p.seconds for p in reports] == sorted(p.seconds for p in reports)


def test_basic_learns_pcas_plane():
    """A linear 3 -> 2 -> 3 autoencoder trained with MSE spans the top-2 principal plane."""
    run = train(RunConfig.for_arch("basic"))
    m = run.metrics
    assert m["pca_angle_deg"] < 5, m
    assert m["test_mse"] < 1.1 * m["pca_mse"], m
    # ... and it is a real fit, not a lucky start: an untrained model is far off.
    untrained = build_model(run.config, (3,))
    data = load_dataset("points3d")
    assert evaluate(untrained, run.config, data)["test_mse"] > 3 * m["pca_mse"]


def test_training_batches_are_full_shuffled_passes_with_a_static_shape():
    x = np.arange(100, dtype=np.float32).reshape(100, 1)
    ds = T._training_batches(x, x, 32, seed=0)
    # A static batch dimension: an XLA-compiled step sees one shape and compiles once.
    assert ds.element_spec[0].shape.as_list() == [32, 1]
    batches = [np.asarray(b[0])[:, 0] for b, _ in zip(ds, range(25))]
    assert all(len(b) == 32 for b in batches)
    seen = np.concatenate(batches)  # 800 draws = 8 passes over 100 examples
    for p in range(8):
        assert sorted(seen[p * 100 : (p + 1) * 100]) == list(range(100))  # every example once per pass
    assert not np.array_equal(seen[:100], seen[100:200])  # reshuffled every pass
    again = np.concatenate([np.asarray(b[0])[:, 0] for b, _ in zip(T._training_batches(x, x, 32, seed=0), range(25))])
    np.testing.assert_array_equal(seen, again)  # seeded


def test_noisy_inputs_keep_clean_targets():
    x = np.zeros((64, 2), np.float32)
    noisy = x + 1
    inputs, targets = next(iter(T._training_batches(noisy, x, 16, seed=0)))
    assert np.all(np.asarray(inputs) == 1) and np.all(np.asarray(targets) == 0)


@pytest.mark.parametrize(
    "arch, steps, expected",
    [("conv", 63, 1), ("stacked", 63, 7), ("stacked", 64, 8), ("vae", 63, 1), ("vae", 64, 2), ("vae", 4, 1), ("basic", 7, 1), ("stacked", 1, 1)],
)
def test_steps_per_execution_divides_the_epoch(arch, steps, expected):
    assert T._steps_per_execution(arch, steps) == expected


def test_validation_uses_whole_fixed_batches():
    assert T._validation_size(10_000) == T.MAX_VALIDATION and T.MAX_VALIDATION % T.VALIDATION_BATCH == 0
    assert T._validation_size(T.VALIDATION_BATCH + 17) == T.VALIDATION_BATCH
    assert T._validation_size(37) == 37  # fewer than a batch: one batch of them all


def test_small_training_set_and_large_batch_still_train(tiny):
    run = train(tiny("stacked", train_size=10, batch_size=64, epochs=2))
    assert math.isfinite(run.metrics["test_mse"])


def test_get_run_loads_from_the_store_the_second_time(tiny, store):
    config = tiny("vae")
    first = get_run(config, store)
    second = get_run(config, store)
    assert not first.cached and second.cached
    x = load_dataset(config.dataset).x_test[:5]
    np.testing.assert_allclose(reconstruct(first.model, x), reconstruct(second.model, x), atol=1e-6)


def test_inference_helpers_match_direct_calls_for_any_batch_size(two_epoch_runs):
    model = two_epoch_runs("vae").model
    x = load_dataset("mnist-sample").x_test[:7]
    direct = np.asarray(model(x, training=False))
    for batch_size in (1, 3, 500):
        np.testing.assert_allclose(reconstruct(model, x, batch_size=batch_size), direct, atol=1e-5)
    z = encode(model, x)
    assert z.shape == (7, 2)
    np.testing.assert_allclose(decode(model, z), direct, atol=1e-5)
    assert decode(model, z[0]).shape == (1, 28, 28, 1)  # one latent vector: the slider path


def test_inference_functions_do_not_keep_a_model_alive(tiny):
    run = train(tiny("stacked"))
    warm_up(run.model)
    ref = weakref.ref(run.model)
    del run
    gc.collect()
    assert ref() is None


def test_the_cosine_schedule_warms_up_peaks_at_the_rate_and_ends_near_zero(tiny):
    rates = []

    def read_rate(p: TrainProgress):
        if p.epoch_end:
            rates.append(float(p.model.optimizer.learning_rate))

    constant = tiny("stacked", epochs=4, lr=3e-3)
    train(constant, progress=read_rate)
    assert rates == pytest.approx([3e-3] * 4)
    rates.clear()
    train(tiny("stacked", epochs=4, lr=3e-3, schedule="cosine"), progress=read_rate)
    # Four epochs of 4 steps: warm-up to 3e-3 in the first 2 steps, then down a cosine to 0 at step 16.
    assert rates[0] == pytest.approx(3e-3 * (1 + math.cos(math.pi * 2 / 14)) / 2, rel=1e-4)
    assert rates[0] > rates[1] > rates[2] > rates[3] and rates[3] == pytest.approx(0, abs=1e-9)


def test_the_constant_schedule_stays_out_of_the_key_so_earlier_runs_keep_theirs():
    constant = RunConfig.for_arch("stacked", schedule="constant")
    assert "schedule" not in constant.key_dict()
    assert "schedule" in RunConfig.for_arch("stacked", schedule="cosine").key_dict()


def test_a_run_too_short_to_pay_for_xla_trains_without_it(tiny):
    from aecore.models import get_spec, register

    spec = get_spec("stacked")
    config = tiny("stacked")  # 256 images: far below stacked's xla_min_images
    assert spec.jit_compile and config.train_size * config.epochs < spec.xla_min_images
    assert train(config).model.jit_compile is False
    register(dataclasses.replace(spec, xla_min_images=0))
    try:
        assert train(config).model.jit_compile is True
    finally:
        register(spec)


@pytest.mark.parametrize("arch", ["conv", "vae"])
def test_the_registered_spec_decides_xla_not_its_model_file(arch):
    """A benchmark registers a spec again with XLA switched; the model built then must follow it."""
    from aecore.models import build_model, get_spec, register

    spec = get_spec(arch)
    config = RunConfig.for_arch(arch)
    try:
        for xla in (not spec.jit_compile, spec.jit_compile):
            register(dataclasses.replace(spec, jit_compile=xla))
            assert build_model(config, (28, 28, 1)).jit_compile is xla
    finally:
        register(spec)


def test_precision_is_chosen_by_the_cpu_forced_by_the_setting_and_a_bad_setting_is_one_sentence(monkeypatch):
    from aecore import precision
    from aecore.errors import ConfigError
    from aecore.models import get_spec

    conv, vae = get_spec("conv"), get_spec("vae")
    assert conv.bfloat16_on and not vae.bfloat16_on
    monkeypatch.delenv(precision.SETTING_ENV, raising=False)
    monkeypatch.setattr(precision, "cpu_flags", lambda: frozenset({"avx512f", *conv.bfloat16_on}))
    assert precision.policy_for(conv) == "mixed_bfloat16" and precision.policy_for(vae) is None  # None: Keras's
    monkeypatch.setattr(precision, "cpu_flags", lambda: frozenset({"avx512f", "avx512_bf16"}))
    assert precision.policy_for(conv) is None
    monkeypatch.setenv(precision.SETTING_ENV, "mixed_bfloat16")
    assert precision.policy_for(vae) == "mixed_bfloat16"
    with precision.forced("float32"):
        assert precision.policy_for(vae) == "float32"
    monkeypatch.setenv(precision.SETTING_ENV, "half")
    with pytest.raises(ConfigError, match=r"^AECORE_PRECISION must be one of auto, float32, mixed_bfloat16, got 'half'\.$"):
        precision.policy_for(conv)


def test_a_model_trained_in_mixed_bfloat16_says_so_and_hands_out_float32(tiny, monkeypatch):
    """Its codes and reconstructions are float32 arrays for the views; the thread's policy is float32 after."""
    import keras

    from aecore.models import encode, reconstruct

    monkeypatch.setenv("AECORE_PRECISION", "mixed_bfloat16")
    config = tiny("conv")
    run = train(config)
    assert run.placement["precision"] == "mixed_bfloat16" and run.summary()["precision"] == "mixed_bfloat16"
    assert keras.config.dtype_policy().name == "float32"  # building left the thread as it was
    data = load_dataset(config.dataset)
    assert reconstruct(run.model, data.x_test[:3]).dtype == np.float32
    assert encode(run.model, data.x_test[:3]).dtype == np.float32
    assert 0 < run.metrics["test_bce"] < 0.7


def test_the_live_frames_start_before_the_first_step_and_follow_the_training(tiny, monkeypatch):
    """A live view sees the untrained model's reconstructions while the first step compiles, then new ones
    within epochs (every LIVE_FRAME_S; here every report) and at each epoch's end: the run's own replay frames."""
    import aecore.train

    monkeypatch.setattr(aecore.train, "LIVE_FRAME_S", 0.0)
    monkeypatch.setattr(aecore.train, "REPORT_S", 0.0)
    reports: list[TrainProgress] = []
    run = train(tiny("stacked", epochs=2, train_size=512, batch_size=16), progress=reports.append)
    first = reports[0]
    assert not first.started and first.fraction == 0 and first.model is None
    np.testing.assert_allclose(first.replay_frame, run.replay[0], atol=1e-3)  # the run keeps float16
    within = [p for p in reports[1:] if 0 < p.batch < p.batches]
    assert within and all(p.replay_frame is not None and p.replay_frame.shape == run.replay[0].shape for p in within)
    ends = [p for p in reports if p.epoch_end]
    for p in ends:
        np.testing.assert_allclose(p.replay_frame, run.replay[p.epoch], atol=1e-3)
    # A frame mid-epoch is the model of that moment: neither the untrained one nor the epoch's end.
    assert np.abs(within[-1].replay_frame - run.replay[0]).max() > 1e-2
