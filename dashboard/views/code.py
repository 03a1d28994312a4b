"""The Code tab of every architecture page: the run's Keras code, a standalone script (aecore.script) to read,
download and run, and the command line that prints it."""

from __future__ import annotations

import streamlit as st

from aecore import script
from aecore.errors import USER_ERRORS
from dashboard.run_view import RunView

FILE_NAME = "script.py"


def keras_code(view: RunView) -> None:
    """The run's standalone Keras script, its download, and the CLI command that prints it again."""
    try:
        text = script.keras_script(view.config)
    except USER_ERRORS as exc:  # an architecture without a script, or a stored upload removed since its training
        st.info(str(exc))
        return
    st.caption(f"The Keras code of this run ({view.config.describe()}): a standalone script, Keras 3 and NumPy "
               f"only, that loads the same data, builds the same network and trains it with the same settings. "
               f"`python {FILE_NAME}` runs it and prints the test loss; this command prints it again:")
    st.code(script.command(view.config), language="bash")
    st.download_button(f"Download {FILE_NAME}", text, file_name=FILE_NAME, mime="text/x-python", on_click="ignore",
                       icon=":material/code:", key=f"{view.config.arch}.code.download")
    st.code(text, language="python")
