"""Uploads of images: a .zip of PNG or JPEG files (a folder per class names the classes), read into a Preview.

Checked on the zip's directory (members, sizes, names, compression) and each image's header before any pixel
is decoded; every problem is one DataError sentence.
"""

from __future__ import annotations

import collections
import io
import os
import warnings
import zipfile
from pathlib import PurePosixPath

import numpy as np
from PIL import Image

from aecore import limits
from aecore.datasets.preview import N_EXAMPLES, Preview, choose, make_preview, shown, split_upload
from aecore.errors import DataError
from aecore.limits import mib

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
IMAGE_FORMATS = ("PNG", "JPEG")
GREY_MODES = ("1", "L", "LA", "I", "I;16", "F")  # every other PIL mode is read as RGB


def read_zip(filename, content, budget, subsample) -> Preview:
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
            raise DataError(f"'{shown(members[odd].filename)}' is {w} wide by {h} high but most images are "
                            f"{width} wide by {height} high; all images must have one size.")
        limits.check_image_size(height, width, "Images")
        channels = 1 if grey else 3
        n = len(members)
        if n < 2:
            raise DataError(f"'{filename}' holds {n} image; a dataset needs at least 2 (one to train, one to test).")
        per_example = height * width * channels * 4
        chosen, fits = choose(n, per_example, budget, subsample)
        x = np.empty((len(chosen), height, width, channels), np.uint8)
        for row, i in enumerate(chosen):
            with _open_image(filename, archive, members[i]) as image:
                pixels = _pixels(filename, members[i].filename, image, channels)
            x[row] = pixels.reshape(height, width, channels)
    names = tuple(sorted(set(classes))) if classes else None
    labels = None if names is None else np.array([names.index(c) for c in classes], np.int64)
    value_range = (float(x.min()), float(x.max()))
    pixels = x.astype(np.float32) / np.float32(255)
    dataset = split_upload(filename, pixels, None if labels is None else labels[chosen])
    return make_preview(filename, "zip", dataset if fits else None, n, value_range, names, labels, budget, content,
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
            raise DataError(f"'{shown(info.filename)}' in '{filename}' is not a name inside the archive (it is "
                            "empty, absolute or climbs out with '..'); such names are refused.")
        # Folders, and the files macOS and Windows add when zipping, are not data.
        if info.is_dir() or path.parts[0] == "__MACOSX" or path.name.startswith(".") or path.name == "Thumbs.db":
            continue
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            raise DataError(f"'{shown(info.filename)}' in '{filename}' is not a PNG or JPEG image; "
                            "a zip must hold images only.")
        ratio_bound = limits.MAX_ZIP_RATIO * max(info.compress_size, 1)
        if info.file_size > limits.MAX_IMAGE_FILE_BYTES or info.file_size > ratio_bound:
            raise DataError(f"'{shown(info.filename)}' in '{filename}' unpacks to {mib(info.file_size)} "
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
        raise DataError(f"'{shown(info.filename)}' in '{filename}' has more pixels than any image "
                        "allowed.") from None
    except Exception:  # PIL and zlib raise many kinds for a damaged file
        raise DataError(f"'{shown(info.filename)}' in '{filename}' is damaged or not a PNG or JPEG image.") from None


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
        raise DataError(f"'{shown(member)}' in '{filename}' is damaged; its pixels cannot be decoded.") from None
