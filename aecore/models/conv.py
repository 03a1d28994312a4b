"""conv: the notes' convolutional autoencoder, 28x28x1 -> 7x7x256 bottleneck -> 28x28x1."""

import keras
from keras import layers


def build_conv(width: float = 1.0, bottleneck_filters: int = 256) -> keras.Model:
    """Conv64+pool, Conv128+pool, Conv256 at 7x7, then mirrored. width scales every filter count."""

    def f(filters: int) -> int:
        return max(1, round(filters * width))

    def conv(filters, name):
        return layers.Conv2D(filters, 3, padding="same", activation="relu", name=name)

    inputs = keras.Input((28, 28, 1), name="x")
    h = conv(f(64), "enc_conv64")(inputs)
    h = layers.MaxPooling2D(2, name="enc_pool1")(h)
    h = conv(f(128), "enc_conv128")(h)
    h = layers.MaxPooling2D(2, name="enc_pool2")(h)
    code = conv(f(bottleneck_filters), "bottleneck")(h)
    encoder = keras.Model(inputs, code, name="encoder")

    code_in = keras.Input((7, 7, f(bottleneck_filters)), name="z")
    h = conv(f(128), "dec_conv128")(code_in)
    h = layers.UpSampling2D(2, name="dec_up1")(h)
    h = conv(f(64), "dec_conv64")(h)
    h = layers.UpSampling2D(2, name="dec_up2")(h)
    outputs = layers.Conv2D(1, 3, padding="same", activation="sigmoid", name="reconstruction")(h)
    decoder = keras.Model(code_in, outputs, name="decoder")
    return keras.Model(inputs, decoder(encoder(inputs)), name="conv")
