"""What people upload, edit and type (issue 23): each case that went wrong ends in one sentence, writes
nothing, and leaves the app and the CLI working.

The readers' properties over arbitrary input are in tests/test_properties.py; this module holds one test (or a
table of them) per case, and the checks of the model-size estimates against Keras' own counts.
"""

from __future__ import annotations

import dataclasses
import io
import json
import math
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest

import aecore.train
from aecore import export, limits, models
from aecore.__main__ import main
from aecore.config import RunConfig
from aecore.datasets import DataError, load_dataset
from aecore.datasets import library as L
from aecore.datasets import csv_vectors
from aecore.datasets import uploads as U
from aecore.errors import ConfigError, ExportError
from aecore.models import build_model, check_size, get_spec, model_bytes, names
from aecore.paths import cache_root
from aecore.store import ENTRY_FILES, RunStore, run_key
from tests.helpers import assert_clean, assert_one_sentence, form, open_link, open_page, refuse_training, texts


@pytest.fixture
def no_training(monkeypatch):
    """From now on, any training fails the test."""
    monkeypatch.setattr(aecore.train, "train", refuse_training)


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
    assert words in assert_one_sentence(str(caught.value)), caught.value
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
    real = csv_vectors.csv.reader

    def reader(lines, *args, **kwargs):
        for row in real(lines, *args, **kwargs):
            made.append(len(row))
            yield row

    monkeypatch.setattr(csv_vectors.csv, "reader", reader)
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


# --- 5. embed --out is checked before any training ----------------------------------------------------------


def _refuses_new_files(folder: str) -> bool:
    try:
        with tempfile.TemporaryFile(dir=folder):
            return False
    except OSError:
        return True


@pytest.mark.parametrize("out, words", [
    ("{tmp}", "must end in .npz or .csv"),
    ("{tmp}/codes.npz", "is a folder"),  # made a folder below
    ("/sys/codes.npz", "cannot be written"),  # refused even to root
    ("{tmp}/none/codes.csv", "does not exist"),
    ("{tmp}/nul\0.npz", "NUL character"),
])
def test_embed_checks_its_output_before_training(tmp_path, capsys, no_training, out, words):
    if out.startswith("/sys") and not _refuses_new_files("/sys"):
        pytest.skip("/sys takes new files here")
    (tmp_path / "codes.npz").mkdir()
    cache = tmp_path / "cache"
    status = main(["embed", "--arch", "basic", "--out", out.format(tmp=tmp_path), "--cache-dir", str(cache)])
    err = capsys.readouterr().err.strip()
    assert status == 2 and err.startswith("error: ") and words in assert_one_sentence(err), err
    assert not cache.exists() and written(tmp_path) == ["codes.npz"]


def test_check_path_refuses_what_is_not_a_regular_file(tmp_path):
    fifo = tmp_path / "pipe.npz"
    os.mkfifo(fifo)
    with pytest.raises(ExportError, match="is not a regular file"):
        export.check_path(fifo)
    assert export.check_path(tmp_path / "new.csv") == tmp_path / "new.csv"
    (tmp_path / "old.npz").write_bytes(b"replaced")
    assert export.check_path(tmp_path / "old.npz") == tmp_path / "old.npz"  # replaced when written
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.npz", "pipe.npz"]  # the check wrote nothing


# --- 6. an edited uploads index and an edited run.json --------------------------------------------------------


@pytest.fixture
def index_root(tmp_path):
    """A cache folder with one stored dataset, 'good', and a function that edits its index."""
    root = tmp_path / "cache"
    L.accept(U.inspect("v.csv", b"a,b,label\n" + b"".join(b"%d,%d,%d\n" % (i, -i, i % 2) for i in range(20))),
             "good", root)
    path = root / L.DATASETS_FOLDER / L.INDEX_FILE

    def edit(name, entry):
        index = json.loads(path.read_text())
        index[name] = entry
        tmp = path.with_name("edited.json")
        tmp.write_text(json.dumps(index))
        os.replace(tmp, path)  # a new file, as an editor saving it makes

    return root, json.loads(path.read_text())["good"], edit


