"""Dataset: train and test arrays, labels, class names and a fingerprint of the contents."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from aecore.datasets.catalogue import LABEL_NAMES


@dataclass(frozen=True, eq=False)
class Dataset:
    """Train/test arrays plus a fingerprint of their contents (for the run cache key).

    Images are float32 (N, H, W, C) in [0, 1]; vectors float32 (N, D). Labels are int64 or None.
    """

    name: str
    x_train: np.ndarray
    x_test: np.ndarray
    y_train: np.ndarray | None
    y_test: np.ndarray | None
    fingerprint: str
    label_names: tuple[str, ...] | None = None  # label i is label_names[i]; None where the numbers say it
    # Each test example's place along the surface it lies on (the swiss roll's unrolled length), where the data has
    # one: views colour its codes by it. Not part of the fingerprint: it describes the data, it does not change it.
    position_test: np.ndarray | None = None

    @property
    def is_image(self) -> bool:
        return self.x_train.ndim == 4

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])

    def test_title(self, index: int) -> str:
        """'#7 (Sneaker)': a test example's index and its label, named where the dataset names its labels."""
        if self.y_test is None:
            return f"#{index}"
        return f"#{index} ({label_text(int(self.y_test[index]), self.label_names)})"


def label_text(label: int, names: tuple[str, ...] | None) -> str:
    """A label in words where names has it ('Trouser'), else its number ('7')."""
    return names[label] if names is not None and 0 <= label < len(names) else str(label)


def fingerprint(arrays) -> str:
    """A short hash of the arrays' shapes, dtypes and bytes (None counts as absent)."""
    digest = hashlib.sha256()
    for a in arrays:
        if a is None:
            digest.update(b"none")
        else:
            digest.update(str((a.shape, a.dtype)).encode())
            digest.update(np.ascontiguousarray(a).reshape(-1).view(np.uint8))  # no copy of big arrays
    return digest.hexdigest()[:16]


def make_dataset(name, x_train, x_test, y_train, y_test, label_names=None) -> Dataset:
    """A Dataset of these arrays, made read-only (they are shared between sessions), fingerprinted."""
    arrays = (x_train, x_test, y_train, y_test)
    for a in arrays:
        if a is not None:
            a.setflags(write=False)  # shared between sessions: nobody may mutate them
    return Dataset(name, x_train, x_test, y_train, y_test, fingerprint(arrays), label_names or LABEL_NAMES.get(name))


def split(name, x, y, n_test, seed=0, label_names=None) -> Dataset:
    """A seeded shuffle, then the last n_test examples as the test set."""
    order = np.random.default_rng(seed).permutation(len(x))
    x = np.ascontiguousarray(x[order], dtype=np.float32)
    y = None if y is None else y[order].astype(np.int64)
    cut = len(x) - n_test
    return make_dataset(name, x[:cut], x[cut:], None if y is None else y[:cut], None if y is None else y[cut:],
                        label_names)


def subsample(x: np.ndarray, y: np.ndarray | None, n: int) -> tuple[np.ndarray, np.ndarray | None]:
    """The first n examples (all when n is 0 or larger than the set)."""
    if n <= 0 or n >= len(x):
        return x, y
    return x[:n], None if y is None else y[:n]
