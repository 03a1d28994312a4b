"""vae: the notes' convolutional variational autoencoder (after keras.io's VAE example).

Keras 3 has no symbolic add_loss, so the loss lives in train_step/test_step and its
parts are tracked with Mean metrics. Unlike the keras.io example this one validates,
evaluates, predicts and survives a .keras save/load round trip.
"""

import keras
import tensorflow as tf
from keras import layers, ops

DENSE_UNITS = 16  # the notes' (and keras.io's) small dense layer before the heads


@keras.saving.register_keras_serializable(package="aecore")
class Sampling(layers.Layer):
    """z = mean + exp(0.5 * log_var) * eps, eps ~ N(0, I): the reparameterisation trick."""

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs):
        mean, log_var = inputs
        eps = keras.random.normal(ops.shape(mean), seed=self.seed_generator)
        return mean + ops.exp(0.5 * log_var) * eps

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}


def build_vae_encoder(latent_dim: int) -> keras.Model:
    """28x28x1 -> (mean, log_var), each of size latent_dim."""
    inputs = keras.Input((28, 28, 1), name="x")
    h = layers.Conv2D(32, 3, strides=2, padding="same", activation="relu", name="enc_conv32")(inputs)
    h = layers.BatchNormalization(name="enc_bn1")(h)
    h = layers.Conv2D(64, 3, strides=2, padding="same", activation="relu", name="enc_conv64")(h)
    h = layers.BatchNormalization(name="enc_bn2")(h)
    h = layers.Flatten(name="flatten")(h)
    h = layers.Dense(DENSE_UNITS, activation="relu", name="enc_dense")(h)
    h = layers.BatchNormalization(name="enc_bn3")(h)
    mean = layers.Dense(latent_dim, name="mean")(h)
    log_var = layers.Dense(latent_dim, name="log_var")(h)
    return keras.Model(inputs, [mean, log_var], name="encoder")


def build_vae_decoder(latent_dim: int) -> keras.Model:
    """z -> 28x28x1 image in [0, 1]."""
    z = keras.Input((latent_dim,), name="z")
    h = layers.Dense(7 * 7 * 64, activation="relu", name="dec_dense")(z)
    h = layers.BatchNormalization(name="dec_bn1")(h)
    h = layers.Reshape((7, 7, 64), name="reshape")(h)
    h = layers.Conv2DTranspose(64, 3, strides=2, padding="same", activation="relu", name="dec_convT64")(h)
    h = layers.BatchNormalization(name="dec_bn2")(h)
    h = layers.Conv2DTranspose(32, 3, strides=2, padding="same", activation="relu", name="dec_convT32")(h)
    h = layers.BatchNormalization(name="dec_bn3")(h)
    outputs = layers.Conv2DTranspose(1, 3, strides=1, padding="same", activation="sigmoid", name="reconstruction")(h)
    return keras.Model(z, outputs, name="decoder")


@keras.saving.register_keras_serializable(package="aecore")
class VAE(keras.Model):
    """Encoder -> Sampling -> decoder; loss = per-image summed BCE + KL (nats per image)."""

    def __init__(self, latent_dim: int = 2, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.latent_dim = latent_dim
        self.seed = seed
        self.encoder = build_vae_encoder(latent_dim)
        self.decoder = build_vae_decoder(latent_dim)
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
        rec = ops.mean(ops.sum(keras.losses.binary_crossentropy(target, recon), axis=(1, 2)))
        kl = ops.mean(-0.5 * ops.sum(1 + log_var - ops.square(mean) - ops.exp(log_var), axis=1))
        return rec, kl

    def _report(self, rec, kl):
        self.loss_tracker.update_state(rec + kl)
        self.rec_tracker.update_state(rec)
        self.kl_tracker.update_state(kl)
        return {m.name: m.result() for m in self.metrics}

    def train_step(self, data):
        x, target, _ = keras.utils.unpack_x_y_sample_weight(data)
        target = x if target is None else target
        with tf.GradientTape() as tape:
            rec, kl = self.loss_parts(x, target, training=True)
            loss = rec + kl
        grads = tape.gradient(loss, self.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
        return self._report(rec, kl)

    def test_step(self, data):
        x, target, _ = keras.utils.unpack_x_y_sample_weight(data)
        target = x if target is None else target
        return self._report(*self.loss_parts(x, target, training=False))

    def get_config(self):
        return {"name": self.name, "trainable": self.trainable, "latent_dim": self.latent_dim, "seed": self.seed}


def build_vae(latent_dim: int = 2, seed=None) -> VAE:
    """A built VAE (weights exist, so it can be summarised, saved and loaded at once)."""
    model = VAE(latent_dim=latent_dim, seed=seed, name="vae")
    model.build((None, 28, 28, 1))
    return model
