"""The Keras network of the vae architecture (aecore/models/vae.py), in reading order: the Sampling layer,
the encoder, the decoder and the VAE model with its own train and test steps, then the KL warm-up.

After keras.io's VAE example. Keras 3 has no symbolic add_loss, so the loss lives in
train_step/test_step and its parts are tracked with Mean metrics. Unlike the example this one
validates, evaluates, predicts and survives a .keras save/load round trip. The classes are not
registered with Keras globally: loading a saved model names them (aecore.models.custom_objects()).

Other image shapes than 28x28x1 (8 to 128 pixels a side, grey or colour) keep the layer
pattern: the input is zero-padded to multiples of 4 for the two stride-2 convolutions, and the
decoder's output is cropped back to the input's shape. Imported when a VAE is built or loaded:
the registry, and with it the app's navigation, does not wait for Keras.
"""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import layers, ops

from aecore.datasets.catalogue import MNIST_SHAPE
from aecore.models.spec import LayerSeeds, padding_to_multiple, quarter_grid

DENSE_UNITS = 16  # the notes' (and keras.io's) small dense layer before the heads
# BatchNorm's moving averages, which evaluation and inference use, forget their start at this rate per step:
# at Keras's 0.99 they need hundreds of steps to settle, and a short run was judged with stale statistics.
BN_MOMENTUM = 0.9
# The log-variance head's ceiling. A posterior wider than the prior (log_var > 0) costs KL and buys nothing, so
# training keeps log_var below 0 on the digits it sees; but an unusual input (one test digit of mnist-sample)
# could send the linear head far up, and exp(log_var) made that one image's KL, and the test set's mean ELBO
# with it, astronomically large. The cap leaves room above the prior and bounds each dimension's KL.
LOG_VAR_MAX = 4.0


class Sampling(layers.Layer):
    """z = mean + exp(0.5 * log_var) * eps, eps ~ N(0, I): the reparameterisation trick."""

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs):
        mean, log_var = inputs
        # In mean's dtype: under a mixed-precision policy (mixed_bfloat16) the heads compute in bfloat16.
        eps = keras.random.normal(ops.shape(mean), dtype=mean.dtype, seed=self.seed_generator)
        return mean + ops.exp(0.5 * log_var) * eps

    def restart(self) -> None:
        """Draw the same eps sequence again from now on, as a fresh layer of this seed would."""
        self.seed_generator.state.assign(keras.random.SeedGenerator(self.seed).state.value)

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}


def build_vae_encoder(latent_dim: int, seeds: LayerSeeds, image_shape: tuple[int, ...] = MNIST_SHAPE) -> keras.Model:
    """H x W x C -> (mean, log_var), each of size latent_dim."""
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
    # min(log_var, LOG_VAR_MAX) with a built-in layer (identity below the cap), so safe mode loads it.
    log_var = layers.ReLU(max_value=LOG_VAR_MAX, negative_slope=1.0, name="log_var_cap")(log_var)
    return keras.Model(inputs, [mean, log_var], name="encoder")


def build_vae_decoder(latent_dim: int, seeds: LayerSeeds, image_shape: tuple[int, ...] = MNIST_SHAPE) -> keras.Model:
    """z -> H x W x C image in [0, 1]."""
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