WRONG_ENTRIES = {
    "entry a string": lambda good: "0123456789abcdef.npz",
    "entry a list": lambda good: [good],
    "entry null": lambda good: None,
    "file a number": lambda good: {**good, "file": 5},
    "file null": lambda good: {**good, "file": None},
    "file a list": lambda good: {**good, "file": [good["file"]]},
    "file outside the folder": lambda good: {**good, "file": "../" + good["file"]},
    "file not a fingerprint": lambda good: {**good, "file": good["file"].upper()},
    "kind a number": lambda good: {**good, "kind": 1},
    "kind a list": lambda good: {**good, "kind": ["vectors"]},
    "kind an object": lambda good: {**good, "kind": {"vectors": 1}},
    "kind unknown": lambda good: {**good, "kind": "pictures"},
    "label names a string": lambda good: {**good, "label_names": "01"},  # ', '.join of it was the page's crash
    "label names a number": lambda good: {**good, "label_names": 2},
    "label names of numbers": lambda good: {**good, "label_names": [0, 1]},
    "label names empty": lambda good: {**good, "label_names": []},
    "label names an object": lambda good: {**good, "label_names": {"0": "even"}},
    "label names too many": lambda good: {**good, "label_names": ["x"] * (limits.MAX_CLASSES + 1)},
}


