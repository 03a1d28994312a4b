"""Your own trained model: a keras.io-style autoencoder uploaded as .keras is checked, stored and drives every view
it can (test errors, reconstructions, anomaly scores, latent space, codes' worth, Compare); bad files are one
sentence each and store nothing."""

import json
import re
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from aecore import own_models
from aecore.datasets import load_dataset
from aecore.errors import USER_ERRORS, ModelError
from aecore.paths import MODELS_FOLDER, cache_dir
from dashboard.views.your_model import VIEWS
from tests.helpers import app_tiny, assert_clean, assert_one_sentence, npz_of, open_page, texts, zip_of


def _keras_bytes(model) -> bytes:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.keras"
        model.save(path)
        return path.read_bytes()


def _autoencoder(side: int = 28, with_lambda: bool = False, own_layer=None, parts: bool = True):
    """A tiny Functional autoencoder whose layers are the sub-models encoder and decoder, as keras.io builds them
    (or, parts=False, the same layers in one Sequential model)."""
    import keras

    inputs = keras.Input((side, side, 1))
    encoder_layers = [keras.layers.Flatten(), keras.layers.Dense(8, activation="relu")]
    decoder_layers = [keras.layers.Dense(side * side, activation="sigmoid"), keras.layers.Reshape((side, side, 1))]
    if with_lambda:
        decoder_layers.append(keras.layers.Lambda(lambda t: t * 1.0))
    if own_layer is not None:
        decoder_layers.append(own_layer())
    if not parts:
        return keras.Sequential([inputs, *encoder_layers, *decoder_layers])
    codes = inputs
    for layer in encoder_layers:
        codes = layer(codes)
    encoder = keras.Model(inputs, codes, name="encoder")
    code_input = keras.Input((8,))
    outputs = code_input
    for layer in decoder_layers:
        outputs = layer(outputs)
    decoder = keras.Model(code_input, outputs, name="decoder")
    return keras.Model(inputs, decoder(encoder(inputs)), name="autoencoder")


@pytest.fixture(scope="module")
def mnist():
    return load_dataset("mnist-sample")


@pytest.fixture(scope="module")
def autoencoder_file(mnist) -> bytes:
    """The keras.io-style autoencoder, trained one epoch on 64 mnist-sample images, as a .keras file's bytes."""
    model = _autoencoder()
    model.compile("adam", "binary_crossentropy")
    model.fit(mnist.x_train[:64], mnist.x_train[:64], epochs=1, batch_size=32, verbose=0)
    return _keras_bytes(model)


def _stored_files() -> list[str]:
    folder = cache_dir() / MODELS_FOLDER
    return sorted(p.name for p in folder.glob("*.keras")) if folder.is_dir() else []


def test_a_keras_io_style_autoencoder_is_stored_with_its_errors_and_parts_and_removed(autoencoder_file, mnist):
    from aecore.models import encode, reconstruct

    stored = own_models.accept("ae.keras", autoencoder_file, "my-ae", mnist)
    assert [m.name for m in own_models.stored_models()] == ["my-ae"] == [m.name for m in
                                                                         own_models.stored_models("mnist-sample")]
    assert own_models.stored_models("digits-8x8") == []
    assert (stored.dataset, stored.fingerprint, stored.source, stored.parts) == ("mnist-sample", mnist.fingerprint,
                                                                                 "ae.keras", True)
    assert stored.parameters == 784 * 8 + 8 + 8 * 784 + 784 and (stored.bottleneck, stored.bottleneck_size) == ("8", 8)
    assert 0 < stored.metrics["test_mse"] < 0.5 and 0 < stored.metrics["test_bce"] < 1 and stored.metrics["test_psnr"]
    held = own_models.load_stored(stored)  # safe mode again, from the stored file
    assert reconstruct(held.model, mnist.x_test[:5]).shape == (5, 28, 28, 1)
    assert encode(held.model, mnist.x_test[:5]).shape == (5, 8)
    assert own_models.accept("ae.keras", autoencoder_file, "my-ae", mnist) == stored  # the same again: no-op
    with pytest.raises(ModelError, match="is stored already for 'mnist-sample', as 'my-ae'; use that name"):
        own_models.accept("ae.keras", autoencoder_file, "other", mnist)
    with pytest.raises(ModelError, match="taken by another stored model"):
        own_models.accept("flat.keras", _keras_bytes(_autoencoder(parts=False)), "my-ae", mnist)
    own_models.remove("my-ae")
    assert own_models.stored_models() == [] and _stored_files() == []


