"""The sidebar form of an architecture page, drawn from its spec's fields."""

from __future__ import annotations

import os

import streamlit as st

from aecore.config import RunConfig
from aecore.datasets import BUILT_IN, stored_datasets
from aecore.errors import ConfigError
from aecore.models import get_spec
from aecore.models.spec import Field, parse_sizes
from dashboard import share

TEST_DEFAULTS_ENV = "AECORE_STUDIO_TEST_DEFAULTS"
# Above Train, after the dataset: what a presenter changes most, so that Train is on the first screen of a
# projector (1280 x 720); an architecture's other fields wait in an expander below it.
PRIMARY_FIELDS = ("epochs", "latent_dim")


def dataset_choices() -> list[str]:
    """The Dataset select's names: the built-in datasets, then the stored uploads."""
    return [*BUILT_IN, *stored_datasets()]


def defaults_for(arch: str) -> RunConfig:
    """The architecture's default config; its tiny one (a run of seconds) when AECORE_STUDIO_TEST_DEFAULTS is set."""
    spec = get_spec(arch)
    return RunConfig.for_arch(arch, **(spec.tiny if os.environ.get(TEST_DEFAULTS_ENV) else {}))


def _as_widget(field: Field, value):
    """A config value as its field's widget holds it."""
    if field.kind == "int":
        return int(value)
    if field.kind == "float":
        return float(value)
    if field.kind == "sizes":
        return ", ".join(map(str, value))
    return value


def _widget(field: Field, default, key: str):
    """The Streamlit widget for one field, starting at default; returns its value."""
    common = dict(key=key, help=field.help or None, persist_state="session")
    default = _as_widget(field, default)
    if field.kind == "int":
        return st.number_input(field.label, int(field.low), int(field.high), default, step=int(field.step or 1),
                               **common)
    if field.kind == "float":
        value = st.slider(field.label, float(field.low), float(field.high), default, step=field.step, **common)
        return round(value, 6)  # a slider's 0.15000000000000002 must key the same run as 0.15
    if field.kind == "sizes":
        return st.text_input(field.label, default, **common)
    if field.slider:
        return st.select_slider(field.label, field.choices, default, format_func=lambda v: f"{v:g}", **common)
    if len(field.choices) <= 2:
        return st.radio(field.label, field.choices, field.choices.index(default), horizontal=True, **common)
    return st.selectbox(field.label, field.choices, field.choices.index(default), **common)


def config_form(arch: str) -> tuple[RunConfig | None, bool]:
    """Draw the sidebar form; return (config of its values, whether Train was pressed).

    The config is None (and an error is shown) when the values do not make a valid run.
    Widget values persist for the session, so leaving the page and coming back keeps them. A shared link
    (dashboard.share) fills the form when opened, and the URL follows a valid config.
    """
    spec = get_spec(arch)
    base = defaults_for(arch)
    datasets = dataset_choices()
    share.apply_link(arch, base, datasets, f"form.{arch}.")
    with st.sidebar.form(f"form.{arch}"):
        st.subheader("Hyperparameters")
        values = {"dataset": st.selectbox(
            "Dataset", datasets, index=datasets.index(base.dataset),
            help="mnist-sample and digits-8x8 work offline; mnist, fashion-mnist and cifar10 download once; "
                 "your own datasets come from the Your data page.",
            key=f"form.{arch}.dataset", persist_state="session")}
        primary = [f for f in spec.fields if f.name in PRIMARY_FIELDS]
        for field in primary:
            values[field.name] = _widget(field, getattr(base, field.name), f"form.{arch}.{field.name}")
        submitted = st.form_submit_button("Train", type="primary", width="stretch")
        # A form sends nothing until it is submitted: the run on the page is the last one Train (or a link) asked for.
        st.caption("Changes here apply when you press Train.")
        more = [f for f in spec.fields if f not in primary]
        # Open where a link or an earlier visit set one of them: a setting that differs is never out of sight.
        state = st.session_state
        changed = any(state.get(f"form.{arch}.{f.name}", default := _as_widget(f, getattr(base, f.name))) != default
                      for f in more)
        with st.expander("More settings", expanded=changed):
            for field in more:
                values[field.name] = _widget(field, getattr(base, field.name), f"form.{arch}.{field.name}")

    try:
        for field in spec.fields:
            if field.kind == "sizes":
                try:
                    values[field.name] = parse_sizes(values[field.name])
                except ValueError as exc:
                    raise ConfigError(f"{field.label}: {exc}") from None
        config = RunConfig.for_arch(arch, **values)
    except ConfigError as exc:
        st.error(str(exc))
        return None, submitted
    share.follow(arch, config)
    return config, submitted
