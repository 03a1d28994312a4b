"""On-disk run cache. Key = hash(config, data fingerprint, aecore version).

An entry is a folder <key>/ holding model.keras, run.json and arrays.npz. It is
written in a temporary folder and renamed into place, so a reader never sees half
an entry; a damaged entry is discarded (and retrained by the caller). The least
recently used entries go first when the total size passes the bound.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
import uuid
from pathlib import Path

import keras
import numpy as np

from aecore import __version__
from aecore.config import RunConfig

DEFAULT_MAX_BYTES = 512 * 2**20
_FILES = ("model.keras", "run.json", "arrays.npz")


class StoreError(OSError):
    """The cache folder cannot be used; the message is one sentence."""


def default_cache_dir() -> Path:
    """AECORE_CACHE_DIR, else the user's cache folder (XDG_CACHE_HOME or ~/.cache)/aecore."""
    if os.environ.get("AECORE_CACHE_DIR"):
        return Path(os.environ["AECORE_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "aecore"


def run_key(config: RunConfig, data_fingerprint: str) -> str:
    text = json.dumps([config.to_dict(), data_fingerprint, __version__, keras.__version__], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


class RunStore:
    """A folder of saved runs. Safe for several processes: writes are atomic renames."""

    def __init__(self, root: str | os.PathLike | None = None, max_bytes: int = DEFAULT_MAX_BYTES):
        self.root = Path(root) if root is not None else default_cache_dir()
        self.max_bytes = max_bytes
        self.problems: list[str] = []  # damaged entries found and discarded, for the UI to tell once

    def check_writable(self) -> None:
        """Raise StoreError with one sentence if the cache folder cannot be created or written."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=self.root):
                pass
        except OSError:
            raise StoreError(f"The cache folder '{self.root}' cannot be written; pass another with --cache-dir.") from None

    def path(self, key: str) -> Path:
        return self.root / key

    def contains(self, config: RunConfig, data_fingerprint: str) -> bool:
        return (self.path(run_key(config, data_fingerprint)) / "run.json").is_file()

    def load(self, config: RunConfig, data_fingerprint: str):
        """The saved run, or None when absent or damaged (a damaged entry is removed)."""
        return self.load_key(run_key(config, data_fingerprint))

    def load_key(self, key: str):
        from aecore.train import Run

        entry = self.path(key)
        if not entry.is_dir():
            return None
        try:
            meta = json.loads((entry / "run.json").read_text())
            if meta.get("key") != key:
                raise ValueError("key mismatch")
            model = keras.models.load_model(entry / "model.keras", compile=False)
            with np.load(entry / "arrays.npz", allow_pickle=False) as arrays:
                replay = arrays["replay"] if "replay" in arrays.files else None
            config = RunConfig.from_dict(meta["config"])
            run = Run(config, model, meta["history"], meta["metrics"], meta["data_fingerprint"], replay, True, meta["trained_at"])
        except Exception as exc:  # any damage at all means: discard and retrain
            self.discard(key, f"{type(exc).__name__}: {exc}")
            return None
        os.utime(entry / "run.json")  # least-recently-used bookkeeping
        return run

    def discard(self, key: str, why: str) -> None:
        self.problems.append(f"A damaged cache entry ({key[:8]}) was discarded and will be retrained ({why[:120]}).")
        shutil.rmtree(self.path(key), ignore_errors=True)

    def save(self, run) -> Path:
        """Write run atomically; if another process saved the same key first, keep theirs."""
        key = run_key(run.config, run.data_fingerprint)
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.root / f".tmp-{key}-{uuid.uuid4().hex[:8]}"
        tmp.mkdir()
        try:
            run.model.save(tmp / "model.keras")
            arrays = {"replay": run.replay} if run.replay is not None else {}
            np.savez(tmp / "arrays.npz", **arrays)
            meta = {
                "key": key,
                "config": run.config.to_dict(),
                "history": run.history,
                "metrics": run.metrics,
                "data_fingerprint": run.data_fingerprint,
                "trained_at": run.trained_at,
                "parameters": int(run.model.count_params()),
                "aecore_version": __version__,
            }
            # run.json last: an entry without it is incomplete by construction.
            (tmp / "run.json").write_text(json.dumps(meta))
            final = self.path(key)
            try:
                os.rename(tmp, final)
            except OSError:
                if not (final / "run.json").is_file():
                    shutil.rmtree(final, ignore_errors=True)
                    os.rename(tmp, final)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        self.evict(keep=key)
        return self.path(key)

    def entries(self) -> list[dict]:
        """run.json of every complete entry, newest first (damaged ones are skipped)."""
        metas = []
        if not self.root.is_dir():
            return metas
        for entry in self.root.iterdir():
            if entry.name.startswith(".tmp-"):
                continue
            try:
                meta = json.loads((entry / "run.json").read_text())
                if all((entry / f).is_file() for f in _FILES):
                    metas.append(meta)
            except (OSError, ValueError):
                continue
        return sorted(metas, key=lambda m: m.get("trained_at", 0), reverse=True)

    def size_bytes(self) -> int:
        return sum(f.stat().st_size for f in self.root.rglob("*") if f.is_file()) if self.root.is_dir() else 0

    def evict(self, keep: str | None = None) -> None:
        """Remove least recently used entries until the total size is within max_bytes."""
        sized = []
        for entry in self.root.iterdir():
            if entry.name.startswith(".tmp-"):
                # A temporary folder older than an hour is a crashed writer's leftover.
                if time.time() - entry.stat().st_mtime > 3600:
                    shutil.rmtree(entry, ignore_errors=True)
                continue
            try:
                used = (entry / "run.json").stat().st_mtime
            except OSError:
                used = 0.0  # incomplete: first to go
            size = sum(f.stat().st_size for f in entry.rglob("*") if f.is_file())
            sized.append((used, entry.name, size))
        total = sum(s for _, _, s in sized)
        for _, name, size in sorted(sized):
            if total <= self.max_bytes:
                break
            if name == keep:
                continue
            shutil.rmtree(self.root / name, ignore_errors=True)
            total -= size