def _not_a_zip():
    return "notes.keras", b"not a zip at all"


def _zip_not_a_model():
    return "archive.keras", zip_of({"config.json": b"[1, 2]", "readme.txt": b"hello"})


def _lambda_layer():
    return "lambda.keras", _keras_bytes(_autoencoder(with_lambda=True))


def _own_layer_class():
    import keras

    class Doubler(keras.layers.Layer):  # defined here, registered nowhere: its code would have to run to load it
        def call(self, x):
            return x * 2.0

    return "own.keras", _keras_bytes(_autoencoder(own_layer=Doubler))


def _shapes_fit_no_dataset():
    return "small.keras", _keras_bytes(_autoencoder(side=20))


BAD_FILES = {
    "not a zip": (_not_a_zip, r"^'notes.keras' is not a Keras model file"),
    "a zip that is not a model": (_zip_not_a_model, r"^'archive.keras' is not a Keras model file"),
    "a Lambda layer": (_lambda_layer, r"^'lambda.keras' holds a Lambda layer, whose Python code is never run here"),
    "a layer class of its own": (_own_layer_class, r"^'own.keras' holds a layer of class 'Doubler' that is not "),
    "shapes that fit no dataset": (_shapes_fit_no_dataset, (r"^'small.keras' takes examples of shape 20 x 20 x 1, "
                                                            r"but 'mnist-sample' holds examples of shape 28 x 28 x 1")),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_a_bad_model_file_is_one_sentence_and_nothing_is_stored(case, mnist):
    make, expected = BAD_FILES[case]
    filename, content = make()
    with pytest.raises(ModelError, match=expected) as refused:
        own_models.accept(filename, content, "bad", mnist)
    assert isinstance(refused.value, USER_ERRORS)
    assert_one_sentence(str(refused.value), quoted=True)
    assert own_models.stored_models() == [] and _stored_files() == []


def test_a_file_over_the_bounds_is_refused_before_it_is_unpacked(autoencoder_file, mnist, monkeypatch):
    from aecore import limits

    monkeypatch.setattr(limits, "MAX_MODEL_FILE_BYTES", len(autoencoder_file) - 1)
    with pytest.raises(ModelError, match=r"^'ae.keras' is .* MiB, over the bound of .* MiB for a model file\.$"):
        own_models.accept("ae.keras", autoencoder_file, "my-ae", mnist)
    monkeypatch.setattr(limits, "MAX_MODEL_FILE_BYTES", len(autoencoder_file))
    monkeypatch.setattr(limits, "MAX_MODEL_UNPACKED_BYTES", len(autoencoder_file) // 2)
    with pytest.raises(ModelError, match=r"^'ae.keras' would unpack to .* MiB, over the bound of"):
        own_models.accept("ae.keras", autoencoder_file, "my-ae", mnist)
    assert own_models.stored_models() == [] and _stored_files() == []


def test_an_edited_index_is_read_as_untrusted(autoencoder_file, mnist):
    own_models.accept("ae.keras", autoencoder_file, "my-ae", mnist)
    index_path = cache_dir() / MODELS_FOLDER / own_models.INDEX_FILE
    index = json.loads(index_path.read_text())
    good = index["my-ae"]
    index.update({"../escape": good, "wrong-file": {**good, "file": "../../x.keras"},
                  "no-parts-flag": {**good, "parts": "yes"}, "bad-metrics": {**good, "metrics": {"test_mse": "nan"}}})
    index_path.write_text(json.dumps(index))
    names = [m.name for m in own_models.stored_models()]
    assert names == ["bad-metrics", "my-ae"]  # unknown metrics are dropped, the rest refused whole
    assert own_models.stored("bad-metrics").metrics == {}
    index_path.write_text("{not json")
    assert own_models.stored_models() == []


def _open_model_page():
    at = open_page("your_model")
    assert [t.value for t in at.title] == ["Your model"]
    return at


def _open_tab(at, label: str):
    from dashboard.state import view_key

    at.session_state[view_key("your_model", "tab")] = label
    at.run()
    assert_clean(at)
    return at


def _small_digits(mnist) -> str:
    """A stored upload of 120 + 40 mnist-sample digits, labelled (28 x 28 x 1, as the model takes): its probes,
    unlike mnist-sample's, fit in a second."""
    from aecore.datasets import library

    return library.accept(npz_of(x_train=mnist.x_train[:120], y_train=mnist.y_train[:120],
                                 x_test=mnist.x_test[:40], y_test=mnist.y_test[:40]), "small-digits",
                          filename="small.npz")


def test_the_page_uploads_a_model_and_draws_every_view_of_it(autoencoder_file, mnist):
    dataset = _small_digits(mnist)
    at = _open_model_page()
    assert "No model has been uploaded yet." in texts(at.caption)
    at.file_uploader(key="your_model.upload").set_value(("ae.keras", autoencoder_file, "application/octet-stream"))
    at.run()
    assert at.text_input[0].value == "ae" and dataset in at.selectbox(key="your_model.dataset").options
    at.selectbox(key="your_model.dataset").set_value(dataset)
    at.button(key="FormSubmitter:your_model.store-Check and store the model").click().run()
    assert_clean(at)
    assert any("Stored as **ae**" in s for s in texts(at.success))
    assert [m.dataset for m in own_models.stored_models()] == [dataset]
    shown = {m.label: m.value for m in at.metric}
    assert float(shown["MSE (per pixel)"]) > 0 and shown["Parameters"] == "13,336"
    assert any(label.startswith("BCE") for label in shown) and "PSNR (dB)" in shown
    assert [tab.label for tab in at.tabs] == list(VIEWS)
    assert at.get("plotly_chart"), "the reconstructions grid"
    _open_tab(at, "Anomaly scores")
    assert any(m.label == "ROC-AUC (0 to 1)" for m in at.metric)
    _open_tab(at, "Latent space")
    assert at.get("plotly_chart") and any("8-D codes" in c for c in texts(at.caption))
    _open_tab(at, "Codes' worth")
    at.button(key="your_model.probe.fit").click().run()
    assert_clean(at)
    assert any(re.match(r"With 10 labels the codes (beat|match|do not beat) the pixels", c) for c in texts(at.caption))


def test_a_model_without_an_encoder_says_which_views_it_cannot_have(mnist):
    own_models.accept("flat.keras", _keras_bytes(_autoencoder(parts=False)), "flat", mnist)
    at = _open_model_page()
    assert at.get("plotly_chart"), "its reconstructions all the same"
    _open_tab(at, "Latent space")
    assert [i.value for i in at.info] == [own_models.parts_sentence("flat")]
    assert_one_sentence(at.info[0].value, quoted=True)
    at.button(key="your_model.delete.confirm").click().run()  # the popover's Delete flat
    assert_clean(at)
    assert own_models.stored_models() == [] and _stored_files() == []
    assert "No model has been uploaded yet." in texts(at.caption)


def test_compare_lists_an_uploaded_model_beside_a_run_and_reconstructs_with_it(autoencoder_file, mnist, cached_runs):
    cached_runs(app_tiny("stacked"))  # a run of the suite's session, as the Compare page's own test uses
    own_models.accept("ae.keras", autoencoder_file, "my-ae", mnist)
    at = open_page("compare")
    assert not at.error, texts(at.error)
    table = at.dataframe[0].value
    assert table["run"].tolist()[1:] == ["my-ae (uploaded)"] and table["run"][0].startswith("stacked")
    row = table.iloc[1]
    assert row["parameters"] == 13336 and row["bottleneck"] == "8" and np.isfinite(row["test MSE (per pixel)"])
    assert pd.isna(row["training time (s)"]) and pd.isna(row["trained at"])  # never trained here
    assert any("1 run of mnist-sample" in c and "then 1 uploaded model" in c for c in texts(at.caption))
    (quality_time,) = [c for c in at.get("plotly_chart") if c.proto.id and "quality_time" in c.proto.id]
    assert [trace["name"] for trace in json.loads(quality_time.proto.spec)["data"]] == ["stacked"]
    drawn = [m.value for m in at.markdown if m.value.startswith("**#")]
    assert [d.split("**")[1] for d in drawn] == ["#1 " + table["run"][0], "#2 my-ae (uploaded)"]
