"""Your own trained model: an uploaded .keras autoencoder, checked against a dataset and kept under the run cache.

The app never trains these. A .keras file is a zip holding config.json (the layers), metadata.json and the
weights; it is read bounded (aecore.limits: the file's size and its zip's directory, before anything is
unpacked), its config is read first so that a Lambda layer or a class that is not Keras's own is refused in
one sentence, and only then does Keras load it, in safe mode, with no custom objects: nothing in the file runs.
Its input and output shapes must both be one example's shape of the dataset it is stored for.

Accepted models live in <run cache>/.models/: each file named by its content's hash, with its name, the dataset it
was checked against (name and fingerprint), its parameters and its test errors in index.json, read back as
untrusted (a person may have edited it). One writer at a time (a file lock beside the index).
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import re
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path


from aecore import limits
from aecore import metrics as M
from aecore.datasets import Dataset
from aecore.datasets.catalogue import NAME_MAX, NAME_PATTERN
from aecore.errors import ModelError
from aecore.files import index_lock, read_index, write_atomic
from aecore.limits import mib
from aecore.paths import MODELS_FOLDER, cache_dir

INDEX_FILE = "index.json"
STORED_FILE = re.compile(r"[0-9a-f]{16}\.keras")  # the first 16 hex digits of the file's SHA-256
CONFIG_MEMBER = "config.json"
PARTS = ("encoder", "decoder")  # the sub-models aecore.models.inference reads codes through
ARCHITECTURE = "uploaded"  # what the Compare table says of its architecture
LOCK_TIMEOUT_S = 60.0
METRIC_KEYS = ("test_mse", "test_bce", "test_psnr")


@dataclass(frozen=True)
class StoredModel:
    """One stored model, as its index entry says it."""

    name: str
    path: Path  # its .keras file
    dataset: str  # the dataset it was checked against, by name
    fingerprint: str  # that dataset's contents when it was checked
    source: str  # the uploaded file's name
    parameters: int
    parts: bool  # whether it has sub-models named encoder and decoder
    metrics: dict[str, float]  # test_mse (per pixel or coordinate), test_bce (nats per pixel), test_psnr (dB)
    stored_at: float  # seconds since the epoch
    bottleneck: str | None = None  # its encoder's output shape, "7x7x8" as the Compare table writes a spec's
    bottleneck_size: int | None = None  # the values in it

    @property
    def key(self) -> str:
        """The model cache's key: its name and its file's content (a name stored again is another file)."""
        return f"uploaded.{self.name}.{self.path.stem}"

    def key_on(self, data: Dataset) -> str:
        """A key for the caches of what is derived from it on data: its file's content and data's."""
        return f"{self.key}.{data.fingerprint}"


@dataclass(frozen=True)
class UploadedModel:
    """A loaded model with its index entry (what the pages hold in the bounded model cache)."""

    stored: StoredModel
    model: object  # keras.Model


def check_name(name) -> None:
    """Raise ModelError unless name can name a stored model."""
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise ModelError(f"A model name is 1 to {NAME_MAX} letters, digits, '-' or '_', got {name!r}.")


def suggested_name(filename: str) -> str:
    """A name check_name accepts, from a file's name."""
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", Path(filename).stem).strip("-")[:NAME_MAX]
    return stem or "my-model"


def check_file_size(n_bytes: int, filename: str) -> None:
    """Raise ModelError if a file of n_bytes is over limits.MAX_MODEL_FILE_BYTES (asked before it is read)."""
    if n_bytes > limits.MAX_MODEL_FILE_BYTES:
        raise ModelError(f"'{filename}' is {mib(n_bytes)}, over the bound of {mib(limits.MAX_MODEL_FILE_BYTES)} "
                         "for a model file.")


