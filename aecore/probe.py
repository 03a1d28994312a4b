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


def codes_worth(model, data: Dataset, counts: tuple[int, ...] = LABEL_COUNTS, draws: int = DRAWS,
                seed: int = 0) -> list[ProbePoint]:
    """The probe on the run's codes and on pixels at each label count (and at all the training labels), over
    draws seeded draws each (one at all); DataError when the dataset has no labels."""
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
    return points


def as_json(points: list[ProbePoint]) -> dict:
    """{'codes': {'10': {'mean': .., 'std': .., 'draws': ..}, ...}, 'pixels': {...}}: the CLI's line."""
    out: dict = {}
    for p in points:
        out.setdefault(p.features, {})[str(p.labels)] = {"mean": round(p.mean, 4), "std": round(p.std, 4),
                                                          "draws": p.draws}
    return out
