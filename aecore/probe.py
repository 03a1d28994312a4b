"""What a run's codes are worth with few labels: a linear probe on the frozen encoder's codes against the same probe
on raw pixels, at a few label counts, each over several seeded draws of the labelled subset.

The probe is scikit-learn's logistic regression on standardised features; its test accuracy is on the whole test
split. The semi-supervised case of Hands-On ML's chapter 17: pretrain on every image without labels, then
learn from a few labelled ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from aecore.datasets import Dataset
from aecore.errors import DataError

LABEL_COUNTS = (10, 100, 1000)  # and all: the page's and the CLI's default
DRAWS = 5  # seeded draws of the labelled subset at each count
MAX_ITER = 500  # of the logistic regression's solver: enough to converge on these sizes
# Fine-tuning trains a copy of the encoder with a softmax head: a fixed number of optimiser steps at every label
# count (ten labels get as many updates as a thousand), and fewer draws, as each is a Keras training.
FINE_TUNE_STEPS = 300
FINE_TUNE_BATCH = 32
FINE_TUNE_RATE = 1e-3
FINE_TUNE_DRAWS = 2
FINE_TUNED = "fine-tuned encoder"


@dataclass(frozen=True)
class ProbePoint:
    """A probe's test accuracy at one label count, over its draws."""

    features: str  # "codes" or "pixels"
    labels: int  # labelled training examples it learnt from
    mean: float  # test accuracy, 0 to 1
    std: float  # over the draws
    draws: int


def labelled_subsets(y: np.ndarray, count: int, draws: int, seed: int = 0) -> list[np.ndarray]:
    """draws index arrays of count training examples each (seeded), every class present where count allows:
    a probe of 10 labels that has seen one class only would measure the draw, not the codes."""
    classes = np.unique(y)
    rng = np.random.default_rng(seed)
    subsets = []
    for _ in range(draws):
        if count >= len(y):
            subsets.append(np.arange(len(y)))
            continue
        first = [rng.choice(np.flatnonzero(y == c)) for c in classes] if count >= len(classes) else []
        rest = rng.permutation(np.setdiff1d(np.arange(len(y)), first))[: count - len(first)]
        subsets.append(np.concatenate([np.asarray(first, int), rest]))
    return subsets


def probe_accuracy(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray) -> float:
    """Test accuracy of a standardised logistic regression fitted on (x_train, y_train)."""
    from sklearn.linear_model import LogisticRegression  # deferred: scikit-learn, for the app's start
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if len(np.unique(y_train)) < 2:  # one class seen: it can only say that class
        return float(np.mean(y_test == y_train[0]))
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=MAX_ITER))
    model.fit(x_train, y_train)
    return float(model.score(x_test, y_test))


def fine_tuned_accuracy(model, x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray,
                        seed: int = 0) -> float:
    """Test accuracy of a copy of model's encoder with a softmax head, all of it trained on (x_train, y_train) for
    FINE_TUNE_STEPS steps (the run's own model is left as it was)."""
    import keras  # deferred: Keras, for the app's start

    encoder = model.get_layer("encoder")
    copy = keras.models.clone_model(encoder)
    copy.set_weights(encoder.get_weights())
    inputs = keras.Input(encoder.input_shape[1:])
    codes = copy(inputs)
    if isinstance(codes, (list, tuple)):  # a VAE's encoder gives (mean, log_var): the mean is its code
        codes = codes[0]
    classes = int(max(y_train.max(), y_test.max())) + 1
    head = keras.layers.Dense(classes, activation="softmax", dtype="float32",
                              kernel_initializer=keras.initializers.GlorotUniform(seed))
    classifier = keras.Model(inputs, head(keras.layers.Flatten()(codes)))
    classifier.compile(keras.optimizers.Adam(FINE_TUNE_RATE), "sparse_categorical_crossentropy", metrics=["accuracy"])
    # A seeded order of FINE_TUNE_STEPS batches, so the draw alone decides the result (fit's shuffle is unseeded).
    rng = np.random.default_rng(seed)
    needed = FINE_TUNE_STEPS * FINE_TUNE_BATCH
    order = np.concatenate([rng.permutation(len(y_train)) for _ in range(-(-needed // len(y_train)))])[:needed]
    classifier.fit(x_train[order], y_train[order], batch_size=FINE_TUNE_BATCH, epochs=1, shuffle=False, verbose=0)
    return float(classifier.evaluate(x_test, y_test, batch_size=500, verbose=0)[1])


def codes_worth(model, data: Dataset, counts: tuple[int, ...] = LABEL_COUNTS, draws: int = DRAWS,
                seed: int = 0, fine_tune: bool = False) -> list[ProbePoint]:
    """The probe on the run's codes and on pixels at each label count (and at all the training labels), over
    draws seeded draws each (one at all), and with fine_tune the encoder fine-tuned (FINE_TUNE_DRAWS draws at
    most); DataError when the dataset has no labels."""
    from aecore.models import encode  # deferred: TensorFlow

    if data.y_train is None or data.y_test is None:
        raise DataError(f"'{data.name}' has no labels, so what its codes are worth with few labels cannot be "
                        "measured; use a labelled dataset.")
    n = len(data.y_train)
    counts = tuple(sorted({c for c in counts if 0 < c < n} | {n}))
    features = {"codes": (encode(model, data.x_train), encode(model, data.x_test)),
                "pixels": (data.x_train.reshape(n, -1), data.x_test.reshape(len(data.x_test), -1))}
    points = []
    for count in counts:
        subsets = labelled_subsets(data.y_train, count, 1 if count == n else draws, seed)
        for name, (train, test) in features.items():
            scores = [probe_accuracy(train[s], data.y_train[s], test, data.y_test) for s in subsets]
            points.append(ProbePoint(name, count, float(np.mean(scores)), float(np.std(scores)), len(scores)))
        if fine_tune:
            scores = [fine_tuned_accuracy(model, data.x_train[s], data.y_train[s], data.x_test, data.y_test, seed + i)
                      for i, s in enumerate(subsets[:FINE_TUNE_DRAWS])]
            points.append(ProbePoint(FINE_TUNED, count, float(np.mean(scores)), float(np.std(scores)), len(scores)))
    return points


def as_json(points: list[ProbePoint]) -> dict:
    """{'codes': {'10': {'mean': .., 'std': .., 'draws': ..}, ...}, 'pixels': {...}}: the CLI's line."""
    out: dict = {}
    for p in points:
        out.setdefault(p.features, {})[str(p.labels)] = {"mean": round(p.mean, 4), "std": round(p.std, 4),
                                                          "draws": p.draws}
    return out