def read_config(filename: str, content: bytes) -> dict:
    """The model's config.json, after the bounds on the file and its zip's directory; ModelError if the bytes are
    not a .keras file."""
    check_file_size(len(content), filename)
    not_keras = f"'{filename}' is not a Keras model file: save the model with model.save('name.keras')."
    if not zipfile.is_zipfile(io.BytesIO(content)):
        raise ModelError(not_keras)
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            members = archive.infolist()
            if len(members) > limits.MAX_MODEL_MEMBERS:
                raise ModelError(f"'{filename}' holds {len(members):,} files, over the bound of "
                                 f"{limits.MAX_MODEL_MEMBERS} for a model file.")
            unpacked = sum(member.file_size for member in members)
            if unpacked > limits.MAX_MODEL_UNPACKED_BYTES:
                raise ModelError(f"'{filename}' would unpack to {mib(unpacked)}, over the bound of "
                                 f"{mib(limits.MAX_MODEL_UNPACKED_BYTES)} for a model file.")
            config_member = next((m for m in members if m.filename == CONFIG_MEMBER), None)
            if config_member is None:
                raise ModelError(not_keras)
            if config_member.file_size > limits.MAX_MODEL_CONFIG_BYTES:
                raise ModelError(f"The config.json of '{filename}' is {mib(config_member.file_size)}, over the bound "
                                 f"of {mib(limits.MAX_MODEL_CONFIG_BYTES)}.")
            config = json.loads(archive.read(config_member))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, RuntimeError, NotImplementedError):
        raise ModelError(f"'{filename}' is a damaged zip archive, not a Keras model file.") from None
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):  # not JSON, or deeper than Python reads
        raise ModelError(f"The config.json of '{filename}' is not readable JSON, so it is not a Keras model "
                         "file.") from None
    if not isinstance(config, dict) or "class_name" not in config:
        raise ModelError(not_keras)
    return config


def check_no_code(filename: str, config: dict) -> None:
    """Raise ModelError if the config names a Lambda layer or a class that is not Keras's own: safe mode refuses
    the first, and loading the second would need its code, which is never run here."""
    for node in _nodes(config):
        class_name = node.get("class_name")
        if class_name in ("Lambda", "__lambda__"):
            raise ModelError(f"'{filename}' holds a Lambda layer, whose Python code is never run here; build the "
                             "model from Keras's own layers and upload it again.")
        module, registered = node.get("module"), node.get("registered_name")
        own = module is None or (isinstance(module, str) and (module == "keras" or module.startswith("keras.")))
        if not own or (isinstance(registered, str) and ">" in registered):
            raise ModelError(f"'{filename}' holds a layer of class '{class_name!s:.40}' that is not Keras's own, and "
                             "its code is never run here; build the model from Keras's own layers.")


def _nodes(tree):
    """Every dict in a parsed config that names a class (an explicit stack: configs nest deeply)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if "class_name" in node:
                yield node
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


def load_model_file(filename: str, content: bytes):
    """The keras.Model in an uploaded .keras file's bytes, loaded in safe mode with no custom objects after the
    checks of read_config and check_no_code; ModelError in one sentence otherwise."""
    check_no_code(filename, read_config(filename, content))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.keras"  # Keras loads a .keras file from a path of that suffix only
        path.write_bytes(content)
        return _load(path, filename)


def _load(path: Path, filename: str):
    import keras  # deferred: Keras, which listing the stored models need not import

    try:
        model = keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as exc:  # noqa: BLE001 - any failure of Keras on an untrusted file is the file's
        # Keras's own message, cut to its first sentence: the page and the CLI say one.
        text = str(exc).strip()
        reason = text.splitlines()[0].split(". ")[0][:160].rstrip(".") if text else type(exc).__name__
        raise ModelError(f"Keras could not load '{filename}' ({reason}).") from None
    if not isinstance(model, keras.Model):
        raise ModelError(f"'{filename}' holds a {type(model).__name__}, not a Keras model.")
    return model


def _shape_text(shape) -> str:
    return " x ".join("any" if d is None else str(d) for d in shape)


def _fits(model_shape: tuple, example_shape: tuple) -> bool:
    return len(model_shape) == len(example_shape) and all(m is None or m == e
                                                          for m, e in zip(model_shape, example_shape))


def check_fits(model, data: Dataset, filename: str = "this model") -> None:
    """Raise ModelError, saying what does not fit, unless model takes one example of data and gives one back of
    the same shape."""
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ModelError(f"'{filename}' has {len(model.inputs)} inputs and {len(model.outputs)} outputs; an "
                         "autoencoder has one of each.")
    example = tuple(data.input_shape)
    takes, gives = tuple(model.inputs[0].shape[1:]), tuple(model.outputs[0].shape[1:])
    if not _fits(takes, example):
        raise ModelError(f"'{filename}' takes examples of shape {_shape_text(takes)}, but '{data.name}' holds "
                         f"examples of shape {_shape_text(example)}; choose a dataset of its shape.")
    if not _fits(gives, example):
        raise ModelError(f"'{filename}' takes examples of shape {_shape_text(example)} but gives back "
                         f"{_shape_text(gives)}; an autoencoder gives back the shape it takes.")


def has_parts(model, data: Dataset | None = None) -> bool:
    """Whether model has sub-models named encoder and decoder (aecore.models.inference's parts), the encoder
    taking the model's input (or one of data's examples)."""
    import keras  # deferred: Keras

    try:
        encoder, decoder = (model.get_layer(name) for name in PARTS)
    except ValueError:
        return False
    if not (isinstance(encoder, keras.Model) and isinstance(decoder, keras.Model)) or len(encoder.inputs) != 1:
        return False
    example = tuple(data.input_shape) if data is not None else tuple(model.inputs[0].shape[1:])
    return _fits(tuple(encoder.inputs[0].shape[1:]), example)


def bottleneck(model) -> tuple[str, int] | None:
    """(shape as "7x7x8", values) of the encoder's first output, for a model with parts; None otherwise."""
    try:
        shape = tuple(model.get_layer(PARTS[0]).outputs[0].shape[1:])
    except (ValueError, AttributeError, IndexError):
        return None
    if not all(isinstance(d, int) for d in shape):
        return None
    return "x".join(map(str, shape)), math.prod(shape)


