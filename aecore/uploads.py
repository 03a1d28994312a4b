"""Your own data: an uploaded .npz, .zip of images or .csv of vectors, previewed, then stored by name.

inspect() reads an upload into a Preview (what was found, nothing written); accept() stores
it content-addressed under <run cache>/.datasets/ with a readable name in index.json, after
which load_dataset(name) and the CLI's --dataset name find it. The upload is untrusted: sizes
are checked on headers and the zip's directory before anything is decoded in full, and every
problem is a DataError of one sentence, with nothing written.
"""

from __future__ import annotations

import collections
import contextlib
import contextvars
import copy
import csv
import fcntl
import functools
import io
import json
import math
import os
import re
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np

from aecore import data as D
from aecore.data import DataError
from aecore.files import write_atomic

FORMATS = ".npz, .zip of PNG/JPEG images, or .csv of numbers"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
IMAGE_FORMATS = ("PNG", "JPEG")
GREY_MODES = ("1", "L", "LA", "I", "I;16", "F")  # every other PIL mode is read as RGB
MAX_ZIP_MEMBERS = 100_000
MAX_ZIP_BYTES = 512 * 2**20  # the zip's total uncompressed size, from its directory
MAX_IMAGE_FILE_BYTES = 4 * 2**20  # one image file, uncompressed from the zip
MAX_ZIP_RATIO = 100  # PNG and JPEG are compressed already: a member that deflates far more is a bomb
MAX_CSV_CELLS = 50_000_000
TEST_FRACTION = 0.2
SPLIT_SEED = 0
N_EXAMPLES = 16  # images or vectors a preview shows
NAME_CHARACTERS = "A-Za-z0-9_-"  # as a regular expression's character class holds them
NAME_MAX = 40
NAME_PATTERN = re.compile(f"[{NAME_CHARACTERS}]{{1,{NAME_MAX}}}")
UPLOAD_TYPES = ("npz", "zip", "csv")  # the file name endings an uploader offers; inspect() goes by content too
DATASETS_FOLDER = ".datasets"  # under the run cache's root: dot folders are never taken for run entries
INDEX_FILE = "index.json"
STORED_FILE = re.compile(r"[0-9a-f]{16}\.npz")  # a Dataset fingerprint


@dataclass(frozen=True, eq=False)
class Preview:
    """What an upload holds, before it is stored: enough for a user to say yes or no."""

    filename: str
    format: str  # 'npz', 'zip' or 'csv'
    kind: str  # 'images' or 'vectors'
    n: int  # examples in the file
    n_train: int  # examples that would be stored (fewer than n when over the budget)
    n_test: int
    example_shape: tuple[int, ...]
    value_range: tuple[float, float]  # min and max as found in the file, before scaling to [0, 1]
    label_names: tuple[str, ...] | None  # label i is label_names[i]; None when unlabelled
    label_counts: tuple[int, ...] | None  # examples per label, train and test together
    examples: np.ndarray = field(repr=False)  # up to N_EXAMPLES examples, as they would be stored
    float32_bytes: int  # memory of the whole file's examples as float32
    budget_bytes: int
    suggested_subsample: int | None  # the most examples that fit the budget; None when all fit
    dataset: D.Dataset | None = field(repr=False)  # None when over the budget (not decoded in full)
    content: bytes = field(repr=False)

    @property
    def over_budget(self) -> bool:
        return self.suggested_subsample is not None


def inspect(filename: str, content: bytes, budget_bytes: int | None = None, subsample: int | None = None) -> Preview:
    """Read an upload; raise DataError (one sentence) if it is not a dataset this app can use.

    Over the budget, only the first N_EXAMPLES are decoded (for the preview) unless subsample
    names how many randomly chosen examples to keep instead.
    """
    budget = D.MAX_DATASET_BYTES if budget_bytes is None else budget_bytes
    if subsample is not None and (isinstance(subsample, bool) or not isinstance(subsample, int) or subsample < 2):
        raise DataError(f"A subsample must be a whole number of at least 2 examples, got {subsample}.")
    fmt = _format(filename, content)
    reader = {"npz": _read_npz, "zip": _read_zip, "csv": _read_csv}[fmt]
    return reader(filename, content, budget, subsample)


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


