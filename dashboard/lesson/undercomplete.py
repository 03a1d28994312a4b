"""Lesson step: Narrower than the input (placeholder: to be built)."""

from __future__ import annotations

import streamlit as st

from dashboard.lesson.step import Step


def _draw() -> None:
    st.info("This step is being written.")


STEP = Step("undercomplete", "Narrower than the input", "The notes' claim goes here.", _draw)
