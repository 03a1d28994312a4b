"""Helpers shared by the test modules (fixtures stay in the conftest.py files).

Test modules import helpers from here and nothing from one another. Sections:
  * One sentence: the one check of a refusal's wording, for every message the project refuses with.
  * Tiny configs: the conftest's tiny runs and the forms' tiny defaults.
  * The CLI as a real process: python -m aecore, its exit code, stdout's JSON line.
  * Upload files: the bytes of good and bad uploads (aecore.datasets' tests and the Your data page's).
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
import io
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import weakref
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from tools.appserver import IDLE_JS, nav_link

REPO = Path(__file__).resolve().parents[1]

# --- One sentence ---------------------------------------------------------------------------


def assert_one_sentence(message: str, quoted: bool = False) -> str:
    """A refusal as the project words every one: a single line holding one sentence (no ". " inside it) that
    ends with a full stop, and no traceback. quoted: the message quotes arbitrary text (a file's name, a cell), in
    which ". " may stand, so only the line and the full stop are checked. Returns the message."""
    assert isinstance(message, str) and message, message
    assert "\n" not in message and "Traceback" not in message, message
    assert message.endswith("."), message
    assert quoted or message.replace("e.g. ", "").count(". ") == 0, message
    return message


# --- Tiny configs ---------------------------------------------------------------------------


def tiny_config(arch: str, **overrides):
    """A tiny, fast config of an architecture: its spec's run of seconds, in batches of 64 (conftest's tiny)."""
    from aecore.config import RunConfig
    from aecore.models import get_spec

    return RunConfig.for_arch(arch, **{**get_spec(arch).tiny, "batch_size": 64, **overrides})


def app_tiny(arch: str, **overrides):
    """The config the pages' forms start from under AECORE_STUDIO_TEST_DEFAULTS (dashboard.forms.defaults_for:
    the spec's tiny run, at the architecture's own batch size), with overrides (a form's edits)."""
    from aecore.config import RunConfig
    from aecore.models import get_spec

    return RunConfig.for_arch(arch, **{**get_spec(arch).tiny, **overrides})


# --- The CLI as a real process --------------------------------------------------------------

# python -m aecore, in a process where any training fails it (exit 1), as the AppTests' no_training does.
NO_TRAINING = """
import runpy, sys
import aecore.train

def refuse(*args, **kwargs):
    sys.exit("training happened, but the run should have come from the cache")

aecore.train.train = refuse
runpy.run_module("aecore", run_name="__main__", alter_sys=True)
"""


def cli_command(*args, cache=None, no_training=False) -> list[str]:
    """The command line of python -m aecore with args (and --cache-dir cache when given)."""
    command = [sys.executable, *(["-c", NO_TRAINING] if no_training else ["-m", "aecore"]), *args]
    if cache is not None:
        command += ["--cache-dir", str(cache)]
    return command


def cli_env(env=None) -> dict:
    return {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})}


def cli(*args, cache=None, timeout=300, env=None, no_training=False):
    """Run python -m aecore with args (and --cache-dir cache when given); the completed process."""
    return subprocess.run(cli_command(*args, cache=cache, no_training=no_training), cwd=REPO, env=cli_env(env),
                          capture_output=True, text=True, timeout=timeout)