class VAE(keras.Model):
    """Encoder -> Sampling -> decoder; objective = per-image summed BCE + kl_weight * KL (nats per image).

    kl_weight is beta once training is past any KL warm-up (KLWarmup moves it); beta = 1 makes the
    objective the negative ELBO, the notes' loss.
    """

    def __init__(self, latent_dim: int = 2, seed=None, beta: float = 1.0, image_shape=MNIST_SHAPE, **kwargs):
        super().__init__(**kwargs)
        self.latent_dim = latent_dim
        # Models saved before image_shape existed load with the 28x28x1 they were trained on.
        self.image_shape = tuple(image_shape)
        self.seed = seed
        self.beta = float(beta)
        # A variable, not a Python number: the compiled steps read its current value, so a warm-up
        # can move it between steps without tracing them again.
        self.kl_weight = keras.Variable(self.beta, dtype="float32", trainable=False, name="kl_weight")
        seeds = LayerSeeds(0 if seed is None else seed)
        self.encoder = build_vae_encoder(latent_dim, seeds, self.image_shape)
        self.decoder = build_vae_decoder(latent_dim, seeds, self.image_shape)
        self.sampling = Sampling(seed, name="sampling")
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.rec_tracker = keras.metrics.Mean(name="rec")
        self.kl_tracker = keras.metrics.Mean(name="kl")

    def build(self, input_shape=None):
        # The encoder and decoder are functional models, built when constructed.
        pass

    @property
    def metrics(self):
        return [self.loss_tracker, self.rec_tracker, self.kl_tracker]

    def call(self, x, training=False):
        # Inference decodes the mean: a deterministic reconstruction.
        mean, log_var = self.encoder(x, training=training)
        z = self.sampling([mean, log_var]) if training else mean
        return self.decoder(z, training=training)

    def loss_parts(self, x, target, training: bool):
        """(reconstruction, kl), each averaged over the batch, in nats per image."""
        mean, log_var = self.encoder(x, training=training)
        z = self.sampling([mean, log_var])
        recon = self.decoder(z, training=training)
        # The loss in float32 whatever the layers compute in (a mixed-precision policy's bfloat16 sums 784
        # pixels with too few digits).
        target, recon, mean, log_var = (ops.cast(t, "float32") for t in (target, recon, mean, log_var))
        # Keras' BCE averages over the last axis; a trailing axis of one makes it per value, so the sum
        # covers every pixel and channel (nats per image, grey or colour).
        per_value = keras.losses.binary_crossentropy(target[..., None], recon[..., None])
        rec = ops.mean(ops.sum(per_value, axis=(1, 2, 3)))
        kl = ops.mean(-0.5 * ops.sum(1 + log_var - ops.square(mean) - ops.exp(log_var), axis=1))
        return rec, kl

    def _report(self, rec, kl, images):
        # Weighted by the batch's images, as Keras weighs its own loss tracker: the counts are images.
        self.loss_tracker.update_state(rec + self.kl_weight * kl, sample_weight=images)
        self.rec_tracker.update_state(rec, sample_weight=images)
        self.kl_tracker.update_state(kl, sample_weight=images)
        return {m.name: m.result() for m in self.metrics}

    def train_step(self, data):
        x, target, _ = keras.utils.unpack_x_y_sample_weight(data)
        target = x if target is None else target
        with tf.GradientTape() as tape:
            rec, kl = self.loss_parts(x, target, training=True)
            loss = rec + self.kl_weight * kl
            # tf.distribute sums the replicas' gradients, so each replica contributes its share of the mean.
            share = loss / tf.distribute.get_strategy().num_replicas_in_sync
        grads = tape.gradient(share, self.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
        return self._report(rec, kl, ops.cast(ops.shape(x)[0], "float32"))

    def test_step(self, data):
        x, target, _ = keras.utils.unpack_x_y_sample_weight(data)
        target = x if target is None else target
        return self._report(*self.loss_parts(x, target, training=False), ops.cast(ops.shape(x)[0], "float32"))

    def get_config(self):
        return {"name": self.name, "trainable": self.trainable, "latent_dim": self.latent_dim, "seed": self.seed,
                "beta": self.beta, "image_shape": list(self.image_shape)}


def build_vae(latent_dim: int = 2, seed=None, beta: float = 1.0, image_shape: tuple[int, ...] = MNIST_SHAPE):
    """A built VAE (weights exist, so it can be summarised, saved and loaded at once); beta weighs its KL term."""
    model = VAE(latent_dim=latent_dim, seed=seed, beta=beta, image_shape=tuple(image_shape), name="vae")
    model.build((None, *image_shape))
    return model


class KLWarmup(keras.callbacks.Callback):
    """Raise the VAE's KL weight linearly from 0 to beta over the first warmup_steps training steps."""

    def __init__(self, beta: float, warmup_steps: int):
        super().__init__()
        self.beta, self.warmup_steps = float(beta), int(warmup_steps)
        self.epoch = 0
        self.steps_per_epoch = 0

    def on_train_begin(self, logs=None):
        self.steps_per_epoch = int(self.params.get("steps") or 0)
        self._set(0)

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        self._set(self.epoch * self.steps_per_epoch + batch)

    def on_train_end(self, logs=None):
        self.model.kl_weight.assign(self.beta)  # evaluation and later use weigh the KL by beta itself

    def _set(self, step: int) -> None:
        share = 1.0 if self.warmup_steps <= 0 else min(1.0, step / self.warmup_steps)
        self.model.kl_weight.assign(self.beta * share)
