"""The load test script itself works: concurrent sessions move sliders with no errors."""

from tests.e2e.conftest import _require_chromium


def test_two_sessions_move_sliders_without_errors():
    _require_chromium()
    from tools.loadtest import run_load_test

    report = run_load_test(sessions=2, seconds=5, fast=True)
    assert report["errors"] == 0, report["error_messages"]
    assert report["slider_moves"] >= 2
    assert report["server_peak_mb"] is not None and report["server_peak_mb"] < 2048
