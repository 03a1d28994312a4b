"""The references: aecore's networks written the way the tutorials write them.

compile(optimizer="adam", ...) and fit(x, x, batch_size=128) on NumPy arrays; the VAE is
keras.io's (examples/generative/vae.py) with its custom train_step and no XLA. They are what
aecore's training is compared against, so they stay plain: no tf.data, no XLA, no
steps_per_execution.
"""

from __future__ import annotations

import time

BATCH = 128  # the tutorials' batch size, used by both sides


def conv():
    import keras
    from keras import layers

    model = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            layers.Conv2D(64, 3, activation="relu", padding="same"),
            layers.MaxPooling2D(2),
            layers.Conv2D(128, 3, activation="relu", padding="same"),
            layers.MaxPooling2D(2),
            layers.Conv2D(256, 3, activation="relu", padding="same"),
            layers.Conv2D(128, 3, activation="relu", padding="same"),
            layers.UpSampling2D(2),
            layers.Conv2D(64, 3, activation="relu", padding="same"),
            layers.UpSampling2D(2),
            layers.Conv2D(1, 3, activation="sigmoid", padding="same"),
        ]
    )
    model.compile(optimizer="adam", loss="binary_crossentropy")
    return model


def stacked():
    import keras
    from keras import layers

    model = keras.Sequential(
        [
            keras.Input((784,)),
            layers.Dense(128, activation="relu"),
            layers.Dense(64, activation="relu"),
            layers.Dense(32, activation="relu"),
            layers.Dense(64, activation="relu"),
            layers.Dense(128, activation="relu"),
            layers.Dense(784, activation="sigmoid"),
        ]
    )
    model.compile(optimizer="adam", loss="binary_crossentropy")
    return model


def vae():
    """keras.io's VAE (examples/generative/vae.py) with the notes' BatchNorm layers, latent 2."""
    import keras
    import tensorflow as tf
    from keras import layers, ops

    class Sampling(layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.seed_generator = keras.random.SeedGenerator(1337)

        def call(self, inputs):
            z_mean, z_log_var = inputs
            batch, dim = ops.shape(z_mean)[0], ops.shape(z_mean)[1]
            epsilon = keras.random.normal(shape=(batch, dim), seed=self.seed_generator)
            return z_mean + ops.exp(0.5 * z_log_var) * epsilon

    latent_dim = 2
    encoder_inputs = keras.Input(shape=(28, 28, 1))
    x = layers.Conv2D(32, 3, activation="relu", strides=2, padding="same")(encoder_inputs)
    x = layers.BatchNormalization()(x)
    x = layers.Conv2D(64, 3, activation="relu", strides=2, padding="same")(x)
    x = layers.BatchNormalization()(x)
    x = layers.Flatten()(x)
    x = layers.Dense(16, activation="relu")(x)
    x = layers.BatchNormalization()(x)
    z_mean = layers.Dense(latent_dim, name="z_mean")(x)
    z_log_var = layers.Dense(latent_dim, name="z_log_var")(x)
    z = Sampling()([z_mean, z_log_var])
    encoder = keras.Model(encoder_inputs, [z_mean, z_log_var, z], name="encoder")

    latent_inputs = keras.Input(shape=(latent_dim,))
    x = layers.Dense(7 * 7 * 64, activation="relu")(latent_inputs)
    x = layers.BatchNormalization()(x)
    x = layers.Reshape((7, 7, 64))(x)
    x = layers.Conv2DTranspose(64, 3, activation="relu", strides=2, padding="same")(x)
    x = layers.BatchNormalization()(x)
    x = layers.Conv2DTranspose(32, 3, activation="relu", strides=2, padding="same")(x)
    x = layers.BatchNormalization()(x)
    decoder_outputs = layers.Conv2DTranspose(1, 3, activation="sigmoid", padding="same")(x)
    decoder = keras.Model(latent_inputs, decoder_outputs, name="decoder")

    class VAE(keras.Model):
        def __init__(self, encoder, decoder, **kwargs):
            super().__init__(**kwargs)
            self.encoder = encoder
            self.decoder = decoder
            self.total_loss_tracker = keras.metrics.Mean(name="total_loss")
            self.reconstruction_loss_tracker = keras.metrics.Mean(name="reconstruction_loss")
            self.kl_loss_tracker = keras.metrics.Mean(name="kl_loss")

        @property
        def metrics(self):
            return [self.total_loss_tracker, self.reconstruction_loss_tracker, self.kl_loss_tracker]

        def train_step(self, data):
            with tf.GradientTape() as tape:
                z_mean, z_log_var, z = self.encoder(data, training=True)
                reconstruction = self.decoder(z, training=True)
                reconstruction_loss = ops.mean(
                    ops.sum(keras.losses.binary_crossentropy(data, reconstruction), axis=(1, 2))
                )
                kl_loss = -0.5 * (1 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var))
                kl_loss = ops.mean(ops.sum(kl_loss, axis=1))
                total_loss = reconstruction_loss + kl_loss
            grads = tape.gradient(total_loss, self.trainable_weights)
            self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
            self.total_loss_tracker.update_state(total_loss)
            self.reconstruction_loss_tracker.update_state(reconstruction_loss)
            self.kl_loss_tracker.update_state(kl_loss)
            return {m.name: m.result() for m in self.metrics}

    model = VAE(encoder, decoder)
    model.compile(optimizer=keras.optimizers.Adam())
    return model


