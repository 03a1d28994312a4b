"""Anomaly detection on your own data (issue 25): any stored run's dataset as the normal data, scored against
clearly different inputs (vectors too), another dataset of the same example shape or an uploaded file; per-pixel and
per-feature error maps; `python -m aecore anomaly`.

The Keras runs are the session's tiny ones (conftest's trained_runs), copied into each test's fresh run cache; no
test here trains.
"""

import csv
import io
import json

import numpy as np
import pytest

import aecore.__main__
import aecore.train
from aecore import anomaly, figures
from aecore.datasets import MNIST_SHAPE, DataError, library, load_dataset, stored_datasets
from aecore.datasets.uploads import inspect
from tests.helpers import (
    app_tiny,
    assert_clean,
    assert_one_sentence,
    assert_one_sentence_exit_2,
    cli,
    npz_of,
    open_page,
    refuse_training,
    texts,
)


def digits_npz(n: int = 12, shape=MNIST_SHAPE, seed: int = 0) -> bytes:
    """An .npz upload of n images of this shape in [0, 1] (real digits, inverted, where the shape is MNIST's)."""
    if tuple(shape) == MNIST_SHAPE:
        x = 1.0 - load_dataset("mnist-sample").x_test[:n]
    else:
        x = np.random.default_rng(seed).random((n, *shape), dtype=np.float32)
    return npz_of(x_train=x[: n - 4].astype(np.float32), x_test=x[n - 4:].astype(np.float32))


