"""The VAE lab: what a trained VAE has learnt, measured beyond its training loss.

- Per latent dimension: the KL term each dimension pays (nats per image, summing to the
  reported test KL) and whether it is active, i.e. whether its encoder mean varies over
  images (Burda et al.'s test, 2016). A dimension the decoder ignores costs no KL and
  carries no information; when all of them do, the posterior has collapsed to the prior.
- Traversals: decodes along one latent axis at a time, the others at 0, to see what each
  dimension encodes; and posterior draws: where one image's encoding N(mean, exp(log_var))
  puts its samples, and what they decode to.

NumPy and Keras only; never Streamlit. Every random draw is seeded by an argument (a NumPy
Generator), never by process-wide random state: a server may be training meanwhile.
"""

from __future__ import annotations

import numpy as np

ACTIVE_VARIANCE = 0.01  # a dimension is active when Var_x(E[z|x]) exceeds this (Burda et al.)
COLLAPSED_KL = 0.1  # nats per image: below this total KL the encoder tells the decoder next to nothing


# Per-dimension KL and activity


def kl_per_dimension(mean: np.ndarray, log_var: np.ndarray) -> np.ndarray:
    """KL(q(z|x) || N(0, I)) per latent dimension, averaged over images, in nats per image; shape (k,).

    Its sum is the VAE's KL term on the same images."""
    mean, log_var = _as_codes(mean), _as_codes(log_var)
    if mean.shape != log_var.shape:
        raise ValueError(f"mean {mean.shape} and log_var {log_var.shape} must have the same shape.")
    return np.mean(-0.5 * (1.0 + log_var - mean**2 - np.exp(log_var)), axis=0)


def active_dimensions(mean: np.ndarray, threshold: float = ACTIVE_VARIANCE) -> np.ndarray:
    """Boolean mask (k,): the dimensions whose encoder mean varies over images by more than threshold."""
    return np.var(_as_codes(mean), axis=0) > threshold


def posterior_collapsed(kl_per_dim: np.ndarray, active_mask: np.ndarray) -> bool:
    """Whether the posterior has collapsed: total KL below COLLAPSED_KL nats per image, or no active dimension."""
    return bool(float(np.sum(kl_per_dim)) < COLLAPSED_KL or not np.any(active_mask))


def order_by_kl(kl_per_dim: np.ndarray) -> np.ndarray:
    """Dimension indices, most KL first (ties in index order): an order for traversals."""
    return np.argsort(-np.asarray(kl_per_dim, np.float64), kind="stable")


def _as_codes(a) -> np.ndarray:
    a = np.asarray(a, np.float64)
    return a.reshape(len(a), -1) if a.ndim != 2 else a


# Traversals and posterior draws


def _decoder(model):
    return model.get_layer("decoder")


def _encoder(model):
    return model.get_layer("encoder")


def latent_size(model) -> int:
    """The number of latent dimensions of a VAE."""
    return int(_decoder(model).input_shape[-1])


def traversals(model, order, steps: int = 9, limit: float = 3.0) -> np.ndarray:
    """Decodes of z sweeping each dimension of order from -limit to +limit in steps values, the others at 0.

    Shape (len(order), steps, H, W, C); row i sweeps dimension order[i]."""
    from aecore.models import decode

    k = latent_size(model)
    order = np.asarray(order, np.int64).reshape(-1)
    if np.any((order < 0) | (order >= k)):
        raise ValueError(f"Dimensions {order.tolist()} are not all in 0..{k - 1}.")
    if steps < 1:
        raise ValueError("steps must be at least 1.")
    out_shape = tuple(_decoder(model).output_shape[1:])
    if len(order) == 0:
        return np.zeros((0, steps, *out_shape), np.float32)
    z = np.zeros((len(order), steps, k), np.float32)
    z[np.arange(len(order)), :, order] = np.linspace(-limit, limit, steps, dtype=np.float32)
    return decode(model, z.reshape(-1, k)).reshape(len(order), steps, *out_shape)


def posterior_draws(model, x_one: np.ndarray, n: int = 8, seed: int = 0):
    """(mean, log_var, z, decoded) for one image: its encoding (k,) each, n draws z = mean + exp(0.5 log_var) eps
    (n, k) with eps from a NumPy Generator of seed, and their decodes (n, H, W, C)."""
    from aecore.models import decode, encode_distribution

    x = np.asarray(x_one, np.float32)
    x = x.reshape(1, *_encoder(model).input_shape[1:])
    mean, log_var = (a[0] for a in encode_distribution(model, x))
    eps = np.random.default_rng(seed).standard_normal((n, len(mean)), dtype=np.float32)
    z = (mean + np.exp(0.5 * log_var) * eps).astype(np.float32)
    return mean, log_var, z, decode(model, z)