def parts_sentence(model_name: str) -> str:
    """What cannot be shown of a model without the parts, in one sentence."""
    return (f"'{model_name}' has no sub-models named encoder and decoder, so its codes cannot be read: the latent "
            "view and what its codes are worth need them (build it as keras.io's examples do, "
            "autoencoder = keras.Model(inputs, decoder(encoder(inputs)))).")


def test_errors(model, data: Dataset) -> dict[str, float]:
    """The model's errors on data's whole test split: test_mse (per pixel or coordinate), and for images test_bce
    (nats per pixel) and test_psnr (dB), as a trained run's metrics name them."""
    from aecore.models import reconstruct  # deferred: TensorFlow

    recon = reconstruct(model, data.x_test)
    if data.is_image:
        return M.image_metrics(data.x_test, recon)
    return {"test_mse": float(M.per_example_mse(data.x_test, recon).mean())}


def accept(filename: str, content: bytes, name: str, data: Dataset, root: str | os.PathLike | None = None
           ) -> StoredModel:
    """Check an uploaded .keras file against data and store it under name; the stored entry. ModelError (one
    sentence, nothing stored) when it is not a model Keras loads safely, does not fit data, or the name is
    taken by another model."""
    check_name(name)
    model = load_model_file(filename, content)
    check_fits(model, data, filename)
    errors = test_errors(model, data)
    parts = has_parts(model, data)
    code = bottleneck(model) if parts else None
    folder = _folder(root)
    file = f"{hashlib.sha256(content).hexdigest()[:16]}.keras"
    with _index_lock(folder):
        index = _read_index(folder)
        for other, raw in index.items():
            if (isinstance(raw, dict) and raw.get("file") == file and raw.get("dataset") == data.name
                    and other != name):
                raise ModelError(f"This model is stored already for '{data.name}', as '{other}'; use that name.")
        if name in index:
            same = isinstance(index[name], dict) and (index[name].get("file"), index[name].get("dataset")) == (
                file, data.name)
            if same and name in _entries(root):  # the same upload stored again: nothing to do
                return _entries(root)[name]
            raise ModelError(f"The name '{name}' is taken by another stored model; choose another.")
        index[name] = {
            "file": file, "dataset": data.name, "fingerprint": data.fingerprint, "source": str(filename)[:200],
            "parameters": int(model.count_params()), "parts": parts,
            "metrics": {k: v for k, v in errors.items() if math.isfinite(v)}, "stored_at": time.time(),
            "bottleneck": None if code is None else code[0], "bottleneck_size": None if code is None else code[1],
        }
        try:
            if not (folder / file).is_file():
                write_atomic(folder / file, content)
            write_atomic(folder / INDEX_FILE, json.dumps(index, indent=1, sort_keys=True).encode())
        except OSError as exc:
            raise ModelError(f"The model could not be written in {folder} ({exc.strerror or exc}).") from None
    return _entries(root)[name]


