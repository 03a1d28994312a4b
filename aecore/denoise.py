"""Denoising numbers: the noisy inputs a denoising run was tested on, and PSNR gains in dB.

A run with config.noise > 0 was trained on noisy inputs and clean targets
(aecore.train). The noise is drawn per seed, so the exact inputs of its test metrics
and training replay can be drawn again here.
"""

from __future__ import annotations

import numpy as np

from aecore import metrics as M
from aecore.config import RunConfig
from aecore.train import REPLAY_IMAGES, noisy


def noisy_test_inputs(x_test: np.ndarray, config: RunConfig) -> np.ndarray:
    """The inputs the run's test metrics were computed on: x_test with the run's noise (x_test itself if none)."""
    return noisy(x_test, config, "test")


def replay_inputs(x_test: np.ndarray, config: RunConfig) -> np.ndarray:
    """The inputs of the run's training replay: the first test images, noisy as in training if noise > 0."""
    return noisy(x_test[:REPLAY_IMAGES], config, "replay")


def psnr_db(clean: np.ndarray, other: np.ndarray) -> np.ndarray:
    """Per-image PSNR of other against clean (dB, images in [0, 1])."""
    return np.asarray(M.psnr(M.per_example_mse(clean, other)))


def psnr_gain_db(clean: np.ndarray, noisy: np.ndarray, recon: np.ndarray) -> np.ndarray:
    """Per-image PSNR gain of the reconstruction over the noisy input (dB; positive = noise removed)."""
    return psnr_db(clean, recon) - psnr_db(clean, noisy)


def overall_gain_db(metrics: dict[str, float]) -> float | None:
    """Test-set PSNR gain of a denoising run (dB), from its stored metrics; None if it was not denoising."""
    if "noisy_psnr" not in metrics or "test_psnr" not in metrics:
        return None
    return metrics["test_psnr"] - metrics["noisy_psnr"]
