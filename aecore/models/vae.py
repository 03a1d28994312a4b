"""vae: the notes' convolutional variational autoencoder (after keras.io's VAE example).

Other image shapes than 28x28x1 (8 to 128 pixels a side, grey or colour) keep the layer
pattern: the input is zero-padded to multiples of 4 for the two stride-2 convolutions,
and the decoder's output is cropped back to the input's shape.

Its Keras classes (the VAE model with its own train and test steps, and the Sampling
layer) are in _vae_keras.py, imported when a model is built or loaded: the registry,
and with it the app's navigation, must not wait for Keras to import.
"""

from __future__ import annotations

from aecore.models.spec import (
    BATCH_SIZE, EPOCHS, IMAGES, LATENT_DIM, LEARNING_RATE, SCHEDULE, SEED, TRAIN_SIZE, ArchSpec, Field, LayerSeeds,
    latent_bottleneck, padding_to_multiple, quarter_grid,
)

IMAGE_SHAPE = (28, 28, 1)
DENSE_UNITS = 16  # the notes' (and keras.io's) small dense layer before the heads
# BatchNorm's moving averages, which evaluation and inference use, forget their start at this rate per step:
# at Keras's 0.99 they need hundreds of steps to settle, and a short run was judged with stale statistics.
BN_MOMENTUM = 0.9


def build_vae_encoder(latent_dim: int, seeds: LayerSeeds, image_shape: tuple[int, ...] = IMAGE_SHAPE) -> keras.Model:
    """H x W x C -> (mean, log_var), each of size latent_dim."""
    import keras
    from keras import layers

    def conv(filters, name):
        return layers.Conv2D(filters, 3, strides=2, padding="same", activation="relu",
                             kernel_initializer=seeds.glorot(), name=name)

    pad = padding_to_multiple(image_shape, 4)
    inputs = keras.Input(image_shape, name="x")
    # No padding layer where none is needed: a 28x28 encoder stays the notes' one, layer for layer.
    h = layers.ZeroPadding2D(pad, name="pad")(inputs) if any(pad[0] + pad[1]) else inputs
    h = conv(32, "enc_conv32")(h)
    h = layers.BatchNormalization(momentum=BN_MOMENTUM, name="enc_bn1")(h)
    h = conv(64, "enc_conv64")(h)
    h = layers.BatchNormalization(momentum=BN_MOMENTUM, name="enc_bn2")(h)
    h = layers.Flatten(name="flatten")(h)
    h = layers.Dense(DENSE_UNITS, activation="relu", kernel_initializer=seeds.glorot(), name="enc_dense")(h)
    h = layers.BatchNormalization(momentum=BN_MOMENTUM, name="enc_bn3")(h)
    mean = layers.Dense(latent_dim, kernel_initializer=seeds.glorot(), name="mean")(h)
    log_var = layers.Dense(latent_dim, kernel_initializer=seeds.glorot(), name="log_var")(h)
    return keras.Model(inputs, [mean, log_var], name="encoder")


def build_vae_decoder(latent_dim: int, seeds: LayerSeeds, image_shape: tuple[int, ...] = IMAGE_SHAPE) -> keras.Model:
    """z -> H x W x C image in [0, 1]."""
    import keras
    from keras import layers

    def deconv(filters, strides, activation, name):
        return layers.Conv2DTranspose(filters, 3, strides=strides, padding="same", activation=activation,
                                      kernel_initializer=seeds.glorot(), name=name)

    pad = padding_to_multiple(image_shape, 4)
    rows, cols = quarter_grid(image_shape)
    z = keras.Input((latent_dim,), name="z")
    h = layers.Dense(rows * cols * 64, activation="relu", kernel_initializer=seeds.glorot(), name="dec_dense")(z)
    h = layers.BatchNormalization(momentum=BN_MOMENTUM, name="dec_bn1")(h)
    h = layers.Reshape((rows, cols, 64), name="reshape")(h)
    h = deconv(64, 2, "relu", "dec_convT64")(h)
    h = layers.BatchNormalization(momentum=BN_MOMENTUM, name="dec_bn2")(h)
    h = deconv(32, 2, "relu", "dec_convT32")(h)
    h = layers.BatchNormalization(momentum=BN_MOMENTUM, name="dec_bn3")(h)
    outputs = deconv(image_shape[2], 1, "sigmoid", "reconstruction")(h)
    if any(pad[0] + pad[1]):
        outputs = layers.Cropping2D(pad, name="crop")(outputs)
    return keras.Model(z, outputs, name="decoder")


def build_vae(latent_dim: int = 2, seed=None, beta: float = 1.0, image_shape: tuple[int, ...] = IMAGE_SHAPE):
    """A built VAE (weights exist, so it can be summarised, saved and loaded at once); beta weighs its KL term."""
    from aecore.models._vae_keras import VAE

    model = VAE(latent_dim=latent_dim, seed=seed, beta=beta, image_shape=tuple(image_shape), name="vae")
    model.build((None, *image_shape))
    return model


def _build(config, input_shape):
    import keras

    model = build_vae(config.latent_dim, seed=config.seed, beta=config.beta, image_shape=tuple(input_shape))
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=config.lr), jit_compile=SPEC.jit_compile)
    return model


def _keras_classes() -> dict:
    from aecore.models._vae_keras import VAE, Sampling

    return {"VAE": VAE, "Sampling": Sampling}


def _kl_warmup(config, steps_per_epoch: int) -> list:
    from aecore.models._vae_keras import KLWarmup

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
    order=4,
    input_kind=IMAGES,
    image_shape=IMAGE_SHAPE,
    build=_build,
    loss=lambda config: "elbo",
    # 6 epochs of batch 32 reach a lower test loss than 10 of batch 64, in less time (README's figures).
    # Chosen on the time-quality frontier of benchmarks/tune.py (README, "Time to quality").
    defaults=dict(dataset="mnist-sample", epochs=7, batch_size=64, latent_dim=2, lr=1e-2, schedule="cosine",
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
    latent_label="latent dimensions (mean and log-variance heads)",
    bottleneck=latent_bottleneck,
    diagram="28×28×1 → (mean, log_var) of size k → z → 28×28×1",
    # No XLA: its CPU transposed convolutions are slower than TensorFlow's own, and its compile is long.
    jit_compile=False,
    steps_per_execution=2,
    callbacks=_kl_warmup,
    samples=True,
    custom_objects=_keras_classes,
    tiny=dict(epochs=1, train_size=256),
    extra_metrics=_elbo_metrics,
)
