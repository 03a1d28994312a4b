"""vae: the notes' convolutional variational autoencoder (after keras.io's VAE example), as the registry reads it.

Its network (Sampling, encoder, decoder, the VAE model, the KL warm-up) is in _vae_network.py,
in reading order, imported when a model is built or loaded.
"""

from __future__ import annotations

from aecore.models.spec import (
    BATCH_SIZE, EPOCHS, IMAGES, LATENT_DIM, LEARNING_RATE, NATS_HELP, NATS_PER_IMAGE, SCHEDULE, SEED, TRAIN_SIZE,
    ArchSpec, Field,
    RECOGNISABLE, Metric, ScriptParts, compile_with_adam, conv_parameters, dense_parameters, latent_bottleneck, padded,
    padding_to_multiple, quarter_grid,
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


# Its part of a run's standalone Keras script (aecore.script): _vae_network's layers, names and seeds, its loss
# as a compute_loss (Keras 3's backend-neutral way) rather than a train_step with TensorFlow's GradientTape.
_SCRIPT = """\
IMAGE_SHAPE = {image_shape}  # height, width, channels
LATENT_DIM = {latent_dim}
DENSE_UNITS = {dense_units}  # the small dense layer before the two heads
BN_MOMENTUM = 0.9  # BatchNorm's moving averages settle within a short run (Keras's default is 0.99)
LOG_VAR_MAX = 4.0  # a ceiling on log_var: one unusual image cannot send its KL sky-high
BETA = {beta!r}  # the KL term's weight (1: the loss is the negative ELBO)
{warmup_constant}{pad_constant}LOSS = None  # the VAE computes its own: summed BCE + BETA * KL per image, in nats


class Sampling(layers.Layer):
    \"\"\"z = mean + exp(0.5 * log_var) * eps, eps ~ N(0, I): the reparameterisation trick.\"\"\"

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs):
        mean, log_var = inputs
        eps = keras.random.normal(ops.shape(mean), dtype=mean.dtype, seed=self.seed_generator)
        return mean + ops.exp(0.5 * log_var) * eps


def build_encoder(seeds):
    \"\"\"Image -> (mean, log_var), each of LATENT_DIM values.\"\"\"
    def conv(filters, name):
        return layers.Conv2D(filters, 3, strides=2, padding="same", activation="relu",
                             kernel_initializer=seeds.glorot(), name=name)

    inputs = keras.Input(IMAGE_SHAPE, name="x")
{pad}    h = conv(32, "enc_conv32")({padded})
    h = layers.BatchNormalization(momentum=BN_MOMENTUM, name="enc_bn1")(h)
    h = conv(64, "enc_conv64")(h)
    h = layers.BatchNormalization(momentum=BN_MOMENTUM, name="enc_bn2")(h)
    h = layers.Flatten(name="flatten")(h)
    h = layers.Dense(DENSE_UNITS, activation="relu", kernel_initializer=seeds.glorot(), name="enc_dense")(h)
    h = layers.BatchNormalization(momentum=BN_MOMENTUM, name="enc_bn3")(h)
    mean = layers.Dense(LATENT_DIM, kernel_initializer=seeds.glorot(), name="mean")(h)
    log_var = layers.Dense(LATENT_DIM, kernel_initializer=seeds.glorot(), name="log_var")(h)
    log_var = layers.ReLU(max_value=LOG_VAR_MAX, negative_slope=1.0, name="log_var_cap")(log_var)  # min(., cap)
    return keras.Model(inputs, [mean, log_var], name="encoder")


def build_decoder(seeds):
    \"\"\"z -> image in [0, 1].\"\"\"
    def deconv(filters, strides, activation, name):
        return layers.Conv2DTranspose(filters, 3, strides=strides, padding="same", activation=activation,
                                      kernel_initializer=seeds.glorot(), name=name)

    z = keras.Input((LATENT_DIM,), name="z")
    h = layers.Dense({rows} * {cols} * 64, activation="relu", kernel_initializer=seeds.glorot(), name="dec_dense")(z)
    h = layers.BatchNormalization(momentum=BN_MOMENTUM, name="dec_bn1")(h)
    h = layers.Reshape(({rows}, {cols}, 64), name="reshape")(h)
    h = deconv(64, 2, "relu", "dec_convT64")(h)
    h = layers.BatchNormalization(momentum=BN_MOMENTUM, name="dec_bn2")(h)
    h = deconv(32, 2, "relu", "dec_convT32")(h)
    h = layers.BatchNormalization(momentum=BN_MOMENTUM, name="dec_bn3")(h)
    outputs = {crop}
    return keras.Model(z, outputs, name="decoder")


class VAE(keras.Model):
    \"\"\"Encoder -> Sampling -> decoder; loss = per-image summed BCE + kl_weight * KL (nats per image).\"\"\"

    def __init__(self, encoder, decoder, **kwargs):
        super().__init__(**kwargs)
        self.encoder, self.decoder = encoder, decoder
        self.sampling = Sampling(seed=SEED, name="sampling")
        # A variable, so a warm-up can move it between steps without tracing them again.
        self.kl_weight = keras.Variable(BETA, dtype="float32", trainable=False, name="kl_weight")
        self.rec_tracker = keras.metrics.Mean(name="rec")
        self.kl_tracker = keras.metrics.Mean(name="kl")

    def build(self, input_shape):
        pass  # the encoder and decoder are functional models, built already

    def call(self, x, training=False):
        mean, log_var = self.encoder(x, training=training)
        z = self.sampling([mean, log_var])  # sampled in evaluation too: the test loss estimates the ELBO
        return self.decoder(z, training=training), mean, log_var

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        reconstruction, mean, log_var = y_pred
        # Keras's BCE averages over the last axis; a trailing axis of one makes it per value, summed per image.
        per_value = keras.losses.binary_crossentropy(y[..., None], reconstruction[..., None])
        rec = ops.mean(ops.sum(per_value, axis=(1, 2, 3)))
        kl = ops.mean(-0.5 * ops.sum(1 + log_var - ops.square(mean) - ops.exp(log_var), axis=1))
        images = ops.shape(x)[0]
        self.rec_tracker.update_state(rec, sample_weight=images)
        self.kl_tracker.update_state(kl, sample_weight=images)
        return rec + self.kl_weight * kl


def build_model():
    \"\"\"The VAE, built: its encoder and decoder draw their seeds in layer order.\"\"\"
    seeds = LayerSeeds(SEED)
    model = VAE(build_encoder(seeds), build_decoder(seeds), name="vae")
    model.build((None, *IMAGE_SHAPE))
    return model
{warmup}"""

_KL_WARMUP = """

class KLWarmup(keras.callbacks.Callback):
    \"\"\"Raise the KL weight linearly from 0 to BETA over the first KL_WARMUP_EPOCHS epochs' steps.\"\"\"

    def on_train_begin(self, logs=None):
        self.steps_per_epoch, self.epoch = self.params["steps"], 0
        self.model.kl_weight.assign(0.0)

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        share = (self.epoch * self.steps_per_epoch + batch) / (KL_WARMUP_EPOCHS * self.steps_per_epoch)
        self.model.kl_weight.assign(BETA * min(1.0, share))

    def on_train_end(self, logs=None):
        self.model.kl_weight.assign(BETA)  # evaluation weighs the KL by BETA itself
"""


def _script(config, input_shape) -> ScriptParts:
    pad = padding_to_multiple(input_shape, 4)
    needs_padding = any(pad[0] + pad[1])
    rows, cols = quarter_grid(input_shape)
    warmup = config.kl_warmup > 0
    network = _SCRIPT.format(
        image_shape=tuple(input_shape), latent_dim=config.latent_dim, dense_units=_DENSE_UNITS, beta=float(config.beta),
        rows=rows, cols=cols,
        warmup_constant=f"KL_WARMUP_EPOCHS = {config.kl_warmup}  # the KL weight rises from 0 to BETA over these\n"
        * warmup,
        pad_constant=f"PAD = {pad}  # zero rows and columns that make both sides multiples of 4\n" * needs_padding,
        pad='    h = layers.ZeroPadding2D(PAD, name="pad")(inputs)\n' if needs_padding else "",
        padded="h" if needs_padding else "inputs",
        crop=('layers.Cropping2D(PAD, name="crop")(deconv(IMAGE_SHAPE[2], 1, "sigmoid", "reconstruction")(h))'
              if needs_padding else 'deconv(IMAGE_SHAPE[2], 1, "sigmoid", "reconstruction")(h)'),
        warmup=_KL_WARMUP if warmup else "")
    return ScriptParts(network, callbacks=("KLWarmup()",) if warmup else (), imports=("from keras import ops",))


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
    script=_script,
)
