"""Process-wide settings of the Streamlit server that this app needs: set once, at start-up."""

from __future__ import annotations

import logging
import sys

import streamlit as st
from streamlit.runtime.scriptrunner import script_runner

PRIMARY_RGB = (79, 70, 229)  # .streamlit/config.toml's primaryColor


def _close_pyplot_figures() -> None:
    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")


def keep_keras_state() -> bool:
    """Stop Streamlit from calling keras.backend.clear_session() after every script or fragment run.

    Streamlit does it to free the models a script builds on each run; this app keeps its
    models in caches instead. The call runs a full gc.collect() on every slider move, empties
    TensorFlow's kernel cache (so the next decode is slow again), and swaps Keras' global state
    under any other session that is training at that moment (docs/RELIABILITY.md has the
    figures). Returns False, leaving Streamlit as it is, if its runner no longer has the hook.
    """
    if not callable(getattr(script_runner, "_clean_problem_modules", None)):
        return False
    script_runner._clean_problem_modules = _close_pyplot_figures
    return True


def warn_keras_state_not_kept() -> None:
    """Say once, in the server's log, that keep_keras_state found no hook to replace."""
    logging.getLogger("autoencoder_studio").warning(
        "Streamlit's runner has no _clean_problem_modules hook any more, so it may clear Keras' state after "
        "every script run: slider moves get slower, and a session training at that moment may be disturbed. "
        "See dashboard/runtime.py."
    )



def favicon() -> str:
    """The tab's icon, an SVG the page carries itself: a blurred disc in the theme's colour. A Material icon or an
    emoji as page_icon is fetched from Google's or a CDN's servers by every browser, a failed request offline."""
    r, g, b = PRIMARY_RGB
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64"><defs><radialGradient id="d">'
            f'<stop offset="55%" stop-color="rgb({r},{g},{b})"/>'
            f'<stop offset="100%" stop-color="rgb({r},{g},{b})" stop-opacity="0"/></radialGradient></defs>'
            f'<circle cx="32" cy="32" r="31" fill="url(#d)"/></svg>')


# The page's own CSS: what the theme cannot say. Streamlit sizes its text in rem, so the root's size scales it all.
_PRESENTER_CSS = "html { font-size: 20px; }"
# Streamlit's own Stop in the top bar's running indicator stops the script run, not a training (the live panel's
# Stop does that); beside the app's Stop it only confuses an audience.
_CSS = '[data-testid="stStatusWidget"] button { display: none; }'


def presenter_view(on: bool) -> None:
    """The page's CSS: larger type when on (a projector at the back of a room), and no second Stop button."""
    st.html(f"<style>{_CSS}{_PRESENTER_CSS if on else ''}</style>")
