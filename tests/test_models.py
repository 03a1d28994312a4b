"""The four architectures: layer shapes as in the notes, save/load, and the VAE's Keras contract."""

import hashlib

import keras
import numpy as np
import pytest

from aecore.config import RunConfig
from aecore.datasets import DataError
from aecore.models import (
    build_model, custom_objects, decode, encode, encode_distribution, get_spec, layer_table, reconstruct,
)


def shapes(model):
    return [(row["part"], row["layer"], row["output shape"]) for row in layer_table(model)]


def test_basic_is_3_2_3():
    model = build_model(RunConfig.for_arch("basic"), (3,))
    assert shapes(model) == [("bottleneck", "bottleneck", "2"), ("decoder", "reconstruction", "3")]
    assert model.count_params() == 3 * 2 + 2 + 2 * 3 + 3


# The default basic model's seeded initial weights (float32 bytes, seeds 0 and 7) and run key, as before it had a
# hidden width: the default must stay the notes' 3 -> 2 -> 3 network, so cached runs keep their keys and weights.
BASIC_WEIGHTS_SHA256 = {0: "0603bb863716f2a5f9951920629aa3266da052cdef0cc40d6e3aff03fbff3ca1",
                        7: "8d8763b10d35db8118fd2d3ba2318f8bfba8a7b58c25207aa3c306bc5bfb4f0e"}
BASIC_DEFAULT_DIGEST = "eb5883e60a174716daebb4a16937699f2aa01f37340c69f94cda1f8bdf36c872"


@pytest.mark.parametrize("seed", sorted(BASIC_WEIGHTS_SHA256))
def test_basic_hidden_width_0_is_the_model_of_before(seed):
    config = RunConfig.for_arch("basic", seed=seed, hidden_width=0)
    assert config == RunConfig.for_arch("basic", seed=seed)
    model = build_model(config, (3,))
    assert shapes(model) == [("bottleneck", "bottleneck", "2"), ("decoder", "reconstruction", "3")]
    assert model.count_params() == 3 * 2 + 2 + 2 * 3 + 3
    digest = hashlib.sha256(b"".join(np.asarray(w, np.float32).tobytes() for w in model.get_weights()))
    assert digest.hexdigest() == BASIC_WEIGHTS_SHA256[seed]
    if seed == 0:
        assert "hidden_width" not in config.key_dict() and config.digest() == BASIC_DEFAULT_DIGEST
        assert RunConfig.for_arch("basic", hidden_width=8).key_dict()["hidden_width"] == 8


def test_basic_with_a_hidden_width_trains_on_the_swiss_roll(tiny):
    from aecore.runner import get_run

    config = tiny("basic", dataset="swiss-roll", activation="tanh", hidden_width=16, epochs=2)
    run = get_run(config)
    assert [s for _, _, s in shapes(run.model)] == ["16", "2", "16", "3"]
    assert [layer["layer"] for layer in layer_table(run.model)] == ["enc_hidden", "bottleneck", "dec_hidden",
                                                                    "reconstruction"]
    assert run.model.count_params() == (3 * 16 + 16) + (16 * 2 + 2) + (16 * 2 + 16) + (16 * 3 + 3)
    assert run.model.get_layer("encoder").get_layer("enc_hidden").activation.__name__ == "tanh"
    assert run.model.get_layer("decoder").get_layer("reconstruction").activation.__name__ == "linear"
    assert np.isfinite(run.metrics["test_mse"]) and run.metrics["pca_mse"] > 0
    assert "pca_angle_deg" not in run.metrics  # a curved decoder has no plane to compare
    assert reconstruct(run.model, np.zeros((5, 3), np.float32)).shape == (5, 3)


def test_stacked_mnist_shapes():
    model = build_model(RunConfig.for_arch("stacked"), (28, 28, 1))
    dense = [s for _, name, s in shapes(model) if name not in ("flatten", "unflatten")]
    assert dense == ["128", "64", "32", "64", "128", "784"]
    assert model.output_shape == (None, 28, 28, 1)


def test_stacked_five_dimensional_is_the_notes_network():
    config = RunConfig.for_arch("stacked", hidden=(4, 3), latent_dim=2, loss="mse")
    model = build_model(config, (5,))
    assert [s for _, _, s in shapes(model)] == ["4", "3", "2", "3", "4", "5"]


def test_conv_shapes_follow_the_notes():
    model = build_model(RunConfig.for_arch("conv", **get_spec("conv").notes_overrides), (28, 28, 1))
    assert [s for _, _, s in shapes(model)] == [
        "28 x 28 x 64",
        "14 x 14 x 64",
        "14 x 14 x 128",
        "7 x 7 x 128",
        "7 x 7 x 256",
        "7 x 7 x 128",
        "14 x 14 x 128",
        "14 x 14 x 64",
        "28 x 28 x 64",
        "28 x 28 x 1",
    ]
    assert [p for p, name, _ in shapes(model) if name == "bottleneck"] == ["bottleneck"]


def test_conv_width_scales_filters():
    model = build_model(RunConfig.for_arch("conv", width=0.5), (28, 28, 1))
    assert shapes(model)[4][2] == "7 x 7 x 128"
    assert model.output_shape == (None, 28, 28, 1)


def test_vae_shapes_and_log_var_head():
    model = build_model(RunConfig.for_arch("vae", latent_dim=3), (28, 28, 1))
    table = {name: s for _, name, s in shapes(model)}
    assert table["enc_conv32"] == "14 x 14 x 32"
    assert table["enc_conv64"] == "7 x 7 x 64"
    assert table["mean"] == table["log_var"] == "3"
    assert table["dec_dense"] == "3136"
    assert table["reshape"] == "7 x 7 x 64"
    assert table["dec_convT64"] == "14 x 14 x 64"
    assert table["dec_convT32"] == "28 x 28 x 32"
    assert table["reconstruction"] == "28 x 28 x 1"
    types = [row["type"] for row in layer_table(model)]
    assert types.count("BatchNormalization") == 6
    assert not any("sigma" in row["layer"] for row in layer_table(model))


