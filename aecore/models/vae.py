"""vae: the notes' convolutional variational autoencoder (after keras.io's VAE example), as the registry reads it.

Its network (Sampling, encoder, decoder, the VAE model, the KL warm-up) is in _vae_network.py,
in reading order, imported when a model is built or loaded.
"""

from __future__ import annotations

from aecore.models.spec import (
    BATCH_SIZE, EPOCHS, IMAGES, LATENT_DIM, LEARNING_RATE, NATS_HELP, NATS_PER_IMAGE, SCHEDULE, SEED, TRAIN_SIZE,
    ArchSpec, Field,
    RECOGNISABLE, Metric, compile_with_adam, conv_parameters, dense_parameters, latent_bottleneck, padded,
    quarter_grid,
)

ELBO_LOSS = Metric("test_loss", "ELBO loss", NATS_PER_IMAGE, "{:.1f}", help=(
    "The negative evidence lower bound per test image: summed reconstruction BCE plus KL. It bounds the negative "
    "log-likelihood of an image from above. " + NATS_HELP))
KL = Metric("test_kl", "KL", NATS_PER_IMAGE, "{:.2f}", help=(
    "Kullback-Leibler divergence of the encoder's Gaussian q(z|x) from the N(0, I) prior, summed over the latent "
    "dimensions: what the code costs. Near 0, the code says nothing about the image. " + NATS_HELP))
OBJECTIVE = Metric("test_objective", "Objective", NATS_PER_IMAGE, "{:.1f}", help=(
    "What training minimised: reconstruction + β × KL per image (the ELBO loss when β = 1)."))


def _build(config, input_shape):
    from aecore.models._vae_network import build_vae  # deferred: Keras, only when a model is built

    model = build_vae(config.latent_dim, seed=config.seed, beta=config.beta, image_shape=tuple(input_shape))
    return compile_with_adam(model, config)


# The widths of _vae_network's layers, which imports Keras, so the estimates cannot read them there; the
# robustness tests hold both estimates to the built network's own counts.
_ENCODER_FILTERS = (32, 64)
_DENSE_UNITS = 16
_DECODER_FILTERS = (64, 64, 32)  # the dense layer's map, then the two stride-2 transposed convolutions
_BATCH_NORM_WEIGHTS = 4  # per channel: scale, offset, moving mean and variance (count_params counts all four)


def _parameters(config, input_shape) -> int:
    rows, cols = quarter_grid(input_shape)
    channels, k = input_shape[2], config.latent_dim
    first, second = _ENCODER_FILTERS
    code_map, up1, up2 = _DECODER_FILTERS
    encoder = (conv_parameters(channels, first) + conv_parameters(first, second)
               + dense_parameters(rows * cols * second, _DENSE_UNITS) + 2 * dense_parameters(_DENSE_UNITS, k)
               + _BATCH_NORM_WEIGHTS * (first + second + _DENSE_UNITS))
    decoder = (dense_parameters(k, rows * cols * code_map) + conv_parameters(code_map, up1)
               + conv_parameters(up1, up2) + conv_parameters(up2, channels)
               + _BATCH_NORM_WEIGHTS * (rows * cols * code_map + up1 + up2))
    return encoder + decoder + 1  # and the KL weight, a variable of the model


def _activations(config, input_shape) -> int:
    height, width = padded(input_shape, 4)
    rows, cols = quarter_grid(input_shape)
    channels, k = input_shape[2], config.latent_dim
    first, second = _ENCODER_FILTERS
    code_map, up1, up2 = _DECODER_FILTERS
    half, quarter = height * width // 4, rows * cols
    needs_padding = (height, width) != tuple(input_shape[:2])
    encoder = (2 * half * first + 2 * quarter * second  # each convolution and its batch norm
               + quarter * second + 2 * _DENSE_UNITS + 3 * k)  # flatten, dense and its norm, the two heads, the cap
    decoder = (3 * quarter * code_map  # dense, its norm, reshape
               + 2 * half * up1 + 2 * height * width * up2 + height * width * channels)
    pad_and_crop = height * width * channels + input_shape[0] * input_shape[1] * channels if needs_padding else 0
    return encoder + k + decoder + pad_and_crop  # k: the sampled code