@pytest.fixture
def no_keras_downloads(monkeypatch, tmp_path):
    """No Keras dataset is on this machine, whatever it holds."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))


# --- Score sets: other datasets and uploads ----------------------------------------------------------------------


def test_the_built_in_shapes_are_those_the_offline_datasets_load():
    for name in ("points3d", "swiss-roll", "s-curve", "mnist-sample", "digits-8x8"):
        assert anomaly.BUILT_IN_SHAPES[name] == load_dataset(name).input_shape, name


def test_same_shape_datasets_are_the_ones_on_this_machine_and_stored_uploads(no_keras_downloads):
    assert anomaly.same_shape_datasets((3,), exclude=("points3d",)) == ["swiss-roll", "s-curve"]
    assert anomaly.same_shape_datasets(MNIST_SHAPE) == ["mnist-sample"]  # mnist, fashion-mnist: not downloaded
    library.accept(digits_npz(), "my-digits", filename="my-digits.npz")
    library.accept(digits_npz(shape=(8, 8, 1)), "my-small", filename="my-small.npz")
    assert anomaly.same_shape_datasets(MNIST_SHAPE, exclude=("mnist-sample",)) == ["my-digits"]
    assert anomaly.same_shape_datasets((8, 8, 1)) == ["digits-8x8", "my-small"]


def test_another_dataset_or_an_upload_of_another_shape_is_refused_in_one_sentence(no_keras_downloads, monkeypatch):
    mnist = load_dataset("mnist-sample")
    assert anomaly.score_dataset("digits-8x8", load_dataset("digits-8x8")).shape[1:] == (8, 8, 1)
    with pytest.raises(DataError) as refused:
        anomaly.score_dataset("digits-8x8", mnist)
    assert "images of 8 x 8 x 1, not images of 28 x 28 x 1" in assert_one_sentence(str(refused.value))
    monkeypatch.setattr(anomaly, "load_dataset", lambda name: pytest.fail("loaded (downloaded) the dataset"))
    with pytest.raises(DataError) as refused:
        anomaly.score_dataset("fashion-mnist", mnist)
    assert "never downloaded" in assert_one_sentence(str(refused.value))

    upload = inspect("points.csv", b"1,2,3\n4,5,6\n7,8,9\n")
    with pytest.raises(DataError) as refused:
        anomaly.upload_examples(upload, mnist)
    assert "vectors of 3 features, not images of 28 x 28 x 1" in assert_one_sentence(str(refused.value), quoted=True)
    scored = anomaly.upload_examples(inspect("digits.npz", digits_npz(12)), mnist)
    assert scored.shape == (12, *MNIST_SHAPE)  # every example of the file, train and test split alike
    assert stored_datasets() == []  # scored, never stored


def test_clearly_different_vectors_are_far_shuffled_and_noise_of_the_data_spread():
    data = load_dataset("points3d")
    made = anomaly.different_vectors(data.x_test, data.x_train, seed=0)
    assert list(made) == [anomaly.SCALED, anomaly.SHUFFLED, anomaly.GAUSSIAN]
    assert all(x.shape == data.x_test.shape and x.dtype == np.float32 for x in made.values())
    mean = data.x_train.mean(axis=0)
    np.testing.assert_allclose(made[anomaly.SCALED] - mean, anomaly.FAR_SCALE * (data.x_test - mean), rtol=1e-5,
                               atol=1e-5)
    for j in range(data.x_test.shape[1]):  # each feature's values are the test set's own, in another order
        np.testing.assert_array_equal(np.sort(made[anomaly.SHUFFLED][:, j]), np.sort(data.x_test[:, j]))
    assert not np.array_equal(made[anomaly.SHUFFLED], data.x_test)
    np.testing.assert_allclose(made[anomaly.GAUSSIAN].std(axis=0), data.x_train.std(axis=0), rtol=0.3)


def test_the_threshold_at_a_recall_flags_that_share_and_the_summary_counts():
    normal, anomalies = np.array([0.5, 1.5, 2.5, 3.5]), np.arange(1.0, 11.0)
    threshold = anomaly.threshold_at_recall(anomalies, 0.9)
    assert 1.0 < threshold < 2.0  # 2..10 are flagged: 9 of 10
    assert anomaly.threshold_at_recall(anomalies, 1.0) < 1.0
    summary = anomaly.summary_at_recall(normal, anomalies, 0.9)
    assert summary["recall"] == pytest.approx(0.9) and summary["false_alarms"] == pytest.approx(0.5)
    assert summary["counts"] == {"normal": 4, "anomalies": 10, "flagged": 11, "flagged_anomalies": 9,
                                 "false_alarms": 2}
    assert summary["precision"] == pytest.approx(9 / 11)
    errors32 = np.random.default_rng(0).random(1000, dtype=np.float32)  # float32, as the models' errors are
    for recall in (0.5, 0.9, 0.999, 1.0):
        assert (errors32 > anomaly.threshold_at_recall(errors32, recall)).mean() >= recall
    for bad in (0.0, 1.5):
        with pytest.raises(DataError):
            anomaly.threshold_at_recall(anomalies, bad)
    rows = list(csv.DictReader(io.StringIO(anomaly.errors_csv(
        {"normal": (np.array([3, 7]), np.array([0.5, 2.5])), "anomaly": (np.array([0]), np.array([2.0]))},
        threshold).decode())))
    assert [(r["set"], r["index"], r["flagged"]) for r in rows] == [("normal", "3", "0"), ("normal", "7", "1"),
                                                                   ("anomaly", "0", "1")]


def test_score_sets_name_what_is_scored_and_refuse_the_rest_in_one_sentence(no_keras_downloads):
    mnist = load_dataset("mnist-sample")
    inverted = anomaly.score_sets(mnist, "inverted")
    np.testing.assert_allclose(inverted.anomalies, 1.0 - mnist.x_test)
    assert anomaly.score_sets(load_dataset("points3d"), "shuffled").anomaly_name == anomaly.SHUFFLED
    without_3 = load_dataset("mnist-sample-without-3")
    held = anomaly.score_sets(without_3, anomaly.HELD_OUT_SCORE)
    assert (without_3.y_test[held.anomaly_index] == 3).all() and (without_3.y_test[held.normal_index] != 3).all()
    assert len(held.normal) + len(held.anomalies) == len(without_3.x_test)
    for score, words in (("nonsense", "Unknown --score"), ("shuffled", "is for vectors"),
                         ("held-out", "BASE-without-D"), ("mnist-sample", "are those of the normal"),
                         ("digits-8x8", "8 x 8 x 1")):
        with pytest.raises(DataError) as refused:
            anomaly.score_sets(mnist, score)
        assert words in assert_one_sentence(str(refused.value)), score
    with pytest.raises(DataError) as refused:  # its test split is the whole of mnist-sample's
        anomaly.score_sets(without_3, "mnist-sample")
    assert "are those of the normal dataset 'mnist-sample-without-3'" in assert_one_sentence(str(refused.value))


# --- Error maps ----------------------------------------------------------------------------------------------------


def test_error_maps_are_of_the_images_shape_and_feature_maps_rows_by_features():
    rng = np.random.default_rng(0)
    for shape in (MNIST_SHAPE, (30, 22, 3)):
        images = rng.random((3, *shape), dtype=np.float32)
        fig = figures.error_maps(images, images * 0.5, ["a", "b", "c"])
        maps = [np.asarray(t.z) for t in fig.data if t.type == "heatmap"]
        assert len(maps) == 3 and all(m.shape == shape[:2] for m in maps)
    vectors = rng.random((6, 3), dtype=np.float32)
    fig = figures.feature_error_map(vectors, vectors * 0.5, [f"row {i}" for i in range(6)], zmax=1.0)
    (heatmap,) = fig.data
    assert np.asarray(heatmap.z).shape == (6, 3) and heatmap.zmax == 1.0
    np.testing.assert_allclose(heatmap.z, (vectors * 0.5) ** 2, rtol=1e-6)


# --- The command line ----------------------------------------------------------------------------------------------


def test_the_cli_prints_roc_auc_and_the_threshold_at_a_recall_and_writes_each_error(trained_runs, tmp_path,
                                                                                     monkeypatch, capsys):
    cache = trained_runs.copy_to(tmp_path / "cache", app_tiny("basic"))
    out = tmp_path / "scores.csv"
    monkeypatch.setattr(aecore.train, "train", refuse_training)  # the run comes from the cache
    # In this process (its Keras is loaded already); the next test runs the command line as a process of its own.
    assert aecore.__main__.main(["anomaly", "--arch", "basic", "--epochs", "5", "--score", "shuffled", "--recall",
                                 "0.8", "--out", str(out), "--cache-dir", str(cache)]) == 0
    shown = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert shown["score"] == "shuffled" and shown["anomalies"] == anomaly.SHUFFLED and shown["recall_asked"] == 0.8
    assert shown["unit"] == "MSE per feature" and 0.0 <= shown["roc_auc"] <= 1.0 and shown["recall"] >= 0.8
    assert shown["counts"]["normal"] == shown["counts"]["anomalies"] == 100  # points3d's test split, shuffled
    assert shown["run"]["cached"] is True and shown["out"] == str(out)
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 200 and {r["set"] for r in rows} == {"normal", "anomaly"}
    flagged = [r for r in rows if r["flagged"] == "1"]
    assert len(flagged) == shown["counts"]["flagged"]
    assert all((float(r["error"]) > shown["threshold"]) == (r["flagged"] == "1") for r in rows)


def test_the_cli_refuses_a_bad_score_or_recall_in_one_sentence_before_training(tmp_path, monkeypatch, capsys):
    cache = tmp_path / "cache"
    # One real process for the words and the exit status as a shell sees them; the other refusals in this process.
    assert "Unknown --score 'nonsense'" in assert_one_sentence_exit_2(
        cli("anomaly", "--arch", "stacked", "--score", "nonsense", cache=cache))
    monkeypatch.setattr(aecore.__main__, "_train", lambda *args, **kwargs: pytest.fail("got a run"))
    for extra, words in ((["--score", "digits-8x8"], "images of 8 x 8 x 1, not images of 28 x 28 x 1"),
                         (["--score", "inverted", "--recall", "0"], "--recall must be above 0 and at most 1"),
                         (["--score", "inverted", "--recall", "1.5"], "--recall must be above 0 and at most 1"),
                         (["--score", "inverted", "--out", str(tmp_path / "scores.npz")], "must end in .csv")):
        assert aecore.__main__.main(["anomaly", "--arch", "stacked", *extra, "--cache-dir", str(cache)]) == 2
        captured = capsys.readouterr()
        assert captured.out == "" and captured.err.startswith("error: ")
        assert words in assert_one_sentence(captured.err.strip()), extra
    assert not cache.exists() or not any(cache.rglob("run.json"))  # nothing trained or stored
    assert not (tmp_path / "scores.npz").exists()


# --- The page ------------------------------------------------------------------------------------------------------


@pytest.fixture
def anomaly_page(monkeypatch, cached_runs, no_keras_downloads):
    """The run cache holds the tiny stacked run of mnist-sample and the tiny basic run of points3d; nothing trains."""
    monkeypatch.setenv("AECORE_STUDIO_TEST_DEFAULTS", "1")
    cached_runs(app_tiny("stacked"), app_tiny("basic"))
    monkeypatch.setattr(aecore.train, "train", refuse_training)


def table_inputs(at) -> list[str]:
    (table,) = [d.value for d in at.dataframe]
    return table["inputs"].tolist()


def test_the_page_scores_another_stored_dataset_and_an_uploaded_file_of_the_same_shape(anomaly_page):
    library.accept(digits_npz(20), "my-digits", filename="my-digits.npz")
    at = open_page("anomaly")
    choice = at.selectbox(key="anomaly.score.mnist-sample")
    assert choice.options[0] == "Clearly different inputs" and choice.options[-1].startswith("A file you upload")
    assert "The test examples of my-digits" in choice.options  # 28 x 28 x 1 like mnist-sample; no 8 x 8 set
    assert not [o for o in choice.options if "digits-8x8" in o or "fashion" in o]
    choice.set_value("my-digits").run()
    assert_clean(at)
    assert table_inputs(at) == ["test images (mnist-sample) (normal)", "test examples (my-digits)"]
    assert "ROC-AUC (0 to 1)" in {m.label for m in at.metric}

    at.selectbox(key="anomaly.score.mnist-sample").set_value(choice.options[-1]).run()
    assert any("Upload a file of images of 28 x 28 x 1" in t for t in texts(at.info))
    at.file_uploader(key="anomaly.upload.mnist-sample").set_value(
        ("small.npz", digits_npz(12, shape=(8, 8, 1)), "application/octet-stream")).run()
    assert_clean(at)
    (error,) = texts(at.error)
    assert "images of 8 x 8 x 1, not images of 28 x 28 x 1" in assert_one_sentence(error, quoted=True)
    assert not at.dataframe
    at.file_uploader(key="anomaly.upload.mnist-sample").set_value(
        ("scans.npz", digits_npz(12), "application/octet-stream")).run()
    assert_clean(at)
    assert not at.error, texts(at.error)
    assert table_inputs(at) == ["test images (mnist-sample) (normal)", "scans.npz (uploaded)"]
    assert stored_datasets() == ["my-digits"]  # the upload was scored, not stored


def test_a_vector_run_is_scored_with_per_feature_error_maps(anomaly_page):
    at = open_page("anomaly")
    at.selectbox(key="anomaly.dataset").set_value("points3d").run()
    assert_clean(at)
    assert table_inputs(at) == ["test vectors (points3d) (normal)", anomaly.SCALED, anomaly.SHUFFLED,
                                anomaly.GAUSSIAN]
    assert any(c.startswith("For vectors: scaled 5x from the mean") for c in texts(at.caption))
    (threshold,) = at.select_slider
    assert threshold.label.startswith("Threshold (MSE per feature): vectors above it")
    maps = [json.loads(c.proto.spec) for c in at.get("plotly_chart") if "anomaly.maps" in (c.proto.id or "")]
    assert len(maps) == 2 and maps[0]["data"][0]["zmax"] == maps[1]["data"][0]["zmax"]
    assert [len(m["data"][0]["y"]) for m in maps] == [6, 6] and maps[0]["data"][0]["x"] == [
        "feature 1", "feature 2", "feature 3"]
    choice = at.selectbox(key="anomaly.score.points3d")
    assert choice.options[1:3] == ["The test examples of swiss-roll", "The test examples of s-curve"]
    choice.set_value("swiss-roll").run()
    assert_clean(at)
    assert table_inputs(at) == ["test vectors (points3d) (normal)", "test examples (swiss-roll)"]
