"""Helpers shared by the test modules (fixtures stay in the conftest.py files).

Two sections:
  * AppTest helpers: drive app.py in this process with streamlit.testing.
  * Browser helpers (named browser_*): drive a real server through Playwright. Each takes the
    Playwright page as its first argument; nothing here imports Playwright, so the AppTest
    modules can use this file where Playwright is missing.

Browser waits are for conditions, never for fixed times: the run an action caused is seen
finishing on Streamlit's own websocket (its script_finished message), the app is idle when
its root says so (data-test-script-state), and an image is loaded when the browser has
decoded it.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import time
import weakref
from pathlib import Path

import numpy as np
from streamlit.testing.v1 import AppTest

from tools.appserver import IDLE_JS

REPO = Path(__file__).resolve().parents[1]

# --- AppTest helpers ------------------------------------------------------------------------

APP = str(REPO / "app.py")
TIMEOUT = 120  # seconds per script run: training happens inside some


def wait_until(predicate, timeout: float = TIMEOUT) -> None:
    """Wait for a condition another thread makes true (a training's snapshot, a job's start)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "the condition did not come true in time"
        time.sleep(0.02)


def refuse_training(*args, **kwargs):
    """Put in place of aecore.train.train where no training may happen."""
    raise AssertionError("training happened, but the run should have come from the cache")


def assert_clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def open_page(page: str) -> AppTest:
    """A new session of the app on app_pages/<page>.py ('home' stays on the entry page)."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    if page != "home":
        at.switch_page(f"app_pages/{page}.py").run()
    assert_clean(at)
    return at


def open_tab(at: AppTest, arch: str, label: str) -> AppTest:
    """Open the page's tab of this label, as a click on it would (only the open tab is drawn)."""
    from dashboard.state import view_key

    at.session_state[view_key(arch, "tab")] = label
    at.run()
    assert_clean(at)
    return at


def each_tab(at: AppTest, arch: str):
    """Open the page's tabs one after another, yielding each label once its tab is drawn."""
    for label in [tab.label for tab in at.tabs]:
        open_tab(at, arch, label)
        yield label


def press_train(at: AppTest) -> AppTest:
    """Press Train and return once the page shows the run (or why there is none)."""
    at.form_submit_button[0].click().run()
    assert_clean(at)
    return finish_training(at)


def followed_jobs(at: AppTest) -> list:
    """The training jobs this session follows (one per page at most)."""
    from aecore.models import names

    return [at.session_state[f"training.{arch}"] for arch in names() if f"training.{arch}" in at.session_state]


def finish_training(at: AppTest) -> AppTest:
    """Wait for the trainings this session follows to end, then run the script again, as the page's live
    panel would (AppTest does not rerun fragments on their own, so this heartbeats for the panel)."""
    from dashboard.state import training_queue

    jobs = followed_jobs(at)
    for job in jobs:
        while not job.wait(1):
            training_queue().heartbeat(job, at.session_state["training.subscriber"])
    if jobs:
        at.run()
        assert_clean(at)
    return at


def texts(elements) -> list[str]:
    return [e.value for e in elements]


def trained_here(at: AppTest) -> bool:
    """Whether this script run trained: its status says so (and no success box says it again)."""
    trained = any(s.label.startswith("Trained ") for s in at.status)
    return trained and not any(t.startswith("Trained") for t in texts(at.success))


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def chart_traces(at: AppTest) -> list[dict]:
    """Every trace of every plotly chart on the page, as the browser would get it."""
    return [trace for chart in at.get("plotly_chart") for trace in json.loads(chart.proto.spec).get("data", [])]


def trace_values(values) -> list:
    """A trace's x or y as numbers: plotly sends NumPy arrays base64-encoded ({'bdata', 'dtype'})."""
    if isinstance(values, dict):
        return np.frombuffer(base64.b64decode(values["bdata"]), values["dtype"]).tolist()
    return list(values)


def decoded_image(at: AppTest) -> str:
    """The VAE explorer's decoded image's media URL: its file id hashes the PNG's bytes, so equal URLs mean equal
    pixels."""
    (image,) = [e for e in at.get("image") if e.proto.imgs[0].caption == "decoder(z)"]
    url = image.proto.imgs[0].url
    assert url.endswith(".png"), url
    return url


def slider_point(at: AppTest) -> tuple[list, list]:
    """The sliders' cross on the latent scatter."""
    (trace,) = [t for t in chart_traces(at) if t.get("name") == "slider point"]
    return trace["x"], trace["y"]


# --- Browser helpers (Playwright) ------------------------------------------------------------

TRAIN_TIMEOUT_MS = 180_000
WAIT_MS = 60_000

# The page's current Streamlit websocket, and every script_finished status it carried, in order.
_SOCKETS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_RUN_ENDS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


# The src of the loaded <img> whose caption is exactly `caption`, when it differs from `before`; else null.
IMAGE_JS = """([caption, before]) => {
  const label = [...document.querySelectorAll('[data-testid="stImageCaption"]')]
    .find(e => e.textContent === caption);
  const img = label && label.parentElement.querySelector("img");
  return img && img.complete && img.naturalWidth > 0 && img.src !== before ? img.src : null;
}"""


