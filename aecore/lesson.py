"""The Lesson's runs and figures: the design notes taught one claim at a time, each shown on a real model.

A step's runs are small, named ready-made runs (`LESSON_RUNS`), shipped beside the architectures' own in
aecore/showcase_runs/ and made by the same command (`aecore showcase --lesson`), so every step opens at once;
what a step computes from them (or from nothing but NumPy) lives here too, and the dashboard's
dashboard/lesson/ draws it.
"""

from __future__ import annotations

from aecore.config import RunConfig

# Steps 1-3 (copying, undercomplete, stacked against shallow): name -> config. A name starts with "lesson-".
DENSE_RUNS: dict[str, RunConfig] = {}

# Steps 4-6 (convolutional against dense, the VAE's sampling, the loss): name -> config.
IMAGE_RUNS: dict[str, RunConfig] = {}

LESSON_RUNS: dict[str, RunConfig] = {**DENSE_RUNS, **IMAGE_RUNS}
