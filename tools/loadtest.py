"""Load test: N concurrent browser sessions on the Variational page moving latent sliders; or, with --train K,
K sessions pressing Train at once while one more session moves the sliders.

    python -m tools.loadtest --sessions 8 --seconds 60
    python -m tools.loadtest --train 8 --seconds 30

Starts the app on a free loopback port with a fresh run cache holding the default VAE run
(trained once, before the clock starts), opens N sessions in one headless Chromium and,
for a bounded time, has each move its z1 slider and wait until the browser has loaded the
new decoded image. Reports errors (must be 0), the p50/p95 time from a slider move to the new
image, the server's peak resident memory (must stay under 2 GB) and the server's CPU time
per move (the browsers share the machine's cores with the server, so that one figure is the
app's alone). Exit code 1 when a target is missed.

Training mode (--train K): one session moves the slider alone for --seconds (the figure
without the storm); then K sessions, each with another seed of the page's default VAE,
press Train at the same moment while the slider session keeps moving; it stops when every
session's page says its run was trained. Reports errors, runs finished, whether the
trainings started in the order the queue showed right after the presses (each page's first
place in line; the start order from the run cache: each run's end time less its duration; with N
slots a run may stand up to N - 1 places off), the slider's p50/p95 without and during the storm,
the server's peak memory, N (AECORE_MAX_TRAININGS) and the machine's load average.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import sys
import tempfile
import time

import numpy as np

from tools.appserver import CHROMIUM, CHROMIUM_FLAGS, IDLE_JS, memory_mb, running_app

MAX_SERVER_MB = 2048
# The decoded image's URL once the browser has loaded it, else null. A plain DOM query:
# Playwright's text locators would scan the whole page at every poll, and 8 sessions
# polling that way cost the shared 2 cores more than the app itself.
DECODED_IMAGE_JS = """() => {
  const caption = [...document.querySelectorAll('[data-testid="stImageCaption"]')]
    .find(e => e.textContent === "decoder(z)");
  const img = caption && caption.parentElement.querySelector("img");
  return img && img.complete && img.naturalWidth > 0 ? img.src : null;
}"""
NEW_IMAGE_JS = f"(before) => {{ const src = ({DECODED_IMAGE_JS})(); return src !== null && src !== before; }}"


def page_arch() -> str:
    """The architecture whose page the sessions drive: the generative model's, whose decoder(z) image follows the
    latent sliders."""
    from aecore.models import specs

    return next(spec.name for spec in specs() if spec.samples)


def prepare_cache(cache_dir: str, fast: bool) -> None:
    """Train (once) the run the page's default form asks for, so sessions start from the cache."""
    os.environ["AECORE_CACHE_DIR"] = cache_dir
    if fast:
        os.environ["AECORE_STUDIO_TEST_DEFAULTS"] = "1"
    from aecore.store import RunStore
    from aecore.runner import get_run
    from dashboard.forms import defaults_for

    get_run(defaults_for(page_arch()), RunStore(cache_dir))


class _Start:
    """Every session opens its page first; the clock starts when all are ready (or have failed)."""

    def __init__(self, sessions: int, seconds: float, server_pid: int):
        self.waiting, self.seconds, self.server_pid = sessions, seconds, server_pid
        self.event = asyncio.Event()
        self.deadline = float("inf")
        self.server_cpu_at_start = 0.0

    def arrive(self) -> None:
        self.waiting -= 1
        if self.waiting == 0:
            self.deadline = time.monotonic() + self.seconds
            self.server_cpu_at_start = cpu_seconds(self.server_pid)
            self.event.set()


async def _session(browser, url: str, start: _Start, latencies: list, errors: list, index: int) -> None:
    context = await browser.new_context(viewport={"width": 1300, "height": 900})
    page = await context.new_page()
    page.on("pageerror", lambda exc: errors.append(f"session {index}: page error {exc}"))
    arrived = False
    try:
        await page.goto(f"{url}/{page_arch()}", timeout=120_000)
        await page.get_by_text("Loaded from cache").first.wait_for(timeout=120_000)
        await page.wait_for_function(NEW_IMAGE_JS, arg=None, timeout=60_000)
        arrived = True
        start.arrive()
        await start.event.wait()
        await move_slider(page, lambda: time.monotonic() < start.deadline, latencies)
        await count_exceptions(page, errors, f"session {index}")
    except Exception as exc:  # every failure is a counted error, not a crash of the load test
        errors.append(f"session {index}: {type(exc).__name__}: {str(exc).splitlines()[0]}")
    finally:
        if not arrived:
            start.arrive()
        await context.close()


