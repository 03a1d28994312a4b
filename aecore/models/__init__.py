"""The four architectures, a registry name -> builder, and inference helpers shared by all."""

from __future__ import annotations

import threading
import weakref

import keras
import numpy as np
import tensorflow as tf

from aecore.config import RunConfig
from aecore.data import check_shape
from aecore.models.basic import build_basic
from aecore.models.conv import build_conv
from aecore.models.stacked import build_stacked
from aecore.models.vae import VAE, Sampling, build_vae

__all__ = [
    "VAE",
    "Sampling",
    "build_model",
    "decode",
    "encode",
    "encode_distribution",
    "layer_table",
    "reconstruct",
    "warm_up",
]

# XLA is chosen per architecture, as measured on 2 cores (python -m aecore bench; the
# step functions side by side, batch 128): conv about 1.2x with XLA (280 vs 240 img/s),
# stacked about 1.9x together with several steps per execution, but the VAE about 0.7x
# (XLA's CPU transposed convolutions are slow: a 20 x 20 decode takes 500 ms instead of
# 70), and its compile takes 6-9 s. basic is too small for XLA's compile to pay.
JIT_COMPILE = {"basic": False, "stacked": True, "conv": True, "vae": False}


def build_model(config: RunConfig, input_shape: tuple[int, ...]) -> keras.Model:
    """A compiled, untrained model for config and data of input_shape (one example's shape)."""
    arch = config.arch
    check_shape(arch, input_shape)
    optimizer = keras.optimizers.Adam(learning_rate=config.lr)
    if arch == "basic":
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


# Inference calls a graph function per model (or model part), traced once for any batch
# size, instead of running the model eagerly layer by layer: a one-vector decode costs
# about 1 ms instead of 10-20, a 20 x 20 grid a few ms instead of hundreds, and both
# stay far below predict's per-call overhead. Keyed weakly, so a dropped model frees them.
_INFERENCE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_INFERENCE_LOCK = threading.Lock()


def _inference_fn(model: keras.Model):
    """model(x, training=False) as a tf.function with a free batch dimension, made once per model."""
    with _INFERENCE_LOCK:
        fn = _INFERENCE.get(model)
        if fn is None:
            ref = weakref.ref(model)  # the function must not keep its model alive
            spec = tf.TensorSpec((None, *_example_shape(model)), tf.float32)
            fn = tf.function(lambda x: ref()(x, training=False), input_signature=[spec])
            # Each model's function is traced once; TensorFlow would count every model's
            # single trace against this one lambda and warn of "excessive retracing".
            fn._omit_frequent_tracing_warning = True
            _INFERENCE[model] = fn
    return fn


def warm_up(model: keras.Model) -> None:
    """Trace the inference functions of model and its parts now (a few hundred ms), off the user's path."""
    parts = (model, *_parts(model)) if _has_parts(model) else (model,)
    for part in parts:
        _inference_fn(part)(tf.zeros((1, *_example_shape(part)), tf.float32))


def _example_shape(model: keras.Model) -> tuple[int, ...]:
    """One input example's shape; a subclassed model (the VAE) takes its encoder's."""
    try:
        return tuple(model.input_shape[1:])
    except AttributeError:
        return _example_shape(_parts(model)[0])


def _has_parts(model: keras.Model) -> bool:
    try:
        _parts(model)
    except ValueError:
        return False
    return True


def _batched(fn, x: np.ndarray, batch_size: int):
    """fn over x in batches of at most batch_size, outputs (or tuples of outputs) as NumPy arrays."""
    outs = [fn(x[i : i + batch_size]) for i in range(0, len(x), batch_size)]
    if isinstance(outs[0], (list, tuple)):
        return tuple(np.concatenate([np.asarray(o[k]) for o in outs]) for k in range(len(outs[0])))
    if len(outs) == 1:
        return np.asarray(outs[0])
    return np.concatenate([np.asarray(o) for o in outs])


def encode_distribution(model: keras.Model, x: np.ndarray, batch_size: int = 500) -> tuple[np.ndarray, np.ndarray]:
    """The VAE's (mean, log_var) for x."""
    encoder, _ = _parts(model)
    return _batched(_inference_fn(encoder), np.asarray(x, np.float32), batch_size)


def encode(model: keras.Model, x: np.ndarray, batch_size: int = 500) -> np.ndarray:
    """Latent codes for x, flattened to (N, k); for the VAE the mean."""
    if isinstance(model, VAE):
        return encode_distribution(model, x, batch_size)[0]
    encoder, _ = _parts(model)
    codes = _batched(_inference_fn(encoder), np.asarray(x, np.float32), batch_size)
    return codes.reshape(len(codes), -1)


def decode(model: keras.Model, z: np.ndarray, batch_size: int = 500) -> np.ndarray:
    """Decoded outputs for latent codes z (shaped as the decoder's input)."""
    _, decoder = _parts(model)
    z = np.asarray(z, np.float32).reshape(-1, *decoder.input_shape[1:])
    return _batched(_inference_fn(decoder), z, batch_size)


def reconstruct(model: keras.Model, x: np.ndarray, batch_size: int = 500) -> np.ndarray:
    """model(x) in inference mode, in batches (a traced function: predict's overhead is tens of ms)."""
    return _batched(_inference_fn(model), np.asarray(x, np.float32), batch_size)


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
