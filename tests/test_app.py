"""AppTest for every page: renders, trains on Train, serves repeats from the cache, live VAE sliders.

Real Keras training on tiny configs: AECORE_STUDIO_TEST_DEFAULTS makes every form
default to 1 epoch on 256 images (conv at width 0.25); conftest gives each test a
fresh run cache. A test about what the page does with a run it did not train itself
copies the run in from conftest's trained_runs (trained once for the session).
"No training happened" is checked by replacing aecore.train.train with a function
that fails the test (AppTest runs the script in this process).
"""

import json
import re
import threading
from pathlib import Path

import pytest

import aecore.jobs
import aecore.runner
import aecore.train
import dashboard.model_cache
import dashboard.run_page
from tests.helpers import (
    APP,
    TIMEOUT,
    app_tiny,
    assert_clean,
    assert_one_sentence,
    chart_traces,
    decoded_image,
    each_tab,
    finish_training,
    open_page,
    open_tab,
    press_train,
    refuse_training,
    slider_point,
    texts,
    trace_values,
    train_long,
    trained_here,
    wait_until,
)

ARCHS = ["basic", "stacked", "conv", "vae"]
PAGES = ["home", *ARCHS, "compare"]


@pytest.fixture(autouse=True)
def _tiny_defaults(monkeypatch):
    monkeypatch.setenv("AECORE_STUDIO_TEST_DEFAULTS", "1")


@pytest.fixture(autouse=True)
def _fresh_training_queue(monkeypatch):
    """Each test starts with an empty training queue of the default size."""
    monkeypatch.setattr(aecore.jobs, "_shared", None)


@pytest.fixture
def no_training(monkeypatch):
    """From now on, any training fails the test."""

    def forbid():
        monkeypatch.setattr(aecore.train, "train", refuse_training)

    return forbid


@pytest.mark.parametrize("page", PAGES)
def test_page_renders_with_defaults_without_training(page, no_training):
    no_training()
    at = open_page(page)
    assert not at.error, texts(at.error)
    if page in ARCHS:
        assert any("has not been trained yet" in t for t in texts(at.info))
        assert at.form_submit_button[0].label == "Train"
    if page == "home":
        assert len(at.get("page_link")) == 5  # the four cards' and the Lesson's
        from aecore.models import specs

        for spec in specs():  # every card's diagram, drawn at once (not an empty box)
            assert any(f"`{spec.diagram}`" == m.value for m in at.markdown), spec.name


@pytest.mark.parametrize("arch", ARCHS)
def test_train_shows_results_and_repeats_come_from_the_cache(arch, no_training):
    at = press_train(open_page(arch))
    assert trained_here(at), [s.label for s in at.status]
    assert not at.error, texts(at.error)
    assert any("MSE" in m.label for m in at.metric)
    assert len(at.tabs) >= 6 and len(at.get("plotly_chart")) >= 1  # only the open tab is drawn
    charts, downloads = 0, 0
    for _ in each_tab(at, arch):
        charts += len(at.get("plotly_chart"))
        downloads += len(at.get("download_button"))
        # At every later rerun the session is told the same: it trained this run here (not "Loaded from cache").
        assert any(t.startswith(f"Trained {arch}, ") for t in texts(at.success)), texts(at.success)
    assert charts >= 3  # loss curves, reconstructions or points, latent scatter
    assert downloads >= 2  # the .keras model and the reconstructions

    no_training()
    again = press_train(at)  # the same config, Train pressed again in the same session: the cache's, as said
    assert any(t.startswith(f"Trained {arch}, ") and "saved to the run cache" in t for t in texts(again.success))

    fresh = open_page(arch)  # a new session: the store has it, so results show without pressing Train
    assert any(t.startswith("Loaded from cache (trained") for t in texts(fresh.success)), texts(fresh.success)
    assert not fresh.info