def check_name(name) -> None:
    """Raise DataError unless name can name a stored dataset."""
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise DataError(f"A dataset name is 1 to {NAME_MAX} letters, digits, '-' or '_', got {name!r}.")
    if name.lower() in {n.lower() for n in D.DATASETS} or name.lower() == "npz":
        raise DataError(f"'{name}' is the name of a built-in dataset; choose another.")


def suggested_name(filename: str) -> str:
    """A name check_name accepts, from a file's name: its stem with what a name may not hold replaced, prefixed
    with 'my-' where the stem is a built-in's name."""
    stem = re.sub(f"[^{NAME_CHARACTERS}]+", "-", PurePosixPath(filename).stem).strip("-")[:NAME_MAX]
    for name in (stem, f"my-{stem}"[:NAME_MAX]):
        try:
            check_name(name)
            return name
        except DataError:
            pass
    return "my-data"


def stored_datasets(root: str | os.PathLike | None = None) -> list[str]:
    """The names of the stored uploads, sorted."""
    return sorted(_entries(root))


def stored_path(name: str, root: str | os.PathLike | None = None) -> Path | None:
    """The .npz file of a stored dataset, or None when no upload has this name."""
    entry = _entries(root).get(name)
    return None if entry is None else _folder(root) / entry["file"]


def stored_kind(name: str, root: str | os.PathLike | None = None) -> str | None:
    """'images' or 'vectors' for a stored dataset, None when no upload has this name."""
    entry = _entries(root).get(name)
    return None if entry is None else entry.get("kind")


def stored_label_names(name: str, root: str | os.PathLike | None = None) -> list[str] | None:
    """The class names of a stored dataset (label i is names[i]), or None."""
    entry = _entries(root).get(name)
    return None if entry is None else entry.get("label_names")


def _entries(root) -> dict[str, dict]:
    """The index's well-formed entries: each names a file of this folder only, whatever an edited index says."""
    return {name: entry for name, entry in _read_index(_folder(root)).items()
            if isinstance(entry, dict) and STORED_FILE.fullmatch(str(entry.get("file")))}


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
    arrays = D._read_npz(io.BytesIO(content), filename, budget)
    dataset = D.npz_dataset(filename, arrays)  # validated: both hold numbers, finite, in range
    raw = (arrays["x_train"], arrays["x_test"])
    value_range = (min(float(a.min()) for a in raw), max(float(a.max()) for a in raw))
    labels = None
    if dataset.y_train is not None:
        labels = np.concatenate([dataset.y_train, dataset.y_test])
        if labels.min() < 0:
            raise DataError(f"The labels of '{filename}' must be 0 or more, got {labels.min()}.")
    return _preview(filename, "npz", dataset, len(dataset.x_train) + len(dataset.x_test), value_range,
                    None, labels, budget, content)


