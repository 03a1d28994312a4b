"""The stored uploads: accepted Previews kept by name under <run cache>/.datasets/.

Each dataset is a content-addressed .npz (its fingerprint) with a readable name in
index.json, after which load_dataset(name) and the CLI's --dataset name find it. The
index is read back as untrusted (a person may have edited it): an entry that is not
well-formed is left out, never trusted. One writer at a time, across threads and
processes (a file lock beside the index).
"""

from __future__ import annotations

import io
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from aecore import limits
from aecore.datasets.catalogue import check_name
from aecore.datasets.dataset import Dataset
from aecore.datasets.npz import load_npz_file
from aecore.datasets.uploads import Preview, inspect
from aecore.errors import DataError
from aecore.files import index_lock, read_index, write_atomic
from aecore.limits import mib
from aecore.paths import DATASETS_FOLDER, cache_dir

INDEX_FILE = "index.json"
STORED_FILE = re.compile(r"[0-9a-f]{16}\.npz")  # a Dataset fingerprint
KINDS = ("images", "vectors")
LOCK_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class StoredEntry:
    """One stored upload, as its index entry says it."""

    name: str
    path: Path  # its .npz
    kind: str  # 'images' or 'vectors'
    label_names: tuple[str, ...] | None


def accept(upload: Preview | bytes, name: str, root: str | os.PathLike | None = None,
           subsample: int | None = None, filename: str = "upload") -> str:
    """Store an upload (a Preview, or a file's bytes) under name; return the name.

    Over the budget it is refused unless subsample says how many examples to keep. The same
    content under a second name is refused; the same name and content again is a no-op.
    """
    check_name(name)
    preview = upload if isinstance(upload, Preview) else inspect(filename, upload)
    if subsample is not None or preview.dataset is None:
        if subsample is None:
            raise DataError(
                f"'{preview.filename}' would need {mib(preview.float32_bytes)} of memory, over the budget of "
                f"{mib(preview.budget_bytes)}; keep a subsample of at most {preview.suggested_subsample} examples."
            )
        preview = inspect(preview.filename, preview.content, preview.budget_bytes, subsample)
    dataset = preview.dataset
    folder = _folder(root)
    arrays = {"x_train": dataset.x_train, "x_test": dataset.x_test}
    if dataset.y_train is not None:
        arrays.update(y_train=dataset.y_train, y_test=dataset.y_test)
    filename = f"{dataset.fingerprint}.npz"
    with _index_lock(folder):
        index = _read_index(folder)
        for other, entry in index.items():
            if isinstance(entry, dict) and entry.get("file") == filename and other != name:
                raise DataError(f"This data is stored already, as '{other}'; use that name.")
        if name in index:
            if isinstance(index[name], dict) and index[name].get("file") == filename:
                return name
            raise DataError(f"The name '{name}' is taken by another stored dataset; choose another.")
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        index[name] = {
            "file": filename,
            "kind": preview.kind,
            "source": preview.filename,
            "format": preview.format,
            "label_names": list(preview.label_names) if preview.label_names else None,
        }
        try:
            write_atomic(folder / filename, buffer.getvalue())
            write_atomic(folder / INDEX_FILE, json.dumps(index, indent=1, sort_keys=True).encode())
        except OSError as exc:
            raise DataError(f"The dataset could not be written in {folder} ({exc.strerror or exc}).") from None
    return name


def remove(name: str, root: str | os.PathLike | None = None) -> None:
    """Delete the stored upload of this name: its index entry first (the pages stop offering it at once), then its
    file. Runs trained on it stay in the run cache; they can no longer be retrained on it. DataError if none."""
    folder = _folder(root)
    with _index_lock(folder):
        index = _read_index(folder)
        if name not in _entries(root):
            raise DataError(f"There is no stored dataset named '{name}'.")
        file = index.pop(name)["file"]
        try:
            write_atomic(folder / INDEX_FILE, json.dumps(index, indent=1, sort_keys=True).encode())
            (folder / file).unlink(missing_ok=True)
        except OSError as exc:
            raise DataError(f"The dataset could not be removed from {folder} ({exc.strerror or exc}).") from None


def stored_datasets(root: str | os.PathLike | None = None) -> list[str]:
    """The names of the stored uploads, sorted."""
    return sorted(_entries(root))


def entry(name: str, root: str | os.PathLike | None = None) -> StoredEntry | None:
    """The stored upload of this name, or None when there is none (or its index entry is not well-formed)."""
    return _entries(root).get(name)


def load_stored(stored: StoredEntry) -> Dataset:
    """The dataset of a stored upload, read once per version of its file, with its class names."""
    data = load_npz_file(str(stored.path))
    return Dataset(stored.name, data.x_train, data.x_test, data.y_train, data.y_test, data.fingerprint,
                   stored.label_names)


def _entries(root) -> dict[str, StoredEntry]:
    """The index's well-formed entries: each names a file of this folder only, whatever an edited index says."""
    folder = _folder(root)
    entries = {}
    for name, raw in _read_index(folder).items():
        if not _could_store(name) or not isinstance(raw, dict):
            continue
        file, kind, names = raw.get("file"), raw.get("kind"), raw.get("label_names")
        if not (isinstance(file, str) and STORED_FILE.fullmatch(file) and isinstance(kind, str) and kind in KINDS):
            continue
        if not (names is None or (isinstance(names, list) and 0 < len(names) <= limits.MAX_CLASSES
                                  and all(isinstance(n, str) for n in names))):
            continue
        entries[name] = StoredEntry(name, folder / file, kind, tuple(names) if names else None)
    return entries


def _could_store(name) -> bool:
    """Whether accept could have stored a dataset under name: an edited index may hold any text as a name."""
    try:
        check_name(name)
    except DataError:
        return False
    return True


def _folder(root) -> Path:
    return cache_dir(root) / DATASETS_FOLDER


def _read_index(folder: Path) -> dict:
    return read_index(folder / INDEX_FILE)


def _index_lock(folder: Path) -> index_lock:
    return index_lock(folder, DataError, "dataset", LOCK_TIMEOUT_S)
