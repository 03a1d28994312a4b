"""Process-wide settings of the Streamlit server that this app needs: set once, at start-up."""

from __future__ import annotations

import sys


def _close_pyplot_figures() -> None:
    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")


def keep_keras_state() -> bool:
    """Stop Streamlit from calling keras.backend.clear_session() after every script or fragment run.

    Streamlit does it to free the models a script builds on each run; this app keeps its
    models in caches and session state instead. Measured on 2 cores, the call cost every
    slider move about 240 ms (its gc.collect) plus 27 ms more for the next decode (it empties
    TensorFlow's kernel cache), and it swaps Keras' global state under any other session that
    is training at that moment. Returns False, leaving Streamlit as it is, if its runner no
    longer has the hook.
    """
    from streamlit.runtime.scriptrunner import script_runner

    if not callable(getattr(script_runner, "_clean_problem_modules", None)):
        return False
    script_runner._clean_problem_modules = _close_pyplot_figures
    return True
