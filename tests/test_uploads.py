"""aecore.datasets.uploads and .library: each accepted format, each bad input in one sentence with nothing written, the budget."""

import json

import numpy as np
import pytest

from aecore import limits
from aecore.datasets import npz
from aecore import figures
from aecore.datasets import library as L
from aecore.datasets import uploads as U
from aecore.datasets import csv_vectors, zip_images
from aecore.datasets import DataError, holds_images, load_dataset
from tests.helpers import BAD_INPUTS, assert_one_sentence, class_zip, image_bytes, npz_of, pixels, zip_of



def written(root) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")) if root.exists() else []


# --- each format ------------------------------------------------------------------------------


def test_zip_with_a_folder_per_class_gives_sorted_labels(tmp_path):
    preview = U.inspect("pets.zip", class_zip())
    assert (preview.format, preview.kind, preview.n, preview.n_train, preview.n_test) == ("zip", "images", 10, 8, 2)
    assert preview.example_shape == (12, 20, 1)  # height x width x grey
    assert preview.label_names == ("cat", "dog") and preview.label_counts == (5, 5)
    assert preview.value_range == (float(min(pixels((12, 20), s).min() for s in [0, 1, 2, 3, 4, 10, 11, 12, 13, 14])),
                                   float(max(pixels((12, 20), s).max() for s in [0, 1, 2, 3, 4, 10, 11, 12, 13, 14])))
    assert preview.float32_bytes == 10 * 12 * 20 * 4 and not preview.over_budget
    assert preview.examples.shape == (8, 12, 20, 1)
    assert L.accept(preview, "pets", tmp_path) == "pets"
    assert L.stored_datasets(tmp_path) == ["pets"] and L.entry("pets", tmp_path).label_names == ("cat", "dog")
    # Each stored image keeps its class: dog/0.png was drawn from seed 0.
    data = preview.dataset
    every = np.concatenate([data.x_train, data.x_test])
    labels = np.concatenate([data.y_train, data.y_test])
    dog0 = np.flatnonzero((np.rint(every[..., 0] * 255) == pixels((12, 20), 0)).all(axis=(1, 2)))
    assert list(labels[dog0]) == [1]


def test_a_stored_zip_names_its_classes_in_titles_and_legends(tmp_path):
    L.accept(U.inspect("pets.zip", class_zip()), "pets")  # under the run cache, where load_dataset looks
    data = load_dataset("pets")
    assert data.label_names == ("cat", "dog")
    titles = {data.test_title(i) for i in range(len(data.x_test))}
    assert titles <= {f"#{i} ({n})" for i in (0, 1) for n in ("cat", "dog")}
    points = np.zeros((len(data.x_test), 2))
    legend = [t.name for t in figures.latent_scatter_base(points, data.y_test, "latent", data.label_names).data]
    assert legend == [data.label_names[k] for k in sorted(set(data.y_test.tolist()))]


def test_zip_without_folders_of_colour_jpegs_is_unlabelled(tmp_path):
    colour = {f"{i}.jpg": image_bytes(pixels((16, 9, 3), i), "JPEG") for i in range(4)}
    preview = U.inspect("photos.zip", zip_of(colour))
    assert preview.example_shape == (16, 9, 3) and preview.label_names is None and preview.label_counts is None
    assert (preview.n_train, preview.n_test) == (3, 1)
    L.accept(preview, "photos", tmp_path)
    data = load_dataset_at(tmp_path, "photos")
    assert data.input_shape == (16, 9, 3) and data.y_train is None
    assert 0 <= data.x_train.min() <= data.x_train.max() <= 1


def test_zip_of_grey_palette_and_rgba_pngs_is_colour_throughout(tmp_path):
    files = {"a.png": image_bytes(pixels((10, 10)), mode="L"),
             "b.png": image_bytes(pixels((10, 10, 3), 1), mode="P"),
             "c.png": image_bytes(np.dstack([pixels((10, 10, 3), 2), np.zeros((10, 10), np.uint8)]))}
    preview = U.inspect("mixed.zip", zip_of(files))
    assert preview.example_shape == (10, 10, 3)
    data = preview.dataset
    every = np.concatenate([data.x_train, data.x_test])
    assert any((x == 1).all() for x in every)  # the fully transparent image is white, as a viewer shows it
    grey = U.inspect("grey.zip", zip_of({"a.png": image_bytes(pixels((10, 10))),
                                         "b.png": image_bytes(pixels((10, 10), 1))}))
    assert grey.example_shape == (10, 10, 1) and (grey.n_train, grey.n_test) == (1, 1)


