"""Anomaly scores: an autoencoder's per-example reconstruction error as a test of "is this like my data?".

A model reconstructs examples like those it was trained on well and others badly. This
module makes clearly different inputs (for images: inverted images, uniform noise, another
dataset when it is already on this machine; for vectors: points scaled far out, shuffled
features, Gaussian noise of the data's spread), finds the other datasets of the same example
shape, and scores an error threshold with scikit-learn: anomalies are the positive class,
and an example is flagged when its error is above the threshold. NumPy and scikit-learn only:
the caller runs the model.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass

import numpy as np
from sklearn.metrics import precision_score, recall_score, roc_auc_score

from aecore.datasets import (
    BUILT_IN, BUILT_IN_SHAPES, MNIST_SHAPE, DataError, Dataset, held_out, load_dataset, stored_datasets,
)
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


# --- Vectors: their clearly different inputs -------------------------------------------------------------------

FAR_SCALE = 5.0  # "far outside": this many times further from the data's mean than the test vector was
# The page's names of the vector inputs, and the CLI's --score word for each.
SCALED, SHUFFLED, GAUSSIAN = f"scaled {FAR_SCALE:g}x from the mean", "features shuffled", "Gaussian noise"
VECTOR_INPUTS = {"scaled": SCALED, "shuffled": SHUFFLED, "noise": GAUSSIAN}
IMAGE_INPUTS = {"inverted": "inverted", "noise": "random noise"}  # --score word -> different_inputs' name
HELD_OUT_SCORE = "held-out"  # --score of a BASE-without-D normal dataset: the test examples of class D


def different_vectors(x: np.ndarray, reference: np.ndarray, seed: int = 0) -> dict[str, np.ndarray]:
    """Clearly different vectors, as many as x has (inverting means nothing for vectors): x moved FAR_SCALE times
    further from reference's mean; x with each feature shuffled across the rows on its own (every value is real,
    their combination is not); Gaussian noise of reference's per-feature mean and spread."""
    rng = np.random.default_rng(seed)
    x = np.asarray(x, np.float32)
    mean, spread = reference.mean(axis=0), reference.std(axis=0)
    shuffled = np.stack([rng.permutation(column) for column in x.T], axis=1) if len(x) else x.copy()
    return {
        SCALED: (mean + FAR_SCALE * (x - mean)).astype(np.float32),
        SHUFFLED: shuffled.astype(np.float32),
        GAUSSIAN: rng.normal(mean, spread, x.shape).astype(np.float32),
    }


# --- Other datasets of the same example shape --------------------------------------------------------------------

# A score set of another shape than the normal data's is refused from BUILT_IN_SHAPES: before it is loaded or fetched.


def shape_text(shape: tuple[int, ...]) -> str:
    """(28, 28, 1) -> '28 x 28 x 1'."""
    return " x ".join(str(d) for d in shape)


def examples_text(shape: tuple[int, ...]) -> str:
    """What examples of this shape are, in words: 'images of 28 x 28 x 1', 'vectors of 3 features'."""
    return f"vectors of {shape[0]} features" if len(shape) == 1 else f"images of {shape_text(shape)}"


def on_this_machine(name: str) -> bool:
    """Whether loading the dataset of this name needs no download."""
    return name not in KERAS_CACHE_FILES or in_keras_cache(name)


def same_shape_datasets(shape: tuple[int, ...], exclude: tuple[str, ...] = ()) -> list[str]:
    """The datasets on this machine whose examples have this shape: the built-ins that need no download, then the
    stored uploads (each loaded once per version of its file); never downloads."""
    shape = tuple(shape)
    found = [name for name in BUILT_IN if BUILT_IN_SHAPES.get(name) == shape and on_this_machine(name)]
    for name in stored_datasets():
        try:
            if load_dataset(name).input_shape == shape:
                found.append(name)
        except DataError:  # a stored file gone or damaged: nothing to offer
            continue
    return [name for name in found if name not in exclude]


def same_test_split(name: str, normal_name: str) -> bool:
    """Whether the dataset of this name has the normal dataset's own test examples: itself, or the base of a
    BASE-without-D dataset (which leaves class D out of its training split only)."""
    base = held_out(normal_name)
    return name == normal_name or (base is not None and base[0] == name)


def check_same_shape(what: str, shape: tuple[int, ...], normal: Dataset) -> None:
    """DataError (one sentence) unless examples of this shape can be scored by a model of normal's."""
    if tuple(shape) != normal.input_shape:
        raise DataError(f"{what} holds {examples_text(tuple(shape))}, not {examples_text(normal.input_shape)} like "
                        f"'{normal.name}', so a model of '{normal.name}' cannot score them.")


def score_dataset(name: str, normal: Dataset) -> np.ndarray:
    """The test examples of the dataset of this name, to score against normal's; DataError (one sentence) when it
    holds another example shape or is not on this machine (it is never downloaded to be scored)."""
    if name in BUILT_IN_SHAPES:
        check_same_shape(f"'{name}'", BUILT_IN_SHAPES[name], normal)
    if not on_this_machine(name):
        raise DataError(f"'{name}' is not on this machine and is never downloaded to be scored; choose a dataset "
                        "that is (train any model on it once to download it).")
    other = load_dataset(name)
    check_same_shape(f"'{name}'", other.input_shape, normal)
    return other.x_test


