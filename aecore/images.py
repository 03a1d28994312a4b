"""Uploaded images and canvas drawings to MNIST-style 28x28 digits.

MNIST was made by scaling each digit into a 20x20 box (keeping its aspect ratio,
anti-aliased) and pasting it into a 28x28 field so that its centre of mass is at
the centre. to_mnist and from_array do the same to any image, after turning it
into white ink on black (MNIST's polarity) whatever the original colours were.
Uploads are untrusted: sizes are checked before decoding and every failure is an
ImageError with one sentence.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageOps

MAX_FILE_BYTES = 20 * 2**20
MAX_PIXELS = 25_000_000  # about 5000 x 5000: any photo; more is refused before decoding (bombs)
WORK_SIDE = 512  # larger images are shrunk to this first: a 20-pixel digit needs no more
DIGIT_BOX = 20
FIELD = 28
INK_THRESHOLD = 0.1  # after contrast stretching, fainter pixels are background (paper grain, JPEG noise)


class ImageError(ValueError):
    """An image that cannot be turned into a digit; the message is one sentence."""


def to_mnist(data: bytes) -> np.ndarray:
    """An uploaded image file's bytes as a (28, 28) float32 MNIST-style digit in [0, 1]."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ImageError("The upload is not a file's contents.")
    if len(data) == 0:
        raise ImageError("The file is empty.")
    if len(data) > MAX_FILE_BYTES:
        raise ImageError(f"The file is larger than {MAX_FILE_BYTES // 2**20} MiB; upload a smaller image.")
    gray, alpha = _decode(bytes(data))
    return _digit(_composite(gray, alpha))


def from_array(rgba_or_gray: np.ndarray) -> np.ndarray:
    """A drawing canvas's pixels (H x W gray, or H x W x 1, 3 or 4 channels) as a (28, 28) digit in [0, 1].

    Integer pixels are 0-255 (uint16: 0-65535); float pixels 0-1 or 0-255.
    """
    a = np.asarray(rgba_or_gray)
    if a.dtype.kind not in "uifb" or a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (1, 3, 4)):
        raise ImageError(f"A drawing must be an H x W or H x W x 1, 3 or 4 array of numbers, got {a.dtype} {a.shape}.")
    if a.size == 0:
        raise ImageError("The drawing is empty.")
    if a.shape[0] * a.shape[1] > MAX_PIXELS:
        raise ImageError(f"The drawing has more than {MAX_PIXELS:,} pixels.")
    a = _unit_scale(a)
    if a.ndim == 2:
        a = a[..., None]
    channels = a.shape[2]
    alpha = a[..., 3] if channels == 4 else None
    color = a[..., :3] if channels >= 3 else a[..., :1]
    gray = _luminance(color) if color.shape[2] == 3 else color[..., 0]
    return _digit(_shrink(_composite(gray, alpha)))


def _unit_scale(a: np.ndarray) -> np.ndarray:
    """Pixels as float32 in [0, 1], or ImageError if their range fits no convention."""
    maybe_unit = a.dtype.kind in "fb"  # floats and booleans are 0-1 unless they go beyond 1
    full = 65535.0 if a.dtype == np.uint16 else 255.0
    with np.errstate(invalid="ignore", over="ignore"):
        a = a.astype(np.float32)
    if not np.isfinite(a).all():
        raise ImageError("The drawing contains NaN or infinite values.")
    low, high = float(a.min()), float(a.max())
    if low < 0 or high > full:
        raise ImageError(f"Drawing pixels must lie in 0-1 or 0-{full:.0f}, found {low:g} to {high:g}.")
    return a if maybe_unit and high <= 1 else a / np.float32(full)


def _decode(data: bytes) -> tuple[np.ndarray, np.ndarray | None]:
    """Decode an image file (first frame) into float32 gray and alpha planes in [0, 1]."""
    try:
        image = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError:
        raise _too_large() from None
    except Exception:  # Pillow's format plugins raise many kinds of errors on hostile input
        raise ImageError("The file is not an image Pillow can read (PNG, JPEG, GIF, BMP, WebP, ...).") from None
    with image:
        width, height = image.size
        # Checked here, on the header, before any pixel is decoded; Pillow's own limit is
        # global state that any library may change, so it is not relied on.
        if width * height > MAX_PIXELS:
            raise _too_large()
        if width < 1 or height < 1:
            raise ImageError("The image has no pixels.")
        try:
            image.draft("L", (WORK_SIDE, WORK_SIDE))  # JPEG: decode at a reduced size, much cheaper
            image.load()
            return _planes(_upright(image))
        except ImageError:
            raise
        except Exception:  # truncated or corrupt data surfaces only while decoding
            raise ImageError("The image file is damaged or truncated and cannot be decoded.") from None


