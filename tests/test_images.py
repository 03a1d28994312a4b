"""aecore.images: uploads and drawings to MNIST-style 28x28 digits, or one-sentence refusals."""

import io
import struct
import zlib

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image

from aecore.images import MAX_PIXELS, ImageError, from_array, to_mnist
from tests.helpers import assert_one_sentence


@pytest.fixture(scope="module")
def digits():
    """20 real MNIST test digits, (20, 28, 28) float32 in [0, 1]."""
    from aecore.datasets import load_dataset

    return load_dataset("mnist-sample").x_test[:20, ..., 0]


def encode(image: Image.Image, fmt: str = "PNG", **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def as_u8(digit: np.ndarray) -> np.ndarray:
    return np.round(digit * 255).astype(np.uint8)


def distance(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute pixel difference, allowing a one-pixel shift (MNIST's own centring rounds)."""
    return min(float(np.abs(np.roll(a, (dy, dx), axis=(0, 1)) - b).mean()) for dy in (-1, 0, 1) for dx in (-1, 0, 1))


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares width x height but holds no pixels: a decompression bomb's header, built cheaply."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


def check_digit(out: np.ndarray) -> None:
    assert out.shape == (28, 28) and out.dtype == np.float32
    assert 0.0 <= out.min() and out.max() <= 1.0


# --- round trips: an MNIST digit comes back as (nearly) itself -------------------------------


def test_mnist_digit_round_trips_through_png(digits):
    for digit in digits:
        out = to_mnist(encode(Image.fromarray(as_u8(digit))))
        check_digit(out)
        assert distance(out, digit) < 0.01


def test_dark_digit_on_white_paper_is_inverted(digits):
    out = to_mnist(encode(Image.fromarray(255 - as_u8(digits[0]))))
    assert distance(out, digits[0]) < 0.01


@pytest.mark.parametrize("ink", [(0, 0, 0), (255, 255, 255), (200, 30, 30)], ids=["black", "white", "red"])
def test_canvas_rgba_with_transparent_background_any_ink_colour(digits, ink):
    rgba = np.zeros((28, 28, 4), np.uint8)
    rgba[..., :3] = ink
    rgba[..., 3] = as_u8(digits[1])  # strokes opaque, background transparent
    assert distance(to_mnist(encode(Image.fromarray(rgba, "RGBA"))), digits[1]) < 0.01
    assert distance(from_array(rgba), digits[1]) < 0.01


def test_16_bit_png(digits):
    image = Image.fromarray((digits[2] * 65535).astype(np.uint16))
    data = encode(image)
    assert Image.open(io.BytesIO(data)).mode.startswith("I")  # really stored with 16 bits
    assert distance(to_mnist(data), digits[2]) < 0.01


@pytest.mark.parametrize("fmt", ["PNG", "GIF", "BMP", "JPEG", "WEBP", "TIFF"])
def test_common_formats_and_palette(digits, fmt):
    image = Image.fromarray(255 - as_u8(digits[3]))
    image = image.convert("P") if fmt in ("PNG", "GIF") else image
    assert distance(to_mnist(encode(image, fmt)), digits[3]) < 0.02  # JPEG is lossy


def test_large_photo_is_scaled_down_to_a_digit(digits):
    photo = Image.new("RGB", (4000, 3000), (240, 235, 225))  # off-white paper
    stroke = Image.fromarray(255 - as_u8(digits[4])).resize((2000, 2000), Image.Resampling.BICUBIC)
    photo.paste(stroke.convert("RGB"), (900, 400))
    out = to_mnist(encode(photo, "JPEG", quality=85))
    check_digit(out)
    assert distance(out, digits[4]) < 0.05


@pytest.mark.parametrize("size", [(3, 3), (2000, 30), (30, 2000), (600, 1)])
def test_any_size_with_some_ink(size):
    width, height = size
    pixels = np.full((height, width), 255, np.uint8)
    pixels[height // 3 : max(height // 3 + 1, 2 * height // 3), width // 3 : max(width // 3 + 1, 2 * width // 3)] = 0
    out = to_mnist(encode(Image.fromarray(pixels)))
    check_digit(out)
    assert out.max() > 0.5  # thin strokes are anti-aliased when shrunk, as in MNIST
    # Centred by centre of mass, in MNIST's 20-pixel box.
    rows, cols = np.nonzero(out > 0.05)
    assert max(rows.max() - rows.min(), cols.max() - cols.min()) + 1 <= 21


# --- refusals: one sentence, an ImageError --------------------------------------------------


@pytest.mark.parametrize(
    "data, words",
    [
        (b"", "empty"),
        (b"hello, this is text", "not an image"),
        (b"\x89PNG\r\n\x1a\n", "not an image"),
        (b"%PDF-1.4\n", "not an image"),
    ],
)
def test_refuses_non_images(data, words):
    with pytest.raises(ImageError, match=words):
        to_mnist(data)


def test_refuses_truncated_image(digits):
    big = Image.fromarray(as_u8(digits[0])).resize((400, 400))
    with pytest.raises(ImageError, match="damaged or truncated"):
        to_mnist(encode(big)[:1500])


def test_refuses_a_file_too_large_to_upload(monkeypatch):
    import aecore.images

    monkeypatch.setattr(aecore.images, "MAX_FILE_BYTES", 100)
    with pytest.raises(ImageError, match="larger than"):
        to_mnist(b"\x00" * 101)


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
@pytest.mark.parametrize("pillow_limit", ["default", None, 10**12], ids=["pillow-default", "pillow-off", "pillow-huge"])
@pytest.mark.parametrize("size", [(100_000, 100_000), (12_000, 9_000), (6_000, 5_000)])
def test_refuses_decompression_bombs_without_relying_on_pillow_settings(monkeypatch, size, pillow_limit):
    if pillow_limit != "default":
        monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", pillow_limit)  # someone else changed the global
    assert size[0] * size[1] > MAX_PIXELS
    with pytest.raises(ImageError, match="too large"):
        to_mnist(png_header_only(*size))


def test_refuses_blank_and_fully_transparent_images():
    with pytest.raises(ImageError, match="blank"):
        to_mnist(encode(Image.new("L", (50, 50), 255)))
    with pytest.raises(ImageError, match="blank"):
        to_mnist(encode(Image.new("L", (1, 1), 0)))
    with pytest.raises(ImageError, match="transparent"):
        to_mnist(encode(Image.new("RGBA", (50, 50), (0, 0, 0, 0))))
    with pytest.raises(ImageError, match="transparent"):
        from_array(np.zeros((280, 280, 4), np.uint8))  # an untouched canvas


# --- from_array: a drawing canvas's pixels ---------------------------------------------------


def test_from_array_gray_float_int_and_channel_forms(digits):
    digit = digits[5]
    for array in (
        digit,
        as_u8(digit),
        as_u8(digit).astype(np.int64),
        digit[..., None],
        np.repeat(digit[..., None], 3, 2),
    ):
        assert distance(from_array(array), digit) < 0.01


def test_from_array_large_canvas(digits):
    canvas = np.array(Image.fromarray(as_u8(digits[6])).resize((600, 600), Image.Resampling.BICUBIC))
    assert distance(from_array(canvas), digits[6]) < 0.04


@pytest.mark.parametrize(
    "array, words",
    [
        (np.zeros((0, 5)), "empty"),
        (np.zeros(5), "array of numbers"),
        (np.zeros((4, 4, 2)), "array of numbers"),
        (np.array([["a", "b"]]), "array of numbers"),
        (np.full((4, 4), np.nan), "NaN"),
        (np.full((4, 4), 300), "0-255"),
        (np.full((4, 4), -1.0), "0-255"),
        (np.zeros((30, 30)), "blank"),
    ],
)
def test_from_array_refusals(array, words):
    with pytest.raises(ImageError, match=words):
        from_array(array)


# --- properties: nothing but a digit or an ImageError ----------------------------------------


def _digit_or_image_error(fn, value):
    try:
        check_digit(fn(value))
    except ImageError as exc:
        assert_one_sentence(str(exc))


@given(st.binary(max_size=2000))
def test_random_bytes_never_crash(data):
    _digit_or_image_error(to_mnist, data)


@pytest.mark.filterwarnings("ignore::UserWarning")  # Pillow warns about the corrupt EXIF it survives
@given(
    st.sampled_from([b"\x89PNG\r\n\x1a\n", b"GIF89a", b"BM", b"\xff\xd8\xff", b"II*\x00", b"P5\n", b"RIFF"]),
    st.binary(max_size=500),
)
def test_random_bytes_after_an_image_signature_never_crash(signature, rest):
    _digit_or_image_error(to_mnist, signature + rest)


@pytest.fixture(scope="module")
def sample_png(digits):
    return encode(Image.fromarray(as_u8(digits[7])).convert("RGBA"))


@given(st.data())
def test_damaged_png_never_crashes(sample_png, data):
    png = bytearray(sample_png)
    cut = data.draw(st.integers(0, len(png)), label="truncate at")
    flips = data.draw(st.lists(st.tuples(st.integers(0, len(png) - 1), st.integers(0, 255)), max_size=4), label="bytes")
    for position, value in flips:
        png[position] = value
    _digit_or_image_error(to_mnist, bytes(png[:cut]))


@given(
    hnp.arrays(
        dtype=st.sampled_from([np.uint8, np.uint16, np.int64, np.float32, np.float64, np.bool_]),
        shape=st.one_of(
            hnp.array_shapes(min_dims=2, max_dims=2, max_side=40),
            st.tuples(st.integers(1, 30), st.integers(1, 30), st.sampled_from([1, 2, 3, 4, 5])),
        ),
    )
)
def test_random_arrays_never_crash(array):
    _digit_or_image_error(from_array, array)