async def move_slider(page, go_on, latencies: list) -> None:
    """Move the z1 slider one step at a time while go_on() says so, each time waiting for the new decoded image;
    the seconds each move took are appended to latencies."""
    from playwright.async_api import TimeoutError as PlaywrightTimeout

    slider = page.locator('[data-testid="stSlider"]').filter(has_text="z1").get_by_role("slider")
    direction = "ArrowRight"
    moves = 0
    while go_on():
        before = await page.evaluate(DECODED_IMAGE_JS)
        started = time.monotonic()
        await slider.focus()
        await page.keyboard.press(direction)
        try:
            await page.wait_for_function(NEW_IMAGE_JS, arg=before, polling=10, timeout=30_000)
        except PlaywrightTimeout:
            raise TimeoutError("the decoded image did not follow the slider within 30 s") from None
        latencies.append(time.monotonic() - started)
        moves += 1
        if moves % 10 == 0:  # turn round, staying inside the slider's range
            direction = "ArrowLeft" if direction == "ArrowRight" else "ArrowRight"


async def count_exceptions(page, errors: list, who: str) -> None:
    exceptions = await page.locator('[data-testid="stException"]').count()
    if exceptions:
        errors.append(f"{who}: {exceptions} exception element(s) on the page")


async def _drive(url: str, sessions: int, seconds: float, server_pid: int) -> tuple[list, list, float]:
    """Latencies (s) and errors of all sessions, and the server's CPU seconds while sliders moved."""
    from playwright.async_api import async_playwright

    latencies: list[float] = []
    errors: list[str] = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            start = _Start(sessions, seconds, server_pid)
            await asyncio.gather(*(_session(browser, url, start, latencies, errors, i) for i in range(sessions)))
            server_cpu = cpu_seconds(server_pid) - start.server_cpu_at_start
        finally:
            await browser.close()
    return latencies, errors, server_cpu


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far, from /proc."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def _app_on_a_filled_cache(fast: bool):
    """Yield (url, server, cache folder): the app on a fresh run cache holding the run the sliders use."""
    with tempfile.TemporaryDirectory() as cache_dir:
        prepare_cache(cache_dir, fast)
        env = {"AECORE_CACHE_DIR": cache_dir}
        if fast:
            env["AECORE_STUDIO_TEST_DEFAULTS"] = "1"
        with running_app(env) as (url, server):
            yield url, server, cache_dir


def run_load_test(sessions: int = 8, seconds: float = 60, fast: bool = False) -> dict:
    """Run the load test and return its report (errors, latencies in ms, server peak MB)."""
    with _app_on_a_filled_cache(fast) as (url, server, _):
        latencies, errors, server_cpu = asyncio.run(_drive(url, sessions, seconds, server.pid))
        peak_mb = memory_mb(server.pid)
    p50, p95 = _percentiles(latencies)
    return {
        "sessions": sessions,
        "seconds": seconds,
        "slider_moves": len(latencies),
        "errors": len(errors),
        "error_messages": errors[:10],
        "move_to_image_p50_ms": p50,
        "move_to_image_p95_ms": p95,
        "server_peak_mb": round(peak_mb, 1) if peak_mb else None,
        # The browsers share this machine's cores with the server; this is the server's own part.
        "server_cpu_ms_per_move": round(1000 * server_cpu / len(latencies), 1) if latencies else None,
    }


# --- training mode --------------------------------------------------------------------------

TRAINED_RE = re.compile(r"^Trained .* in [0-9.]+ s and saved to the run cache\.$")
ENDED_OTHERWISE_RE = re.compile(r"^(Training .* was stopped|Training failed|Training stopped)")
TRAIN_WAIT_MS = 1_800_000  # a bound for the slowest run at the back of the queue, never an expected figure


