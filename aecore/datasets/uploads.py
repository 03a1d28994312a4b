"""Uploads: an .npz, a .zip of images or a .csv of vectors, read into a Preview (nothing written).

The upload is untrusted: sizes are checked on headers and the zip's directory before
anything is decoded in full (aecore.limits holds the bounds), and every problem is a
DataError of one sentence. The readers are zip_images (images) and csv_vectors (vectors),
and npz for .npz files; aecore.datasets.library stores an accepted Preview by name.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import PurePosixPath

import numpy as np

from aecore import limits
from aecore.datasets.csv_vectors import read_csv
from aecore.datasets.npz import npz_dataset, read_npz
from aecore.datasets.preview import N_EXAMPLES, Preview, make_preview, shown
from aecore.datasets.zip_images import read_zip
from aecore.errors import DataError

__all__ = ["FORMATS", "N_EXAMPLES", "UPLOAD_TYPES", "Preview", "inspect"]

FORMATS = ".npz, .zip of PNG/JPEG images, or .csv of numbers"
UPLOAD_TYPES = ("npz", "zip", "csv")  # the file name endings an uploader offers; inspect() goes by content too


def inspect(filename: str, content: bytes, budget_bytes: int | None = None, subsample: int | None = None) -> Preview:
    """Read an upload; raise DataError (one sentence) if it is not a dataset this app can use.

    Over the budget, only the first N_EXAMPLES are decoded (for the preview) unless subsample
    names how many randomly chosen examples to keep instead.
    """
    filename = shown(filename)  # every message quotes it
    budget = limits.MAX_DATASET_BYTES if budget_bytes is None else budget_bytes
    if subsample is not None and (isinstance(subsample, bool) or not isinstance(subsample, int) or subsample < 2):
        raise DataError(f"A subsample must be a whole number of at least 2 examples, got {subsample}.")
    fmt = _format(filename, content)
    reader = {"npz": _read_npz, "zip": read_zip, "csv": read_csv}[fmt]
    return reader(filename, content, budget, subsample)


# --- formats ---------------------------------------------------------------------------------


def _format(filename: str, content: bytes) -> str:
    suffix = PurePosixPath(filename).suffix.lower()
    if content.startswith(b"PK\x03\x04") or content.startswith(b"PK\x05\x06"):
        if suffix == ".npz":
            return "npz"
        if suffix == ".zip":
            return "zip"
        # A zip by content with another name: an npz holds .npy members, an image zip does not.
        try:
            with zipfile.ZipFile(io.BytesIO(content)) as archive:
                return "npz" if any(n.endswith(".npy") for n in archive.namelist()) else "zip"
        except (zipfile.BadZipFile, OSError, ValueError):
            raise DataError(f"'{filename}' is a damaged zip archive.") from None
    if suffix in (".csv", ".txt", "") and _is_text(content):
        return "csv"
    raise DataError(f"'{filename}' is none of the accepted formats: {FORMATS}.")


def _is_text(content: bytes) -> bool:
    try:
        content[:65536].decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start > 65536 - 4  # a character cut at the end of the sample
    return b"\x00" not in content[:65536]


def _read_npz(filename, content, budget, subsample) -> Preview:
    if subsample is not None:
        raise DataError(f"An .npz is read whole; make '{filename}' smaller to subsample it.")
    arrays = read_npz(io.BytesIO(content), filename, budget)
    dataset = npz_dataset(filename, arrays)  # validated: both hold numbers, finite, in range
    raw = (arrays["x_train"], arrays["x_test"])
    value_range = (min(float(a.min()) for a in raw), max(float(a.max()) for a in raw))
    labels = None if dataset.y_train is None else np.concatenate([dataset.y_train, dataset.y_test])
    return make_preview(filename, "npz", dataset, len(dataset.x_train) + len(dataset.x_test), value_range,
                    None, labels, budget, content)
