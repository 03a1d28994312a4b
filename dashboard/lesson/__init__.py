"""The Lesson: the design notes walked in their order, one claim per step, each shown on a real model.

Each step is a module of this package exporting STEP (dashboard.lesson.step.Step); app_pages/lesson.py draws one
at a time, its slug in the URL (?step=...) so a teacher can link to it.
"""

from __future__ import annotations

from dashboard.lesson import convolution, copying, loss, sampling, stacking, undercomplete
from dashboard.lesson.step import Step

STEPS: tuple[Step, ...] = (copying.STEP, undercomplete.STEP, stacking.STEP, convolution.STEP, sampling.STEP,
                           loss.STEP)


def step_index(value: str | None) -> tuple[int, str | None]:
    """The step a URL's ?step= names (its slug, or its number from 1), and one sentence when it names none (then the
    first step)."""
    if value is None or value == "":
        return 0, None
    slugs = [step.slug for step in STEPS]
    if value in slugs:
        return slugs.index(value), None
    if value.isdigit() and 1 <= int(value) <= len(STEPS):
        return int(value) - 1, None
    shown = value if len(value) <= 40 else value[:40] + "..."
    return 0, (f"The lesson has no step {shown!r}: it has steps 1 to {len(STEPS)} ({', '.join(slugs)}); "
               "here is the first.")
