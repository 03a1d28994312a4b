"""The report download of every architecture page: the run as one self-contained HTML file (aecore.report), made
only when the button is pressed."""

from __future__ import annotations

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from aecore import report
from aecore.datasets import Dataset
from aecore.run import Run
from dashboard.run_view import RunView
from dashboard.views import probe

LABEL = "Download this run as a report (HTML)"


@st.cache_data(max_entries=4, show_spinner=False)
def report_bytes(key: str, probed: bool, _run: Run, _data: Dataset, fine_tuned: bool = False) -> bytes:
    """The report of the run of key (its codes' worth when this session fitted it, probed, with the encoder
    fine-tuned as the tab asked), as UTF-8 bytes. Its anomaly scores against clearly different inputs come with an
    image run: three reconstructions of the view's test images, cheap beside the page's own work."""
    points = probe.fitted_points(key, _run.model, _data, fine_tuned) if probed else None  # the tab's cached fit
    anomalies = report.score_anomalies(_run.model, _data) if _data.is_image else None
    return report.report_html(_run, _data, points, anomalies).encode("utf-8")


def report_download(view: RunView) -> None:
    """The download button of the run's report; the file is made when it is pressed, once per run (and probe)."""
    run, data, key = view.run, view.data, view.key
    # The Codes' worth tab marks its fit in the session's state from its fragment, which reruns alone, often after
    # this header was drawn: the button's callable, run outside any script run when pressed, reads the mark then,
    # through the session's own thread-safe state (st.session_state needs a script run).
    context = get_script_run_ctx()
    state = None if context is None else context.session_state
    asked, fine_tune = f"probe.{key}", f"{view.config.arch}.probe.fine_tune"

    def make() -> bytes:
        def marked(name: str) -> bool:
            return state is not None and name in state and bool(state[name])

        probed = marked(asked)
        return report_bytes(key, probed, run, data, probed and marked(fine_tune))

    name = f"{view.config.arch}-{'ready-made' if view.ready_made else key[:8]}-report.html"
    st.download_button(LABEL, make, file_name=name, mime="text/html", on_click="ignore",
                       icon=":material/description:", key=f"{view.config.arch}.report")