def test_zip_of_16_bit_grey_pngs_keeps_their_levels():
    levels = (np.arange(100).reshape(10, 10) * 600).astype(np.uint16)
    preview = U.inspect("deep.zip", zip_of({"a.png": image_bytes(levels), "b.png": image_bytes(levels)}))
    assert preview.example_shape == (10, 10, 1)
    np.testing.assert_allclose(preview.examples[0, ..., 0], np.rint(levels / 257) / 255, atol=1e-6)


def test_zip_leaves_out_the_files_zipping_adds(tmp_path):
    files = {"d/a.png": image_bytes(pixels()), "d/b.png": image_bytes(pixels(seed=1)),
             "__MACOSX/d/._a.png": b"\x00\x05", "__MACOSX/d/a.png": b"\x00", "d/.DS_Store": b"\x00", "d/": b""}
    assert U.inspect("d.zip", zip_of(files)).n == 2


def test_csv_with_a_label_column(tmp_path):
    text = "x,y,label,z\n" + "".join(f"{i},{i * 2},{'odd' if i % 2 else 'even'},-{i}.5\n" for i in range(10))
    preview = U.inspect("points.csv", text.encode())
    assert (preview.format, preview.kind, preview.example_shape, preview.n) == ("csv", "vectors", (3,), 10)
    assert preview.label_names == ("even", "odd") and preview.label_counts == (5, 5)
    assert preview.value_range == (-9.5, 18.0)
    L.accept(preview, "points", tmp_path)
    data = load_dataset_at(tmp_path, "points")
    rows = np.concatenate([data.x_train, data.x_test])
    labels = np.concatenate([data.y_train, data.y_test])
    assert sorted(map(tuple, rows.tolist())) == sorted((i, 2 * i, -i - 0.5) for i in range(10))
    assert all(label == (row[0] % 2) for row, label in zip(rows, labels))


def test_a_csv_over_the_cell_limit_is_refused_before_it_is_parsed(monkeypatch):
    monkeypatch.setattr(limits, "MAX_CSV_CELLS", 20)

    def no_parsing(*args, **kwargs):
        raise AssertionError("the CSV was parsed")

    monkeypatch.setattr(csv_vectors.csv, "reader", no_parsing)
    content = b"a,b,c\n" + b"1,2,3\n" * 7  # 24 cells, bounded by 16 commas and 9 lines
    with pytest.raises(DataError, match=r"^'d.csv' has up to 25 cells; the limit is 20\.$"):
        U.inspect("d.csv", content)


def test_csv_without_a_header_and_whole_number_labels_in_number_order():
    preview = U.inspect("v.csv", b"1,2\n3,4\n5,6.5\n")
    assert preview.example_shape == (2,) and preview.label_names is None and preview.value_range == (1, 6.5)
    labelled = U.inspect("v.csv", ("a,label\n" + "".join(f"{i},{i % 11}\n" for i in range(22))).encode())
    assert labelled.label_names == tuple(str(k) for k in range(11))


def test_npz_upload_reuses_the_npz_reader(tmp_path):
    x = pixels((6, 9, 11))
    preview = U.inspect("mine.npz", npz_of(x_train=x, x_test=x[:2], y_train=np.arange(6), y_test=np.arange(2)))
    assert (preview.format, preview.example_shape, preview.n_train, preview.n_test) == ("npz", (9, 11, 1), 6, 2)
    assert preview.value_range == (float(x.min()), float(x.max())) and preview.label_counts == (2, 2, 1, 1, 1, 1)
    L.accept(preview, "mine", tmp_path)
    np.testing.assert_allclose(load_dataset_at(tmp_path, "mine").x_train[..., 0], x / 255, atol=1e-6)


def test_format_is_told_by_content_whatever_the_name():
    assert U.inspect("upload", class_zip()).format == "zip"
    assert U.inspect("upload.bin", npz_of(x_train=pixels((3, 8, 8)), x_test=pixels((1, 8, 8)))).format == "npz"


