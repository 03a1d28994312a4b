"""Uploads: an .npz, a .zip of images or a .csv of vectors, read into a Preview (nothing written).

The upload is untrusted: sizes are checked on headers and the zip's directory before
anything is decoded in full (aecore.limits holds the bounds), and every problem is a
DataError of one sentence. aecore.datasets.library stores an accepted Preview by name.
"""

from __future__ import annotations

import collections
import csv
import io
import itertools
import math
import os
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import PurePosixPath

import numpy as np
from PIL import Image

from aecore import limits
from aecore.datasets.npz import npz_dataset, read_npz
from aecore.datasets.dataset import Dataset, split
from aecore.errors import DataError
from aecore.limits import mib

FORMATS = ".npz, .zip of PNG/JPEG images, or .csv of numbers"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
IMAGE_FORMATS = ("PNG", "JPEG")
GREY_MODES = ("1", "L", "LA", "I", "I;16", "F")  # every other PIL mode is read as RGB
TEST_FRACTION = 0.2
SPLIT_SEED = 0
N_EXAMPLES = 16  # images or vectors a preview shows
FLOAT32_MAX = float(np.finfo(np.float32).max)  # examples are stored as float32: every number must fit
UPLOAD_TYPES = ("npz", "zip", "csv")  # the file name endings an uploader offers; inspect() goes by content too


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
    dataset: Dataset | None = field(repr=False)  # None when over the budget (not decoded in full)
    content: bytes = field(repr=False)

    @property
    def over_budget(self) -> bool:
        return self.suggested_subsample is not None


def inspect(filename: str, content: bytes, budget_bytes: int | None = None, subsample: int | None = None) -> Preview:
    """Read an upload; raise DataError (one sentence) if it is not a dataset this app can use.

    Over the budget, only the first N_EXAMPLES are decoded (for the preview) unless subsample
    names how many randomly chosen examples to keep instead.
    """
    filename = _shown(filename)  # every message quotes it
    budget = limits.MAX_DATASET_BYTES if budget_bytes is None else budget_bytes
    if subsample is not None and (isinstance(subsample, bool) or not isinstance(subsample, int) or subsample < 2):
        raise DataError(f"A subsample must be a whole number of at least 2 examples, got {subsample}.")
    fmt = _format(filename, content)
    reader = {"npz": _read_npz, "zip": _read_zip, "csv": _read_csv}[fmt]
    return reader(filename, content, budget, subsample)


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
    arrays = read_npz(io.BytesIO(content), filename, budget)
    dataset = npz_dataset(filename, arrays)  # validated: both hold numbers, finite, in range
    raw = (arrays["x_train"], arrays["x_test"])
    value_range = (min(float(a.min()) for a in raw), max(float(a.max()) for a in raw))
    labels = None if dataset.y_train is None else np.concatenate([dataset.y_train, dataset.y_test])
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
        elif len(set(classes)) > limits.MAX_CLASSES:
            raise DataError(f"'{filename}' has {len(set(classes)):,} class folders; the limit is "
                            f"{limits.MAX_CLASSES:,}.")
        sizes, grey = [], True
        for member in members:  # headers only: PIL reads the size and mode without decoding pixels
            with _open_image(filename, archive, member) as image:
                sizes.append(image.size)
                grey = grey and image.mode in GREY_MODES
        (width, height), most = collections.Counter(sizes).most_common(1)[0]
        if most < len(sizes):
            odd = next(i for i, s in enumerate(sizes) if s != (width, height))
            w, h = sizes[odd]
            raise DataError(f"'{_shown(members[odd].filename)}' is {w} wide by {h} high but most images are "
                            f"{width} wide by {height} high; all images must have one size.")
        limits.check_image_size(height, width, "Images")
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
    pixels = x.astype(np.float32) / np.float32(255)
    dataset = _split_upload(filename, pixels, None if labels is None else labels[chosen])
    return _preview(filename, "zip", dataset if fits else None, n, value_range, names, labels, budget, content,
                    examples=x[:N_EXAMPLES].astype(np.float32) / np.float32(255), full_bytes=n * per_example)


