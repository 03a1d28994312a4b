"""The untrusted .npz reader: npz:PATH datasets, .npz uploads and stored uploads.

Pickle is never allowed, and every array's size is checked on its .npy header, against
limits.MAX_DATASET_BYTES, before any data is read. Every problem is one DataError sentence.
"""

from __future__ import annotations

import os
import zipfile

import numpy as np

from aecore import limits
from aecore.datasets.dataset import Dataset, make_dataset
from aecore.errors import DataError
from aecore.once import single_flight

NPZ_KEYS = ("x_train", "x_test", "y_train", "y_test")


def load_npz_file(path: str) -> Dataset:
    """The dataset of an .npz file, read once per version of the file (its size and mtime key the cache)."""
    stat = stat_file(path)
    return _load_npz_cached(os.path.abspath(path), stat.st_size, stat.st_mtime_ns)


@single_flight(maxsize=2)
def _load_npz_cached(path: str, size: int, mtime_ns: int) -> Dataset:
    return load_npz(path)


def load_npz(path: str) -> Dataset:
    """Load and validate a user's .npz file; every malformed file gets its own DataError."""
    stat_file(path)
    if not zipfile.is_zipfile(path):
        raise DataError(f"'{path}' is not an .npz file (it is not a zip archive).")
    return npz_dataset(f"npz:{path}", read_npz(path, path))


def stat_file(path: str) -> os.stat_result:
    """os.stat of a regular file; DataError when there is none."""
    try:
        stat = os.stat(path)
    except (OSError, ValueError):  # ValueError: a NUL byte in the path
        raise DataError(f"There is no file at '{path}'.") from None
    if not os.path.isfile(path):
        raise DataError(f"'{path}' is not a file; give the path of an .npz file.")
    return stat


def npz_dataset(name: str, arrays: dict[str, np.ndarray]) -> Dataset:
    """A Dataset from the raw arrays of an npz (as read_npz gives them), each validated."""
    x_train = as_examples(arrays["x_train"], "x_train")
    x_test = as_examples(arrays["x_test"], "x_test")
    if x_train.shape[1:] != x_test.shape[1:]:
        raise DataError(f"x_train examples have shape {x_train.shape[1:]} but x_test examples have {x_test.shape[1:]}.")
    y_train = as_labels(arrays.get("y_train"), "y_train", len(x_train))
    y_test = as_labels(arrays.get("y_test"), "y_test", len(x_test))
    if (y_train is None) != (y_test is None):
        given, missing = ("y_train", "y_test") if y_test is None else ("y_test", "y_train")
        raise DataError(f"The file has {given} but no {missing}; label both splits or neither.")
    return make_dataset(name, x_train, x_test, y_train, y_test)


def read_npz(source, path: str, budget: int | None = None) -> dict[str, np.ndarray]:
    """The arrays of NPZ_KEYS present in the zip source (a path or a file), each checked on its header first.

    path names the file in messages; budget is the float32 memory limit (limits.MAX_DATASET_BYTES by default).
    """
    budget = limits.MAX_DATASET_BYTES if budget is None else budget
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


def as_examples(a: np.ndarray, key: str) -> np.ndarray:
    """An array of examples as a Dataset holds them (float32, images in [0, 1]); DataError when it cannot be."""
    if a.dtype.kind not in "uifb":
        raise DataError(f"{key} must hold numbers, not {a.dtype}.")
    if a.ndim == 0 or len(a) == 0:
        raise DataError(f"{key} holds no examples.")
    if len(a) > limits.MAX_EXAMPLES:
        raise DataError(f"{key} has {len(a)} examples; the limit is {limits.MAX_EXAMPLES}.")
    if a.ndim == 3:
        a = a[..., None]
    if a.ndim == 4 and a.shape[-1] in limits.CHANNELS:
        limits.check_image_size(a.shape[1], a.shape[2], key + " images")
    elif a.ndim == 2:
        if not 1 <= a.shape[1] <= limits.MAX_VECTOR_DIM:
            raise DataError(f"{key} vectors must have 1 to {limits.MAX_VECTOR_DIM} features, got {a.shape[1]}.")
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


def as_labels(a: np.ndarray | None, key: str, n: int) -> np.ndarray | None:
    """Labels as a Dataset holds them (int64, one per example), or None; DataError when they cannot be."""
    if a is None:
        return None
    if a.ndim != 1 or a.dtype.kind not in "ui" or len(a) != n:
        raise DataError(f"{key} must hold {n} whole-number labels (one per example), got shape {a.shape} of {a.dtype}.")
    # Label k is class k: a class name, a count and a legend entry are made per number up to the largest, so an
    # unbounded label would be an allocation as large as its value.
    low, high = int(a.min()), int(a.max())
    if low < 0 or high >= limits.MAX_CLASSES:
        bad = low if low < 0 else high
        raise DataError(f"{key} labels must be class numbers from 0 to {limits.MAX_CLASSES - 1}, got {bad}.")
    return a.astype(np.int64)
