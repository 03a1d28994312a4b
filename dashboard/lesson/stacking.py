"""Lesson step: Stacked against shallow (placeholder: to be built)."""

from __future__ import annotations

import streamlit as st

from dashboard.lesson.step import Step


def _draw() -> None:
    st.info("This step is being written.")


STEP = Step("stacked", "Stacked against shallow", "The notes' claim goes here.", _draw)
