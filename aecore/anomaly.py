"""Anomaly scores: an autoencoder's per-image reconstruction error as a test of "is this like my data?".

A model reconstructs images like those it was trained on well and others badly. This
module makes clearly different inputs (inverted images, uniform noise, another dataset
when it is already on this machine) and scores an error threshold with scikit-learn:
anomalies are the positive class, and an image is flagged when its error is above the
threshold. NumPy and scikit-learn only: the caller runs the model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.metrics import precision_score, recall_score, roc_auc_score

from aecore.datasets import MNIST_SHAPE, DataError, load_dataset
from aecore.datasets.builtin import KERAS_CACHE_FILES, in_keras_cache

DEFAULT_FALSE_ALARMS = 0.05  # the default threshold flags 5% of the test images


# The built-in 28x28 grey datasets, each with the other one a model of it is tested against.
FOREIGN = {"mnist-sample": "fashion-mnist", "mnist": "fashion-mnist", "fashion-mnist": "mnist-sample"}


def foreign_dataset(trained_on: str) -> str | None:
    """The other dataset to test against: Fashion-MNIST for digit models, MNIST digits for a Fashion-MNIST one;
    None for any other dataset (an upload, another shape): those are tested against inverted images and noise."""
    return FOREIGN.get(trained_on)


def load_offline(name: str, shape: tuple[int, ...] = MNIST_SHAPE) -> np.ndarray | None:
    """A dataset's test images if they are on this machine already and of this example shape, else None:
    never downloads, and loads nothing for a shape other than 28 x 28 grey."""
    if tuple(shape) != MNIST_SHAPE:  # the foreign datasets are all MNIST-shaped: none can fit, so read none
        return None
    # The private check is data.py's own "is it in the Keras download cache" test (no network).
    if name in KERAS_CACHE_FILES and not in_keras_cache(name):
        return None
    try:
        dataset = load_dataset(name)
    except DataError:
        return None
    return dataset.x_test if tuple(dataset.input_shape) == tuple(shape) else None


def different_inputs(
    x: np.ndarray, seed: int = 0, foreign: tuple[str, np.ndarray] | None = None
) -> dict[str, np.ndarray]:
    """Clearly different inputs, as many of each as x has: x inverted, uniform noise, and (name, images) if given."""
    rng = np.random.default_rng(seed)
    inputs = {
        "inverted": (1.0 - x).astype(np.float32),
        "random noise": rng.random(x.shape, dtype=np.float32),
    }
    if foreign is not None:
        name, images = foreign
        inputs[name] = np.asarray(images[: len(x)], np.float32)
    return inputs


@dataclass(frozen=True)
class Scores:
    """How well a threshold on the error separates normal images from anomalies (anomaly = positive)."""

    precision: float  # of the flagged images, the fraction that are anomalies
    recall: float  # of the anomalies, the fraction flagged
    false_alarms: float  # of the normal images, the fraction flagged
    roc_auc: float  # threshold-free: the chance an anomaly scores above a normal image


def score(normal_errors: np.ndarray, anomaly_errors: np.ndarray, threshold: float) -> Scores:
    """Precision, recall and false-alarm rate at threshold, and ROC-AUC, with scikit-learn's metrics."""
    normal_errors, anomaly_errors = np.ravel(normal_errors), np.ravel(anomaly_errors)
    truth = np.concatenate([np.zeros(len(normal_errors), bool), np.ones(len(anomaly_errors), bool)])
    errors = np.concatenate([normal_errors, anomaly_errors])
    flagged = errors > threshold
    return Scores(
        precision=float(precision_score(truth, flagged, zero_division=0.0)),
        recall=float(recall_score(truth, flagged, zero_division=0.0)),
        false_alarms=float(flagged[: len(normal_errors)].mean()),
        roc_auc=float(roc_auc_score(truth, errors)),
    )


def default_threshold(normal_errors: np.ndarray, false_alarms: float = DEFAULT_FALSE_ALARMS) -> float:
    """The error above which the given fraction of the normal images lie."""
    return float(np.quantile(normal_errors, 1.0 - false_alarms))


def threshold_choices(errors: np.ndarray, n: int = 121, include: tuple[float, ...] = ()) -> list[float]:
    """Thresholds for a slider: log-spaced over the errors' range, plus `include`, at 3 significant figures.

    Include the default threshold: snapping it to the log grid instead could move its
    false-alarm rate by several percent when the grid spans random noise's large errors.
    """
    errors = np.ravel(errors)
    low, high = max(float(errors.min()), 1e-9), max(float(errors.max()), 2e-9)
    values = [*np.geomspace(low, high, n), *include]
    return sorted({float(f"{v:.3g}") for v in values})


def nearest(choices: list[float], value: float) -> float:
    """The choice closest to value on a log scale."""
    return min(choices, key=lambda c: abs(np.log(c) - np.log(max(value, 1e-12))))
