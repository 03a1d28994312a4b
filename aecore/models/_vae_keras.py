"""The Keras classes of the vae architecture (aecore/models/vae.py): the VAE model and its Sampling layer.

Keras 3 has no symbolic add_loss, so the loss lives in train_step/test_step and its
parts are tracked with Mean metrics. Unlike the keras.io example this one validates,
evaluates, predicts and survives a .keras save/load round trip. The classes are not
registered with Keras globally: loading a saved model names them (aecore.models.custom_objects()).
"""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import layers, ops

from aecore.models.spec import LayerSeeds
from aecore.models.vae import IMAGE_SHAPE, build_vae_decoder, build_vae_encoder


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

    def restart(self) -> None:
        """Draw the same eps sequence again from now on, as a fresh layer of this seed would."""
        self.seed_generator.state.assign(keras.random.SeedGenerator(self.seed).state.value)

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}


class VAE(keras.Model):
    """Encoder -> Sampling -> decoder; objective = per-image summed BCE + kl_weight * KL (nats per image).

    kl_weight is beta once training is past any KL warm-up (KLWarmup moves it); beta = 1 makes the
    objective the negative ELBO, the notes' loss.
    """

    def __init__(self, latent_dim: int = 2, seed=None, beta: float = 1.0, image_shape=IMAGE_SHAPE, **kwargs):
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
