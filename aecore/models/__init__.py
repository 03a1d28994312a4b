"""The four architectures, a registry name -> builder, and inference helpers shared by all."""

from __future__ import annotations

import keras
import numpy as np

from aecore.config import RunConfig
from aecore.data import DataError
from aecore.models.basic import build_basic
from aecore.models.conv import build_conv
from aecore.models.stacked import build_stacked
from aecore.models.vae import VAE, Sampling, build_vae

__all__ = ["VAE", "Sampling", "build_model", "encode", "encode_distribution", "decode", "reconstruct", "layer_table"]

IMAGE_ONLY = {"conv", "vae"}

# XLA pays for the conv net (about 2x on 2 cores) but slows the small VAE, so it is
# chosen per architecture; see the benchmark (python -m aecore bench).
JIT_COMPILE = {"basic": False, "stacked": False, "conv": True, "vae": False}


def build_model(config: RunConfig, input_shape: tuple[int, ...]) -> keras.Model:
    """A compiled, untrained model for config and data of input_shape (one example's shape)."""
    arch = config.arch
    if arch in IMAGE_ONLY and tuple(input_shape) != (28, 28, 1):
        raise DataError(f"The {arch} model needs 28x28 images, but this dataset has examples of shape {tuple(input_shape)}.")
    optimizer = keras.optimizers.Adam(learning_rate=config.lr)
    if arch == "basic":
        if len(input_shape) != 1:
                raise DataError("The basic model needs vectors (N x D), for example the points3d dataset.")
        model = build_basic(input_shape[0], config.latent_dim, config.activation)
        model.compile(optimizer=optimizer, loss="mse", jit_compile=JIT_COMPILE[arch])
    elif arch == "stacked":
        is_bce = config.loss == "bce"
        model = build_stacked(tuple(input_shape), config.hidden, config.latent_dim, "sigmoid" if is_bce else "linear")
        model.compile(optimizer=optimizer, loss="binary_crossentropy" if is_bce else "mse", jit_compile=JIT_COMPILE[arch])
    elif arch == "conv":
        model = build_conv(config.width, config.latent_dim)
        model.compile(optimizer=optimizer, loss="binary_crossentropy", jit_compile=JIT_COMPILE[arch])
    else:
        model = build_vae(config.latent_dim, seed=config.seed)
        model.compile(optimizer=optimizer, jit_compile=JIT_COMPILE[arch])
    return model


def _parts(model: keras.Model) -> tuple[keras.Model, keras.Model]:
    return model.get_layer("encoder"), model.get_layer("decoder")


def _batched(fn, x: np.ndarray, batch_size: int):
    outs = [fn(x[i : i + batch_size]) for i in range(0, len(x), batch_size)]
    if isinstance(outs[0], (list, tuple)):
        return tuple(np.concatenate([np.asarray(o[k]) for o in outs]) for k in range(len(outs[0])))
    return np.concatenate([np.asarray(o) for o in outs])


def encode_distribution(model: keras.Model, x: np.ndarray, batch_size: int = 500) -> tuple[np.ndarray, np.ndarray]:
    """The VAE's (mean, log_var) for x."""
    encoder, _ = _parts(model)
    return _batched(lambda b: encoder(b, training=False), np.asarray(x, np.float32), batch_size)


def encode(model: keras.Model, x: np.ndarray, batch_size: int = 500) -> np.ndarray:
    """Latent codes for x, flattened to (N, k); for the VAE the mean."""
    if isinstance(model, VAE):
        return encode_distribution(model, x, batch_size)[0]
    encoder, _ = _parts(model)
    codes = _batched(lambda b: encoder(b, training=False), np.asarray(x, np.float32), batch_size)
    return codes.reshape(len(codes), -1)


def decode(model: keras.Model, z: np.ndarray, batch_size: int = 500) -> np.ndarray:
    """Decoded outputs for latent codes z (shaped as the decoder's input)."""
    _, decoder = _parts(model)
    z = np.asarray(z, np.float32).reshape(-1, *decoder.input_shape[1:])
    return _batched(lambda b: decoder(b, training=False), z, batch_size)


def reconstruct(model: keras.Model, x: np.ndarray, batch_size: int = 500) -> np.ndarray:
    """model(x) in inference mode, in batches (direct calls: predict's overhead is tens of ms)."""
    return _batched(lambda b: model(b, training=False), np.asarray(x, np.float32), batch_size)


def _part_of(layer_name: str, model_part: str) -> str:
    if layer_name in ("bottleneck", "mean", "log_var"):
        return "bottleneck"
    return model_part


def layer_table(model: keras.Model) -> list[dict]:
    """Rows (part, layer, type, output shape, parameters) in the notes' terms."""
    rows = []
    for part_model in _parts(model):
        for layer in part_model.layers:
            if isinstance(layer, keras.layers.InputLayer):
                continue
            shape = layer.output.shape if hasattr(layer, "output") else None
            rows.append(
                {
                    "part": _part_of(layer.name, part_model.name),
                    "layer": layer.name,
                    "type": type(layer).__name__,
                    "output shape": " x ".join(str(d) for d in shape[1:]) if shape is not None else "",
                    "parameters": int(layer.count_params()),
                }
            )
    return rows