BUILDERS = {"conv": conv, "stacked": stacked, "vae": vae}


def throughput_timer(n: int, batch_size: int):
    """A callback measuring images per second of training steps after the first one, validation
    excluded: the rule aecore's own training measures by, so both sides are timed alike."""
    import keras

    class Timer(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.last, self.done, self.busy, self.images = None, False, 0.0, 0

        def on_epoch_begin(self, epoch, logs=None):
            self.last = time.perf_counter() if self.done else None

        def on_train_batch_end(self, batch, logs=None):
            now = time.perf_counter()
            if self.last is not None:
                self.busy += now - self.last
                self.images += min(batch_size, n - batch * batch_size)
            self.done, self.last = True, now

        def on_test_begin(self, logs=None):
            self.last = None

        @property
        def img_per_s(self):
            return self.images / self.busy if self.busy else float("nan")

    return Timer()


def start_as_aecore(model, arch: str, seed: int) -> bool:
    """Give the reference the initial weights aecore's train() starts from (same seed), so
    the test losses differ by training alone, not by the luck of the initialisation.
    False (weights left as they are) when the two networks' weights do not line up."""
    import keras

    from benchmarks.api import RunConfig, build_model, get_spec

    keras.utils.set_random_seed(seed)
    config = RunConfig.for_arch(arch, seed=seed, **get_spec(arch).notes_overrides)
    ours = build_model(config, (28, 28, 1)).get_weights()
    theirs = model.get_weights()
    if [w.shape for w in ours] != [w.shape for w in theirs]:
        return False
    model.set_weights(ours)
    return True


def fit(arch: str, x_train, x_test, epochs: int, seed: int):
    """Train the reference of arch the tutorials' way; (images per second, the trained model)."""
    import keras

    keras.utils.set_random_seed(seed)
    n = len(x_train)
    timer = throughput_timer(n, BATCH)
    model = BUILDERS[arch]()
    start_as_aecore(model, arch, seed)
    keras.utils.set_random_seed(seed)
    if model.loss is None:  # compiled without a loss: its own train_step computes one from x alone (the VAE's)
        model.fit(x_train, epochs=epochs, batch_size=BATCH, callbacks=[timer], verbose=0)
    else:
        x_train, x_test = _shaped(model, x_train), _shaped(model, x_test)
        model.fit(x_train, x_train, epochs=epochs, batch_size=BATCH, shuffle=True,
                  validation_data=(x_test, x_test), callbacks=[timer], verbose=0)
    return timer.img_per_s, model


def _shaped(model, x):
    """x as the model takes it: the stacked reference works on flat vectors."""
    return x.reshape((len(x), *model.input_shape[1:]))


def _predict(model, x, batch: int = 500):
    """model(x) in inference mode, in batches, as one NumPy array."""
    import numpy as np

    return np.concatenate([np.asarray(model(x[i : i + batch], training=False)) for i in range(0, len(x), batch)])


def reconstruct(model, x):
    """The reference's reconstruction of x, shaped as x."""
    return _predict(model, _shaped(model, x)).reshape(x.shape)


def encode_distribution(model, x, batch: int = 500):
    """The reference VAE's (mean, log_var) for x."""
    import numpy as np

    outs = [model.encoder(x[i : i + batch], training=False) for i in range(0, len(x), batch)]
    return tuple(np.concatenate([np.asarray(o[k]) for o in outs]) for k in (0, 1))


def decode(model, z):
    """The reference VAE's images for latent codes z."""
    return _predict(model.decoder, z)
