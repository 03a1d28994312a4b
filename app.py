"""Autoencoder Studio: the entry point. Page config and navigation; each page is one file in app_pages/.

The Architectures section lists every registered architecture (aecore.models), each
with its page app_pages/<name>.py: a new architecture is a model file and a page file.

The folder is not called pages/: Streamlit treats a pages/ folder as the old
multipage layout until some session has run st.navigation, so a fresh server's
first visitor on a deep link (/vae) would get the page without this entry point.
"""

import importlib
import os
import threading

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's start-up chatter is not for users

import streamlit as st  # noqa: E402

from aecore.models import specs  # noqa: E402
from dashboard import runtime  # noqa: E402

st.set_page_config(page_title="Autoencoder Studio", page_icon=runtime.favicon(), layout="wide")


@st.cache_resource
def _set_up_process() -> None:
    """Once per process: keep Keras' state between runs, and import Keras in the background so the
    first architecture page need not wait for it."""
    if not runtime.keep_keras_state():
        runtime.warn_keras_state_not_kept()
    # Only keras: the page thread never holds a lock inside keras, so the two imports cannot deadlock.
    threading.Thread(target=importlib.import_module, args=("keras",), daemon=True).start()


_set_up_process()

pages = {
    # The architectures one click away at the top; the rest in the top bar's menus.
    "": [st.Page("app_pages/home.py", title="Home", icon=":material/home:", default=True),
         st.Page("app_pages/lesson.py", title="Lesson", icon=":material/school:"),
         *(st.Page(f"app_pages/{spec.name}.py", title=spec.title, icon=spec.icon) for spec in specs())],
    "Results": [st.Page("app_pages/compare.py", title="Compare", icon=":material/compare:"),
                st.Page("app_pages/anomaly.py", title="Anomaly scores", icon=":material/troubleshoot:")],
    "Your own": [st.Page("app_pages/data.py", title="Your data", icon=":material/upload_file:"),
                 st.Page("app_pages/your_digit.py", title="Your digit", icon=":material/draw:"),
                 st.Page("app_pages/your_model.py", title="Your model", icon=":material/model_training:")],
}
page = st.navigation(pages, position="top")
runtime.presenter_view(st.sidebar.toggle("Presenter view", key="presenter", help="Larger type, for a projector"))
if any(f"training.{spec.name}" in st.session_state for spec in specs()):  # else no need to import the queue
    from dashboard.views.live import elsewhere  # noqa: E402

    elsewhere(page.url_path)
page.run()
