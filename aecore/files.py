"""Files and folders written whole or not at all. A leaf: any module may use it."""

from __future__ import annotations

import copy
import functools
import json
import os
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path

from filelock import FileLock, Timeout

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


def read_index(path: Path) -> dict:
    """A JSON index file's object (a copy the caller may change); {} when there is none or it is damaged."""
    try:
        stat = path.stat()
    except OSError:
        return {}
    # Writers replace the file (a new inode, size and time), so a key of its stat never serves a stale index.
    return copy.deepcopy(_parsed_index(str(path), stat.st_mtime_ns, stat.st_size, stat.st_ino))


@functools.lru_cache(maxsize=16)
def _parsed_index(path: str, mtime_ns: int, size: int, inode: int) -> dict:
    try:
        index = json.loads(Path(path).read_text())
    except (OSError, ValueError):  # none yet, or damaged: list nothing rather than break every page
        return {}
    return index if isinstance(index, dict) else {}


class index_lock:
    """One writer of a folder's index at a time, across threads and processes; a busy or unwritable folder raises
    error (the caller's one-sentence error class) naming what the folder holds."""

    def __init__(self, folder: Path, error: type[Exception], what: str, timeout_s: float = 60.0):
        self.folder, self.error, self.what, self.timeout_s = folder, error, what, timeout_s

    def __enter__(self):
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            self.lock = FileLock(self.folder / ".lock", timeout=self.timeout_s)
            self.lock.acquire()
        except Timeout:
            raise self.error(f"The {self.what} folder {self.folder} is busy; try again in a minute.") from None
        except OSError as exc:
            raise self.error(f"The {self.what} folder {self.folder} cannot be written ({exc.strerror}).") from None
        return self

    def __exit__(self, *exc):
        self.lock.release()