class _Storm:
    """The training sessions' shared state: when to press, what each saw first, and who has finished."""

    def __init__(self, trainers: int):
        self.trainers = trainers
        self.waiting = trainers
        self.all_ready = asyncio.Event()  # every trainer has its page open and its seed set
        self.go = asyncio.Event()  # press now
        self.pressed_at: dict[int, float] = {}  # seed -> monotonic time of its press
        self.first_seen: dict[int, tuple[int, float, str]] = {}  # seed -> (place in line, when, the sentence)
        self.finished: dict[int, float] = {}  # seed -> monotonic time its page said "Trained"
        self.over = 0  # trainers done, finished or failed

    def arrive(self) -> None:
        self.waiting -= 1
        if self.waiting == 0:
            self.all_ready.set()

    @property
    def done(self) -> bool:
        return self.over == self.trainers

    def queue_order(self) -> list[int]:
        """The seeds in the order the server queued them, as the pages said right after the presses: by the place
        in line first seen (0 = training already), then by when (a place seen later was seen after a start)."""
        return sorted(self.first_seen, key=lambda seed: self.first_seen[seed][:2])


def _place(sentence: str) -> int:
    """The place in line a live panel's first sentence gives: 'Waiting ...: 3rd in line' 3, 'Training ...' 0."""
    found = re.search(r"(\d+)(st|nd|rd|th) in line", sentence)
    return int(found.group(1)) if found else 0


async def _trainer(browser, url: str, storm: _Storm, errors: list, seed: int) -> None:
    """A session that sets its seed, presses Train with the others, and waits until its page shows the run."""
    context = await browser.new_context(viewport={"width": 1300, "height": 900})
    page = await context.new_page()
    who = f"trainer with seed {seed}"
    page.on("pageerror", lambda exc: errors.append(f"{who}: page error {exc}"))
    arrived = False
    try:
        await page.goto(f"{url}/{page_arch()}", timeout=120_000)
        await page.get_by_text("Loaded from cache").first.wait_for(timeout=120_000)  # the default run (seed 0)
        sidebar = page.locator('[data-testid="stSidebar"]')
        seed_input = sidebar.get_by_role("spinbutton", name="Seed", exact=True)
        await seed_input.fill(str(seed))
        await seed_input.press("Tab")
        await page.wait_for_function(IDLE_JS, timeout=120_000)  # drawn: the slider's figure alone is not disturbed
        arrived = True
        storm.arrive()
        await storm.go.wait()
        await sidebar.get_by_role("button", name="Train", exact=True).click()
        storm.pressed_at[seed] = time.monotonic()
        arch = re.escape(page_arch())
        panel = page.get_by_text(re.compile(rf"^(Waiting to train|Training {arch}|Trained {arch})")).first
        await panel.wait_for(timeout=300_000)
        sentence = await panel.locator("xpath=ancestor::p[1]").inner_text()  # the whole sentence
        storm.first_seen[seed] = (_place(sentence), time.monotonic(), sentence)
        # The run, or a sentence saying why there is none (stopped, failed): then it is an error.
        outcome = page.get_by_text(TRAINED_RE).or_(page.get_by_text(ENDED_OTHERWISE_RE)).first
        await outcome.wait_for(timeout=TRAIN_WAIT_MS)
        said = await outcome.inner_text()
        if not TRAINED_RE.match(said):
            raise RuntimeError(f"its page said: {said}")
        storm.finished[seed] = time.monotonic()
        await count_exceptions(page, errors, who)
    except Exception as exc:  # every failure is a counted error, not a crash of the load test
        errors.append(f"{who}: {type(exc).__name__}: {str(exc).splitlines()[0]}")
    finally:
        if not arrived:
            storm.arrive()
        storm.over += 1
        await context.close()