def _run_end(payload) -> str | None:
    """The status name of a script_finished ForwardMsg, or None for any other frame."""
    if not isinstance(payload, bytes):
        return None
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    message = ForwardMsg()
    message.ParseFromString(payload)  # Streamlit sends one ForwardMsg per frame
    if message.WhichOneof("type") != "script_finished":
        return None
    return ForwardMsg.ScriptFinishedStatus.Name(message.script_finished)


def _finished(payload) -> bool:
    """A run is over: finished, fragment finished or compile error (not 'stopped early for a rerun')."""
    status = _run_end(payload)
    return status is not None and status != "FINISHED_EARLY_FOR_RERUN"


def _whole_run_finished(payload) -> bool:
    """A run of the whole page is over (a polling fragment's tick does not count)."""
    return _run_end(payload) in ("FINISHED_SUCCESSFULLY", "FINISHED_WITH_COMPILE_ERROR")


def browser_watch_runs(page) -> None:
    """Follow the page's Streamlit websocket from now on (call before the first goto)."""
    ends = _RUN_ENDS.setdefault(page, [])

    def on_frame(payload) -> None:
        if status := _run_end(payload):
            ends.append(status)

    def on_websocket(socket) -> None:
        if socket.url.endswith("/_stcore/stream"):
            _SOCKETS[page] = socket
            socket.on("framereceived", on_frame)

    page.on("websocket", on_websocket)


def browser_run_ends(page) -> list[str]:
    """The statuses of every script run the page has seen end, in order (FINISHED_SUCCESSFULLY for a whole run,
    FINISHED_FRAGMENT_RUN_SUCCESSFULLY for a fragment's)."""
    return list(_RUN_ENDS[page])


def browser_wait_idle(page, timeout_ms: int = WAIT_MS) -> None:
    """Wait until the app is connected and no run is under way (its root says notRunning, no status widget)."""
    page.wait_for_function(IDLE_JS, timeout=timeout_ms)


@contextlib.contextmanager
def browser_rerun(page, timeout_ms: int = WAIT_MS, whole_page: bool = False):
    """Around an action that makes Streamlit run the script (a click, a widget change): on leaving the block,
    a run that began after the action started has finished, and the app is idle. whole_page: wait for a run
    of the whole page, for an action in a polling fragment whose own ticks would otherwise end the wait."""
    socket = _SOCKETS.get(page)
    assert socket is not None and not socket.is_closed(), "no Streamlit websocket: browser_watch_runs before goto"
    predicate = _whole_run_finished if whole_page else _finished
    with socket.expect_event("framereceived", predicate=predicate, timeout=timeout_ms):
        yield
    browser_wait_idle(page, timeout_ms)


def browser_goto(page, url: str, heading: str = "Autoencoder Studio") -> None:
    """Load the app and wait for its first run to finish with `heading` shown."""
    page.goto(url)
    page.get_by_role("heading", name=heading).first.wait_for()
    browser_wait_idle(page)


def browser_reload(page, heading: str) -> None:
    """Reload the page (a new session) and wait for its first run to finish with `heading` shown."""
    page.reload()
    page.get_by_role("heading", name=heading).first.wait_for()
    browser_wait_idle(page)


def browser_open_page(page, label: str, heading: str) -> None:
    """Open a page through the sidebar navigation and wait for its run to finish and its heading."""
    link = page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=label, exact=True)
    with browser_rerun(page):
        link.click()
    page.get_by_role("heading", name=heading).first.wait_for()


def browser_train(page) -> None:
    """Press Train in the sidebar; return when that run has finished and says where its model came from."""
    with browser_rerun(page, TRAIN_TIMEOUT_MS):
        page.locator('[data-testid="stSidebar"]').get_by_role("button", name="Train", exact=True).click()
    page.get_by_text(re.compile(r"^(Trained .* in [0-9.]+ s|Loaded from cache)")).first.wait_for()
    # The run that drew it (the one the live panel asked for when training ended) may still be finishing.
    browser_wait_idle(page, TRAIN_TIMEOUT_MS)


def browser_provenance(page) -> str:
    """The run's 'Trained <run> in ... s' (the training status) or 'Loaded from cache (...)' sentence."""
    return page.get_by_text(re.compile(r"^(Trained .* in [0-9.]+ s|Loaded from cache)")).first.inner_text()


def browser_wait_image(page, caption: str, before: str | None = None, timeout_ms: int = WAIT_MS) -> str:
    """Wait until the image captioned `caption` is loaded (complete, with pixels) from a src other than
    `before`; return that src."""
    return page.wait_for_function(IMAGE_JS, arg=[caption, before], timeout=timeout_ms).json_value()


def browser_element_png(page, locator) -> bytes:
    """A screenshot of an element, retried while a rerun briefly detaches it."""
    for attempt in range(5):
        try:
            return locator.screenshot(timeout=10_000)
        except Exception:  # playwright's Error: "not attached to the DOM" during a rerun
            if attempt == 4:
                raise
            browser_wait_idle(page)
    raise AssertionError("unreachable")


def browser_assert_no_exception(page) -> None:
    errors = page.locator('[data-testid="stException"]')
    assert errors.count() == 0, errors.first.inner_text()
