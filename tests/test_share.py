"""AppTest of shared links (dashboard.share): a page URL's query parameters fill the form, a bad one gives the
defaults with one sentence, and after Train the URL is a link that shows the run from the cache.

Tiny defaults (AECORE_STUDIO_TEST_DEFAULTS) as in test_app.py; a link is opened as a browser would
(tests.helpers.open_link): the app's entry runs, then the page, with the URL's parameters.
"""

from urllib.parse import urlencode

import pytest

import aecore.train
from aecore.models import get_spec
from dashboard.forms import defaults_for
from tests.helpers import (
    PAGE_URL, assert_one_sentence, form, open_link, open_page, press_train, refuse_training, texts,
)

ARCHS = ["basic", "stacked", "conv", "vae"]


@pytest.fixture(autouse=True)
def _tiny_defaults(monkeypatch):
    monkeypatch.setenv("AECORE_STUDIO_TEST_DEFAULTS", "1")


def _other(field, default):
    """A value the form offers for field that is not its default."""
    if field.kind == "int":
        return default + 1 if default < field.high else default - 1
    if field.kind == "float":
        return round(default + field.step, 6) if default < field.high else round(default - field.step, 6)
    if field.kind == "sizes":
        return (32, 16)
    choices = list(field.choices)
    return choices[(choices.index(default) + 1) % len(choices)]


@pytest.mark.parametrize("arch", ARCHS)
def test_a_link_restores_every_field_of_the_form(arch):
    base = defaults_for(arch)
    # Offline, not the default, and one the model takes (a link to one it cannot take opens the defaults).
    wanted = {"dataset": {"basic": "swiss-roll", "stacked": "points3d"}.get(arch, "digits-8x8")}
    for field in get_spec(arch).fields:
        wanted[field.name] = _other(field, getattr(base, field.name))
    params = {name: ",".join(map(str, v)) if isinstance(v, tuple) else str(v) for name, v in wanted.items()}

    at = open_link(arch, params)
    shown = {name: ", ".join(map(str, v)) if isinstance(v, tuple) else v for name, v in wanted.items()}
    assert form(at, arch) == shown
    assert not at.warning, texts(at.warning)
    assert at.query_params == params  # the form's config makes the very same link


def test_the_url_follows_the_form_in_its_own_words():
    """A link with a field left out and one written loosely opens, and the address then holds the whole link."""
    at = open_link("stacked", {"epochs": "3", "hidden": " 32 , 16"})
    assert at.query_params["epochs"] == "3" and at.query_params["hidden"] == "32,16"
    assert set(at.query_params) == {"dataset", *get_spec("stacked").field_names}


@pytest.mark.parametrize(
    ("arch", "params", "bad"),
    [
        ("stacked", {"arch": "gan"}, "arch"),  # an unknown architecture
        ("stacked", {"arch": "vae", "epochs": "2"}, "arch"),  # another page's architecture
        ("vae", {"epochs": "1000000000"}, "epochs"),
        ("conv", {"epochs": "2", "latent_dim": "abc"}, "latent_dim"),  # text where a number goes
        ("basic", {"epochs": "2", "colour": "red"}, "colour"),  # a field no page has
        ("conv", {"hidden": "32,16"}, "hidden"),  # another architecture's field
        ("stacked", {"loss": "hinge"}, "loss"),  # a choice the form does not offer
        ("stacked", {"dataset": "npz:/etc/passwd"}, "dataset"),  # a dataset the form does not offer
        ("stacked", {"hidden": "128,99999"}, "hidden"),  # RunConfig's rule: hidden sizes up to 8192
        ("vae", {"epochs": "2", "kl_warmup": "3"}, "kl_warmup"),  # RunConfig's rule: warm-up within the epochs
    ],
)
def test_a_tampered_link_gives_the_defaults_and_one_sentence(arch, params, bad):
    defaults = form(open_page(arch), arch)
    at = open_link(arch, params)  # assert_clean: no exception
    (warning,) = texts(at.warning)
    assert warning.startswith(f"The link's {bad} (") and warning.endswith("; the form shows the defaults.")
    assert_one_sentence(warning)
    assert form(at, arch) == defaults
    assert not at.error, texts(at.error)
    at.run()
    assert not at.warning  # told once: the URL now holds the defaults' link


def test_a_tampered_link_after_a_good_one_resets_the_form_to_the_defaults():
    """The same session's URL changing (the browser's back and forward buttons) to a bad link."""
    defaults = form(open_page("vae"), "vae")
    at = open_link("vae", {"seed": "5", "beta": "2.5"})
    assert form(at, "vae") != defaults
    at.query_params.clear()
    at.query_params.update({"seed": "5", "beta": "99"})
    at.run()
    (warning,) = texts(at.warning)
    assert warning.startswith("The link's beta (99)")
    assert form(at, "vae") == defaults


def test_after_train_the_url_is_a_link_that_shows_the_run_from_the_cache(monkeypatch):
    at = open_page("stacked")
    at.sidebar.number_input(key="form.stacked.epochs").set_value(2)
    at.sidebar.text_input(key="form.stacked.hidden").input("32, 16")
    press_train(at)
    params = dict(at.query_params)
    assert params["epochs"] == "2" and params["hidden"] == "32,16", params  # the edits, not the link's defaults
    assert set(params) == set(get_spec("stacked").field_names)

    monkeypatch.setattr(aecore.train, "train", refuse_training)
    fresh = open_link("stacked", params)
    assert any(t.startswith("Loaded from cache (trained") for t in texts(fresh.success)), texts(fresh.success)
    assert form(fresh, "stacked")["epochs"] == 2
    (link,) = [c.value for c in fresh.code if c.value.startswith("http")]
    assert link == PAGE_URL.format(arch="stacked") + "?" + urlencode(params, safe=",")


def test_a_link_not_yet_trained_offers_to_train_it():
    at = open_link("vae", {"epochs": "2", "latent_dim": "3"})
    (info,) = texts(at.info)
    # The tests' form defaults train 256 images: the name says so, as it says every setting unlike the defaults.
    assert "**vae, mnist-sample, 2 epochs, latent 3, training images 256** has not been trained yet: press **Train**" \
        in info