async def _slider_watch(browser, url: str, seconds: float, storm: _Storm, alone: list, during: list,
                        errors: list) -> None:
    """The slider session: once every trainer is ready, moves alone for `seconds`, then lets the storm begin and
    moves until every trainer is done."""
    context = await browser.new_context(viewport={"width": 1300, "height": 900})
    page = await context.new_page()
    page.on("pageerror", lambda exc: errors.append(f"slider session: page error {exc}"))
    try:
        await page.goto(f"{url}/{page_arch()}", timeout=120_000)
        await page.get_by_text("Loaded from cache").first.wait_for(timeout=120_000)
        await page.wait_for_function(NEW_IMAGE_JS, arg=None, timeout=60_000)
        await storm.all_ready.wait()
        await move_slider(page, _once(), [])  # not timed: a session's first move draws more than the image
        deadline = time.monotonic() + seconds
        await move_slider(page, lambda: time.monotonic() < deadline, alone)
        storm.go.set()
        await move_slider(page, lambda: not storm.done, during)
        await count_exceptions(page, errors, "slider session")
    except Exception as exc:
        errors.append(f"slider session: {type(exc).__name__}: {str(exc).splitlines()[0]}")
    finally:
        storm.go.set()  # the trainers press even when this session failed
        await context.close()


async def _drive_training(url: str, trainers: int, seconds: float) -> tuple[_Storm, list, list, list]:
    from playwright.async_api import async_playwright

    alone: list[float] = []
    during: list[float] = []
    errors: list[str] = []
    storm = _Storm(trainers)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            await asyncio.gather(
                _slider_watch(browser, url, seconds, storm, alone, during, errors),
                *(_trainer(browser, url, storm, errors, seed) for seed in range(1, trainers + 1)),
            )
        finally:
            await browser.close()
    return storm, alone, during, errors


def trained_runs(cache_dir: str) -> list[tuple[int, float]]:
    """(seed, seconds) of the trainers' runs in the cache, in the order their trainings started (each run's end
    time less its duration)."""
    from aecore.store import RunStore

    runs = [m for m in RunStore(cache_dir).entries() if m["config"].get("seed", 0) != 0]
    runs.sort(key=lambda m: m["trained_at"] - m["metrics"]["seconds"])
    return [(m["config"]["seed"], m["metrics"]["seconds"]) for m in runs]


def order_kept(queued: list[int], started: list[int], slots: int) -> bool:
    """Whether the trainings started in the order they queued. With several slots the first ones start together,
    and neither the pages nor the run cache can order runs that start within moments of each other: a run may
    stand up to slots - 1 places off its place in the queue."""
    return (len(queued) == len(started) and set(queued) == set(started)
            and all(abs(started.index(seed) - place) < slots for place, seed in enumerate(queued)))


def _once():
    """A go_on for move_slider: one move."""
    left = [1]

    def go_on() -> bool:
        return bool(left) and bool(left.pop())

    return go_on


def _percentiles(seconds: list[float]) -> tuple[float | None, float | None]:
    if not seconds:
        return None, None
    ms = np.array(seconds) * 1000
    return round(float(np.percentile(ms, 50)), 1), round(float(np.percentile(ms, 95)), 1)