def test_vae_slider_redraws_the_decoded_image_without_retraining(no_training, cached_runs):
    cached_runs(app_tiny("vae"))
    no_training()
    at = open_page("vae")  # the form's default run, from the cache
    assert any(t.startswith("Loaded from cache (trained") for t in texts(at.success)), texts(at.success)
    before = decoded_image(at)
    assert slider_point(at) == ([0.0], [0.0])

    at.slider(key="vae.view.z0").set_value(2.5).run()
    assert_clean(at)
    assert decoded_image(at) != before, "moving z1 should change the decoded image"
    assert slider_point(at) == ([2.5], [0.0])  # the cross follows (latent 2: drawn as z itself)
    at.slider(key="vae.view.z1").set_value(-1.0).run()
    assert slider_point(at) == ([2.5], [-1.0])

    # "Random sample" draws a new z into the sliders, within their range, and the picture follows.
    # (It stays at (2.5, -1.0) only if the prior draws exactly that on the 0.05 grid: about 1 in 100 000.)
    image_before = decoded_image(at)
    next(b for b in at.button if b.label == "Random sample").click().run()
    assert_clean(at)
    sliders = [at.slider(key=f"vae.view.z{i}") for i in range(2)]
    z = [s.value for s in sliders]
    assert z != [2.5, -1.0], "Random sample left the sliders where they were"
    for s in sliders:
        assert s.min <= s.value <= s.max, (s.label, s.value, s.min, s.max)
    (x,), (y,) = slider_point(at)
    assert (x, y) == pytest.approx(z, abs=1e-6)  # the cross follows (drawn from z as float32)
    assert decoded_image(at) != image_before, "the decoded image was not redrawn for the new z"


def test_a_tab_widget_kept_from_a_wider_run_fits_the_next_run(cached_runs):
    """The Dimensions tab's rows slider ranges over the run's dimensions: a value kept from a 4-D run (a closed
    tab's widgets keep theirs) must not be refused by a 2-D run's narrower slider."""
    cached_runs(app_tiny("vae"))  # the 2-D run, the form's default (the 4-D one is trained here)
    at = open_page("vae")
    at.number_input(key="form.vae.latent_dim").set_value(4)
    open_tab(press_train(at), "vae", "Dimensions")
    (rows,) = [s for s in at.slider if s.label.startswith("Rows")]
    rows.set_value(4).run()
    at.number_input(key="form.vae.latent_dim").set_value(2)
    press_train(at)  # assert_clean inside: no "value 4 is greater than max_value 2"
    assert [s.max for s in at.slider if s.label.startswith("Rows")] == [2]


@pytest.mark.parametrize(
    ("arch", "dataset", "says"),
    [("conv", "points3d", "needs images of 8 to 128 pixels"), ("basic", "mnist-sample", "needs vectors")],
)
def test_dataset_of_the_wrong_kind_is_one_sentence(arch, dataset, says, no_training):
    no_training()
    at = open_page(arch)
    at.selectbox(key=f"form.{arch}.dataset").set_value(dataset)
    press_train(at)
    (error,) = texts(at.error)
    assert says in assert_one_sentence(error)


def test_basic_offers_a_hidden_width_and_compares_with_pca_on_the_swiss_roll():
    at = open_page("basic")
    width = at.number_input(key="form.basic.hidden_width")
    assert width.label.startswith("Hidden width") and width.value == 0
    at.selectbox(key="form.basic.dataset").set_value("swiss-roll")
    at.selectbox(key="form.basic.activation").set_value("tanh")
    width.set_value(8)
    at = press_train(at)
    assert not at.error, texts(at.error)
    names = [t.get("name") for t in chart_traces(at)]  # the Point cloud tab, open first
    assert "PCA (k = 2)" in names and "reconstructed" in names
    header = len(at.metric)
    open_tab(at, "basic", "Against PCA")
    assert len(at.metric) == header  # the header's numbers are not shown again: drawn side by side instead
    (bars,) = [json.loads(c.proto.spec) for c in at.get("plotly_chart") if "against_pca" in (c.proto.id or "")]
    assert [t["name"] for t in bars["data"]] == ["autoencoder", "PCA, k = 2"]
    assert bars["layout"]["xaxis"]["title"]["text"] == "test MSE (per coordinate, standardised)"
    assert any("of PCA's plane's" in t for t in texts([*at.success, *at.info, *at.warning]))
    open_tab(at, "basic", "Model")
    assert any("enc_hidden" in frame.value.to_string() for frame in at.dataframe)  # the layers