def remove(name: str, root: str | os.PathLike | None = None) -> None:
    """Delete the stored model of this name: its index entry, then its file unless another entry shares it."""
    folder = _folder(root)
    with _index_lock(folder):
        if name not in _entries(root):
            raise ModelError(f"There is no stored model named '{name}'.")
        index = _read_index(folder)
        file = index.pop(name)["file"]
        try:
            write_atomic(folder / INDEX_FILE, json.dumps(index, indent=1, sort_keys=True).encode())
            if not any(isinstance(raw, dict) and raw.get("file") == file for raw in index.values()):
                (folder / file).unlink(missing_ok=True)
        except OSError as exc:
            raise ModelError(f"The model could not be removed from {folder} ({exc.strerror or exc}).") from None


def stored_models(dataset: str | None = None, root: str | os.PathLike | None = None) -> list[StoredModel]:
    """The stored models (those checked against dataset, when given), by name."""
    return [m for _, m in sorted(_entries(root).items()) if dataset is None or m.dataset == dataset]


def stored(name: str, root: str | os.PathLike | None = None) -> StoredModel | None:
    """The stored model of this name, or None (also when its index entry is not well-formed)."""
    return _entries(root).get(name)


def load_stored(entry: StoredModel) -> UploadedModel:
    """A stored model loaded from its file, with the same checks as an upload (the file may have been replaced)."""
    try:
        content_size = entry.path.stat().st_size
    except OSError:
        raise ModelError(f"The file of the stored model '{entry.name}' is gone; upload it again.") from None
    check_file_size(content_size, entry.name)
    content = entry.path.read_bytes()
    check_no_code(entry.name, read_config(entry.name, content))
    return UploadedModel(entry, _load(entry.path, entry.name))


def _entries(root) -> dict[str, StoredModel]:
    """The index's well-formed entries: each names a file of this folder only, whatever an edited index says."""
    folder = _folder(root)
    entries = {}
    for name, raw in _read_index(folder).items():
        if not (isinstance(name, str) and NAME_PATTERN.fullmatch(name) and isinstance(raw, dict)):
            continue
        file, dataset, fingerprint = raw.get("file"), raw.get("dataset"), raw.get("fingerprint")
        parameters, parts, metrics, stored_at = (raw.get(k) for k in ("parameters", "parts", "metrics", "stored_at"))
        if not (isinstance(file, str) and STORED_FILE.fullmatch(file) and isinstance(dataset, str)
                and 0 < len(dataset) <= 500 and isinstance(fingerprint, str) and len(fingerprint) <= 64
                and isinstance(parameters, int) and not isinstance(parameters, bool) and parameters >= 0
                and isinstance(parts, bool) and isinstance(metrics, dict) and _is_number(stored_at)):
            continue
        metrics = {k: float(v) for k, v in metrics.items() if k in METRIC_KEYS and _is_number(v)}
        source = raw.get("source") if isinstance(raw.get("source"), str) else file
        code, size = raw.get("bottleneck"), raw.get("bottleneck_size")
        if not (isinstance(code, str) and len(code) <= 40 and isinstance(size, int) and not isinstance(size, bool)):
            code, size = None, None  # optional: an entry without it is still a model
        entries[name] = StoredModel(name, folder / file, dataset, fingerprint, source[:200], parameters, parts,
                                    metrics, float(stored_at), code, size)
    return entries


def _is_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _folder(root) -> Path:
    return cache_dir(root) / MODELS_FOLDER


def _read_index(folder: Path) -> dict:
    return read_index(folder / INDEX_FILE)


def _index_lock(folder: Path) -> index_lock:
    return index_lock(folder, ModelError, "model", LOCK_TIMEOUT_S)