def run_training_load_test(trainers: int = 8, seconds: float = 30, fast: bool = False) -> dict:
    """K sessions press Train while one moves the VAE sliders; the report (see the module's docstring)."""
    from aecore.jobs import max_trainings_setting

    load_before = os.getloadavg()
    with _app_on_a_filled_cache(fast) as (url, server, cache_dir):
        storm, alone, during, errors = asyncio.run(_drive_training(url, trainers, seconds))
        peak_mb = memory_mb(server.pid)
        runs = trained_runs(cache_dir)
    started = [seed for seed, _ in runs]
    queued = storm.queue_order()
    presses = sorted(storm.pressed_at.values())
    last_queued = storm.first_seen[queued[-1]][2] if queued else None
    alone_p50, alone_p95 = _percentiles(alone)
    storm_p50, storm_p95 = _percentiles(during)
    return {
        "trainers": trainers,
        "max_trainings": max_trainings_setting(),
        "errors": len(errors),
        "error_messages": errors[:10],
        "runs_finished": len(storm.finished),
        "presses_within_s": round(presses[-1] - presses[0], 2) if presses else None,
        "queue_order": queued,  # seeds, as the pages said right after the presses
        "start_order": started,  # seeds, as the run cache says
        "queue_order_kept": len(queued) == trainers and order_kept(queued, started, max_trainings_setting()),
        "last_in_line_saw": last_queued,
        "storm_s": round(max(storm.finished.values()) - presses[0], 1) if storm.finished else None,
        # What the first person in line waits: from the first press to the first page showing its run.
        "first_done_s": round(min(storm.finished.values()) - presses[0], 1) if storm.finished else None,
        "run_seconds": [round(seconds, 1) for _, seconds in runs],  # each training's own time, in start order
        "slider_moves_alone": len(alone),
        "slider_alone_p50_ms": alone_p50,
        "slider_alone_p95_ms": alone_p95,
        "slider_moves_storm": len(during),
        "slider_storm_p50_ms": storm_p50,
        "slider_storm_p95_ms": storm_p95,
        "server_peak_mb": round(peak_mb, 1) if peak_mb else None,
        "load_average_before": [round(v, 2) for v in load_before],
        "load_average_after": [round(v, 2) for v in os.getloadavg()],
    }


def _training_main(args) -> int:
    report = run_training_load_test(args.train, args.seconds, args.fast)
    print(
        f"{report['trainers']} sessions pressed Train (N = {report['max_trainings']} at once; presses within "
        f"{report['presses_within_s']} s): {report['runs_finished']} runs finished in {report['storm_s']} s, "
        f"the first after {report['first_done_s']} s "
        f"(each trained in {report['run_seconds']} s), "
        f"{report['errors']} errors, queue order kept: {report['queue_order_kept']} "
        f"(queued {report['queue_order']}, started {report['start_order']}; the last in line saw "
        f"'{report['last_in_line_saw']}'); slider move to new image "
        f"alone p50 {report['slider_alone_p50_ms']} ms / p95 {report['slider_alone_p95_ms']} ms "
        f"({report['slider_moves_alone']} moves), during the storm p50 {report['slider_storm_p50_ms']} ms / "
        f"p95 {report['slider_storm_p95_ms']} ms ({report['slider_moves_storm']} moves); server peak memory "
        f"{report['server_peak_mb']} MB; load average before {report['load_average_before']}, after "
        f"{report['load_average_after']}",
        file=sys.stderr,
    )
    return _finish(report, report["runs_finished"] == report["trainers"] and report["queue_order_kept"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.loadtest", description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--fast", action="store_true", help="a tiny VAE (1 epoch) instead of the page's default")
    parser.add_argument("--train", type=int, metavar="K", default=0,
                        help="training mode: K sessions press Train (seeds 1..K) while one moves the sliders "
                             "(--seconds: how long it moves them alone first)")
    args = parser.parse_args(argv)
    if not 1 <= args.sessions <= 64 or not 1 <= args.seconds <= 1800 or not 0 <= args.train <= 64:
        parser.error("sessions and train must be 1-64 and seconds 1-1800")
    if args.train:
        return _training_main(args)
    report = run_load_test(args.sessions, args.seconds, args.fast)
    print(
        f"{report['sessions']} sessions for {report['seconds']:.0f} s: {report['slider_moves']} slider moves, "
        f"{report['errors']} errors, slider move to new image p50 {report['move_to_image_p50_ms']} ms, "
        f"p95 {report['move_to_image_p95_ms']} ms, server peak memory {report['server_peak_mb']} MB, "
        f"server CPU {report['server_cpu_ms_per_move']} ms per move",
        file=sys.stderr,
    )
    return _finish(report, report["slider_moves"] > 0)


def _finish(report: dict, mode_ok: bool) -> int:
    """Print the error messages and the JSON line; the exit code (1 when a target is missed)."""
    for message in report["error_messages"]:
        print("  " + message, file=sys.stderr)
    print(json.dumps(report))
    return 0 if mode_ok and report["errors"] == 0 and (report["server_peak_mb"] or 0) < MAX_SERVER_MB else 1


if __name__ == "__main__":
    sys.exit(main())