def _image_members(filename: str, archive: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    """The zip's image files in name order, after checks on its directory alone (bombs, counts, types)."""
    infos = archive.infolist()
    if len(infos) > limits.MAX_ZIP_MEMBERS:
        raise DataError(f"'{filename}' holds {len(infos)} files; the limit is {limits.MAX_ZIP_MEMBERS}.")
    total = sum(i.file_size for i in infos)
    if total > limits.MAX_ZIP_BYTES:
        raise DataError(f"'{filename}' would unpack to {mib(total)}; the limit is {mib(limits.MAX_ZIP_BYTES)}.")
    members = []
    for info in sorted(infos, key=lambda i: i.filename):
        path = PurePosixPath(info.filename)
        # A name is a place in the archive's own tree, where the class folders are read from: one that leaves it
        # (absolute, or climbing out with '..') or names nothing is no image of this dataset, whatever it holds.
        if not path.parts or path.is_absolute() or ".." in path.parts:
            raise DataError(f"'{_shown(info.filename)}' in '{filename}' is not a name inside the archive (it is "
                            "empty, absolute or climbs out with '..'); such names are refused.")
        # Folders, and the files macOS and Windows add when zipping, are not data.
        if info.is_dir() or path.parts[0] == "__MACOSX" or path.name.startswith(".") or path.name == "Thumbs.db":
            continue
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            raise DataError(f"'{_shown(info.filename)}' in '{filename}' is not a PNG or JPEG image; "
                            "a zip must hold images only.")
        ratio_bound = limits.MAX_ZIP_RATIO * max(info.compress_size, 1)
        if info.file_size > limits.MAX_IMAGE_FILE_BYTES or info.file_size > ratio_bound:
            raise DataError(f"'{_shown(info.filename)}' in '{filename}' unpacks to {mib(info.file_size)} "
                            "from far less, like a zip bomb; it is refused.")
        members.append(info)
    if not members:
        raise DataError(f"'{filename}' holds no PNG or JPEG images.")
    return members


def _open_image(filename: str, archive: zipfile.ZipFile, info: zipfile.ZipInfo):
    try:
        with archive.open(info) as member:
            # The directory's size was checked; zipfile stops at it and checks the CRC.
            raw = member.read(limits.MAX_IMAGE_FILE_BYTES + 1)
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(raw), formats=IMAGE_FORMATS)
        return image
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise DataError(f"'{_shown(info.filename)}' in '{filename}' has more pixels than any image "
                        "allowed.") from None
    except Exception:  # PIL and zlib raise many kinds for a damaged file
        raise DataError(f"'{_shown(info.filename)}' in '{filename}' is damaged or not a PNG or JPEG image.") from None


def _pixels(filename: str, member: str, image, channels: int) -> np.ndarray:
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
        raise DataError(f"'{_shown(member)}' in '{filename}' is damaged; its pixels cannot be decoded.") from None


def _read_csv(filename, content, budget, subsample) -> Preview:
    # Parsed, every cell is a Python string in a list: refuse a file too big for that from its bytes alone.
    # No row has more cells than its commas plus one, so commas plus lines bounds the cells.
    lines = max(content.count(b"\n"), content.count(b"\r")) + 1
    cells = content.count(b",") + lines
    if cells > limits.MAX_CSV_CELLS:
        raise DataError(f"'{filename}' has up to {cells:,} cells; the limit is {limits.MAX_CSV_CELLS:,}.")
    # Rows are read one at a time, twice (their shape and labels, then the numbers of those kept), so memory
    # holds one row's strings and the float32 examples, never the whole file as strings.
    rows = _rows(filename, content)
    first = next(rows, None)
    if first is None:
        raise DataError(f"'{filename}' holds no rows.")
    header = [cell.strip() for cell in first] if any(not _is_number(cell) for cell in first) else None
    width = len(first)
    label_col = None
    if header:
        lower = [h.lower() for h in header]
        label_col = lower.index("label") if "label" in lower else None
    dim = width - (label_col is not None)
    # From the first row alone, before the rest is parsed.
    if not 1 <= dim <= limits.MAX_VECTOR_DIM:
        raise DataError(f"Rows of '{filename}' must have 1 to {limits.MAX_VECTOR_DIM} numbers, got {dim}.")
    offset = 2 if header else 1  # the row number of the first example, for messages (the header is row 1)
    label_cells = []
    n = 0
    for row in itertools.chain(() if header else [first], rows):
        if len(row) != width:
            raise DataError(f"Row {offset + n} of '{filename}' has {len(row)} cells but the first row has {width}.")
        if label_col is not None:
            label_cells.append(row[label_col].strip())
            if not label_cells[-1]:
                raise DataError(f"Row {offset + n} of '{filename}' has no label; label every row or none.")
        n += 1
        if n > limits.MAX_EXAMPLES:
            raise DataError(f"'{filename}' has more than {limits.MAX_EXAMPLES:,} rows; the limit is "
                            f"{limits.MAX_EXAMPLES:,}.")
    if n < 2:
        raise DataError(f"'{filename}' holds {n} row; a dataset needs at least 2 (one to train, one to test).")
    names, labels = None, None
    if label_col is not None:
        distinct = set(label_cells)
        if len(distinct) > limits.MAX_CLASSES:
            raise DataError(f"The label column of '{filename}' has {len(distinct):,} different labels; the limit "
                            f"is {limits.MAX_CLASSES:,} classes.")
        # Whole-number labels keep their numbers' order; other labels sort as text.
        names = tuple(sorted(distinct, key=lambda s: (0, int(s), s) if _is_int(s) else (1, 0, s)))
        code = {s: k for k, s in enumerate(names)}
        labels = np.array([code[s] for s in label_cells], np.int64)
    per_example = dim * 4
    chosen, fits = _choose(n, per_example, budget, subsample)
    x = np.empty((len(chosen), dim), np.float32)
    wanted = iter(chosen.tolist())  # sorted
    out, next_row = 0, next(wanted, None)
    examples = itertools.islice(_rows(filename, content), 1 if header else 0, None)
    for i, row in enumerate(examples):
        if i != next_row:
            continue
        x[out] = _numbers(filename, offset + i, row, header, label_col)
        out, next_row = out + 1, next(wanted, None)
        if next_row is None:
            break
    value_range = (float(x.min()), float(x.max()))
    dataset = _split_upload(filename, x, None if labels is None else labels[chosen])
    return _preview(filename, "csv", dataset if fits else None, n, value_range, names, labels, budget, content,
                    examples=x[:N_EXAMPLES], full_bytes=n * per_example)


