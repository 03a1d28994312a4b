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
- Sample quality by a small classifier trained on the labelled dataset (cached on disk
  next to the runs): how many prior samples it recognises confidently, how many classes
  they cover, and the Fréchet distance between its features of samples and of test images
  (FID's recipe with a task-specific network instead of Inception).

NumPy and Keras only; never Streamlit. Every random draw is seeded by an argument (a NumPy
Generator), never by process-wide random state: a server may be training meanwhile.
"""

from __future__ import annotations

import os
import threading
import weakref
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from aecore.data import OFFLINE_DEFAULT, DataError, Dataset
from aecore.files import write_atomic

ACTIVE_VARIANCE = 0.01  # a dimension is active when Var_x(E[z|x]) exceeds this (Burda et al.)
COLLAPSED_KL = 0.1  # nats per image: below this total KL the encoder tells the decoder next to nothing
K_DEFAULT = 100  # importance samples per image
# Decodes per batch of the NLL estimate (images per batch = this // K), so that the decoder's
# activations for one batch are bounded whatever K is.
DECODES_PER_BATCH = 1000

CLASSIFIER_DIR = ".classifiers"  # under a run store's root: dot folders are never taken for run entries
CLASSIFIER_BATCH = 64
# Epochs: enough for CLASSIFIER_MIN_STEPS steps, within these bounds. A small set (mnist-sample) needs
# more passes than three for a classifier confident on real digits, which a sample's confidence is read against.
CLASSIFIER_MIN_EPOCHS, CLASSIFIER_MAX_EPOCHS = 3, 10
CLASSIFIER_MIN_STEPS = 600
CLASSIFIER_MAX_TRAIN = 20_000  # enough for a yardstick classifier; bounds the training time on full MNIST
CONFIDENT = 0.9  # a sample counts as recognised when the classifier's top probability exceeds this

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
    import keras
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
    from aecore.models import encode_distribution

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


# The sample-quality classifier


_CLASSIFIER_LOCKS: dict[str, threading.Lock] = {}
_CLASSIFIER_GUARD = threading.Lock()


def classifier_path(data: Dataset, root, seed: int = 0) -> Path:
    """Where get_classifier keeps the classifier of data: root/.classifiers/<fingerprint>.keras
    (<fingerprint>-seed<seed>.keras for a seed other than 0)."""
    from aecore.store import RunStore

    root = root.root if isinstance(root, RunStore) else Path(root)
    name = data.fingerprint if seed == 0 else f"{data.fingerprint}-seed{seed}"
    return root / CLASSIFIER_DIR / f"{name}.keras"


def _class_labels(data: Dataset) -> np.ndarray:
    """The sorted distinct labels: the classifier's output i is the class of label classes[i]."""
    if data.y_train is None:
        raise DataError(
            f"The dataset '{data.name}' has no labels, so sample quality cannot be measured by a classifier; "
            f"use {OFFLINE_DEFAULT} or an .npz with y_train and y_test."
        )
    if not data.is_image:
        raise DataError(
            f"The dataset '{data.name}' holds vectors, not images, so a VAE's samples cannot be classified; "
            f"use {OFFLINE_DEFAULT}."
        )
    labels = [data.y_train] if data.y_test is None else [data.y_train, data.y_test]
    return np.unique(np.concatenate(labels))


def get_classifier(data: Dataset, root, seed: int = 0):
    """The sample-quality classifier of data: loaded from root/.classifiers/, else trained (seeded) and saved.

    A file that cannot be loaded, or is not such a classifier of this dataset, is discarded and the
    classifier trained again. root is a folder or a RunStore. Raises DataError when data has no labels."""
    import keras

    classes = _class_labels(data)
    path = classifier_path(data, root, seed)
    with _CLASSIFIER_GUARD:
        lock = _CLASSIFIER_LOCKS.setdefault(str(path), threading.Lock())
    with lock:  # two sessions asking at once train it once
        if path.is_file():
            try:
                model = keras.models.load_model(path, compile=False)
                if _fits(model, data, len(classes)):
                    return model
            except Exception:  # any damage at all means: discard and retrain
                pass
            _remove(path)
        model = _train_classifier(data, classes, seed)
        _save(model, path)
        return model


def _fits(model, data: Dataset, n_classes: int) -> bool:
    try:
        model.get_layer("features")
    except ValueError:
        return False
    return tuple(model.input_shape[1:]) == data.input_shape and tuple(model.output_shape[1:]) == (n_classes,)


def build_classifier(input_shape: tuple[int, ...], n_classes: int, seed: int = 0):
    """The untrained classifier: two Conv2D + MaxPool blocks, Flatten, Dense 64 ("features"), softmax."""
    import keras
    from keras import layers

    def glorot(i):
        return keras.initializers.GlorotUniform(seed=seed * 101 + i)

    # Unpadded convolutions as for MNIST; below 10 pixels a side they would leave nothing, so pad there.
    padding = "valid" if min(input_shape[:2]) >= 10 else "same"
    inputs = keras.Input(tuple(input_shape), name="image")
    h = layers.Conv2D(16, 3, padding=padding, activation="relu", kernel_initializer=glorot(1), name="conv16")(inputs)
    h = layers.MaxPooling2D(name="pool1")(h)
    h = layers.Conv2D(32, 3, padding=padding, activation="relu", kernel_initializer=glorot(2), name="conv32")(h)
    h = layers.MaxPooling2D(name="pool2")(h)
    h = layers.Flatten(name="flatten")(h)
    h = layers.Dense(64, activation="relu", kernel_initializer=glorot(3), name="features")(h)
    outputs = layers.Dense(n_classes, activation="softmax", kernel_initializer=glorot(4), name="classes")(h)
    return keras.Model(inputs, outputs, name="sample_classifier")


def _train_classifier(data: Dataset, classes: np.ndarray, seed: int):
    import keras

    x = data.x_train[:CLASSIFIER_MAX_TRAIN]
    y = np.searchsorted(classes, data.y_train[:CLASSIFIER_MAX_TRAIN])
    model = build_classifier(data.input_shape, len(classes), seed)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
    rng = np.random.default_rng(seed)
    steps_per_epoch = -(-len(x) // CLASSIFIER_BATCH)
    epochs = min(CLASSIFIER_MAX_EPOCHS, max(CLASSIFIER_MIN_EPOCHS, -(-CLASSIFIER_MIN_STEPS // steps_per_epoch)))
    for epoch in range(epochs):
        # Shuffled here, seeded: fit's own shuffle draws from process-wide random state.
        order = rng.permutation(len(x))
        model.fit(x[order], y[order], batch_size=CLASSIFIER_BATCH, epochs=epoch + 1, initial_epoch=epoch,
                  shuffle=False, verbose=0)
    return model


def _save(model, path: Path) -> None:
    """Write model to path atomically.

    The cache is a convenience: if the folder cannot be written, the trained model is used unsaved."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, model.save)
    except OSError:
        pass


def _remove(path: Path) -> None:
    try:
        os.remove(path)
    except OSError:
        pass


# Sample quality


@dataclass(frozen=True)
class SampleQuality:
    """How a classifier of the dataset sees n decodes of z ~ N(0, I)."""

    confident_share: float  # share of samples whose top class probability exceeds CONFIDENT
    classes_covered: int  # distinct predicted classes among the confident samples
    classes: int  # the classifier's number of classes
    # Between its "features" of the samples and of as many test images; comparable only under one classifier.
    frechet_distance: float
    classifier_test_accuracy: float  # on the test split (NaN when it has no labels)
    samples: int  # n


def classifier_outputs(classifier, x: np.ndarray, batch_size: int = 500) -> tuple[np.ndarray, np.ndarray]:
    """(features (N, 64), class probabilities (N, classes)) of the classifier for x."""
    import keras

    both = keras.Model(classifier.inputs, [classifier.get_layer("features").output, classifier.outputs[0]])
    features, probs = [], []
    for start in range(0, len(x), batch_size):
        f, p = both([np.asarray(x[start : start + batch_size], np.float32)], training=False)
        features.append(np.asarray(f))
        probs.append(np.asarray(p))
    return np.concatenate(features).astype(np.float64), np.concatenate(probs).astype(np.float64)


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to the rows of a and of b (means and covariances):
    |mu_a - mu_b|^2 + tr(C_a) + tr(C_b) - 2 tr((C_a C_b)^(1/2))."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    cov_a, cov_b = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))
    # tr((C_a C_b)^(1/2)) = tr((S C_b S)^(1/2)) with S = C_a^(1/2): the same number as the real part of
    # scipy.linalg.sqrtm(C_a @ C_b), from symmetric eigendecompositions. ReLU features that never fire make
    # the covariances singular, where sqrtm warns on every call and may go complex; eigh stays exact.
    s = _psd_sqrt(cov_a)
    trace_covmean = float(np.sum(np.sqrt(np.clip(np.linalg.eigvalsh(s @ cov_b @ s), 0.0, None))))
    distance = np.sum((mu_a - mu_b) ** 2) + np.trace(cov_a) + np.trace(cov_b) - 2 * trace_covmean
    return float(max(distance, 0.0))  # below 0 only by rounding


def _psd_sqrt(c: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh((c + c.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def sample_quality(model, classifier, data: Dataset, n: int = 1000, seed: int = 0) -> SampleQuality:
    """Decode n draws z ~ N(0, I) (NumPy Generator of seed) and judge them with the dataset's classifier."""
    from aecore.models import decode

    classes = _class_labels(data)
    if n < 2:
        raise ValueError("Sample quality needs at least 2 samples (for a covariance).")
    z = np.random.default_rng(seed).standard_normal((n, latent_size(model)), dtype=np.float32)
    decoded = decode(model, z)
    takes = tuple(classifier.input_shape[1:])
    if decoded.shape[1:] != takes:
        raise ValueError(f"The model decodes {decoded.shape[1:]} but the classifier takes {takes}.")
    if classifier.output_shape[-1] != len(classes):
        told = classifier.output_shape[-1]
        raise ValueError(f"The classifier tells {told} classes; '{data.name}' has {len(classes)}.")
    features, probs = classifier_outputs(classifier, decoded)
    confident = probs.max(axis=1) > CONFIDENT
    covered = len(np.unique(probs[confident].argmax(axis=1)))
    test_features, test_probs = classifier_outputs(classifier, data.x_test)
    if data.y_test is None:
        accuracy = float("nan")
    else:
        accuracy = float(np.mean(classes[test_probs.argmax(axis=1)] == data.y_test))
    return SampleQuality(
        confident_share=float(confident.mean()),
        classes_covered=int(covered),
        classes=int(probs.shape[1]),
        frechet_distance=frechet_distance(features, test_features[:n]),
        classifier_test_accuracy=accuracy,
        samples=int(n),
    )


# The figures of a run, for the CLI's JSON line


def run_figures(model, data: Dataset, root=None, scorecard: bool = False, nll_images: int = 1000) -> dict:
    """Active dimensions (always); with scorecard, the NLL estimate and, when data has labels, the classifier's
    figures (root: the run store whose folder caches the classifier). Keys as the CLI prints them."""
    from aecore.models import encode_distribution

    x = data.x_test[:nll_images]
    mean, _ = encode_distribution(model, data.x_test[:1000])
    out: dict = {"active_dims": int(active_dimensions(mean).sum())}
    if not scorecard:
        return out
    estimate = importance_sampled_nll(model, x)
    out.update(test_nll=estimate.nll, nll_elbo_loss=estimate.elbo_loss, nll_samples=estimate.samples,
               nll_images=estimate.images)
    if data.y_train is not None and data.y_test is not None:
        quality = sample_quality(model, get_classifier(data, root), data)
        out.update(sample_confident_share=quality.confident_share, sample_classes_covered=quality.classes_covered,
                   sample_frechet_distance=quality.frechet_distance,
                   classifier_test_accuracy=quality.classifier_test_accuracy)
    return out
