"""basic: the undercomplete dense autoencoder n -> k -> n of the notes (3 -> 2 -> 3)."""

import keras
from keras import layers


def build_basic(input_dim: int = 3, latent_dim: int = 2, activation: str = "linear") -> keras.Model:
    """Dense n -> k -> n. With a linear activation and MSE it learns PCA's subspace."""
    inputs = keras.Input((input_dim,), name="x")
    code = layers.Dense(latent_dim, activation=activation, name="bottleneck")(inputs)
    encoder = keras.Model(inputs, code, name="encoder")
    code_in = keras.Input((latent_dim,), name="z")
    outputs = layers.Dense(input_dim, name="reconstruction")(code_in)
    decoder = keras.Model(code_in, outputs, name="decoder")
    return keras.Model(inputs, decoder(encoder(inputs)), name="basic")
