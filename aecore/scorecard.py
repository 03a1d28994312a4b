"""The scorecard of a trained VAE: sample quality by a small classifier, and a run's figures for the CLI.

Sample quality by a small classifier trained on the labelled dataset (cached on disk next to
the runs, under .classifiers/): how many prior samples it recognises confidently, how many
classes they cover, and the Fréchet distance between its features of samples and of test
images (FID's recipe with a task-specific network instead of Inception).

NumPy and Keras only; never Streamlit. Every random draw is seeded by an argument.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from filelock import FileLock

from aecore.datasets import OFFLINE_DEFAULT, DataError, Dataset
from aecore.files import remove, write_atomic
from aecore.paths import CLASSIFIERS_FOLDER
from aecore.store import RunStore
from aecore.vae_lab import active_dimensions, importance_sampled_nll, latent_size

CLASSIFIER_BATCH = 64
# Epochs: enough for CLASSIFIER_MIN_STEPS steps, within these bounds. A small set (mnist-sample) needs
# more passes than three for a classifier confident on real digits, which a sample's confidence is read against.
CLASSIFIER_MIN_EPOCHS, CLASSIFIER_MAX_EPOCHS = 3, 10
CLASSIFIER_MIN_STEPS = 600
CLASSIFIER_MAX_TRAIN = 20_000  # enough for a yardstick classifier; bounds the training time on full MNIST
CONFIDENT = 0.9  # a sample counts as recognised when the classifier's top probability exceeds this


# The sample-quality classifier


def classifier_path(data: Dataset, root, seed: int = 0) -> Path:
    """Where get_classifier keeps the classifier of data: root/.classifiers/<fingerprint>.keras
    (<fingerprint>-seed<seed>.keras for a seed other than 0)."""
    root = root.root if isinstance(root, RunStore) else Path(root)
    name = data.fingerprint if seed == 0 else f"{data.fingerprint}-seed{seed}"
    return root / CLASSIFIERS_FOLDER / f"{name}.keras"


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
    import keras  # deferred: Keras

    classes = _class_labels(data)
    path = classifier_path(data, root, seed)
    with _lock_beside(path):  # two sessions (or processes) asking at once train it once
        if path.is_file():
            try:
                model = keras.models.load_model(path, compile=False)
                if _fits(model, data, len(classes)):
                    return model
            except Exception:  # any damage at all means: discard and retrain
                pass
            remove(path)
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
    import keras  # deferred: Keras
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
    import keras  # deferred: Keras

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


@contextlib.contextmanager
def _lock_beside(path: Path):
    """A file lock beside path, across threads and processes; none where the folder cannot be written (the
    classifier is then trained and used unsaved, perhaps twice at once)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(f"{path}.lock")
        lock.acquire()
    except OSError:
        yield
        return
    try:
        yield
    finally:
        lock.release()


# Sample quality


@dataclass(frozen=True)
class SampleQuality:
    """How a classifier of the dataset sees n decodes of z ~ N(0, I)."""

    confident_share: float  # share of samples whose top class probability exceeds CONFIDENT
    classes_covered: int  # distinct predicted classes among the confident samples
    classes: int  # the classifier's number of classes
    # Between its "features" of the samples and of as many test images; comparable only under one classifier.
    frechet_distance: float
    # The same distance between as many real training and test images: what samples as good as real would score.
    real_frechet_distance: float
    classifier_test_accuracy: float  # on the test split (NaN when it has no labels)
    samples: int  # n


def classifier_outputs(classifier, x: np.ndarray, batch_size: int = 500) -> tuple[np.ndarray, np.ndarray]:
    """(features (N, 64), class probabilities (N, classes)) of the classifier for x."""
    import keras  # deferred: Keras

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
    from aecore.models import decode  # deferred: TensorFlow

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
    train_features, _ = classifier_outputs(classifier, data.x_train[:n])
    if data.y_test is None:
        accuracy = float("nan")
    else:
        accuracy = float(np.mean(classes[test_probs.argmax(axis=1)] == data.y_test))
    return SampleQuality(
        confident_share=float(confident.mean()),
        classes_covered=int(covered),
        classes=int(probs.shape[1]),
        frechet_distance=frechet_distance(features, test_features[:n]),
        real_frechet_distance=frechet_distance(train_features, test_features[:n]),
        classifier_test_accuracy=accuracy,
        samples=int(n),
    )


def recognisability(model, classifier, data: Dataset, n: int = 1000) -> dict[str, float]:
    """What a person sees in the reconstructions: the share of the first n test images whose reconstruction the
    classifier labels as the image's label (test_recognised), and that share over its accuracy on the images
    themselves (recognisability: 1.0 is as recognisable as the originals)."""
    from aecore.models import reconstruct  # deferred: TensorFlow

    classes = _class_labels(data)
    if data.y_test is None:
        raise DataError(f"The dataset '{data.name}' has no test labels, so recognisability cannot be measured.")
    x, y = data.x_test[:n], data.y_test[:n]
    _, on_images = classifier_outputs(classifier, x)
    _, on_reconstructions = classifier_outputs(classifier, reconstruct(model, x))
    accuracy = float(np.mean(classes[on_images.argmax(axis=1)] == y))
    recognised = float(np.mean(classes[on_reconstructions.argmax(axis=1)] == y))
    return {"test_recognised": recognised, "recognisability": recognised / accuracy if accuracy else float("nan")}


# The figures of a run, for the CLI's JSON line


def run_figures(model, data: Dataset, root=None, scorecard: bool = False, nll_images: int = 1000) -> dict:
    """Active dimensions (always); with scorecard, the NLL estimate and, when data has labels, the classifier's
    figures (root: the run store whose folder caches the classifier). Keys as the CLI prints them."""
    from aecore.models import encode_distribution  # deferred: TensorFlow

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