def test_bad_hidden_layers_are_one_sentence(no_training):
    no_training()
    at = open_page("stacked")
    at.text_input(key="form.stacked.hidden").input("128, lots")
    press_train(at)
    (error,) = texts(at.error)
    assert "whole numbers" in error


def test_compare_lists_every_run_of_the_dataset(cached_runs, no_training):
    cached_runs(app_tiny("stacked"), app_tiny("vae"))  # into the app's default store: AECORE_CACHE_DIR
    no_training()
    at = open_page("compare")
    assert not at.error, texts(at.error)
    table = at.dataframe[0].value
    assert sorted(name.split(",")[0] for name in table["run"]) == ["stacked", "vae"]
    assert {"parameters", "test MSE (per pixel)", "PSNR (dB)", "training time (s)"} <= set(table.columns)
    # Bar charts, quality against time, the test images, and one row of reconstructions per run.
    assert len(at.get("plotly_chart")) == 1 + 1 + 1 + 2
    (quality_time,) = [c for c in at.get("plotly_chart") if c.proto.id and "quality_time" in c.proto.id]
    points = {trace["name"]: (trace_values(trace["x"]), trace_values(trace["y"]))
              for trace in json.loads(quality_time.proto.spec)["data"]}
    by_arch = table.set_index(table["run"].str.split(",").str[0])
    assert points == {arch: ([by_arch.loc[arch, "training time (s)"]], [by_arch.loc[arch, "test BCE (nats per pixel)"]])
                      for arch in ("stacked", "vae")}
    # What the codes are worth, every run's against the pixels, once asked.
    at.button(key="compare.probe.fit").click().run()
    assert_clean(at)
    (probe,) = [json.loads(c.proto.spec) for c in at.get("plotly_chart") if "compare.probe" in (c.proto.id or "")]
    assert {t["name"] for t in probe["data"]} == {"stacked", "vae", "pixels"}


def test_a_damaged_cache_entry_is_told_once_and_retrained(no_training, cached_runs):
    cached_runs(app_tiny("stacked"))
    at = open_page("stacked")  # shown from the cache, so held in memory
    assert any(t.startswith("Loaded from cache (trained") for t in texts(at.success)), texts(at.success)
    (entry,) = [p for p in Path(at.session_state["store"].root).iterdir() if p.is_dir()]
    (entry / "model.keras").write_bytes(b"not a model")
    dashboard.model_cache._held_run.clear()  # the models held in memory are gone, as after a restart
    fresh = open_page("stacked")
    (warning,) = texts(fresh.warning)
    assert "damaged" in warning
    assert any("has not been trained yet" in t for t in texts(fresh.info))
    fresh.run()
    assert not fresh.warning  # told once


def test_one_sessions_training_never_changes_another_sessions_pictures(cached_runs):
    """Two sessions on the Variational page: B training another config leaves A's decoded image as it was."""
    cached_runs(app_tiny("vae"))
    first = open_page("vae")  # A shows the default run, from the cache
    first_image = decoded_image(first)

    second = open_page("vae")
    second.sidebar.number_input(key="form.vae.seed").set_value(1)
    press_train(second)
    assert trained_here(second)
    assert decoded_image(second) != first_image  # a different model, or the check proves nothing

    first.run()  # session A reruns after B trained
    assert_clean(first)
    assert decoded_image(first) == first_image


