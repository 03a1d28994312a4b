"""The VAE lab: what a trained VAE has learnt, measured beyond its training loss.

- Per latent dimension: the KL term each dimension pays (nats per image, summing to the
  reported test KL) and whether it is active, i.e. whether its encoder mean varies over
  images (Burda et al.'s test, 2016). A dimension the decoder ignores costs no KL and
  carries no information; when all of them do, the posterior has collapsed to the prior.
- Traversals: decodes along one latent axis at a time, the others at 0, to see what each
  dimension encodes; and posterior draws: where one image's encoding N(mean, exp(log_var))
  puts its samples, and what they decode to.
- An importance-sampled estimate of -log p(x) (Burda et al.'s IWAE bound with K samples),
  next to the negative ELBO of the very same samples. The training loss is only an upper
  bound on -log p(x); the estimate tightens it, and the gap between the two shows how far
  the encoder's Gaussian is from the true posterior. The likelihood is the training loss's,
  so both figures compare with the reported test ELBO.

Sample quality by a classifier, and the scorecard of a run, are in aecore.scorecard.

NumPy and Keras only; never Streamlit. Every random draw is seeded by an argument (a NumPy
Generator), never by process-wide random state: a server may be training meanwhile.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass, field

import numpy as np

ACTIVE_VARIANCE = 0.01  # a dimension is active when Var_x(E[z|x]) exceeds this (Burda et al.)
COLLAPSED_KL = 0.1  # nats per image: below this total KL the encoder tells the decoder next to nothing
K_DEFAULT = 100  # importance samples per image
# Decodes per batch of the NLL estimate (images per batch = this // K), so that the decoder's
# activations for one batch are bounded whatever K is.
DECODES_PER_BATCH = 1000


_LOG_2PI = float(np.log(2 * np.pi))


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
    from aecore.models import decode  # deferred: TensorFlow

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
    from aecore.models import decode, encode_distribution  # deferred: TensorFlow

    x = np.asarray(x_one, np.float32)
    x = x.reshape(1, *_encoder(model).input_shape[1:])
    mean, log_var = (a[0] for a in encode_distribution(model, x))
    eps = np.random.default_rng(seed).standard_normal((n, len(mean)), dtype=np.float32)
    z = (mean + np.exp(0.5 * log_var) * eps).astype(np.float32)
    return mean, log_var, z, decode(model, z)


# Importance-sampled negative log-likelihood


@dataclass(frozen=True)
class NLLEstimate:
    """-log p(x) estimated with K importance samples per image, and the negative ELBO of the same samples.

    nll and elbo_loss are means over images in nats per image; nll <= elbo_loss for every image."""

    nll: float
    elbo_loss: float
    samples: int  # K
    images: int  # N
    per_image_nll: np.ndarray = field(repr=False, compare=False)  # (N,), nats
    per_image_elbo_loss: np.ndarray = field(repr=False, compare=False)  # (N,), nats

    @property
    def gap(self) -> float:
        """elbo_loss - nll, nats per image: how much the ELBO's bound loses with this encoder."""
        return self.elbo_loss - self.nll


# One traced log-likelihood function per model, keyed weakly (as aecore.models.inference does).
_LOG_LIKELIHOOD: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def _log_likelihood_fn(model):
    """(x (B, H, W, C), z (B*K, k)) -> log p(x|z) (B*K,): rows b*K .. b*K+K-1 belong to image b.

    The expression is the VAE's own reconstruction term (VAE.loss_parts), traced as its test
    step is: Keras then takes the cross-entropy from the decoder's logits where it can, and
    training's and this likelihood stay one and the same function."""
    import keras  # deferred: Keras
    import tensorflow as tf
    from keras import ops

    with _LOCK:
        fn = _LOG_LIKELIHOOD.get(model)
        if fn is None:
            ref = weakref.ref(model)
            decoder = _decoder(model)
            x_spec = tf.TensorSpec((None, *_encoder(model).input_shape[1:]), tf.float32)
            z_spec = tf.TensorSpec((None, decoder.input_shape[-1]), tf.float32)

            def log_likelihood(x, z):
                repeats = tf.shape(z)[0] // tf.shape(x)[0]
                target = tf.repeat(x, repeats, axis=0)
                recon = _decoder(ref())(z, training=False)
                # Per value (a trailing axis of one), summed over pixels and channels: the VAE's own loss.
                per_value = keras.losses.binary_crossentropy(target[..., None], recon[..., None])
                return -ops.sum(per_value, axis=(1, 2, 3))

            fn = tf.function(log_likelihood, input_signature=[x_spec, z_spec])
            fn._omit_frequent_tracing_warning = True
            _LOG_LIKELIHOOD[model] = fn
    return fn


def importance_sampled_nll(
    model, x: np.ndarray, samples: int = K_DEFAULT, seed: int = 0, batch_size: int | None = None
) -> NLLEstimate:
    """Estimate -log p(x) in nats per image as -logmeanexp_k [log p(x|z_k) + log p(z_k) - log q(z_k|x)],
    z_k ~ q(z|x), k = 1..samples, plus the negative ELBO -mean_k [...] of the same draws.

    eps comes from a NumPy Generator of seed, drawn image after image, so the result does not depend
    on batch_size (images per batch; default DECODES_PER_BATCH // samples, at least 1)."""
    from aecore.models import encode_distribution  # deferred: TensorFlow

    x = np.asarray(x, np.float32)
    if samples < 1:
        raise ValueError("samples must be at least 1.")
    if len(x) == 0:
        raise ValueError("Give at least one image.")
    batch_size = batch_size or max(1, DECODES_PER_BATCH // samples)
    rng = np.random.default_rng(seed)
    fn = _log_likelihood_fn(model)
    log_weights = []
    for start in range(0, len(x), batch_size):
        xb = x[start : start + batch_size]
        mean, log_var = (a.astype(np.float64) for a in encode_distribution(model, xb))
        eps = rng.standard_normal((len(xb), samples, mean.shape[1]))
        z = mean[:, None, :] + np.exp(0.5 * log_var)[:, None, :] * eps
        log_pz = -0.5 * np.sum(_LOG_2PI + z**2, axis=2)
        log_qz = -0.5 * np.sum(_LOG_2PI + log_var[:, None, :] + eps**2, axis=2)
        log_px_z = np.asarray(fn(xb, z.reshape(-1, z.shape[2]).astype(np.float32)), np.float64)
        log_weights.append(log_px_z.reshape(len(xb), samples) + log_pz - log_qz)
    w = np.concatenate(log_weights)
    top = w.max(axis=1, keepdims=True)
    log_mean_exp = top[:, 0] + np.log(np.mean(np.exp(w - top), axis=1))
    elbo_loss = -w.mean(axis=1)
    # Jensen's inequality makes log-mean-exp >= mean exactly; rounding could break it by an ulp
    # where the K weights are (nearly) equal.
    nll = np.minimum(-log_mean_exp, elbo_loss)
    nll.setflags(write=False)
    elbo_loss.setflags(write=False)
    return NLLEstimate(float(nll.mean()), float(elbo_loss.mean()), int(samples), len(x), nll, elbo_loss)
