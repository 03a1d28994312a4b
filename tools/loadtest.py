"""Load test: N concurrent browser sessions on the Variational page moving latent sliders.

    python -m tools.loadtest --sessions 8 --seconds 60

Starts the app on a free loopback port with a fresh run cache holding the default VAE run
(trained once, before the clock starts), opens N sessions in one headless Chromium and,
for a bounded time, has each move its z1 slider and wait until the browser has loaded the
new decoded image. Reports errors (must be 0), the p50/p95 time from a slider move to the new
image, the server's peak resident memory (must stay under 2 GB) and the server's CPU time
per move (the browsers share the machine's cores with the server, so that one figure is the
app's alone). Exit code 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time

import numpy as np

from tools.appserver import CHROMIUM_FLAGS, CHROMIUM, memory_mb, running_app

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


def prepare_cache(cache_dir: str, fast: bool) -> None:
    """Train (once) the VAE run the page's default form asks for, so sessions start from the cache."""
    os.environ["AECORE_CACHE_DIR"] = cache_dir
    if fast:
        os.environ["AECORE_STUDIO_TEST_DEFAULTS"] = "1"
    from aecore.store import RunStore
    from aecore.runner import get_run
    from dashboard.forms import defaults_for

    get_run(defaults_for("vae"), RunStore(cache_dir))


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
    from playwright.async_api import TimeoutError as PlaywrightTimeout

    context = await browser.new_context(viewport={"width": 1300, "height": 900})
    page = await context.new_page()
    page.on("pageerror", lambda exc: errors.append(f"session {index}: page error {exc}"))
    arrived = False
    try:
        await page.goto(url + "/vae", timeout=120_000)
        await page.get_by_text("Loaded from cache").first.wait_for(timeout=120_000)
        await page.wait_for_function(NEW_IMAGE_JS, arg=None, timeout=60_000)
        slider = page.locator('[data-testid="stSlider"]').filter(has_text="z1").get_by_role("slider")
        direction = "ArrowRight"
        moves = 0
        arrived = True
        start.arrive()
        await start.event.wait()
        while time.monotonic() < start.deadline:
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
        exceptions = await page.locator('[data-testid="stException"]').count()
        if exceptions:
            errors.append(f"session {index}: {exceptions} exception element(s) on the page")
    except Exception as exc:  # every failure is a counted error, not a crash of the load test
        errors.append(f"session {index}: {type(exc).__name__}: {str(exc).splitlines()[0]}")
    finally:
        if not arrived:
            start.arrive()
        await context.close()


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


def run_load_test(sessions: int = 8, seconds: float = 60, fast: bool = False) -> dict:
    """Run the load test and return its report (errors, latencies in ms, server peak MB)."""
    with tempfile.TemporaryDirectory() as cache_dir:
        prepare_cache(cache_dir, fast)
        env = {"AECORE_CACHE_DIR": cache_dir}
        if fast:
            env["AECORE_STUDIO_TEST_DEFAULTS"] = "1"
        with running_app(env) as (url, server):
            latencies, errors, server_cpu = asyncio.run(_drive(url, sessions, seconds, server.pid))
            peak_mb = memory_mb(server.pid)
    ms = np.array(latencies) * 1000
    return {
        "sessions": sessions,
        "seconds": seconds,
        "slider_moves": len(latencies),
        "errors": len(errors),
        "error_messages": errors[:10],
        "move_to_image_p50_ms": round(float(np.percentile(ms, 50)), 1) if len(ms) else None,
        "move_to_image_p95_ms": round(float(np.percentile(ms, 95)), 1) if len(ms) else None,
        "server_peak_mb": round(peak_mb, 1) if peak_mb else None,
        # The browsers share this machine's cores with the server; this is the server's own part.
        "server_cpu_ms_per_move": round(1000 * server_cpu / len(latencies), 1) if latencies else None,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.loadtest", description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--fast", action="store_true", help="a tiny VAE (1 epoch) instead of the page's default")
    args = parser.parse_args(argv)
    if not 1 <= args.sessions <= 64 or not 1 <= args.seconds <= 1800:
        parser.error("sessions must be 1-64 and seconds 1-1800")
    report = run_load_test(args.sessions, args.seconds, args.fast)
    print(
        f"{report['sessions']} sessions for {report['seconds']:.0f} s: {report['slider_moves']} slider moves, "
        f"{report['errors']} errors, slider move to new image p50 {report['move_to_image_p50_ms']} ms, "
        f"p95 {report['move_to_image_p95_ms']} ms, server peak memory {report['server_peak_mb']} MB, "
        f"server CPU {report['server_cpu_ms_per_move']} ms per move",
        file=sys.stderr,
    )
    for message in report["error_messages"]:
        print("  " + message, file=sys.stderr)
    print(json.dumps(report))
    ok = report["errors"] == 0 and report["slider_moves"] > 0 and (report["server_peak_mb"] or 0) < MAX_SERVER_MB
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