@pytest.mark.parametrize("wrong", WRONG_ENTRIES.values(), ids=WRONG_ENTRIES.keys())
def test_an_edited_index_entry_is_left_out_everywhere(index_root, capsys, monkeypatch, no_training, wrong):
    root, good, edit = index_root
    edit("bad", wrong(good))
    assert L.stored_datasets(root) == ["good"] and L.entry("bad", root) is None
    with cache_root(root), pytest.raises(DataError, match="^Unknown dataset 'bad'"):
        load_dataset("bad")
    assert main(["train", "--arch", "stacked", "--dataset", "bad", "--cache-dir", str(root)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: Unknown dataset 'bad'") and assert_one_sentence(err)
    monkeypatch.setenv("AECORE_CACHE_DIR", str(root))
    assert main(["list"]) == 0  # the CLI still works, and lists the good one alone
    listed = capsys.readouterr().out
    assert "good" in listed and "bad" not in listed


@pytest.mark.parametrize("name", ["mnist", "../up", "", "a" * 41, "my data", "npz:x"])
def test_an_edited_index_name_is_left_out(index_root, name):
    root, good, edit = index_root
    edit(name, good)
    assert L.stored_datasets(root) == ["good"]


FINGERPRINT = "0123456789abcdef"
DELETE = object()


def handmade_entry(root: Path, seed: int = 0, **changes) -> str:
    """A basic run's entry as the store writes it (the model files empty: nothing here loads them), with
    changes to its run.json (a name "config__epochs" is the config's field; DELETE leaves a field out)."""
    config = RunConfig.for_arch("basic", seed=seed)
    key = run_key(config, FINGERPRINT)
    meta = {"key": key, "config": config.to_dict(), "history": {"loss": [0.5, 0.25], "val_loss": [0.6, 0.3]},
            "metrics": {"test_mse": 0.1, "pca_mse": 0.09, "seconds": 1.5}, "data_fingerprint": FINGERPRINT,
            "trained_at": 1.7e9 + seed, "placement": {"strategy": "one"}, "parameters": 17, "input_shape": [3],
            "aecore_version": "0"}
    for name, value in changes.items():
        where, field = (meta["config"], name.split("__")[1]) if name.startswith("config__") else (meta, name)
        if value is DELETE:
            where.pop(field, None)
        else:
            where[field] = value
    folder = root / key
    folder.mkdir(parents=True)
    for file in ENTRY_FILES:
        (folder / file).write_bytes(b"")
    (folder / "run.json").write_text(json.dumps(meta))
    return key


WRONG_RUN_JSON = {
    "config a string": dict(config="basic"),
    "config a list": dict(config=[1]),
    "config null": dict(config=None),
    "config's arch a number": dict(config__arch=5),
    "config's epochs text": dict(config__epochs="3"),
    "config's hidden a number": dict(config__hidden=5),
    "config's activation a list": dict(config__activation=["linear"]),
    "config's dataset a number": dict(config__dataset=3),
    "history a list": dict(history=[0.5]),
    "history of text": dict(history={"loss": ["0.5"]}),
    "history of nulls": dict(history={"loss": [None]}),
    "metrics a list": dict(metrics=[1]),
    "metrics of text": dict(metrics={"test_mse": "0.1", "seconds": 1.5}),
    "metrics of booleans": dict(metrics={"test_mse": True, "seconds": 1.5}),
    "metrics without seconds": dict(metrics={"test_mse": 0.1}),
    "fingerprint a number": dict(data_fingerprint=5),
    "fingerprint missing": dict(data_fingerprint=DELETE),
    "trained at text": dict(trained_at="yesterday"),
    "trained at null": dict(trained_at=None),
    "trained at a boolean": dict(trained_at=True),
    "placement text": dict(placement="cpu"),
    "parameters text": dict(parameters="17"),
    "parameters negative": dict(parameters=-1),
    "parameters a fraction": dict(parameters=1.5),
    "input shape text": dict(input_shape="3"),
    "input shape of zero": dict(input_shape=[0]),
    "input shape of text": dict(input_shape=["3"]),
    "input shape of two sides": dict(input_shape=[3, 3]),
    "input shape an image, for basic": dict(input_shape=[28, 28, 1]),
    "key of another entry": dict(key="0" * 24),
}


@pytest.mark.parametrize("changes", WRONG_RUN_JSON.values(), ids=WRONG_RUN_JSON.keys())
def test_an_edited_run_json_is_left_out_of_the_table_and_discarded_on_load(tmp_path, changes):
    from dashboard.views.run_table import runs_table

    store = RunStore(tmp_path / "store")
    good = handmade_entry(store.root, seed=1)
    bad = handmade_entry(store.root, seed=2, **changes)
    entries = store.entries()
    assert [e["key"] for e in entries] == [good]
    assert runs_table(entries)["key"].tolist() == [good]
    assert store.load_key(bad) is None
    (problem,) = store.take_problems()
    assert "run.json" in assert_one_sentence(problem)


def test_a_run_time_pandas_cannot_hold_is_no_crash(tmp_path):
    from dashboard.views.run_table import runs_table

    store = RunStore(tmp_path / "store")
    handmade_entry(store.root, trained_at=1e300)
    table = runs_table(store.entries())
    assert len(table) == 1 and table["trained at"].isna().all()


def test_the_pages_over_edited_files_draw(index_root, monkeypatch):
    """The Your data page over an index edited in every way above, and Compare over edited runs."""
    root, good, edit = index_root
    for i, wrong in enumerate(WRONG_ENTRIES.values()):
        edit(f"bad{i}", wrong(good))
    monkeypatch.setenv("AECORE_CACHE_DIR", str(root))
    at = open_page("data")
    assert not at.error, texts(at.error)
    assert at.dataframe[0].value["name"].tolist() == ["good"]
    store = RunStore(root)
    handmade_entry(store.root, seed=1)
    for seed, changes in enumerate(WRONG_RUN_JSON.values(), start=2):
        handmade_entry(store.root, seed=seed, **changes)
    at.switch_page("app_pages/compare.py").run()
    assert_clean(at)
    assert "1 run of points3d" in at.caption[0].value


# --- 7. a link the form could not train opens the defaults -------------------------------------------------------


@pytest.mark.parametrize("arch, dataset", [("basic", "mnist-sample"), ("conv", "points3d"), ("vae", "swiss-roll")])
def test_a_link_to_a_dataset_its_model_cannot_take_opens_the_defaults(monkeypatch, arch, dataset):

    monkeypatch.setenv("AECORE_STUDIO_TEST_DEFAULTS", "1")
    defaults = form(open_page(arch), arch)
    at = open_link(arch, {"dataset": dataset, "epochs": "2"})
    (warning,) = texts(at.warning)
    assert warning.startswith(f"The link's dataset ({dataset}) is not valid (The {arch} model needs ")
    assert warning.endswith("; the form shows the defaults.") and assert_one_sentence(warning)
    assert form(at, arch) == defaults and not at.error, texts(at.error)


# --- 8. the size of a model is bounded before it is built ----------------------------------------------------------


def keras_outputs(model) -> int:
    """The values per example of every layer's output, nested models' layers included (their own not counted)."""
    import keras

    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            total += keras_outputs(layer)
        elif not isinstance(layer, keras.layers.InputLayer):
            total += math.prod(layer.output.shape[1:])
    return total


SHAPES = {
    "basic": [({}, (3,)), ({"hidden_width": 16, "latent_dim": 4}, (7,))],
    "stacked": [({}, (28, 28, 1)), ({"hidden": (9, 5, 3), "latent_dim": 2}, (10,)), ({}, (13, 9, 3))],
    "conv": [({}, (28, 28, 1)), ({"width": 0.25, "latent_dim": 7}, (13, 9, 3)), ({"width": 1.0}, (32, 32, 3))],
    "vae": [({}, (28, 28, 1)), ({"latent_dim": 5}, (13, 9, 3)), ({}, (8, 8, 1))],
}


@pytest.mark.parametrize("arch", names())
def test_the_estimates_are_what_keras_builds(arch):
    spec = get_spec(arch)
    for overrides, shape in SHAPES[arch]:
        config = RunConfig.for_arch(arch, **overrides)
        model = build_model(config, shape)
        assert spec.parameters(config, shape) == model.count_params(), (overrides, shape)
        # The VAE trains through its own step: encoder, the sampled code, decoder.
        built = (keras_outputs(model.encoder) + config.latent_dim + keras_outputs(model.decoder)
                 if arch == "vae" else keras_outputs(model))
        assert spec.activations(config, shape) == built, (overrides, shape)


def test_a_model_over_the_bound_is_refused_before_it_is_built(monkeypatch):
    def no_building(config, input_shape):
        raise AssertionError("the model was built")

    config = RunConfig.for_arch("stacked", hidden=(8192,) * 16)
    need, parameters, batch = model_bytes(config, (28, 28, 1))
    assert parameters > 10**9 and need > limits.MAX_MODEL_BYTES
    monkeypatch.setitem(models._REGISTRY, "stacked", dataclasses.replace(get_spec("stacked"), build=no_building))
    with pytest.raises(ConfigError) as caught:
        build_model(config, (28, 28, 1))
    message = assert_one_sentence(str(caught.value))
    assert message.startswith(f"The stacked model would need about {limits.mib(need)} to train on examples of shape "
                              f"(28, 28, 1) ({parameters:,} parameters, batches of 64), "
                              f"{limits.mib(need - limits.MAX_MODEL_BYTES)} over the bound of "
                              f"{limits.mib(limits.MAX_MODEL_BYTES)} (AECORE_MAX_MODEL_MB)")
    with pytest.raises(ConfigError, match="over the bound"):
        aecore.train.train(config, load_dataset("mnist-sample"))


def test_the_bound_counts_the_batch_a_dataset_can_fill(monkeypatch):
    config = RunConfig.for_arch("conv", batch_size=1024, width=1.0)
    small, large = model_bytes(config, (28, 28, 1), examples=10), model_bytes(config, (28, 28, 1))
    assert small[2] == 10 and large[2] == 1024 and small[0] < large[0]
    monkeypatch.setattr(limits, "MAX_MODEL_BYTES", (small[0] + large[0]) // 2)
    check_size(config, (28, 28, 1), examples=10)
    with pytest.raises(ConfigError, match="batches of 1,024"):
        check_size(config, (28, 28, 1))


def test_every_default_fits_the_bound():
    shapes = {"basic": (3,), "stacked": (32, 32, 3), "conv": (32, 32, 3), "vae": (32, 32, 3)}
    for arch in names():
        check_size(RunConfig.for_arch(arch), shapes[arch])


def test_the_bound_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv(limits.MODEL_BUDGET_ENV, "512")
    assert limits._budget_from_env(2048, limits.MODEL_BUDGET_ENV) == 512 * 2**20
    for text in ("lots", "-1", "inf", "nan"):
        monkeypatch.setenv(limits.MODEL_BUDGET_ENV, text)
        assert limits._budget_from_env(2048, limits.MODEL_BUDGET_ENV) == 2048 * 2**20


def test_too_many_hidden_layers_are_refused_by_the_config():
    with pytest.raises(ConfigError, match="^A model may have 1 to 16 hidden layers, got 2000\\.$"):
        RunConfig.for_arch("stacked", hidden=(8,) * 2000)
    RunConfig.for_arch("stacked", hidden=(8,) * limits.MAX_HIDDEN_LAYERS)


@pytest.mark.parametrize("args, words", [
    (["--hidden", ",".join(["8192"] * 16)], "over the bound of"),
    (["--hidden", ",".join(["8"] * 2000)], "1 to 16 hidden layers"),
])
def test_the_cli_refuses_a_model_too_big_before_training(tmp_path, capsys, no_training, args, words):
    cache = tmp_path / "cache"
    assert main(["train", "--arch", "stacked", *args, "--cache-dir", str(cache)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and words in assert_one_sentence(err), err
    assert written(cache) == []


@pytest.mark.parametrize("params, bad", [
    ({"hidden": ",".join(["64"] * 2000)}, "hidden"),
    ({"epochs": "2", "hidden": ",".join(["8192"] * 16)}, "hidden"),
])
def test_a_link_to_a_model_too_big_opens_the_defaults(monkeypatch, params, bad):

    monkeypatch.setenv("AECORE_STUDIO_TEST_DEFAULTS", "1")
    defaults = form(open_page("stacked"), "stacked")
    at = open_link("stacked", params)
    (warning,) = texts(at.warning)
    assert warning.startswith(f"The link's {bad} (") and assert_one_sentence(warning)
    assert form(at, "stacked") == defaults


def test_the_form_shows_the_bound_and_trains_nothing(monkeypatch):
    monkeypatch.setenv("AECORE_STUDIO_TEST_DEFAULTS", "1")
    at = open_page("stacked")
    monkeypatch.setattr(aecore.train, "train", refuse_training)
    at.sidebar.text_input(key="form.stacked.hidden").set_value(", ".join(["8192"] * 16))
    at.form_submit_button[0].click().run()
    assert_clean(at)
    (error,) = texts(at.error)
    assert error.startswith("The stacked model would need about ") and "over the bound of" in assert_one_sentence(error)
    assert "training.stacked" not in at.session_state or at.session_state["training.stacked"] is None