# --- stored datasets by name --------------------------------------------------------------------


def load_dataset_at(root, name):
    """A stored dataset under another root than the run cache's (load_dataset reads that one)."""
    return npz.load_npz(str(L.entry(name, root).path))


def test_a_stored_name_loads_everywhere(tmp_path, monkeypatch, capsys):
    from aecore.__main__ import main
    from aecore.config import ConfigError, RunConfig

    root = tmp_path / "cache"  # conftest points AECORE_CACHE_DIR here
    preview = U.inspect("v.csv", ("a,b,c,label\n" + "".join(f"{i},{-i},{i % 3},{i % 2}\n" for i in range(40))).encode())
    L.accept(preview, "my-vectors")
    assert L.stored_datasets() == ["my-vectors"] and (root / L.DATASETS_FOLDER / L.INDEX_FILE).is_file()
    data = load_dataset("my-vectors")
    assert data.name == "my-vectors" and data.fingerprint == preview.dataset.fingerprint
    assert holds_images("my-vectors") is False
    assert RunConfig.for_arch("stacked", dataset="my-vectors").dataset == "my-vectors"
    # A config takes any name an upload could have; loading it says which exist.
    assert RunConfig.for_arch("stacked", dataset="my-vector").dataset == "my-vector"
    with pytest.raises(DataError, match="^Unknown dataset 'my-vector'; choose one of .*digits-8x8.*my-vectors\\.$"):
        load_dataset("my-vector")
    with pytest.raises(ConfigError, match="Unknown dataset 'my vectors'"):
        RunConfig.for_arch("stacked", dataset="my vectors")
    assert main(["list"]) == 0
    assert "my-vectors" in capsys.readouterr().out
    assert main(["train", "--arch", "stacked", "--dataset", "my-vectors", "--epochs", "1"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["dataset"] == "my-vectors" and summary["cached"] is False


def test_the_cli_looks_up_stored_names_under_its_cache_dir(tmp_path, capsys):
    from aecore.__main__ import main

    elsewhere = tmp_path / "elsewhere"
    L.accept(U.inspect("v.csv", b"a,b\n1,2\n3,4\n5,6\n7,8\n"), "moved", elsewhere)
    assert L.stored_datasets() == []  # not in the run cache of the environment
    assert main(["list"]) == 0
    assert "moved" not in capsys.readouterr().out
    assert main(["train", "--arch", "basic", "--dataset", "moved", "--epochs", "1", "--latent-dim", "1",
                 "--cache-dir", str(elsewhere)]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["dataset"] == "moved"
    assert main(["train", "--arch", "basic", "--dataset", "moved", "--epochs", "1"]) == 2
    assert "Unknown dataset 'moved'" in capsys.readouterr().err


def test_content_is_addressed_once(tmp_path):
    first = U.inspect("a.zip", class_zip())
    L.accept(first, "pets", tmp_path)
    assert L.accept(first, "pets", tmp_path) == "pets"  # again: nothing new
    with pytest.raises(DataError, match=r"^This data is stored already, as 'pets'; use that name\.$"):
        L.accept(U.inspect("b.zip", class_zip()), "pets-again", tmp_path)
    with pytest.raises(DataError, match=r"^The name 'pets' is taken by another stored dataset; choose another\.$"):
        L.accept(U.inspect("c.zip", class_zip(n_per_class=4)), "pets", tmp_path)
    (file,) = (tmp_path / L.DATASETS_FOLDER).glob("*.npz")
    assert file.name == f"{first.dataset.fingerprint}.npz" and L.stored_datasets(tmp_path) == ["pets"]
    assert not list((tmp_path / L.DATASETS_FOLDER).glob(".tmp-*"))


@pytest.mark.parametrize("text", ["{not json", "[1, 2]", '{"x": 3}', '{"x": {"kind": "images"}}'])
def test_a_damaged_index_lists_nothing(tmp_path, text):
    (tmp_path / L.DATASETS_FOLDER).mkdir()
    (tmp_path / L.DATASETS_FOLDER / L.INDEX_FILE).write_text(text)
    assert L.stored_datasets(tmp_path) == [] and L.entry("x", tmp_path) is None


def test_the_index_is_parsed_once_per_version(tmp_path, monkeypatch):
    parsed = []
    loads = json.loads
    monkeypatch.setattr(L.json, "loads", lambda text: parsed.append(1) or loads(text))
    L.accept(U.inspect("v.csv", b"a,label\n1,x\n3,y\n5,x\n"), "one", tmp_path)
    parsed.clear()

    def look():
        return (L.stored_datasets(tmp_path), L.entry("one", tmp_path).kind, L.entry("one", tmp_path).label_names,
                L.entry("one", tmp_path).path.name)

    first = look()
    assert look() == first and len(parsed) == 1
    L.accept(U.inspect("w.csv", b"a,b\n1,2\n3,5\n5,6\n"), "two", tmp_path)  # a new index: read again
    assert L.stored_datasets(tmp_path) == ["one", "two"] and len(parsed) == 2
    assert look()[1:] == first[1:] and len(parsed) == 2


def test_a_failed_write_is_one_sentence_and_leaves_no_partial_file(tmp_path, monkeypatch):
    import errno
    from pathlib import Path

    def disk_full(self, data):
        with open(self, "wb") as f:
            f.write(data[:10])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_bytes", disk_full)
    with pytest.raises(DataError, match=r"^The dataset could not be written in .* \(No space left on device\)\.$"):
        L.accept(U.inspect("v.csv", b"a,b\n1,2\n3,4\n5,6\n"), "one", tmp_path)
    assert [p.name for p in (tmp_path / L.DATASETS_FOLDER).iterdir()] == [".lock"]


def test_an_edited_index_names_no_file_outside_its_folder(tmp_path):
    folder = tmp_path / "cache" / L.DATASETS_FOLDER  # the run cache's, as conftest sets it
    folder.mkdir(parents=True)
    (folder / L.INDEX_FILE).write_text(json.dumps({"evil": {"file": "../../../etc/passwd", "kind": "images"}}))
    assert L.entry("evil") is None
    with pytest.raises(DataError, match="Unknown dataset 'evil'"):
        load_dataset("evil")


def test_accepts_at_once_keep_every_name(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    def store(k):
        rows = "".join(f"{k},{i}\n" for i in range(5))
        return L.accept(U.inspect("v.csv", rows.encode()), f"set-{k}", tmp_path)

    with ThreadPoolExecutor(8) as pool:
        names = list(pool.map(store, range(16)))
    assert L.stored_datasets(tmp_path) == sorted(names) and len(list((tmp_path / L.DATASETS_FOLDER).glob("*.npz"))) == 16


def test_the_budget_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("AECORE_MAX_DATASET_MB", "2")
    assert limits._budget_from_env() == 2 * 2**20
    monkeypatch.setenv("AECORE_MAX_DATASET_MB", "lots")
    assert limits._budget_from_env() == 1024 * 2**20


# --- the memory budget ----------------------------------------------------------------------------


def test_over_the_budget_is_refused_unless_subsampled(tmp_path, monkeypatch):
    content = class_zip(n_per_class=10)  # 20 images of 12 x 20 x 1: 960 bytes each as float32
    decoded = []
    real = zip_images._pixels
    monkeypatch.setattr(zip_images, "_pixels", lambda *args: decoded.append(1) or real(*args))
    preview = U.inspect("pets.zip", content, budget_bytes=12 * 960 + 5)
    assert preview.over_budget and preview.suggested_subsample == 12 and preview.dataset is None
    assert preview.float32_bytes == 20 * 960 and preview.label_counts == (10, 10)
    assert len(decoded) == U.N_EXAMPLES and len(preview.examples) == U.N_EXAMPLES  # not decoded in full
    with pytest.raises(DataError, match=r"over the budget of .*; keep a subsample of at most 12 examples\.$"):
        L.accept(preview, "pets", tmp_path)
    assert written(tmp_path) == []
    with pytest.raises(DataError, match=r"^A subsample of 13 examples is over the memory budget"):
        L.accept(preview, "pets", tmp_path, subsample=13)
    assert written(tmp_path) == []
    L.accept(preview, "pets", tmp_path, subsample=12)
    data = load_dataset_at(tmp_path, "pets")
    assert len(data.x_train) + len(data.x_test) == 12 and len(data.x_test) == 2


def test_csv_over_the_budget_subsamples_seeded_rows(tmp_path):
    content = ("a,b\n" + "".join(f"{i},{i}\n" for i in range(100))).encode()
    preview = U.inspect("v.csv", content, budget_bytes=8 * 30)
    assert preview.suggested_subsample == 30
    one = U.inspect("v.csv", content, budget_bytes=8 * 30, subsample=30).dataset
    two = U.inspect("v.csv", content, budget_bytes=8 * 30, subsample=30).dataset
    assert one.fingerprint == two.fingerprint and len(one.x_train) + len(one.x_test) == 30
    assert one.x_train[:, 0].max() > 30  # chosen across the file, not its first rows


def test_npz_over_the_budget_is_refused_from_its_headers(tmp_path):
    content = npz_of(x_train=pixels((100, 28, 28)), x_test=pixels((10, 28, 28)))
    with pytest.raises(DataError, match=r"^'big.npz' would need .* GiB of memory; the limit is"):
        U.inspect("big.npz", content, budget_bytes=1000)


def test_the_budget_is_one_number_for_every_file():
    assert U.inspect("x.csv", b"1\n2\n").budget_bytes == limits.MAX_DATASET_BYTES


# --- each bad input (tests.helpers.BAD_INPUTS): one sentence, nothing stored ----------------------


@pytest.mark.parametrize("make, words", BAD_INPUTS.values(), ids=BAD_INPUTS.keys())
def test_bad_input_is_one_sentence_and_stores_nothing(tmp_path, monkeypatch, make, words):
    filename, content = make(monkeypatch) if make.__code__.co_argcount else make()
    with pytest.raises(DataError, match=words) as caught:
        L.accept(content, "mine", tmp_path, filename=filename)
    assert_one_sentence(str(caught.value))
    assert written(tmp_path) == []


@pytest.mark.parametrize("name, words", [
    ("mnist", "is the name of a built-in dataset"),
    ("Digits-8x8", "is the name of a built-in dataset"),
    ("npz", "is the name of a built-in dataset"),
    ("npz:x", "1 to 40 letters"),
    ("", "1 to 40 letters"),
    ("a" * 41, "1 to 40 letters"),
    ("my data", "1 to 40 letters"),
    ("../up", "1 to 40 letters"),
    (None, "1 to 40 letters"),
])
def test_bad_names_are_refused_before_anything_is_read(tmp_path, name, words):
    with pytest.raises(DataError, match=words):
        L.accept(class_zip(), name, tmp_path, filename="pets.zip")
    assert written(tmp_path) == []


def test_a_bad_subsample_is_one_sentence():
    with pytest.raises(DataError, match="at least 2 examples"):
        U.inspect("x.csv", b"1\n2\n3\n", subsample=1)


# --- damaged uploads of every kind: a Preview or one DataError, never another exception ------------

from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

GOOD = {
    "pets.zip": class_zip(n_per_class=2),
    "v.csv": b"a,b,label\n1,2,x\n3,4,y\n5,6,x\n",
    "d.npz": npz_of(x_train=pixels((3, 8, 8)), x_test=pixels((1, 8, 8)), y_train=np.arange(3), y_test=np.arange(1)),
}


@given(st.sampled_from(sorted(GOOD)), st.data())
def test_damaged_uploads_end_in_a_preview_or_one_sentence(filename, data):
    content = bytearray(GOOD[filename])
    for _ in range(data.draw(st.integers(1, 8))):
        content[data.draw(st.integers(0, len(content) - 1))] = data.draw(st.integers(0, 255))
    # Mostly whole: a cut zip has lost its directory, and fails at once.
    cut = data.draw(st.integers(1, len(content))) if data.draw(st.booleans()) else len(content)
    try:
        preview = U.inspect(filename, bytes(content[:cut]))
    except DataError as exc:
        assert_one_sentence(str(exc))
    else:
        assert preview.n >= 2 and preview.n_test >= 1


@given(st.binary(max_size=400), st.sampled_from(["x.zip", "x.csv", "x.npz", "x", "x.png"]), st.booleans())
def test_random_bytes_end_in_one_sentence(content, filename, zip_magic):
    zip_magic = zip_magic or filename in ("x.csv", "x")  # random text may well be a CSV of numbers
    with pytest.raises(DataError):
        U.inspect(filename, (b"PK\x03\x04" if zip_magic else b"") + content)
