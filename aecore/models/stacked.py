"""stacked: dense encoder, bottleneck and mirrored decoder (784 -> 128 -> 64 -> 32 -> 64 -> 128 -> 784)."""

import math

import keras
from keras import layers


def build_stacked(
    input_shape: tuple[int, ...] = (28, 28, 1),
    hidden: tuple[int, ...] = (128, 64),
    latent_dim: int = 32,
    output_activation: str = "sigmoid",
) -> keras.Model:
    """Images are flattened on the way in and reshaped on the way out, so one data path serves all models."""
    n = math.prod(input_shape)
    inputs = keras.Input(input_shape, name="x")
    h = layers.Flatten(name="flatten")(inputs) if len(input_shape) > 1 else inputs
    for i, units in enumerate(hidden):
        h = layers.Dense(units, activation="relu", name=f"enc_dense{i + 1}")(h)
    code = layers.Dense(latent_dim, activation="relu", name="bottleneck")(h)
    encoder = keras.Model(inputs, code, name="encoder")

    code_in = keras.Input((latent_dim,), name="z")
    h = code_in
    for i, units in enumerate(reversed(hidden)):
        h = layers.Dense(units, activation="relu", name=f"dec_dense{i + 1}")(h)
    h = layers.Dense(n, activation=output_activation, name="reconstruction")(h)
    if len(input_shape) > 1:
        h = layers.Reshape(input_shape, name="unflatten")(h)
    decoder = keras.Model(code_in, h, name="decoder")
    return keras.Model(inputs, decoder(encoder(inputs)), name="stacked")
