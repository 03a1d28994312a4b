"""A run's encodings of a whole dataset, as arrays and as a .npz or .csv file a user can take elsewhere.

Codes for every model; for a model whose encoder outputs a distribution (the VAE), its mean and
log-variance instead. Files are written to a temporary name and moved into place, so a failed
export leaves nothing behind.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from pathlib import Path

import numpy as np

from aecore.datasets import Dataset
from aecore.errors import ExportError
from aecore.files import write_atomic

FORMATS = (".npz", ".csv")


def encodings(model, data: Dataset) -> dict[str, np.ndarray]:
    """{'split', 'index', ['label'], 'code' or 'mean' and 'log_var'} over the training and test splits."""
    from aecore.models import encode, encode_distribution, has_distribution  # deferred: TensorFlow

    parts = [("train", data.x_train, data.y_train), ("test", data.x_test, data.y_test)]
    out: dict[str, list] = {"split": [], "index": []}
    labelled = all(y is not None for _, _, y in parts)
    for split, x, y in parts:
        out["split"].append(np.full(len(x), split))
        out["index"].append(np.arange(len(x)))
        if labelled:
            out.setdefault("label", []).append(np.asarray(y))
        if has_distribution(model):
            mean, log_var = encode_distribution(model, x)
            out.setdefault("mean", []).append(mean)
            out.setdefault("log_var", []).append(log_var)
        else:
            out.setdefault("code", []).append(encode(model, x))
    return {name: np.concatenate(arrays) for name, arrays in out.items()}


def check_path(path: str | os.PathLike, formats: tuple[str, ...] = FORMATS) -> Path:
    """The output path, if it names a file of one of formats (its suffixes: .npz or .csv by default) that can be
    written (a new file, or a file to replace, in a folder this process may write); ExportError otherwise. The CLI
    asks before it trains, so a run is never trained and cached for an export that would then fail."""
    path = Path(path)
    kinds = " or ".join(formats)
    if path.suffix.lower() not in formats:
        raise ExportError(f"The output file must end in {kinds}, got '{path.name}'.")
    if "\0" in str(path):
        raise ExportError("The output path holds a NUL character; choose another output path.")
    try:
        is_folder, exists, is_file, has_folder = path.is_dir(), path.exists(), path.is_file(), path.parent.is_dir()
    except OSError:  # a name too long for the file system, say
        raise ExportError(f"'{path}' cannot name a file here; choose another output path.") from None
    if is_folder:
        example = path / ("codes.npz" if formats == FORMATS else "out" + formats[0])
        raise ExportError(f"'{path}' is a folder; name a {kinds} file to write, such as '{example}'.")
    if exists and not is_file:
        raise ExportError(f"'{path}' is not a regular file; name a {kinds} file to write.")
    if not has_folder:
        raise ExportError(f"The folder '{path.parent}' does not exist; create it or choose another.")
    # The file is written under a temporary name beside it and renamed into place: that needs the folder writable.
    try:
        with tempfile.TemporaryFile(dir=path.parent):
            pass
    except OSError as exc:
        raise ExportError(f"The folder '{path.parent}' cannot be written ({exc.strerror or exc}); "
                          "choose another output path.") from None
    return path


def to_bytes(arrays: dict[str, np.ndarray], suffix: str) -> bytes:
    """The encodings as the contents of a .npz or .csv file."""
    if suffix == ".npz":
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **arrays)
        return buffer.getvalue()
    text = io.StringIO()
    writer = csv.writer(text)
    columns, values = [], []
    for name, array in arrays.items():
        if array.ndim == 1:
            columns.append(name)
            values.append(array[:, None])
        else:  # one column per dimension, numbered from 1 as the sliders are
            columns += [f"{name}{i + 1}" for i in range(array.shape[1])]
            values.append(array)
    writer.writerow(columns)
    writer.writerows(np.concatenate([v.astype(object) for v in values], axis=1).tolist())
    return text.getvalue().encode()


def write(arrays: dict[str, np.ndarray], path: str | os.PathLike) -> Path:
    """Write the encodings to path (.npz or .csv) atomically; the path written."""
    path = check_path(path)
    try:
        return write_atomic(path, to_bytes(arrays, path.suffix.lower()))
    except OSError as exc:  # the disk filled, or the folder changed since the check
        raise ExportError(f"'{path}' could not be written ({exc.strerror or exc}); nothing was left there.") from None
