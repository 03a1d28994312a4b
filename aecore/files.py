"""Files and folders written whole or not at all. A leaf: any module may use it."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path

TMP_PREFIX = ".tmp-"  # what is being written (or removed) carries this prefix; readers skip such names


def write_atomic(path: str | os.PathLike, data: bytes | Callable[[Path], None]) -> Path:
    """Write data to path through a temporary name in the same folder and a rename; the path.

    data is the bytes, or a function that writes the file, or makes the folder, it is given (Keras saves
    only to a path; the temporary name keeps path's suffix for it). A folder's rename fails, and raises
    OSError, when path is a folder that exists and is not empty. On any error nothing is left but what was there.
    """
    path = Path(path)
    tmp = path.with_name(f"{TMP_PREFIX}{uuid.uuid4().hex[:8]}-{path.name}")
    try:
        if callable(data):
            data(tmp)
        else:
            tmp.write_bytes(data)
        os.replace(tmp, path)
    except BaseException:
        remove(tmp)
        raise
    return path


def remove(path: str | os.PathLike) -> None:
    """Remove a file or a folder tree, renaming a folder away first so no reader sees it half-deleted."""
    path = Path(path)
    if path.is_dir() and not path.is_symlink():
        doomed = path.with_name(f"{TMP_PREFIX}del-{uuid.uuid4().hex[:8]}")
        try:
            os.rename(path, doomed)
        except OSError:
            return  # already gone
        shutil.rmtree(doomed, ignore_errors=True)
    else:
        Path(path).unlink(missing_ok=True)