def test_an_unusual_input_cannot_send_the_vae_log_variance_and_its_kl_sky_high():
    """A head pushed far up (as one odd test digit once did) stops at the cap: each dimension's KL stays bounded."""
    from aecore.models._vae_network import LOG_VAR_MAX

    model = build_model(RunConfig.for_arch("vae", latent_dim=2), (28, 28, 1))
    head = model.get_layer("encoder").get_layer("log_var")
    kernel, _ = head.get_weights()
    head.set_weights([np.zeros_like(kernel), np.array([24.0, -3.0], np.float32)])
    mean, log_var = encode_distribution(model, np.zeros((2, 28, 28, 1), np.float32))
    np.testing.assert_allclose(log_var, [[LOG_VAR_MAX, -3.0]] * 2)
    kl_of_capped_dim = 0.5 * (np.exp(log_var[:, 0]) - 1 - log_var[:, 0] + mean[:, 0] ** 2)
    assert np.all(kl_of_capped_dim < 30)


@pytest.mark.parametrize("arch", ["conv", "vae"])
def test_image_models_refuse_vectors(arch):
    with pytest.raises(DataError, match="images of 8 to 128 pixels"):
        build_model(RunConfig.for_arch(arch), (3,))


def test_basic_refuses_images():
    with pytest.raises(DataError, match="vectors"):
        build_model(RunConfig.for_arch("basic"), (28, 28, 1))


@pytest.fixture(scope="module")
def digits():
    from aecore.datasets import load_dataset

    data = load_dataset("mnist-sample")
    return data.x_train[:128], data.x_test[:64]


@pytest.mark.parametrize("arch", ["basic", "stacked", "conv", "vae"])
def test_save_load_round_trip(arch, digits, tmp_path):
    x = np.random.default_rng(0).random((16, 3), np.float32) if arch == "basic" else digits[0][:32]
    overrides = {"width": 0.25} if arch == "conv" else {}
    model = build_model(RunConfig.for_arch(arch, **overrides), x.shape[1:])
    model.fit(x, x, epochs=1, batch_size=16, verbose=0)
    path = tmp_path / f"{arch}.keras"
    model.save(path)
    loaded = keras.models.load_model(path, custom_objects=custom_objects())
    np.testing.assert_allclose(reconstruct(loaded, x), reconstruct(model, x), atol=1e-6)
    assert encode(loaded, x).shape[0] == len(x)


def test_vae_fit_validates_evaluates_predicts_and_reports_both_loss_parts(digits):
    x_train, x_test = digits
    model = build_model(RunConfig.for_arch("vae", latent_dim=2), (28, 28, 1))
    # Unshuffled: with 4 steps an epoch, the batch order alone can raise one epoch's training loss.
    history = model.fit(x_train, epochs=2, batch_size=32, shuffle=False, validation_data=(x_test,), verbose=0).history
    for key in ("loss", "rec", "kl", "val_loss", "val_rec", "val_kl"):
        assert len(history[key]) == 2 and np.isfinite(history[key]).all(), key
    # loss = reconstruction + KL, each in nats per image (summed over 784 pixels).
    assert history["loss"][-1] == pytest.approx(history["rec"][-1] + history["kl"][-1], rel=1e-4)
    assert 50 < history["val_rec"][-1] < 784 * np.log(2) * 1.5
    assert history["val_loss"][1] < history["val_loss"][0]  # it learns
    scores = model.evaluate(x_test, batch_size=32, verbose=0, return_dict=True)
    assert set(scores) >= {"loss", "rec", "kl"}
    assert model.predict(x_test[:5], verbose=0).shape == (5, 28, 28, 1)


def test_vae_batchnorm_trains_in_training_mode_only(digits):
    x = digits[0][:64]
    model = build_model(RunConfig.for_arch("vae"), (28, 28, 1))
    moving_mean = model.encoder.get_layer("enc_bn1").moving_mean
    before = np.array(moving_mean)
    model.evaluate(x, batch_size=32, verbose=0)
    model(x, training=False)
    np.testing.assert_array_equal(np.array(moving_mean), before)  # inference leaves the statistics alone
    model.fit(x, epochs=1, batch_size=32, verbose=0)
    assert not np.allclose(np.array(moving_mean), before)  # training updates them
    # Inference is deterministic (decodes the mean with moving statistics).
    np.testing.assert_array_equal(np.asarray(model(x, training=False)), np.asarray(model(x, training=False)))


def test_vae_encode_decode_helpers(digits):
    model = build_model(RunConfig.for_arch("vae", latent_dim=4), (28, 28, 1))
    mean, log_var = encode_distribution(model, digits[1][:10])
    assert mean.shape == log_var.shape == (10, 4)
    np.testing.assert_array_equal(encode(model, digits[1][:10]), mean)
    images = decode(model, np.zeros((3, 4)))
    assert images.shape == (3, 28, 28, 1) and 0 <= images.min() and images.max() <= 1


def test_vae_trains_under_a_mixed_bfloat16_policy(digits):
    """A data team's mixed-precision policy: the sampling step draws its noise in the heads' dtype."""
    x_train, _ = digits
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        model = build_model(RunConfig.for_arch("vae", latent_dim=2), (28, 28, 1))
        history = model.fit(x_train[:64], epochs=1, batch_size=32, verbose=0).history
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert model.encoder.get_layer("mean").compute_dtype == "bfloat16"
    assert np.isfinite(history["loss"]).all()