# A row holds at most MAX_VECTOR_DIM numbers and a label; quoted cells may hold commas of their own, so a row is
# cut off only well past that, before csv makes a string of each of its cells.
_MAX_ROW_COMMAS = 2 * (limits.MAX_VECTOR_DIM + 1)


def _rows(filename: str, content: bytes):
    """The CSV's rows that hold something, one at a time; DataError for a row too long to be one, or bad CSV."""
    since_last_row = [0]  # commas read since the last row was made; a quoted cell may span lines

    def lines():
        # Decoded as it is read, a line at a time (split at \n, \r\n and \r alike, each kept for csv): the file
        # is never held again as one string.
        for line in io.TextIOWrapper(io.BytesIO(content), encoding="utf-8-sig", newline=""):
            since_last_row[0] += line.count(",")
            if since_last_row[0] > _MAX_ROW_COMMAS:
                raise DataError(f"'{filename}' has a row of more than {_MAX_ROW_COMMAS + 1:,} cells; rows must have "
                                f"1 to {limits.MAX_VECTOR_DIM} numbers and may have a label.")
            yield line

    reader = csv.reader(lines())
    try:
        for row in reader:
            since_last_row[0] = 0
            if any(cell.strip() for cell in row):
                yield row
    except csv.Error as exc:  # a NUL character, a cell longer than csv's field limit, an unclosed quote
        raise DataError(f"Line {reader.line_num} of '{filename}' is not valid CSV ({str(exc).rstrip('.')}).") from None
    except UnicodeDecodeError:
        raise DataError(f"'{filename}' is not UTF-8 text, so it is not a CSV file.") from None


def _numbers(filename: str, number: int, row: list[str], header: list[str] | None, label_col: int | None):
    """One row's numbers as float32; DataError naming the first cell that is no number, or none in float32."""
    values = []
    for col, cell in enumerate(row):
        if col == label_col:
            continue
        try:
            value = float(cell)
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            raise DataError(f"Row {number}, column '{_column(header, col)}' of '{filename}' holds "
                            f"'{_shown(cell.strip())}', not a number.")
        values.append(value)
    with np.errstate(over="ignore"):
        x = np.array(values, np.float32)
    if not np.isfinite(x).all():  # finite as a Python float, past float32's range (about 3.4e38)
        col = [c for c in range(len(row)) if c != label_col][int(np.argmin(np.isfinite(x)))]
        raise DataError(f"Row {number}, column '{_column(header, col)}' of '{filename}' holds "
                        f"'{_shown(row[col].strip())}', beyond the range of 32-bit floats (±{FLOAT32_MAX:.1e}).")
    return x


def _column(header: list[str] | None, col: int) -> str:
    return _shown(header[col]) if header else str(col + 1)


def _shown(text: str, most: int = 60) -> str:
    """A name or a cell from an upload as a message quotes it: on one line, and cut short (the suffix kept)."""
    text = "".join(c if c.isprintable() else "?" for c in str(text))
    return text if len(text) <= most else text[: most - 20] + "…" + text[-19:]


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


def _split_upload(filename: str, x: np.ndarray, y: np.ndarray | None) -> Dataset:
    n_test = max(1, round(len(x) * TEST_FRACTION))
    return split(filename, x, y, n_test, seed=SPLIT_SEED)


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

