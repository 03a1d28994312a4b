"""Where aecore keeps things on disk: the run cache's root, and the folders beside the runs in it.

A leaf: the store, the stored uploads and the classifier cache all find their folders here.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
from pathlib import Path

# Under the run cache's root. Dot folders are never taken for run entries (those are named as run keys).
DATASETS_FOLDER = ".datasets"  # stored uploads: content-addressed .npz files and their index
CLASSIFIERS_FOLDER = ".classifiers"  # the VAE lab's sample-quality classifiers
MODELS_FOLDER = ".models"  # uploaded Keras models: content-addressed .keras files and their index

_CACHE_ROOT: contextvars.ContextVar[str | None] = contextvars.ContextVar("aecore_cache_root", default=None)


def default_cache_dir() -> Path:
    """AECORE_CACHE_DIR, else the user's cache folder (XDG_CACHE_HOME or ~/.cache)/aecore."""
    if os.environ.get("AECORE_CACHE_DIR"):
        return Path(os.environ["AECORE_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "aecore"


@contextlib.contextmanager
def cache_root(root: str | os.PathLike | None):
    """Within this block, stored datasets are looked up under root (the CLI's --cache-dir); None: the default."""
    token = _CACHE_ROOT.set(None if root is None else str(root))
    try:
        yield
    finally:
        _CACHE_ROOT.reset(token)


def cache_dir(root: str | os.PathLike | None = None) -> Path:
    """root if given, else the one cache_root() set, else default_cache_dir()."""
    if root is not None:
        return Path(root)
    chosen = _CACHE_ROOT.get()
    return Path(chosen) if chosen is not None else default_cache_dir()