def _keras_classes() -> dict:
    from aecore.models._vae_network import VAE, Sampling  # deferred: Keras

    return {"VAE": VAE, "Sampling": Sampling}


def _kl_warmup(config, steps_per_epoch: int) -> list:
    from aecore.models._vae_network import KLWarmup  # deferred: Keras

    return [KLWarmup(config.beta, config.kl_warmup * steps_per_epoch)]


def _elbo_metrics(model, config, data, inputs, batch_size) -> dict:
    """The negative ELBO (test_loss) and its parts on the test set, in nats per image; with beta other than 1,
    the objective minimised (reconstruction + beta KL) apart from it."""
    # The estimate samples z: start the draws afresh, so evaluating a model again gives the same numbers.
    model.sampling.restart()
    parts = model.evaluate(inputs, data.x_test, batch_size=batch_size, verbose=0, return_dict=True)
    rec, kl = float(parts["rec"]), float(parts["kl"])
    out = {"test_loss": rec + kl, "test_rec": rec, "test_kl": kl}
    if config.beta != 1:
        out["test_objective"] = rec + config.beta * kl
    return out


SPEC = ArchSpec(
    name="vae",
    title="Variational",
    description="convolutional VAE with BatchNorm, mean and log-variance heads, BCE + KL",
    summary="Convolutional VAE with BatchNorm; loss = summed BCE + KL per image. Slide through its latent space.",
    icon=":material/blur_on:",
    colour="#4f46e5",
    order=4,
    input_kind=IMAGES,
    build=_build,
    loss=lambda config: "elbo",
    # Chosen on the time-quality frontier of benchmarks/tune.py (docs/PERFORMANCE.md, "Time to quality"); four
    # latent dimensions, not the notes' two: no recipe of seconds with two made reconstructions a classifier
    # recognises as often as three in five originals ("The VAE's recognisability and its seconds").
    defaults=dict(dataset="mnist-sample", epochs=4, batch_size=64, latent_dim=4, lr=1e-2, schedule="cosine",
                  train_size=2048),
    fields=(
        EPOCHS, BATCH_SIZE, LEARNING_RATE, SCHEDULE, LATENT_DIM, TRAIN_SIZE, SEED,
        Field("beta", "KL weight β", "float", 0.0, 10.0, step=0.25,
              help="The objective is reconstruction + β × KL. β = 1 is the ELBO (the notes' loss); larger β presses "
                   "the codes towards the prior, β = 0 is a plain autoencoder with noise."),
        Field("kl_warmup", "KL warm-up (epochs)", "int", 0, 200,
              help="β rises linearly from 0 over this many epochs, so the decoder learns before the KL term "
                   "presses the codes together (0 = off)."),
    ),
    quality=ELBO_LOSS,
    bottleneck=latent_bottleneck,
    diagram="28×28×1 → (mean, log_var) of size k → z → 28×28×1",
    # No XLA: its CPU transposed convolutions are slower than TensorFlow's own, and its compile is long.
    jit_compile=False,
    steps_per_execution=2,
    callbacks=_kl_warmup,
    samples=True,
    custom_objects=_keras_classes,
    tiny=dict(epochs=1, train_size=256, latent_dim=2),  # the notes' latent size: the tests' views of a 2-D latent
    parameters=_parameters,
    activations=_activations,
    extra_metrics=_elbo_metrics,
    header_metrics=(ELBO_LOSS, KL, OBJECTIVE, RECOGNISABLE),
    showcase=dict(epochs=30, train_size=0),
    notes_overrides=dict(latent_dim=2),
    loss_parts={"rec": "reconstruction", "kl": "KL divergence"},
)