def _read_zip(filename, content, budget, subsample) -> Preview:
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
    except (zipfile.BadZipFile, OSError, ValueError):
        raise DataError(f"'{filename}' is a damaged zip archive.") from None
    with archive:
        members = _image_members(filename, archive)
        paths = [PurePosixPath(m.filename) for m in members]
        # Folders inside every path in common (a zipped folder) say nothing; a folder per class does.
        common = os.path.commonpath([str(p.parent) for p in paths]) if paths else ""
        depth = len(PurePosixPath(common).parts) if common else 0
        classes = [p.parts[depth] if len(p.parts) > depth + 1 else None for p in paths]
        if any(c is None for c in classes) or len(set(classes)) < 2:
            classes = None
        sizes, grey = [], True
        for member in members:  # headers only: PIL reads the size and mode without decoding pixels
            with _open_image(filename, archive, member) as image:
                sizes.append(image.size)
                grey = grey and image.mode in GREY_MODES
        (width, height), most = collections.Counter(sizes).most_common(1)[0]
        if most < len(sizes):
            odd = next(i for i, s in enumerate(sizes) if s != (width, height))
            w, h = sizes[odd]
            raise DataError(f"'{members[odd].filename}' is {w} wide by {h} high but most images are {width} wide "
                            f"by {height} high; all images must have one size.")
        D.check_image_size(height, width, "Images")
        channels = 1 if grey else 3
        n = len(members)
        if n < 2:
            raise DataError(f"'{filename}' holds {n} image; a dataset needs at least 2 (one to train, one to test).")
        per_example = height * width * channels * 4
        chosen, fits = _choose(n, per_example, budget, subsample)
        x = np.empty((len(chosen), height, width, channels), np.uint8)
        for row, i in enumerate(chosen):
            with _open_image(filename, archive, members[i]) as image:
                pixels = _pixels(filename, members[i].filename, image, channels)
            x[row] = pixels.reshape(height, width, channels)
    names = tuple(sorted(set(classes))) if classes else None
    labels = None if names is None else np.array([names.index(c) for c in classes], np.int64)
    value_range = (float(x.min()), float(x.max()))
    dataset = _split(filename, x.astype(np.float32) / np.float32(255), None if labels is None else labels[chosen])
    return _preview(filename, "zip", dataset if fits else None, n, value_range, names, labels, budget, content,
                    examples=x[:N_EXAMPLES].astype(np.float32) / np.float32(255), full_bytes=n * per_example)


def _image_members(filename: str, archive: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    """The zip's image files in name order, after checks on its directory alone (bombs, counts, types)."""
    infos = archive.infolist()
    if len(infos) > MAX_ZIP_MEMBERS:
        raise DataError(f"'{filename}' holds {len(infos)} files; the limit is {MAX_ZIP_MEMBERS}.")
    total = sum(i.file_size for i in infos)
    if total > MAX_ZIP_BYTES:
        raise DataError(f"'{filename}' would unpack to {mib(total)}; the limit is {mib(MAX_ZIP_BYTES)}.")
    members = []
    for info in sorted(infos, key=lambda i: i.filename):
        path = PurePosixPath(info.filename)
        # Folders, and the files macOS and Windows add when zipping, are not data.
        if info.is_dir() or path.parts[0] == "__MACOSX" or path.name.startswith(".") or path.name == "Thumbs.db":
            continue
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            raise DataError(f"'{info.filename}' in '{filename}' is not a PNG or JPEG image; "
                            "a zip must hold images only.")
        if info.file_size > MAX_IMAGE_FILE_BYTES or info.file_size > MAX_ZIP_RATIO * max(info.compress_size, 1):
            raise DataError(f"'{info.filename}' in '{filename}' unpacks to {mib(info.file_size)} "
                            "from far less, like a zip bomb; it is refused.")
        members.append(info)
    if not members:
        raise DataError(f"'{filename}' holds no PNG or JPEG images.")
    return members


def _open_image(filename: str, archive: zipfile.ZipFile, info: zipfile.ZipInfo):
    from PIL import Image

    try:
        with archive.open(info) as member:
            # The directory's size was checked; zipfile stops at it and checks the CRC.
            raw = member.read(MAX_IMAGE_FILE_BYTES + 1)
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(raw), formats=IMAGE_FORMATS)
        return image
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise DataError(f"'{info.filename}' in '{filename}' has more pixels than any image allowed.") from None
    except Exception:  # PIL and zlib raise many kinds for a damaged file
        raise DataError(f"'{info.filename}' in '{filename}' is damaged or not a PNG or JPEG image.") from None


def _pixels(filename: str, member: str, image, channels: int) -> np.ndarray:
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            if image.mode in ("I", "I;16", "I;16B", "I;16L"):
                # 16-bit grey: PIL's convert("L") would clip every value above 255 to white.
                wide = np.asarray(image, dtype=np.float64) / 257
                grey = np.clip(np.rint(wide), 0, 255).astype(np.uint8)
                return grey if channels == 1 else np.repeat(grey[..., None], 3, axis=-1)
            if image.mode == "P" or image.mode in ("RGBA", "LA", "PA"):
                # Transparent pixels over white, as an image viewer shows them.
                rgba = image.convert("RGBA")
                background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
                image = Image.alpha_composite(background, rgba)
            return np.asarray(image.convert("L" if channels == 1 else "RGB"), dtype=np.uint8)
    except Exception:
        raise DataError(f"'{member}' in '{filename}' is damaged; its pixels cannot be decoded.") from None


