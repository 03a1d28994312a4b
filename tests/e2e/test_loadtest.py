"""The load test script itself works: concurrent sessions move sliders with no errors."""

import json
import subprocess
import sys

from tests.helpers import REPO


def test_two_sessions_move_sliders_without_errors(chromium):
    # Its own process: the browser fixtures' event loop must not meet the script's asyncio loop.
    done = subprocess.run(
        [sys.executable, "-m", "tools.loadtest", "--sessions", "2", "--seconds", "5", "--fast"],
        cwd=REPO, capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL,
    )
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["errors"] == 0, report["error_messages"]
    assert report["slider_moves"] >= 2
    assert report["server_peak_mb"] is not None and report["server_peak_mb"] < 2048
    assert 0 < report["server_cpu_ms_per_move"] < 5000
    assert done.returncode == 0, done.stderr[-2000:]
