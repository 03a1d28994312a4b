"""What people upload, edit and type (issue 23): each case that went wrong ends in one sentence, writes
nothing, and leaves the app and the CLI working.

The readers' properties over arbitrary input are in tests/test_properties.py; this module holds one test (or a
table of them) per case, and the checks of the model-size estimates against Keras' own counts.
"""

from __future__ import annotations

import io
import math
import zipfile
from pathlib import Path

import numpy as np
import pytest

from aecore import limits
from aecore.datasets import DataError
from aecore.datasets import library as L
from aecore.datasets import uploads as U


def one_sentence(message: str) -> str:
    assert message.endswith(".") and "\n" not in message and "Traceback" not in message, message
    assert ". " not in message.replace("e.g. ", ""), message
    return message


def written(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")) if root.exists() else []


def png(side: int = 8, seed: int = 0) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, (side, side), np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()


def zip_of(members: list[str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for i, name in enumerate(members):
            archive.writestr(zipfile.ZipInfo(name), png(seed=i))
    return buffer.getvalue()


def npz_of(**arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def refused(tmp_path: Path, filename: str, content: bytes, words: str) -> str:
    """The upload is refused with one sentence holding words, by the reader and by accept, and nothing is written."""
    with pytest.raises(DataError) as caught:
        U.inspect(filename, content)
    with pytest.raises(DataError):
        L.accept(content, "mine", tmp_path, filename=filename)
    assert written(tmp_path) == []
    assert words in one_sentence(str(caught.value)), caught.value
    return str(caught.value)


# --- 1. zip member names outside the archive ------------------------------------------------------------------


@pytest.mark.parametrize("members", [
    ["/etc/a.png", "../b.png"],  # what made os.path.commonpath raise ValueError
    ["/abs/a.png", "/abs/b.png"],
    ["cats/a.png", "cats/../../b.png"],
    ["../../c.png", "d.png"],
], ids=["absolute and parent", "absolute only", "climbing out of a folder", "parent only"])
def test_a_zip_with_names_outside_it_is_one_sentence(tmp_path, members):
    refused(tmp_path, "names.zip", zip_of(members), "is not a name inside the archive")


def test_a_zip_with_names_inside_it_still_reads():
    preview = U.inspect("pets.zip", zip_of(["pets/cat/a.png", "pets/cat/b.png", "pets/dog/./c.png"]))
    assert preview.label_names == ("cat", "dog") and preview.n == 3


# --- 2. numbers that are finite in float64 but not in float32 -----------------------------------------------


@pytest.mark.parametrize("value", ["1e300", "-1e300", "3.5e38"])
def test_a_csv_value_past_float32_is_refused(tmp_path, value):
    content = f"a,b\n1,2\n3,{value}\n5,6\n".encode()
    message = refused(tmp_path, "big.csv", content, "beyond the range of 32-bit floats")
    assert message.startswith(f"Row 3, column 'b' of 'big.csv' holds '{value}'")


def test_values_within_float32_are_kept_and_every_number_is_finite():
    preview = U.inspect("ok.csv", b"a,b\n1,3.4e38\n-3.4e38,1e-300\n")
    assert np.isfinite(preview.dataset.x_train).all() and np.isfinite(preview.examples).all()
    assert all(math.isfinite(v) for v in preview.value_range)


def test_the_npz_path_refuses_the_same_values(tmp_path):
    content = npz_of(x_train=np.array([[1.0], [1e300]]), x_test=np.array([[2.0]]))
    refused(tmp_path, "big.npz", content, "NaN or infinite")


# --- 3. a CSV's columns and rows are bounded before the whole file is parsed ---------------------------------


def _counting_csv_rows(monkeypatch) -> list:
    """csv.reader as uploads uses it, counting the rows it makes."""
    made = []
    real = U.csv.reader

    def reader(lines, *args, **kwargs):
        for row in real(lines, *args, **kwargs):
            made.append(len(row))
            yield row

    monkeypatch.setattr(U.csv, "reader", reader)
    return made


def test_a_csv_of_too_many_columns_is_refused_from_its_first_row(tmp_path, monkeypatch):
    made = _counting_csv_rows(monkeypatch)
    row = ",".join(["1"] * 5000) + "\n"
    content = (",".join(f"c{i}" for i in range(5000)) + "\n" + row * 300).encode()
    message = refused(tmp_path, "wide.csv", content, "must have 1 to 4096 numbers, got 5000")
    assert message == "Rows of 'wide.csv' must have 1 to 4096 numbers, got 5000."
    assert made and set(made) == {5000} and len(made) <= 2  # the header row, once per reading, and nothing after


def test_a_single_enormous_line_is_refused_before_csv_splits_it(tmp_path, monkeypatch):
    made = _counting_csv_rows(monkeypatch)
    refused(tmp_path, "line.csv", b"1," * 100_000 + b"1\n", "has a row of more than 8,195 cells")
    assert made == []


def test_a_csv_of_too_many_rows_is_refused_while_it_is_counted(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "MAX_EXAMPLES", 10)
    made = _counting_csv_rows(monkeypatch)
    with pytest.raises(DataError, match="^'long.csv' has more than 10 rows; the limit is 10\\.$"):
        U.inspect("long.csv", b"a\n" + b"1\n" * 50)
    assert len(made) == 12  # the header, then rows until the eleventh


def test_a_csv_is_read_a_row_at_a_time():
    """The parse holds the float32 examples and one row's strings, not a string per cell of the file."""
    import tracemalloc

    rows, dim = 100, 4096
    content = ("\n".join(",".join(["0.5"] * dim) for _ in range(rows)) + "\n").encode()
    tracemalloc.start()
    try:
        preview = U.inspect("wide.csv", content)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert preview.n == rows and preview.example_shape == (dim,)
    float32 = rows * dim * 4
    # Every cell as a Python string in a list would be some 60 bytes a cell, over 45 MiB here.
    assert peak < len(content) * 2 + float32 * 4, peak


# --- 4. labels are bounded before anything is allocated per label ---------------------------------------------


@pytest.mark.parametrize("label, words", [(2**40, "got 1099511627776"), (-1, "got -1")])
def test_an_npz_label_out_of_bounds_is_refused(tmp_path, label, words):
    content = npz_of(x_train=np.zeros((3, 4)), x_test=np.zeros((1, 4)),
                     y_train=np.array([0, 1, label], np.int64), y_test=np.array([0]))
    message = refused(tmp_path, "labels.npz", content, words)
    assert message.startswith("y_train labels must be class numbers from 0 to 999")


def test_labels_up_to_the_bound_are_kept():
    top = limits.MAX_CLASSES - 1
    preview = U.inspect("labels.npz", npz_of(x_train=np.zeros((3, 4)), x_test=np.zeros((1, 4)),
                                            y_train=np.array([0, 1, top]), y_test=np.array([top])))
    assert len(preview.label_names) == limits.MAX_CLASSES and sum(preview.label_counts) == 4


def test_labels_on_one_split_only_are_one_sentence(tmp_path):
    content = npz_of(x_train=np.zeros((3, 4)), x_test=np.zeros((1, 4)), y_train=np.array([0, 1, 2]))
    refused(tmp_path, "half.npz", content, "has y_train but no y_test")


def test_too_many_distinct_labels_in_a_csv_or_zip_are_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "MAX_CLASSES", 3)
    content = ("x,label\n" + "".join(f"{i},{i}\n" for i in range(4))).encode()
    refused(tmp_path, "classes.csv", content, "has 4 different labels; the limit is 3 classes")
    refused(tmp_path, "classes.zip", zip_of([f"{c}/{i}.png" for c in "abcd" for i in range(2)]),
            "has 4 class folders; the limit is 3")
