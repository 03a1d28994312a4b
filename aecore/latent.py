"""A VAE's encoding of one input, N(mean, diag(var)), as the latent scatter draws it.

The scatter shows codes as they are when k <= 2 and through their PCA otherwise
(aecore.metrics.project_2d); a Gaussian goes through the same linear map, so its
one-standard-deviation ellipse can be drawn over the scatter.
"""

from __future__ import annotations

import numpy as np


def project_gaussian(
    mean: np.ndarray, var: np.ndarray, components: np.ndarray | None = None, centre: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(2D mean, 2 x 2 covariance) of N(mean, diag(var)) on the scatter's axes.

    k = 1: the scatter's x axis (y = 0, no spread); k = 2: as it is; k > 2: through the
    PCA given by components (2 x k) and centre (k,), i.e. x -> components @ (x - centre).
    """
    mean, var = np.asarray(mean, np.float64).ravel(), np.asarray(var, np.float64).ravel()
    k = len(mean)
    if k == 1:
        return np.array([mean[0], 0.0]), np.diag([var[0], 0.0])
    if k == 2:
        return mean, np.diag(var)
    if components is None or centre is None:
        raise ValueError(f"A {k}-D Gaussian needs the PCA's components and centre to be drawn in 2D.")
    w = np.asarray(components, np.float64)
    return w @ (mean - np.asarray(centre, np.float64)), (w * var) @ w.T


def ellipse(mean2: np.ndarray, cov2: np.ndarray, n_sd: float = 1.0, points: int = 73) -> np.ndarray:
    """(points, 2) outline of the n_sd-standard-deviation ellipse of N(mean2, cov2), closed (last = first)."""
    values, vectors = np.linalg.eigh(np.asarray(cov2, np.float64))
    radii = n_sd * np.sqrt(np.clip(values, 0.0, None))
    angle = np.linspace(0.0, 2 * np.pi, points)
    circle = np.stack([np.cos(angle), np.sin(angle)])  # (2, points)
    return np.asarray(mean2, np.float64) + (vectors @ (radii[:, None] * circle)).T