def upload_examples(preview, normal: Dataset) -> np.ndarray:
    """Every example of an uploaded file (an aecore.datasets.uploads Preview: scored, never stored); DataError (one
    sentence) when it holds another example shape or is too large to read whole."""
    check_same_shape(f"'{preview.filename}'", preview.example_shape, normal)
    if preview.dataset is None:
        raise DataError(f"'{preview.filename}' is over the memory budget of uploads; score a smaller file.")
    return np.concatenate([preview.dataset.x_train, preview.dataset.x_test])


# --- The command line's score sets and summary -------------------------------------------------------------------


@dataclass(frozen=True)
class ScoreSets:
    """The normal examples and the anomalies the CLI scores, each with its index in the set it came from."""

    normal_name: str
    anomaly_name: str
    normal: np.ndarray
    anomalies: np.ndarray
    normal_index: np.ndarray  # in normal's test split
    anomaly_index: np.ndarray  # in the score set's test split (of the normal test example an input was made from)


def score_words(normal: Dataset) -> list[str]:
    """The --score words this normal dataset takes besides a dataset's name."""
    words = list(IMAGE_INPUTS if normal.is_image else VECTOR_INPUTS)
    return [*words, HELD_OUT_SCORE] if held_out(normal.name) else words


def score_sets(normal: Dataset, score: str, seed: int = 0) -> ScoreSets:
    """What `--score` names for the normal dataset: a word of score_words (clearly different inputs made from its
    test examples, or the class a BASE-without-D dataset left out) or another dataset's name of the same example
    shape; DataError (one sentence) for anything else."""
    x = normal.x_test
    every = np.arange(len(x))
    words = score_words(normal)
    if score == HELD_OUT_SCORE and HELD_OUT_SCORE in words:
        label = held_out(normal.name)[1]
        unseen = normal.y_test == label
        return ScoreSets(f"{normal.name} test examples of the other classes", f"test examples of {label}",
                         x[~unseen], x[unseen], every[~unseen], every[unseen])
    if score in words:
        made = (different_inputs(x, seed) if normal.is_image else different_vectors(x, normal.x_train, seed))
        name = (IMAGE_INPUTS if normal.is_image else VECTOR_INPUTS)[score]
        return ScoreSets(f"{normal.name} test examples", name, x, made[name], every, every)
    if score in (*IMAGE_INPUTS, *VECTOR_INPUTS, HELD_OUT_SCORE):  # a word for other data than this
        kind = "a BASE-without-D dataset" if score == HELD_OUT_SCORE else "vectors" if normal.is_image else "images"
        raise DataError(f"--score {score} is for {kind}; for '{normal.name}' name one of {', '.join(words)} or a "
                        f"dataset of {examples_text(normal.input_shape)}.")
    if same_test_split(score, normal.name):
        raise DataError(f"The test examples of '{score}' are those of the normal dataset '{normal.name}'; name "
                        f"another dataset or one of {', '.join(words)}.")
    if not (score in BUILT_IN or score.startswith("npz:") or held_out(score) or score in stored_datasets()):
        raise DataError(f"Unknown --score '{score}'; name a dataset of {examples_text(normal.input_shape)} or one "
                        f"of {', '.join(words)}.")
    other = score_dataset(score, normal)
    return ScoreSets(f"{normal.name} test examples", f"{score} test examples", x, other, every, np.arange(len(other)))


def threshold_at_recall(anomaly_errors: np.ndarray, recall: float) -> float:
    """The largest threshold that flags at least this fraction of the anomalies (flagged: error above it)."""
    if not 0 < recall <= 1:
        raise DataError(f"The recall must be above 0 and at most 1, got {recall}.")
    ordered = np.sort(np.ravel(np.asarray(anomaly_errors, np.float64)))[::-1]
    needed = max(1, math.ceil(recall * len(ordered) - 1e-9))  # anomalies the threshold must stay below
    # The next float32 below that error: NumPy compares float32 errors with a Python float in float32, where the
    # next float64 below would round back up to the error itself and leave it unflagged.
    return float(np.nextafter(np.float32(ordered[needed - 1]), np.float32(-np.inf)))


def summary_at_recall(normal_errors: np.ndarray, anomaly_errors: np.ndarray, recall: float) -> dict:
    """ROC-AUC, the threshold at the given recall, and precision, recall and false alarms at it with their counts."""
    threshold = threshold_at_recall(anomaly_errors, recall)
    scores = score(normal_errors, anomaly_errors, threshold)
    flagged_anomalies = int((np.ravel(anomaly_errors) > threshold).sum())
    false_alarms = int((np.ravel(normal_errors) > threshold).sum())
    return {"roc_auc": scores.roc_auc, "recall_asked": recall, "threshold": threshold,
            "precision": scores.precision, "recall": scores.recall, "false_alarms": scores.false_alarms,
            "counts": {"normal": int(np.size(normal_errors)), "anomalies": int(np.size(anomaly_errors)),
                       "flagged": flagged_anomalies + false_alarms, "flagged_anomalies": flagged_anomalies,
                       "false_alarms": false_alarms}}


def errors_csv(sets: dict[str, tuple[np.ndarray, np.ndarray]], threshold: float) -> bytes:
    """Per-example errors as CSV (set, index, error, flagged): sets maps a set's name to (indices, errors)."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["set", "index", "error", "flagged"])
    for name, (index, errors) in sets.items():
        for i, e in zip(np.ravel(index).tolist(), np.ravel(errors).tolist()):
            writer.writerow([name, i, f"{e:.9g}", int(e > threshold)])
    return text.getvalue().encode()


def error_unit(is_image: bool) -> str:
    """The unit of a per-example error: the mean squared error per pixel of an image, per feature of a vector."""
    return "MSE per pixel" if is_image else "MSE per feature"