def test_script_runs_leave_keras_state_alone(monkeypatch):
    """Streamlit would call keras.backend.clear_session() after every run (240 ms, and it empties TF's kernel cache)."""
    import keras

    calls = []
    monkeypatch.setattr(keras.backend, "clear_session", lambda *a, **k: calls.append(a))
    at = open_page("vae")
    at.run()
    assert calls == []


def test_no_full_garbage_collection_after_every_run(monkeypatch, tmp_path):
    """Streamlit's gc.collect() after every run (about 250 ms of each slider move) is off: runner.postScriptGC
    as Streamlit reads it, inside a running app, from the config files a server started like tools.appserver's
    (`streamlit run app.py` in the repository) reads."""
    import streamlit
    from streamlit import config

    monkeypatch.chdir(Path(APP).parent)  # Streamlit finds the project's .streamlit/config.toml from there
    monkeypatch.setenv("HOME", str(tmp_path))  # and no ~/.streamlit/config.toml of this machine's user
    monkeypatch.setattr(config, "_config_options", None)  # read the config files again, as a new server does
    seen = []
    set_page_config = streamlit.set_page_config

    def spy(*args, **kwargs):  # app.py calls it first thing in every run
        seen.append(config.get_option("runner.postScriptGC"))
        return set_page_config(*args, **kwargs)

    monkeypatch.setattr(streamlit, "set_page_config", spy)
    open_page("home")
    assert seen and all(value is False for value in seen), seen


def test_stop_leaves_the_cache_empty_for_that_config():
    """Stop while the page shows an epoch: the job stops, its thread ends, the store has nothing, the page is usable."""
    from aecore.store import RunStore

    at = open_page("vae")
    job = train_long(at, "vae")
    assert_clean(at)
    at.switch_page("app_pages/compare.py").run()  # another page keeps it alive, and links back to it
    assert [link.label for link in at.get("page_link") if link.label.startswith("Variational: ")], \
        [link.label for link in at.get("page_link")]
    at.switch_page("app_pages/vae.py").run()
    wait_until(lambda: job.snapshot is not None)
    at.run()  # the live panel's next poll: an epoch's replay row, loss curves and latent scatter
    assert_clean(at)
    assert any(c.startswith("After ") and " of 200. " in c for c in
               [e.proto.imgs[0].caption for e in at.get("image")]), "no replay row in the live panel"
    assert len(at.get("plotly_chart")) == 2
    (progress,) = [e.proto.text for e in at.get("progress")]
    assert " (nats/image) · " in progress, progress  # the VAE's loss, with its unit

    at.button(key="live.vae.stop").click().run()
    assert_clean(at)
    # At once the untrained state: the sentence, no panel, no run.
    assert any(t.startswith("Training stopped: ") and "has not been trained yet" in t for t in texts(at.info))
    assert not [b for b in at.button if b.label == "Stop"] and not at.get("plotly_chart")
    assert "training.vae" not in at.session_state
    # And the job: stopped, its thread gone, nothing in the run cache.
    assert job.wait(TIMEOUT) and job.state is aecore.jobs.JobState.STOPPED
    job.thread.join(TIMEOUT)
    assert job.thread not in threading.enumerate()
    assert not RunStore().contains(job.config, job.data.fingerprint) and RunStore().entries() == []