def _read_csv(filename, content, budget, subsample) -> Preview:
    # Parsed, every cell is a Python string in a list: refuse a file too big for that from its bytes alone.
    # No row has more cells than its commas plus one, so commas plus lines bounds the cells.
    lines = max(content.count(b"\n"), content.count(b"\r")) + 1
    cells = content.count(b",") + lines
    if cells > MAX_CSV_CELLS:
        raise DataError(f"'{filename}' has up to {cells:,} cells; the limit is {MAX_CSV_CELLS:,}.")
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DataError(f"'{filename}' is not UTF-8 text, so it is not a CSV file.") from None
    rows = [r for r in csv.reader(io.StringIO(text)) if any(cell.strip() for cell in r)]
    if not rows:
        raise DataError(f"'{filename}' holds no rows.")
    header = None
    if any(not _is_number(cell) for cell in rows[0]):
        header = [cell.strip() for cell in rows[0]]
        rows = rows[1:]
    width = len(header) if header else len(rows[0]) if rows else 0
    label_col = None
    if header:
        lower = [h.lower() for h in header]
        label_col = lower.index("label") if "label" in lower else None
    n = len(rows)
    dim = width - (label_col is not None)
    if n < 2:
        raise DataError(f"'{filename}' holds {n} row; a dataset needs at least 2 (one to train, one to test).")
    if not 1 <= dim <= D.MAX_VECTOR_DIM:
        raise DataError(f"Rows of '{filename}' must have 1 to {D.MAX_VECTOR_DIM} numbers, got {dim}.")
    per_example = dim * 4
    chosen, fits = _choose(n, per_example, budget, subsample)
    first = 2 if header else 1  # the file's line number of rows[0], for messages
    for i, row in enumerate(rows):
        if len(row) != width:
            raise DataError(f"Row {first + i} of '{filename}' has {len(row)} cells but the first row has {width}.")
        if label_col is not None and not row[label_col].strip():
            raise DataError(f"Row {first + i} of '{filename}' has no label; label every row or none.")
    x = np.empty((len(chosen), dim), np.float32)
    for out, i in enumerate(chosen):
        values = []
        for col, cell in enumerate(rows[i]):
            if col == label_col:
                continue
            try:
                value = float(cell)
            except ValueError:
                value = math.nan
            if not math.isfinite(value):
                column = header[col] if header else str(col + 1)
                raise DataError(f"Row {first + i}, column '{column}' of '{filename}' holds {cell.strip()!r}, "
                                "not a number.")
            values.append(value)
        x[out] = values
    names, labels = None, None
    if label_col is not None:
        cells = [row[label_col].strip() for row in rows]
        # Whole-number labels keep their numbers' order; other labels sort as text.
        names = tuple(sorted(set(cells), key=lambda s: (0, int(s), s) if _is_int(s) else (1, 0, s)))
        code = {s: k for k, s in enumerate(names)}
        labels = np.array([code[s] for s in cells], np.int64)
    value_range = (float(x.min()), float(x.max()))
    dataset = _split(filename, x, None if labels is None else labels[chosen])
    return _preview(filename, "csv", dataset if fits else None, n, value_range, names, labels, budget, content,
                    examples=x[:N_EXAMPLES], full_bytes=n * per_example)


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _is_int(s: str) -> bool:
    try:
        int(s)
    except ValueError:
        return False
    return True


# --- shared ----------------------------------------------------------------------------------