def _upright(image: Image.Image) -> Image.Image:
    """A phone photo turned as the user saw it (EXIF orientation); unchanged if its EXIF is unreadable."""
    try:
        return ImageOps.exif_transpose(image)
    except Exception:
        return image


def _too_large() -> ImageError:
    return ImageError(f"The image is too large (more than {MAX_PIXELS:,} pixels); upload a smaller one.")


def _planes(image: Image.Image) -> tuple[np.ndarray, np.ndarray | None]:
    """Gray and alpha (or None) of a decoded image, shrunk to WORK_SIDE, as float32 in [0, 1]."""
    if image.mode in ("I", "F") or image.mode.startswith("I;16"):
        # 16- and 32-bit gray: only the relative levels matter, so stretch min..max onto 0..1.
        gray = np.nan_to_num(np.asarray(image.convert("F"), dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
        low, high = float(gray.min()), float(gray.max())
        gray = (gray - low) / (high - low) if high > low else np.zeros_like(gray)
        return _shrink(gray.astype(np.float32)), None
    has_alpha = any(band in ("A", "a") for band in image.getbands()) or "transparency" in image.info
    image = image.convert("RGBA" if has_alpha else "L")
    image.thumbnail((WORK_SIDE, WORK_SIDE), Image.Resampling.BOX)
    pixels = np.asarray(image, dtype=np.float32) / 255.0
    if not has_alpha:
        return pixels, None
    return _luminance(pixels[..., :3]), pixels[..., 3]


def _luminance(rgb: np.ndarray) -> np.ndarray:
    # ITU-R 601 weights, as Pillow's convert("L") uses.
    return rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)


def _shrink(plane: np.ndarray) -> np.ndarray:
    """A float plane reduced so that its longer side is at most WORK_SIDE (area-averaged)."""
    height, width = plane.shape
    if max(height, width) <= WORK_SIDE:
        return plane
    scale = WORK_SIDE / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.asarray(Image.fromarray(plane, "F").resize(size, Image.Resampling.BOX), dtype=np.float32)


def _composite(gray: np.ndarray, alpha: np.ndarray | None) -> np.ndarray:
    """Flatten transparency onto a background that contrasts with the ink.

    A canvas is often transparent with strokes of any colour: dark strokes go onto
    white, light strokes onto black, so the digit stays visible either way.
    """
    if alpha is None:
        return gray
    weight = float(alpha.sum())
    if weight == 0:
        raise ImageError("The image is fully transparent; there is no digit in it.")
    ink_level = float((gray * alpha).sum()) / weight
    background = 1.0 if ink_level < 0.5 else 0.0
    return alpha * gray + (1 - alpha) * background


def _digit(gray: np.ndarray) -> np.ndarray:
    """MNIST's recipe on a gray plane: white on black, crop, fit in 20x20, centre of mass at the centre."""
    gray = np.asarray(gray, dtype=np.float32)
    if np.median(_border(gray)) > 0.5:  # light background: a dark digit on paper
        gray = 1.0 - gray
    background = float(np.median(_border(gray)))
    top = float(gray.max())
    if top - background < 0.1:
        raise ImageError("The image is blank; there is no digit to see in it.")
    ink = np.clip((gray - background) / (top - background), 0.0, 1.0)
    ink[ink < INK_THRESHOLD] = 0.0

    rows, cols = np.nonzero(ink)
    ink = ink[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    height, width = ink.shape
    scale = DIGIT_BOX / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    # Antialiased resampling, as MNIST's; Lanczos overshoots a little, hence the clip.
    digit = np.asarray(Image.fromarray(ink, "F").resize(size, Image.Resampling.LANCZOS), dtype=np.float32)
    digit = np.clip(digit, 0.0, 1.0)
    return _paste_centred(digit)


def _border(plane: np.ndarray) -> np.ndarray:
    return np.concatenate([plane[0], plane[-1], plane[:, 0], plane[:, -1]])


def _paste_centred(digit: np.ndarray) -> np.ndarray:
    """digit in a FIELD x FIELD frame, its centre of mass moved to the middle (kept fully inside)."""
    height, width = digit.shape
    mass = float(digit.sum())
    if mass > 0:
        ys, xs = np.indices(digit.shape)
        centre_y, centre_x = float((ys * digit).sum()) / mass, float((xs * digit).sum()) / mass
    else:
        centre_y, centre_x = (height - 1) / 2, (width - 1) / 2
    top = int(np.clip(round(FIELD / 2 - centre_y), 0, FIELD - height))
    left = int(np.clip(round(FIELD / 2 - centre_x), 0, FIELD - width))
    field = np.zeros((FIELD, FIELD), dtype=np.float32)
    field[top : top + height, left : left + width] = digit
    return field