def test_the_live_panel_of_a_denoising_run_shows_and_says_its_noisy_row(monkeypatch):
    """The live replay row of a run with noise: noisy inputs, clean targets, reconstructions, as its caption says."""
    import aecore.figures

    drawn, png_grid = [], aecore.figures.png_grid

    def counting_rows(rows, *args, **kwargs):
        drawn.append(len(rows))
        return png_grid(rows, *args, **kwargs)

    monkeypatch.setattr(aecore.figures, "png_grid", counting_rows)
    at = open_page("stacked")
    at.slider(key="form.stacked.noise").set_value(0.3)
    job = train_long(at, "stacked")
    wait_until(lambda: job.snapshot is not None)
    at.run()  # the live panel's next poll
    assert_clean(at)
    (caption,) = [c for e in at.get("image") if (c := e.proto.imgs[0].caption).startswith("After ")]
    assert caption.endswith("Top: the noisy inputs the model sees; middle: the clean targets; bottom: their "
                            "reconstructions."), caption
    assert drawn and set(drawn) == {3}, drawn
    # The loss chart is there from the first steps, and says inside itself how far it goes.
    (loss,) = [json.loads(c.proto.spec) for c in at.get("plotly_chart") if "live.loss" in (c.proto.id or "")]
    assert loss["layout"]["title"]["text"].startswith("Loss to epoch ")
    at.button(key="live.stacked.stop").click().run()
    assert job.wait(TIMEOUT)


def test_two_sessions_pressing_train_on_one_config_train_it_once(monkeypatch):
    """The queue's sharing, on the Stacked page (any page trains through the one queue; stacked's tiny run is the
    quickest of the image models)."""
    real, calls, go = aecore.train.train, [], threading.Event()

    def held_training(*args, **kwargs):  # held until both have pressed Train, so the second joins a live job
        calls.append(args[0])
        assert go.wait(TIMEOUT)
        return real(*args, **kwargs)

    monkeypatch.setattr(aecore.train, "train", held_training)
    first, second = open_page("stacked"), open_page("stacked")
    first.form_submit_button[0].click().run()
    second.form_submit_button[0].click().run()
    assert first.session_state["training.stacked"] is second.session_state["training.stacked"]
    assert "with 1 other session" in " ".join(texts(second.markdown))
    go.set()
    for at in (first, second):
        finish_training(at)
        assert trained_here(at), [s.label for s in at.status]
        assert any("MSE" in m.label for m in at.metric)
    assert len(calls) == 1


def test_the_store_is_not_asked_for_a_run_the_page_is_training(monkeypatch):
    """While the page's own job for its config goes on, its reruns load nothing from the store (a load would
    take a place in the shared model cache); the job's end shows the run as trained here. (On the Stacked page:
    every page trains through the one queue, and stacked's tiny run is the quickest of the image models.)"""
    real, go = aecore.train.train, threading.Event()

    def held_training(*args, **kwargs):
        assert go.wait(TIMEOUT)
        return real(*args, **kwargs)

    monkeypatch.setattr(aecore.train, "train", held_training)
    at = open_page("stacked")
    at.form_submit_button[0].click().run()
    job = at.session_state["training.stacked"]
    asked = []
    load_stored = dashboard.run_page.load_stored
    monkeypatch.setattr(dashboard.run_page, "load_stored", lambda store, key: asked.append(key) or load_stored(store, key))
    for _ in range(2):  # the live panel's polls, or any widget's rerun
        at.run()
        assert_clean(at)
    assert job.active and job.key not in asked
    go.set()
    finish_training(at)
    assert trained_here(at), [s.label for s in at.status]


def test_home_says_how_long_basic_trained_here_only_once_it_has(cached_runs):
    """No promised time: Home says the seconds the run cache measured for Basic's default, and nothing before."""
    at = open_page("home")
    assert not any("on this server" in t for t in texts(at.markdown))
    cached_runs(app_tiny("basic"))
    at = open_page("home")
    assert any(re.search(r"PCA finds \(it trained in \d+ s on this server\)", t) for t in texts(at.markdown))


def test_the_presenter_view_enlarges_the_type_on_every_page_and_hides_streamlits_own_stop():
    at = open_page("home")
    styles = lambda: " ".join(e.proto.body for e in at.get("html"))  # noqa: E731
    assert "stStatusWidget" in styles() and "font-size" not in styles()
    at.sidebar.toggle(key="presenter").set_value(True).run()
    assert "html { font-size: 20px; }" in styles()
    at.switch_page("app_pages/stacked.py").run()  # the next page keeps it
    assert "html { font-size: 20px; }" in styles()