def _choose(n: int, per_example: int, budget: int, subsample: int | None) -> tuple[np.ndarray, bool]:
    """Which examples to decode, and whether they are the dataset (False: only a preview's few)."""
    fits = max(budget // per_example, 0)
    if subsample is not None:
        if subsample > fits:
            raise DataError(f"A subsample of {subsample} examples is over the memory budget of {mib(budget)}; "
                            f"keep at most {fits}.")
        if subsample >= n:
            return np.arange(n), True
        return np.sort(np.random.default_rng(SPLIT_SEED).choice(n, subsample, replace=False)), True
    if n <= fits:
        return np.arange(n), True
    return np.arange(min(n, N_EXAMPLES)), False


def _split(filename: str, x: np.ndarray, y: np.ndarray | None) -> D.Dataset:
    n_test = max(1, round(len(x) * TEST_FRACTION))
    return D._split(filename, x, y, n_test, seed=SPLIT_SEED)


def _preview(filename, fmt, dataset, n, value_range, names, labels, budget, content,
             examples=None, full_bytes=None) -> Preview:
    full_bytes = dataset.x_train.nbytes + dataset.x_test.nbytes if full_bytes is None else full_bytes
    per_example = full_bytes // n
    over = full_bytes > budget
    if labels is not None and names is None:
        names = tuple(str(k) for k in range(int(labels.max()) + 1))
    if dataset is not None:
        examples = dataset.x_train[:N_EXAMPLES]
        shape = dataset.input_shape
        n_train, n_test = len(dataset.x_train), len(dataset.x_test)
    else:
        shape = examples.shape[1:]
        n_train = n_test = 0
    return Preview(
        filename=filename,
        format=fmt,
        kind="images" if len(shape) == 3 else "vectors",
        n=n,
        n_train=n_train,
        n_test=n_test,
        example_shape=tuple(shape),
        value_range=value_range,
        label_names=names,
        label_counts=None if labels is None else tuple(int(c) for c in np.bincount(labels, minlength=len(names))),
        examples=examples,
        float32_bytes=full_bytes,
        budget_bytes=budget,
        suggested_subsample=budget // per_example if over else None,
        dataset=dataset,
        content=content,
    )


def mib(n_bytes: int | float) -> str:
    """A size as every message and page shows it, e.g. '1,024.0 MiB'."""
    return f"{n_bytes / 2**20:,.1f} MiB"


_CACHE_ROOT: contextvars.ContextVar[str | None] = contextvars.ContextVar("aecore_cache_root", default=None)


@contextlib.contextmanager
def cache_root(root: str | os.PathLike | None):
    """Within this block, stored datasets are looked up under root (the CLI's --cache-dir); None: the default."""
    token = _CACHE_ROOT.set(None if root is None else str(root))
    try:
        yield
    finally:
        _CACHE_ROOT.reset(token)


def _folder(root) -> Path:
    root = root if root is not None else _CACHE_ROOT.get()
    if root is None:
        from aecore.store import default_cache_dir  # store imports config, which imports this module lazily

        root = default_cache_dir()
    return Path(root) / DATASETS_FOLDER


def _read_index(folder: Path) -> dict:
    """The folder's index (a copy the caller may change); {} when there is none or it is damaged."""
    try:
        stat = (folder / INDEX_FILE).stat()
    except OSError:
        return {}
    # Writers replace the file (a new inode, size and time), so a key of its stat never serves a stale index.
    return copy.deepcopy(_parsed_index(str(folder), stat.st_mtime_ns, stat.st_size, stat.st_ino))


@functools.lru_cache(maxsize=8)
def _parsed_index(folder: str, mtime_ns: int, size: int, inode: int) -> dict:
    try:
        index = json.loads((Path(folder) / INDEX_FILE).read_text())
    except (OSError, ValueError):  # none yet, or damaged: list nothing rather than break every page
        return {}
    return index if isinstance(index, dict) else {}


class _index_lock:
    """One writer of a folder's index at a time, across threads and processes."""

    def __init__(self, folder: Path):
        self.folder = folder

    def __enter__(self):
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            self.file = open(self.folder / ".lock", "a")
        except OSError as exc:
            raise DataError(f"The dataset folder {self.folder} cannot be written ({exc.strerror}).") from None
        fcntl.flock(self.file, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        fcntl.flock(self.file, fcntl.LOCK_UN)
        self.file.close()
