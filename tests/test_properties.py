"""Property-based tests of every reader of untrusted input: uploads (npz, zip, csv), npz files, the uploads index
and run.json. Whatever the input, a reader gives a Dataset or Preview within the bounds of aecore.limits, or one
DataError sentence (the store's run.json check: a ValueError, its way of saying "damaged"); never another
exception, and never a file written while it reads.

The inputs are built to reach past the first check: real zips with hostile member names, real npz files of any
dtype and shape, CSV text of numbers, quotes and line ends, JSON of every type where a field is expected.
Settings come from the conftest's Hypothesis profile.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import math
import os
import sys
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import event, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from aecore import limits
from aecore.config import RunConfig
from aecore.datasets import DataError, Dataset
from aecore.datasets import library as L
from aecore.datasets import npz
from aecore.datasets import uploads as U
from aecore.store import ENTRY_FILES, RunStore, _check_meta, run_key
from dashboard.views.run_table import runs_table
from tests.helpers import assert_one_sentence

# --- nothing is written while a reader reads ------------------------------------------------------------------

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
_CHANGES = {"os.rename", "os.remove", "os.rmdir", "os.mkdir", "os.truncate", "os.symlink", "os.link",
            "os.chmod", "os.utime", "shutil.rmtree", "shutil.move", "shutil.copyfile"}
_watch: dict = {"on": False, "seen": []}


def _audit(event: str, args, _watch=_watch) -> None:  # bound now: module globals are gone at interpreter exit
    if not _watch["on"]:
        return
    if event == "open":
        path, mode, flags = args
        writes = (isinstance(flags, int) and flags & _WRITE_FLAGS) or (
            isinstance(mode, str) and any(c in mode for c in "wax+"))
    else:
        path, writes = (args[0] if args else None), event in _CHANGES
    if writes and "__pycache__" not in str(path):  # an import made while reading may cache its bytecode
        _watch["seen"].append((event, str(path)))


sys.addaudithook(_audit)  # for the rest of the process, but it acts only inside nothing_written()


@contextlib.contextmanager
def nothing_written():
    _watch.update(on=True, seen=[])
    try:
        yield
    finally:
        _watch["on"] = False
    assert _watch["seen"] == [], _watch["seen"]


def test_the_watch_sees_a_write(tmp_path):
    with pytest.raises(AssertionError):
        with nothing_written():
            (tmp_path / "x").write_bytes(b"")


# --- what a reader may give --------------------------------------------------------------------------------------


def assert_bounded_dataset(data: Dataset) -> None:
    for x in (data.x_train, data.x_test):
        assert x.dtype == np.float32 and len(x) >= 1 and np.isfinite(x).all()
        assert len(x) <= limits.MAX_EXAMPLES
    shape = data.input_shape
    if len(shape) == 3:
        assert limits.image_sides_fit(shape[0], shape[1]) and shape[2] in limits.CHANNELS
        assert 0 <= data.x_train.min() and data.x_train.max() <= 1
    else:
        assert len(shape) == 1 and 1 <= shape[0] <= limits.MAX_VECTOR_DIM
    assert (data.y_train is None) == (data.y_test is None)
    for y, x in ((data.y_train, data.x_train), (data.y_test, data.x_test)):
        if y is not None:
            assert y.dtype == np.int64 and len(y) == len(x) and 0 <= y.min() and y.max() < limits.MAX_CLASSES


def assert_bounded_preview(preview: U.Preview) -> None:
    assert 2 <= preview.n <= 2 * limits.MAX_EXAMPLES
    assert preview.examples.dtype == np.float32 and np.isfinite(preview.examples).all()
    assert 1 <= len(preview.examples) <= U.N_EXAMPLES and preview.examples.shape[1:] == preview.example_shape
    assert all(math.isfinite(v) for v in preview.value_range) and preview.value_range[0] <= preview.value_range[1]
    if preview.label_names is not None:
        assert 1 <= len(preview.label_names) <= limits.MAX_CLASSES
        assert len(preview.label_counts) == len(preview.label_names) and sum(preview.label_counts) == preview.n
    if preview.dataset is None:
        assert preview.over_budget
    else:
        assert_bounded_dataset(preview.dataset)
        assert preview.n_train + preview.n_test == preview.n and preview.n_test >= 1


def inspected(filename: str, content: bytes) -> None:
    """inspect() gives a bounded Preview or one DataError sentence, and writes nothing."""
    with nothing_written():
        try:
            preview = U.inspect(filename, content)
        except DataError as exc:
            assert_one_sentence(str(exc), quoted=True)
            event("refused")  # --hypothesis-show-statistics tells how often each way was taken
            return
    event("preview")
    assert_bounded_preview(preview)


# --- uploads: arbitrary bytes, real zips, npz files and CSV text ---------------------------------------------------


@given(st.binary(max_size=600), st.sampled_from(["x.npz", "x.zip", "x.csv", "x.txt", "x", "x.png"]),
       st.sampled_from([b"", b"PK\x03\x04", b"PK\x05\x06"]))
def test_arbitrary_bytes_into_inspect(content, filename, magic):
    inspected(filename, magic + content)


def _png(side: tuple[int, int], mode: str) -> bytes:
    from PIL import Image

    pixels = np.random.default_rng(sum(side)).integers(0, 256, (side[1], side[0], 4), np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels, "RGBA").convert(mode).save(buffer, "PNG")
    return buffer.getvalue()


IMAGES = [_png((8, 8), "L"), _png((8, 8), "RGB"), _png((9, 12), "P"), _png((4, 8), "L"), _png((130, 8), "L")]
MEMBER_NAMES = st.one_of(
    st.sampled_from(["a.png", "b.png", "cat/1.png", "dog/2.png", "pets/cat/3.png", "/abs.png", "../up.png",
                     "a/../../b.png", "", ".", "./c.png", "__MACOSX/._a.png", ".hidden.png", "Thumbs.db", "dir/",
                     "notes.txt", "a//b.png", "C:\\x.png", "ü/ß.png", "x.PNG", "y.jpeg"]),
    st.text(max_size=10).map(lambda s: s + ".png"),
)
PAYLOADS = st.one_of(st.sampled_from(IMAGES), st.binary(max_size=60),
                     st.sampled_from(IMAGES).map(lambda b: b[: len(b) // 2]))


# A dataset a person would zip (images of one size, in class folders or not), among which hostile members hide.
GOOD_MEMBERS = st.builds(
    lambda n, image, folders: [(f"{('cat/', 'dog/')[i % 2] if folders else ''}{i}.png", image) for i in range(n)],
    st.integers(2, 5), st.sampled_from(IMAGES[:3]), st.booleans())


@given(st.one_of(st.lists(st.tuples(MEMBER_NAMES, PAYLOADS), max_size=8),
                 st.builds(lambda good, bad: good + bad, GOOD_MEMBERS,
                           st.lists(st.tuples(MEMBER_NAMES, PAYLOADS), max_size=2))),
       st.sampled_from([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED]))
def test_real_zips_of_hostile_names_and_payloads_into_inspect(members, compression):
    buffer = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(buffer, "w", compression) as archive:
        warnings.simplefilter("ignore")  # a duplicate name is part of the test
        for name, payload in members:
            archive.writestr(zipfile.ZipInfo(name), payload)
    inspected("x.zip", buffer.getvalue())


DTYPES = st.sampled_from(["u1", "i2", "i8", "u8", "f2", "f4", "f8", "c8", "?", "U2", "S2", "M8[s]"])
SHAPES = st.one_of(
    st.sampled_from([(3, 8, 8), (2, 8, 8, 1), (2, 9, 8, 3), (3, 4), (0, 8, 8), (4,), (), (2, 8, 8, 2), (2, 4, 8)]),
    hnp.array_shapes(min_dims=1, max_dims=4, max_side=5),
)
LABELS = st.builds(
    lambda labels, dtype: labels.astype(dtype),  # wrapped round where the dtype is narrower, as a careless save does
    hnp.arrays("i8", st.integers(0, 5).map(lambda n: (n,)),
               elements=st.integers(0, 9) | st.sampled_from([-1, 999, 1000, 2**40, -2**40, 2**63 - 1])),
    st.sampled_from(["i8", "u8", "i1", "u2", "f4"]),
)


def _npz_bytes(arrays: dict, compressed: bool) -> bytes:
    buffer = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(buffer, **arrays)
    return buffer.getvalue()


def _cast(value, dtype: str):
    """value as an array of dtype holds it: wrapped round, or cut to a finite or infinite float, as numpy casts."""
    with np.errstate(all="ignore"):
        return np.array(value).astype(dtype, casting="unsafe").item()


# Arrays a person would save (examples of a shape a model takes, labels to match), or any arrays at all.
@st.composite
def _dataset_arrays(draw) -> dict:
    shape = draw(st.sampled_from([(8, 8), (8, 8, 1), (9, 8, 3), (4,), (2,)]))
    dtype = draw(st.sampled_from(["u1", "f4", "f8", "i8"]))
    values = st.one_of(st.integers(0, 255), st.floats(0, 1), st.sampled_from([-1, 256, 1e300, 3.5e38, float("nan")]))
    arrays = {key: draw(hnp.arrays(dtype, (draw(st.integers(1, 3)), *shape), elements=values.map(
        lambda v: _cast(v, dtype)))) for key in ("x_train", "x_test")}
    if draw(st.booleans()):
        for key, x in (("y_train", arrays["x_train"]), ("y_test", arrays["x_test"])):
            arrays[key] = draw(LABELS.filter(lambda y, n=len(x): len(y) == n) | st.just(np.zeros(len(x), "i8")))
    return arrays


NPZ_ARRAYS = st.fixed_dictionaries(
    {},
    optional={"x_train": hnp.arrays(DTYPES, SHAPES), "x_test": hnp.arrays(DTYPES, SHAPES),
              "y_train": st.one_of(LABELS, hnp.arrays(DTYPES, SHAPES)), "y_test": LABELS,
              "other": hnp.arrays(DTYPES, SHAPES)},
)


@given(st.one_of(_dataset_arrays(), NPZ_ARRAYS), st.booleans(),
       st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=2) | st.just([]))
def test_real_npz_files_of_any_arrays_into_inspect(arrays, compressed, flips):
    content = bytearray(_npz_bytes(arrays, compressed))
    for where, value in flips:
        content[where % len(content)] = value
    inspected("x.npz", bytes(content))


CELLS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-2**70, 2**70).map(str),
    st.sampled_from(["", " ", "label", "x", "1e300", "-1e300", "3.4e38", "3.5e38", "1e-300", "nan", "inf", "-0",
                     '"1,2"', '"', '""', "1_0", "\x00", "ä"]),
    st.text(max_size=4),
)


# A table of numbers a person would save (one width, maybe a header and a label column), at most one cell odd.
def _one_cell_replaced(rows: list[list[str]], cell: str | None, where: int) -> list[list[str]]:
    if cell is not None and rows:
        row = rows[where % len(rows)]
        row[where % len(row)] = cell
    return rows


NUMBERS = st.floats(-1e6, 1e6).map(repr) | st.integers(-9, 9).map(str)
TABLES = st.builds(
    _one_cell_replaced,
    st.integers(1, 4).flatmap(lambda width: st.lists(st.lists(NUMBERS, min_size=width, max_size=width), max_size=8)),
    st.none() | CELLS, st.integers(0, 100))


@given(st.one_of(TABLES, st.lists(st.lists(CELLS, min_size=1, max_size=5), max_size=8)),
       st.sampled_from(["\n", "\r\n", "\r"]), st.booleans(), st.booleans())
def test_csv_text_into_inspect(rows, newline, labelled, bom):
    if labelled and rows:
        rows[0][-1] = "label"
    text = newline.join(",".join(row) for row in rows)
    inspected("x.csv", (b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8", "surrogatepass"))


# --- npz files by path ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("properties")


@given(content=st.one_of(st.binary(max_size=400), st.builds(_npz_bytes, NPZ_ARRAYS, st.booleans())))
def test_npz_files_into_load_npz(folder, content):
    path = folder / "data.npz"
    path.write_bytes(content)
    with nothing_written():
        try:
            data = npz.load_npz(str(path))
        except DataError as exc:
            assert_one_sentence(str(exc), quoted=True)
            event("refused")
            return
    event("dataset")
    assert_bounded_dataset(data)


# --- the uploads index -------------------------------------------------------------------------------------------

JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
                    max_leaves=6)


@pytest.fixture(scope="module")
def library_root(folder) -> tuple[Path, dict]:
    """A cache folder with one dataset stored by accept, and its index entry."""
    root = folder / "cache"
    L.accept(U.inspect("v.csv", b"a,b,label\n" + b"".join(b"%d,%d,%d\n" % (i, -i, i % 3) for i in range(12))),
             "stored", root)
    index = json.loads((root / L.DATASETS_FOLDER / L.INDEX_FILE).read_text())
    return root, index["stored"]


def _entry(good: dict):
    field = st.sampled_from(["file", "kind", "label_names", "source", "format"])
    return st.one_of(
        st.just(good),
        JSON,
        st.builds(lambda changes: {**good, **changes}, st.dictionaries(field, JSON, max_size=3)),
        st.builds(lambda changes: {**good, **changes}, st.dictionaries(field, st.sampled_from(
            [good["file"], "0123456789abcdef.npz", "../" + good["file"], "images", "vectors", ["a", "b"],
             ["x"] * (limits.MAX_CLASSES + 1), []]), max_size=3)),
    )


@given(data=st.data())
def test_an_edited_uploads_index_into_the_library(library_root, data):
    root, good = library_root
    names = st.one_of(st.sampled_from(["stored", "other", "more"]),
                      st.sampled_from(["mnist", "../up", "", "a" * 41, "npz:x", "my data"]), st.text(max_size=8))
    index = data.draw(st.one_of(JSON, st.dictionaries(names, _entry(good), max_size=4)), label="index")
    path = root / L.DATASETS_FOLDER / L.INDEX_FILE
    edited = path.with_name("edited")
    edited.write_text(json.dumps(index))
    os.replace(edited, path)  # a new file each time, as an editor saving it makes
    with nothing_written():
        listed = L.stored_datasets(root)
        for name in listed:
            stored = L.entry(name, root)
            assert stored.kind in L.KINDS and stored.path.parent == root / L.DATASETS_FOLDER
            try:
                dataset = L.load_stored(stored)
            except DataError as exc:
                assert_one_sentence(str(exc), quoted=True)
            else:
                assert_bounded_dataset(dataset)
                assert stored.label_names is None or len(stored.label_names) <= limits.MAX_CLASSES
    assert all(isinstance(name, str) and name in (index if isinstance(index, dict) else {}) for name in listed)
    event(f"{len(listed)} listed")


# --- run.json ------------------------------------------------------------------------------------------------------

FINGERPRINT = "0123456789abcdef"


def _meta(config: RunConfig, key: str) -> dict:
    return {"key": key, "config": config.to_dict(), "history": {"loss": [0.5, 0.25]},
            "metrics": {"test_mse": 0.1, "seconds": 1.5}, "data_fingerprint": FINGERPRINT, "trained_at": 1.7e9,
            "placement": None, "parameters": 17, "input_shape": [3], "aecore_version": "0"}


@pytest.fixture(scope="module")
def run_entry(folder) -> tuple[RunStore, str]:
    """A store holding one entry as the store writes it (empty model files: nothing here loads them)."""
    store = RunStore(folder / "store")
    key = run_key(RunConfig.for_arch("basic"), FINGERPRINT)
    (store.root / key).mkdir(parents=True)
    for file in ENTRY_FILES:
        (store.root / key / file).write_bytes(b"")
    return store, key


# Values a field might be edited to that the store wrote, or could have: the valid side of each check.
PLAUSIBLE = st.sampled_from([{}, {"loss": []}, {"loss": [1, 2.5, float("nan")]}, {"seconds": 0}, {"seconds": 2, "x": 1},
                             0, 17, 1.7e9, None, [3], [28, 28, 1], {"strategy": "one"}, "basic", "points3d", 64, 0.01])
META_FIELDS = ["key", "config", "history", "metrics", "data_fingerprint", "trained_at", "placement", "parameters",
               "input_shape"]
CONFIG_FIELDS = ["arch", "dataset", "epochs", "batch_size", "latent_dim", "lr", "hidden", "activation", "seed"]


@given(data=st.data())
def test_an_edited_run_json_into_the_store_and_the_compare_table(run_entry, data):
    store, key = run_entry
    config = RunConfig.for_arch("basic")
    meta = _meta(config, key)
    for name in data.draw(st.lists(st.sampled_from(META_FIELDS + [f"config.{f}" for f in CONFIG_FIELDS]),
                                   max_size=3, unique=True), label="edited"):
        where, field = (meta.get("config"), name[7:]) if name.startswith("config.") else (meta, name)
        if not isinstance(where, dict):  # the config itself was edited into something else first
            continue
        if data.draw(st.booleans(), label=f"drop {name}"):
            where.pop(field, None)
        else:
            where[field] = copy.deepcopy(data.draw(PLAUSIBLE | JSON, label=name))  # sampled values are shared
    if data.draw(st.integers(0, 9), label="not an object") == 0:
        meta = copy.deepcopy(data.draw(JSON, label="run.json"))
    (store.root / key / "run.json").write_text(json.dumps(meta))
    with nothing_written():
        try:
            _check_meta(meta, key)
        except ValueError:  # ConfigError and DataError among them: a damaged entry
            valid = False
        else:
            valid = True
        entries = store.entries()
    event("valid" if valid else "damaged")
    assert len(entries) == int(valid)
    table = runs_table(entries)
    assert table["key"].tolist() == [key] * int(valid)
