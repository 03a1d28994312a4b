"""dashboard.runtime: the Streamlit hook it replaces, and the one warning when that hook is gone."""

import logging

from streamlit.runtime.scriptrunner import script_runner

from dashboard import runtime


def test_keep_keras_state_replaces_the_hook(monkeypatch):
    monkeypatch.setattr(script_runner, "_clean_problem_modules", lambda: None)
    assert runtime.keep_keras_state() is True
    assert script_runner._clean_problem_modules is runtime._close_pyplot_figures


def test_a_missing_hook_is_left_alone_and_warned_about_once(monkeypatch, caplog):
    monkeypatch.delattr(script_runner, "_clean_problem_modules")
    assert runtime.keep_keras_state() is False
    assert not hasattr(script_runner, "_clean_problem_modules")
    with caplog.at_level(logging.WARNING, logger="autoencoder_studio"):
        runtime.warn_keras_state_not_kept()
    (record,) = caplog.records
    assert "_clean_problem_modules" in record.getMessage()
