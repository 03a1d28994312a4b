"""Share a run: an architecture page's URL carries its form's config in st.query_params.

A link holds the dataset and the fields the architecture uses (the page names the
architecture). Opening one fills the form; a link the form cannot show or train (an unknown
field, a value out of the form's range, text where a number goes, a config RunConfig
refuses, a dataset the architecture cannot take, a model over the memory bound: what the
CLI would refuse) gives the defaults and one sentence. After that the URL follows the form.
"""

from __future__ import annotations

import math
import re
from urllib.parse import urlencode

import streamlit as st

from aecore.config import RunConfig
from aecore.datasets import load_dataset
from aecore.models import check_trainable, get_spec
from aecore.models.spec import Field, parse_sizes


class LinkError(ValueError):
    """A link's parameter the form cannot show: its name, its text and why."""

    def __init__(self, name: str, text: str, reason: str):
        super().__init__(f"The link's {_quoted(name)} ({_quoted(text)}) is not valid ({reason.rstrip('.')}); "
                         "the form shows the defaults.")


def link_params(config: RunConfig) -> dict[str, str]:
    """The query parameters of a config: its dataset and used fields as text (hidden as '128,64')."""
    return {name: ",".join(map(str, value)) if isinstance(value, list) else str(value)
            for name, value in config.settings().items()}


def parse_link(arch: str, params: dict[str, str], base: RunConfig, datasets: list[str]) -> RunConfig:
    """The config a link asks for on the page of arch (unset fields from base); LinkError naming the first bad one."""
    spec = get_spec(arch)
    for name, text in params.items():
        if name == "arch" and text != arch:
            raise LinkError(name, text, f"this page trains the {arch} model")
        if name not in ("arch", *spec.field_names):
            raise LinkError(name, text, f"this page's settings are {', '.join(spec.field_names)}")
    dataset = Field("dataset", "Dataset", "choice", choices=tuple(datasets))
    values = base.settings()
    config = base
    # In form order, each value checked with those before it: a KL warm-up longer than the link's epochs is the
    # warm-up's fault, not the epochs', and a model grown past the memory bound is the fault of the field that grew it.
    for field in (dataset, *spec.fields):
        if field.name in params:
            try:
                values[field.name] = _value(field, params[field.name])
                config = RunConfig.for_arch(arch, **values)
                # What Train would refuse under the form, the link refuses: the shapes, the model's size.
                check_trainable(config, load_dataset(config.dataset))
            except ValueError as exc:  # ConfigError and DataError among them
                raise LinkError(field.name, params[field.name], str(exc)) from None
    return config


def _value(field: Field, text: str):
    """A parameter's text as the form's widget holds it; ValueError (one sentence) when the form cannot offer it."""
    if field.kind == "int":
        low, high = int(field.low), int(field.high)
        value = int(text) if re.fullmatch(r"[+-]?\d{1,12}", text.strip()) else None
        if value is None or not low <= value <= high:
            raise ValueError(f"{field.label} must be a whole number from {low} to {high}")
        return value
    if field.kind == "float":
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not field.low <= value <= field.high:  # NaN fails too
            raise ValueError(f"{field.label} must be a number from {field.low:g} to {field.high:g}")
        return value
    if field.kind == "sizes":
        try:
            return parse_sizes(text)
        except ValueError:
            raise ValueError(f"{field.label} must be whole numbers separated by commas, such as 128,64") from None
    for choice in field.choices:
        if text == str(choice) or (not isinstance(choice, str) and _number(text) == choice):
            return choice
    raise ValueError(f"{field.label} must be one of {', '.join(map(str, field.choices))}")


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _quoted(text: str) -> str:
    """A link's text as the sentence shows it: short, and no characters that Markdown would act on."""
    text = str(text)
    return re.sub(r"[^\w.,:+\- ]", "?", text[:40]) + ("..." if len(text) > 40 else "")


def _synced_key(arch: str) -> str:
    return f"share.{arch}.synced"


def apply_link(arch: str, base: RunConfig, datasets: list[str], key_prefix: str) -> None:
    """Before the form is drawn: set its widgets (keys key_prefix + field) from the URL when the URL differs from
    what the form last agreed with (so later edits stand), or to base with one sentence when the link is not valid."""
    params = st.query_params.to_dict()
    if not params or params == st.session_state.get(_synced_key(arch)):
        return
    st.session_state[_synced_key(arch)] = params
    try:
        config = parse_link(arch, params, base, datasets)
    except LinkError as exc:
        st.warning(str(exc))
        config = base
    # Every field the form shows, not only the keyed ones: a field left out of the key at its default is still set.
    for name in ("dataset", *(f.name for f in get_spec(arch).fields)):
        value = getattr(config, name)
        st.session_state[key_prefix + name] = ", ".join(map(str, value)) if isinstance(value, tuple) else value


def follow(arch: str, config: RunConfig) -> None:
    """After the form: the URL holds config's link, and the sidebar offers it to copy."""
    params = link_params(config)
    st.session_state[_synced_key(arch)] = params
    if st.query_params.to_dict() != params:
        st.query_params.from_dict(params)
    url = f"{st.context.url or ''}?{urlencode(params, safe=',')}"
    with st.sidebar.popover("Share this run", icon=":material/share:", width="stretch"):
        # Streamlit has no clipboard call of its own; a code block's copy icon is one.
        st.code(url, language=None, wrap_lines=True)
        st.caption("Copy the link with the icon at the box's right. It opens this page with this form, showing "
                   "the run at once if it is in the run cache, or offering to train it.")
