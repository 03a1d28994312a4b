"""On-disk run cache. Key = hash(config, data fingerprint, aecore and keras versions).

An entry is a folder <key>/ holding model.keras, run.json and arrays.npz. It is
written in a temporary folder and renamed into place, and removed by renaming it
away first, so a reader never sees half an entry. A damaged entry is discarded
(and retrained by the caller). The least recently used entries go first when the
total size passes the bound. Several processes may share one folder.
"""

from __future__ import annotations

import hashlib
import functools
import importlib.metadata
import json
import math
import os
import re
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from aecore import __version__
from aecore.config import RunConfig
from aecore.errors import StoreError
from aecore.files import TMP_PREFIX, remove, write_atomic
from aecore.models import check_shape, custom_objects
from aecore.paths import default_cache_dir
from aecore.run import Run

DEFAULT_MAX_BYTES = 512 * 2**20
ENTRY_FILES = ("model.keras", "run.json", "arrays.npz")
RUN_KEY = re.compile(r"[0-9a-f]{24}")  # run_key's names: other folders here (uploads, classifiers) are no entries
STALE_TMP_S = 3600  # a temporary folder this old is a crashed writer's leftover


def run_key(config: RunConfig, data_fingerprint: str) -> str:
    """The entry name of a run: a stable hash of what determines it."""
    text = json.dumps([config.key_dict(), data_fingerprint, __version__, _keras_version()], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


@functools.cache
def _keras_version() -> str:
    # From its metadata, so that using the store does not import keras; once, as every entry listed asks for it.
    return importlib.metadata.version("keras")


class RunStore:
    """A folder of saved runs, safe for several threads and processes."""

    def __init__(self, root: str | os.PathLike | None = None, max_bytes: int = DEFAULT_MAX_BYTES):
        self.root = Path(root) if root is not None else default_cache_dir()
        self.max_bytes = max_bytes
        # One sentence per problem found and handled (damaged entry, folder deleted), for the UI to tell once.
        self.problems: list[str] = []
        self._root_seen = self.root.is_dir()  # to notice the folder being deleted while in use

    def take_problems(self) -> list[str]:
        """The problems found since the last call, and forget them."""
        taken, self.problems = self.problems, []
        return taken

    def check_writable(self) -> None:
        """Raise StoreError with one sentence if the cache folder cannot be created or written."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=self.root):
                pass
        except OSError:
            raise StoreError(
                f"The cache folder '{self.root}' cannot be written; pass another with --cache-dir."
            ) from None
        self._root_seen = True

    def path(self, key: str) -> Path:
        return self.root / key

    def contains(self, config: RunConfig, data_fingerprint: str) -> bool:
        return _is_complete(self.path(run_key(config, data_fingerprint)))

    def load(self, config: RunConfig, data_fingerprint: str):
        """The saved run, or None when absent or damaged (a damaged entry is removed)."""
        return self.load_key(run_key(config, data_fingerprint))

    def load_key(self, key: str):
        """The run saved under key (cached=True), or None; damage is discarded and noted in problems."""
        entry = self.path(key)
        if not entry.is_dir():
            self._note_if_root_deleted()
            return None
        part = ["run.json"]  # the file being read when something fails, to name it
        try:
            run = read_entry(entry, lambda meta: _check_meta(meta, key), part)
        except Exception:  # any damage at all means: discard and retrain
            if entry.is_dir():
                self.discard(key, f"its {part[0]} is missing or damaged")
            else:  # removed meanwhile (evicted by another process, or the folder was deleted)
                self._note_if_root_deleted()
            return None
        try:
            os.utime(entry / "run.json")  # least-recently-used bookkeeping
        except OSError:
            pass  # evicted by another process since: the run in hand is still good
        return run

    def discard(self, key: str, why: str) -> None:
        """Remove a damaged entry and note it in problems."""
        self.problems.append(
            f"A damaged run-cache entry ({key[:8]}: {why}) was discarded; the run will be trained again."
        )
        remove(self.path(key))

    def save(self, run) -> Path | None:
        """Write run atomically and evict old entries; the entry's path, or None if it could not be kept.

        If another process saved the same run first, theirs is kept (it is equally valid).
        """
        key = run_key(run.config, run.data_fingerprint)
        for attempt in range(2):  # the folder may be deleted under us once (a user clearing caches)
            try:
                self._write(run, key)
                break
            except OSError as exc:
                if attempt:
                    self.problems.append(
                        f"The run could not be saved in the cache folder '{self.root}' ({exc.strerror or exc}); "
                        "it will be trained again next time."
                    )
                    return None
        self.evict()
        if not self.path(key).is_dir():
            self.problems.append(
                f"The run is larger than the cache's size bound ({self.max_bytes / 2**20:.1f} MiB), so it was not kept."
            )
            return None
        return self.path(key)

    def _write(self, run, key: str) -> None:
        self._note_if_root_deleted()
        self.root.mkdir(parents=True, exist_ok=True)
        self._root_seen = True
        final = self.path(key)

        def write(tmp: Path) -> None:
            write_entry(run, tmp, key)

        try:
            write_atomic(final, write)  # the rename fails when final exists and is not empty
        except OSError:
            if _is_complete(final):
                return  # another process saved the same run first
            remove(final)
            write_atomic(final, write)

    def entries(self) -> list[dict]:
        """run.json of every complete entry, newest first; damaged, edited or vanishing ones are skipped, so every
        field a reader takes from one has the type the store wrote (_check_meta) and "key" names its entry."""
        metas = [meta for entry in self._entry_dirs() if (meta := self.meta(entry.name)) is not None]
        return sorted(metas, key=lambda meta: meta["trained_at"], reverse=True)

    def meta(self, key: str) -> dict | None:
        """The run.json of the complete entry key (with "key"), checked as entries() checks it; None otherwise.
        One file read, no model loaded."""
        entry = self.path(key)
        try:
            meta = json.loads((entry / "run.json").read_text())
            _check_meta(meta, key)
        except (OSError, ValueError):  # UnicodeDecodeError, ConfigError and DataError among them
            return None
        return {**meta, "key": key} if _is_complete(entry) else None

    def size_bytes(self) -> int:
        """Total size of the folder in bytes."""
        return _tree_size(self.root)

    def evict(self) -> None:
        """Remove least recently used entries until the total size is within max_bytes."""
        sized = []
        for entry in self._entry_dirs():
            try:
                used = (entry / "run.json").stat().st_mtime
            except OSError:
                used = 0.0  # incomplete or vanishing: first to go
            sized.append((used, entry, _tree_size(entry)))
        total = sum(size for _, _, size in sized)
        for _, entry, size in sorted(sized, key=lambda s: s[0]):
            if total <= self.max_bytes:
                break
            remove(entry)
            total -= size

    def _entry_dirs(self) -> list[Path]:
        """The entry folders now present; also clears stale temporary folders."""
        try:
            children = list(os.scandir(self.root))
        except OSError:
            return []
        entries = []
        for child in children:
            if child.name.startswith(TMP_PREFIX):
                try:
                    if time.time() - child.stat().st_mtime > STALE_TMP_S:
                        shutil.rmtree(child.path, ignore_errors=True)
                except OSError:
                    pass
            elif RUN_KEY.fullmatch(child.name) and child.is_dir():
                entries.append(Path(child.path))
        return entries

    def _note_if_root_deleted(self) -> None:
        if self._root_seen and not self.root.is_dir():
            self._root_seen = False
            self.problems.append(f"The run-cache folder '{self.root}' was deleted while in use; it will be recreated.")


def write_entry(run: Run, folder: Path, key: str) -> None:
    """Make folder and write run's entry in it: model.keras, arrays.npz (its replay) and run.json."""
    from aecore.models.inference import example_shape  # deferred: TensorFlow, which a model has loaded already

    folder.mkdir()
    run.model.save(folder / "model.keras")
    np.savez(folder / "arrays.npz", **({"replay": run.replay} if run.replay is not None else {}))
    meta = {
        "key": key,
        "config": run.config.to_dict(),
        "history": run.history,
        "metrics": run.metrics,
        "data_fingerprint": run.data_fingerprint,
        "trained_at": run.trained_at,
        "placement": run.placement,
        "parameters": int(run.model.count_params()),
        "input_shape": list(example_shape(run.model)),
        "aecore_version": __version__,
    }
    (folder / "run.json").write_text(json.dumps(meta))


def read_entry(folder: Path, check, part: list[str] | None = None) -> Run:
    """The run of an entry folder (cached=True), loaded with Keras's safe mode (no code in the file runs).

    check(meta) returns (config, data fingerprint) or raises when run.json does not describe what the caller
    wants; anything damaged raises. part[0] names the file being read, for the caller's message.
    """
    import keras  # deferred: a store that only lists or saves need not import it

    part = part if part is not None else [""]
    part[0] = "run.json"
    meta = json.loads((folder / "run.json").read_text())
    config, fingerprint = check(meta)
    part[0] = "model.keras"
    model = keras.models.load_model(folder / "model.keras", custom_objects=custom_objects(), compile=False,
                                    safe_mode=True)
    part[0] = "arrays.npz"
    with np.load(folder / "arrays.npz", allow_pickle=False) as arrays:
        replay = arrays["replay"] if "replay" in arrays.files else None
    return Run(config, model, meta["history"], meta["metrics"], fingerprint, replay, True, meta["trained_at"],
               meta.get("placement"))


def _check_meta(meta, key: str) -> tuple[RunConfig, str]:
    """The config and data fingerprint of a run.json, if it really describes the entry key; ValueError otherwise.

    Read back as untrusted, like an upload: a person may have edited it, so every field that the store, the
    Compare table and the pages read is checked for its type here, where a bad one means a damaged entry.
    """
    if not isinstance(meta, dict):
        raise ValueError("run.json is not an object")
    history, metrics = meta.get("history"), meta.get("metrics")
    if not isinstance(history, dict) or not all(
            isinstance(name, str) and isinstance(values, list) and all(map(_is_number, values))
            for name, values in history.items()):
        raise ValueError("run.json's history is not lists of numbers by name")
    if not isinstance(metrics, dict) or not all(map(_is_number, metrics.values())) or "seconds" not in metrics:
        raise ValueError("run.json's metrics are not numbers by name")
    config, fingerprint = RunConfig.from_dict(meta.get("config")), meta.get("data_fingerprint")  # ConfigError
    if not isinstance(fingerprint, str) or run_key(config, fingerprint) != key or meta.get("key", key) != key:
        raise ValueError("run.json belongs to another entry")
    if not _is_number(meta.get("trained_at")) or not math.isfinite(meta["trained_at"]):
        raise ValueError("run.json's time of training is not a number")
    if not (meta.get("placement") is None or isinstance(meta["placement"], dict)):
        raise ValueError("run.json's placement is not an object")
    parameters = meta.get("parameters")
    if not (parameters is None or (_is_number(parameters) and isinstance(parameters, int) and parameters >= 0)):
        raise ValueError("run.json's parameter count is not a whole number")
    shape = meta.get("input_shape")  # absent in runs stored before it was recorded
    if shape is not None:
        if not isinstance(shape, list) or len(shape) not in (1, 3) or not all(
                isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in shape):
            raise ValueError("run.json's input shape is not a shape")
        check_shape(config.arch, tuple(shape))  # DataError, a ValueError
    return config, fingerprint


def _is_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _is_complete(entry: Path) -> bool:
    return all((entry / f).is_file() for f in ENTRY_FILES)


def _tree_size(path: Path) -> int:
    total = 0
    for folder, _, files in os.walk(path):  # os.walk skips folders that vanish
        for name in files:
            try:
                total += os.stat(os.path.join(folder, name)).st_size
            except OSError:
                pass  # removed meanwhile
    return total