def cli_started(*args, cache=None, env=None, no_training=False) -> subprocess.Popen:
    """python -m aecore with args, started and left running (several at once use both cores); finish it with
    cli_finished."""
    return subprocess.Popen(cli_command(*args, cache=cache, no_training=no_training), cwd=REPO, env=cli_env(env),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def cli_finished(process: subprocess.Popen, timeout=300) -> subprocess.CompletedProcess:
    """Wait for a process cli_started began; the completed process, as cli returns it."""
    try:
        out, err = process.communicate(timeout=timeout)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def last_json(result) -> dict:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def assert_one_sentence_exit_2(result) -> str:
    """The CLI refused: exit 2, nothing on stdout, and stderr one line 'error: <one sentence>'."""
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stdout == ""
    message = result.stderr.strip()
    assert message.startswith("error: "), message
    return assert_one_sentence(message)


# --- Upload files ---------------------------------------------------------------------------


def image_bytes(pixels: np.ndarray, fmt: str = "PNG", mode: str | None = None) -> bytes:
    buffer = io.BytesIO()
    image = Image.fromarray(pixels)
    if mode:
        image = image.convert(mode)
    image.save(buffer, fmt)
    return buffer.getvalue()


def pixels(shape=(12, 20), seed=0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, shape, np.uint8)


def zip_of(files: dict[str, bytes], compression=zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, payload in files.items():
            archive.writestr(name, payload)
    return buffer.getvalue()


def class_zip(n_per_class=5, shape=(12, 20)) -> bytes:
    return zip_of({f"pets/{c}/{i}.png": image_bytes(pixels(shape, 10 * k + i))
                   for k, c in enumerate(["dog", "cat"]) for i in range(n_per_class)})


def npz_of(**arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


# Each bad input (a maker of its (filename, bytes), given the test's monkeypatch when it takes one) and the words
# of its one sentence.


def _non_image():
    return "d.zip", zip_of({"a.png": image_bytes(pixels()), "notes.txt": b"hello"})


def _mixed_sizes():
    files = {f"{i}.png": image_bytes(pixels((12, 20), i)) for i in range(3)}
    files["1b.png"] = image_bytes(pixels((20, 12)))
    return "d.zip", zip_of(files)


def _zip_bomb():
    return "bomb.zip", zip_of({"a.png": image_bytes(pixels()), "b.png": b"\x00" * (3 * 2**20)})


def _zip_too_big_unpacked(monkeypatch):
    from aecore import limits

    monkeypatch.setattr(limits, "MAX_ZIP_BYTES", 1000)
    return "big.zip", zip_of({f"{i}.png": image_bytes(pixels(seed=i)) for i in range(4)}, zipfile.ZIP_STORED)


def _zip_too_many_files(monkeypatch):
    from aecore import limits

    monkeypatch.setattr(limits, "MAX_ZIP_MEMBERS", 3)
    return "many.zip", zip_of({f"{i}.png": image_bytes(pixels(seed=i)) for i in range(4)})


def _pixel_bomb(monkeypatch):
    # PIL's own limit, lowered so that a 12 x 20 image is over it but under twice it (a warning, not an error).
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 150)
    return "d.zip", zip_of({f"{i}.png": image_bytes(pixels(seed=i)) for i in range(2)})


def _corrupt_png():
    good = image_bytes(pixels((12, 20)))
    bad = good[:60] + bytes(b ^ 0xFF for b in good[60:90]) + good[90:]  # inside the IDAT stream: the header reads
    return "d.zip", zip_of({"a.png": image_bytes(pixels(seed=1)), "b.png": bad})


def _truncated_png():
    return "d.zip", zip_of({"a.png": image_bytes(pixels(seed=1)), "b.png": image_bytes(pixels())[:30]})


def _one_image():
    return "d.zip", zip_of({"a.png": image_bytes(pixels())})


def _one_row():
    return "d.csv", b"a,b\n1,2\n"


def _too_small_images():
    return "d.zip", zip_of({f"{i}.png": image_bytes(pixels((4, 20), i)) for i in range(2)})


def _csv_text():
    return "d.csv", b"a,b\n1,2\n3,four\n"


def _csv_nan():
    return "d.csv", b"a,b\n1,2\nnan,4\n"


def _csv_empty_cell():
    return "d.csv", b"1,2\n3,\n"


def _csv_ragged():
    return "d.csv", b"a,b,label\n1,2,x\n3,4\n"


def _csv_missing_label():
    return "d.csv", b"a,b,label\n1,2,x\n3,4, \n"


def _npz_labels_mismatch():
    return "d.npz", npz_of(x_train=pixels((6, 8, 8)), x_test=pixels((2, 8, 8)), y_train=np.arange(5))


def _random_bytes():
    return "d.bin", bytes(np.random.default_rng(0).integers(0, 256, 500, np.uint8))


def _a_png_alone():
    return "digit.png", image_bytes(pixels())


def _text_of_another_kind():
    return "notes.md", b"hello\nworld\n"


def _damaged_zip():
    content = class_zip()
    return "d.zip", content[:100] + content[-22:]


BAD_INPUTS = {
    "zip with a non-image file": (_non_image, r"^'notes.txt' in 'd.zip' is not a PNG or JPEG image; a zip must hold"),
    "images of mixed sizes": (_mixed_sizes, r"^'1b.png' is 12 wide by 20 high but most images are 20 wide by 12 high; "
                                            r"all images must have one size\.$"),
    "zip bomb": (_zip_bomb, r"^'b.png' in 'bomb.zip' unpacks to 3.0 MiB from far less, like a zip bomb"),
    "zip too big unpacked": (_zip_too_big_unpacked, r"^'big.zip' would unpack to .* MiB; the limit is"),
    "zip of too many files": (_zip_too_many_files, r"^'many.zip' holds 4 files; the limit is 3\.$"),
    "pixel bomb": (_pixel_bomb, r"^'0.png' in 'd.zip' has more pixels than any image allowed\.$"),
    "corrupt png": (_corrupt_png, r"^'b.png' in 'd.zip' is damaged"),
    "truncated png": (_truncated_png, r"^'b.png' in 'd.zip' is damaged"),
    "1-image dataset": (_one_image, r"^'d.zip' holds 1 image; a dataset needs at least 2"),
    "1-row dataset": (_one_row, r"^'d.csv' holds 1 row; a dataset needs at least 2"),
    "images below 8 pixels": (_too_small_images, r"^Images must be 8 to 128 pixels a side, got 4 high by 20 wide\.$"),
    "csv with text": (_csv_text, r"^Row 3, column 'b' of 'd.csv' holds 'four', not a number\.$"),
    "csv with NaN": (_csv_nan, r"^Row 3, column 'a' of 'd.csv' holds 'nan', not a number\.$"),
    "csv with an empty cell": (_csv_empty_cell, r"^Row 2, column '2' of 'd.csv' holds '', not a number\.$"),
    "csv ragged": (_csv_ragged, r"^Row 3 of 'd.csv' has 2 cells but the first row has 3\.$"),
    "csv label missing": (_csv_missing_label, r"^Row 3 of 'd.csv' has no label; label every row or none\.$"),
    "labels count mismatch": (_npz_labels_mismatch, r"^y_train must hold 6 whole-number labels \(one per example\)"),
    "random bytes": (_random_bytes, r"^'d.bin' is none of the accepted formats: \.npz, \.zip of PNG/JPEG images, "
                                    r"or \.csv of numbers\.$"),
    "a png alone": (_a_png_alone, r"^'digit.png' is none of the accepted formats"),
    "text not named .csv": (_text_of_another_kind, r"^'notes.md' is none of the accepted formats"),
    "damaged zip": (_damaged_zip, r"^'d.zip' is a damaged zip archive\.$"),
}


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


def train_long(at: AppTest, arch: str):
    """Press Train on arch's open page with 200 epochs (far longer than a test waits); the job it follows."""
    at.sidebar.number_input(key=f"form.{arch}.epochs").set_value(200)
    at.form_submit_button[0].click().run()
    return at.session_state[f"training.{arch}"]


def open_page(page: str) -> AppTest:
    """A new session of the app on app_pages/<page>.py ('home' stays on the entry page)."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    if page != "home":
        at.switch_page(f"app_pages/{page}.py").run()
    assert_clean(at)
    return at


PAGE_URL = "http://localhost:8501/{arch}"


WIDGETS = ("selectbox", "number_input", "slider", "select_slider", "radio", "text_input")  # the form's kinds


def form(at: AppTest, arch: str) -> dict:
    """The sidebar form's widget values by field name."""
    prefix = f"form.{arch}."
    return {w.key.removeprefix(prefix): w.value
            for kind in WIDGETS for w in at.sidebar.get(kind) if (w.key or "").startswith(prefix)}


def open_link(arch: str, params: dict[str, str]) -> AppTest:
    """A new session opened on the page of arch with these query parameters (a shared link, as a browser opens
    it: the app's entry runs, then the page, with the URL's parameters)."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.context = {"url": PAGE_URL.format(arch=arch)}
    at.run()
    at.query_params.update(params)
    at.switch_page(f"app_pages/{arch}.py").run()
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
    """The training jobs this session follows (one per page at most: the architectures' and the Anomaly page's)."""
    from aecore.models import names
    from dashboard.held_out import PAGE_KEY

    pages = (*names(), PAGE_KEY)
    return [at.session_state[f"training.{page}"] for page in pages if f"training.{page}" in at.session_state]


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
    """The VAE explorer's decoded image, as the data URL the page carries it in: equal URLs mean equal pixels."""
    (image,) = [e for e in at.get("image") if e.proto.imgs[0].caption == "decoder(z)"]
    url = image.proto.imgs[0].url
    assert url.startswith("data:image/png;base64,"), url[:40]
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


# (navigation label, page heading) of every page of app.py's navigation, in its order.
BROWSER_PAGES = [
    ("Home", "Autoencoder Studio"),
    ("Lesson", "1. Copy the input to the output"),  # its first step
    ("Basic", "Basic autoencoder"),
    ("Stacked", "Stacked autoencoder"),
    ("Convolutional", "Convolutional autoencoder"),
    ("Variational", "Variational autoencoder"),
    ("Compare", "Compare runs"),
    ("Anomaly scores", "Anomaly scores"),
    ("Your data", "Your data"),
    ("Your digit", "Your digit"),
    ("Your model", "Your model"),
]


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
    link = nav_link(page, label)
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


quick_bench_key = pytest.StashKey[dict]()  # conftest's background benchmark smoke


def start_quick_bench(niced: bool = True) -> dict:
    """`python -m benchmarks --quick` started (niced: at the lowest priority), in a process group of its own, on a
    run cache of its own; its output goes to files (a pipe nobody reads would fill and stop it)."""
    folder = Path(tempfile.mkdtemp(prefix="aecore-bench-smoke-"))
    with open(folder / "stdout", "w") as stdout, open(folder / "stderr", "w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks", "--quick"], cwd=REPO, stdin=subprocess.DEVNULL, stdout=stdout,
            stderr=stderr, env={**os.environ, "AECORE_CACHE_DIR": str(folder / "cache")}, process_group=0,
        )
    if niced:
        os.setpriority(os.PRIO_PROCESS, process.pid, 19)  # before it starts children: they inherit it
    return {"process": process, "folder": folder}
