"""Datasets by name: the built-ins, npz:PATH, and the stored uploads.

The package's modules, each of which uses the others' public names only:
  catalogue  the names and facts of the built-ins, and the rules for naming an upload
  dataset    Dataset, fingerprints, splits
  builtin    the built-in loaders (generated, shipped, downloaded through keras.datasets)
  npz        the untrusted .npz reader, bounded on its headers
  uploads    upload readers (.npz, .zip of images, .csv) into a Preview
  library    the stored uploads: accept, the index, load by name

Images come out as float32 arrays of shape (N, H, W, C) scaled to [0, 1], with H and W from
8 to 128 and C 1 or 3; vectors as float32 (N, D). Labels are int64 or None.
"""

from __future__ import annotations

import os

from aecore.datasets.builtin import load_builtin, load_held_out
from aecore.datasets.catalogue import (
    BUILT_IN, BUILT_IN_SHAPES, DATASETS, LABEL_NAMES, MNIST_SHAPE, OFFLINE_DATASETS, OFFLINE_DEFAULT, VECTOR_DATASETS,
    held_out, held_out_name,
)
from aecore.datasets.dataset import Dataset, label_text, subsample
from aecore.datasets.library import entry, load_stored, stored_datasets
from aecore.datasets.npz import load_npz_file
from aecore.errors import DataError

__all__ = [
    "BUILT_IN", "BUILT_IN_SHAPES", "DATASETS", "DataError", "Dataset", "LABEL_NAMES", "MNIST_SHAPE", "OFFLINE_DATASETS",
    "OFFLINE_DEFAULT", "VECTOR_DATASETS", "held_out", "held_out_name", "holds_images", "label_text", "load_dataset",
    "subsample",
]


def load_dataset(name: str) -> Dataset:
    """Load a dataset by name; raise DataError with one clear sentence if it cannot be."""
    if not isinstance(name, str) or not name:
        raise DataError("Name a dataset: " + ", ".join(DATASETS) + ".")
    if name.startswith("npz:"):
        return load_npz_file(os.path.expanduser(name[4:]))
    if name in BUILT_IN:
        return load_builtin(name)
    if (base_and_label := held_out(name)) is not None:
        return load_held_out(*base_and_label)
    stored = entry(name)
    if stored is None:
        names = stored_datasets()
        raise DataError(f"Unknown dataset '{name}'; choose one of {', '.join([*DATASETS, *names])}"
                        f"{'' if names else ' or a stored upload'}.")
    return load_stored(stored)


def holds_images(name: str) -> bool | None:
    """Whether a dataset of this name holds images; None when only its file can tell (npz:PATH, or no such name)."""
    if name.startswith("npz:"):
        return None
    if name in BUILT_IN:
        return name not in VECTOR_DATASETS
    if held_out(name) is not None:
        return True
    stored = entry(name)
    return None if stored is None else stored.kind == "images"
