"""Inference helpers shared by every architecture: encode, decode, reconstruct, warm-up and the layer table.

A model here has an "encoder" and a "decoder" part (keras.Model.get_layer names them).
"""

from __future__ import annotations

import threading
import weakref

import keras
import numpy as np
import tensorflow as tf


def _parts(model: keras.Model) -> tuple[keras.Model, keras.Model]:
    return model.get_layer("encoder"), model.get_layer("decoder")


# Inference calls a graph function per model (or model part), traced once for any batch
# size, instead of running the model eagerly layer by layer or through predict, whose
# per-call overhead dwarfs a small decode (docs/PERFORMANCE.md has the figures).
# Keyed weakly, so a dropped model frees them.
_INFERENCE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_INFERENCE_LOCK = threading.Lock()


def _inference_fn(model: keras.Model):
    """model(x, training=False) as a tf.function with a free batch dimension, made once per model."""
    with _INFERENCE_LOCK:
        fn = _INFERENCE.get(model)
        if fn is None:
            ref = weakref.ref(model)  # the function must not keep its model alive
            spec = tf.TensorSpec((None, *example_shape(model)), tf.float32)
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
        _inference_fn(part)(tf.zeros((1, *example_shape(part)), tf.float32))


def example_shape(model: keras.Model) -> tuple[int, ...]:
    """One input example's shape, e.g. (28, 28, 1); a subclassed model (the VAE) takes its encoder's."""
    try:
        return tuple(model.input_shape[1:])
    except AttributeError:
        return example_shape(_parts(model)[0])


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
        return tuple(np.concatenate([_float32(o[k]) for o in outs]) for k in range(len(outs[0])))
    return np.concatenate([_float32(o) for o in outs]) if len(outs) > 1 else _float32(outs[0])


def _float32(tensor) -> np.ndarray:
    # A model built in mixed bfloat16 (aecore.precision) hands out bfloat16 codes; what reads them expects float32.
    return np.asarray(tensor).astype(np.float32, copy=False)


def has_distribution(model: keras.Model) -> bool:
    """Whether the model's encoder outputs a distribution (mean, log_var) rather than a code."""
    outputs = _parts(model)[0].outputs
    return len(outputs) == 2


def encode_distribution(model: keras.Model, x: np.ndarray, batch_size: int = 500) -> tuple[np.ndarray, np.ndarray]:
    """(mean, log_var) for x, of a model whose encoder outputs a distribution (the VAE)."""
    encoder, _ = _parts(model)
    return _batched(_inference_fn(encoder), np.asarray(x, np.float32), batch_size)


def encode(model: keras.Model, x: np.ndarray, batch_size: int = 500) -> np.ndarray:
    """Latent codes for x, flattened to (N, k); for an encoder of a distribution (mean, log_var), the mean."""
    encoder, _ = _parts(model)
    codes = _batched(_inference_fn(encoder), np.asarray(x, np.float32), batch_size)
    if isinstance(codes, tuple):
        codes = codes[0]
    return codes.reshape(len(codes), -1)


def decode(model: keras.Model, z: np.ndarray, batch_size: int = 500) -> np.ndarray:
    """Decoded outputs for latent codes z (shaped as the decoder's input)."""
    _, decoder = _parts(model)
    z = np.asarray(z, np.float32).reshape(-1, *decoder.input_shape[1:])
    return _batched(_inference_fn(decoder), z, batch_size)


def reconstruct(model: keras.Model, x: np.ndarray, batch_size: int = 500) -> np.ndarray:
    """model(x) in inference mode, in batches (a traced function: predict's overhead is tens of ms)."""
    return _batched(_inference_fn(model), np.asarray(x, np.float32), batch_size)


def layer_table(model: keras.Model) -> list[dict]:
    """Rows (part, layer, type, output shape, parameters) in the notes' terms: the layers whose outputs are the
    encoder's (its code, or a VAE's two heads) are the bottleneck."""
    rows = []
    encoder = _parts(model)[0]
    for part_model in _parts(model):
        for layer in part_model.layers:
            if isinstance(layer, keras.layers.InputLayer):
                continue
            shape = layer.output.shape if hasattr(layer, "output") else None
            is_code = part_model is encoder and any(layer.output is out for out in encoder.outputs)
            rows.append(
                {
                    "part": "bottleneck" if is_code else part_model.name,
                    "layer": layer.name,
                    "type": type(layer).__name__,
                    "output shape": " x ".join(str(d) for d in shape[1:]) if shape is not None else "",
                    "parameters": int(layer.count_params()),
                }
            )
    return rows

