"""Files written whole or not at all. Imports nothing of aecore, so any module may use it."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from pathlib import Path


def write_atomic(path: str | os.PathLike, data: bytes | Callable[[Path], None]) -> Path:
    """Write data to path through a temporary file in the same folder and a rename; the path.

    data is the bytes, or a function that writes the file it is given (Keras saves only to a path;
    the temporary name keeps path's suffix for it). On any error nothing is left but what was there.
    """
    path = Path(path)
    tmp = path.with_name(f".tmp-{uuid.uuid4().hex[:8]}-{path.name}")
    try:
        if callable(data):
            data(tmp)
        else:
            tmp.write_bytes(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path
