"""Reconstruction metrics, the PCA baseline and latent projections (NumPy and scikit-learn)."""

from __future__ import annotations

import numpy as np
from scipy.linalg import subspace_angles
from sklearn.decomposition import PCA

EPS = 1e-7


def per_example_mse(x: np.ndarray, recon: np.ndarray) -> np.ndarray:
    """Mean squared error of each example (per pixel or per coordinate)."""
    return np.square(x - recon).reshape(len(x), -1).mean(axis=1)


def per_example_bce(x: np.ndarray, recon: np.ndarray) -> np.ndarray:
    """Binary cross-entropy of each example, averaged per pixel (nats per pixel)."""
    p = np.clip(recon, EPS, 1 - EPS)
    return -(x * np.log(p) + (1 - x) * np.log(1 - p)).reshape(len(x), -1).mean(axis=1)


def psnr(mse: float | np.ndarray, peak: float = 1.0) -> float | np.ndarray:
    """Peak signal-to-noise ratio in dB for images in [0, peak]."""
    return 10 * np.log10(peak**2 / np.maximum(mse, 1e-12))


def image_metrics(x: np.ndarray, recon: np.ndarray) -> dict[str, float]:
    """test_mse (per pixel), test_bce (nats per pixel) and test_psnr (dB, of the mean MSE)."""
    mse = float(per_example_mse(x, recon).mean())
    return {"test_mse": mse, "test_bce": float(per_example_bce(x, recon).mean()), "test_psnr": float(psnr(mse))}


def pca_baseline(x_train: np.ndarray, x_test: np.ndarray, k: int) -> tuple[float, PCA]:
    """Test MSE of PCA with k components fitted on x_train, and the fitted PCA."""
    pca = PCA(n_components=k).fit(x_train)
    recon = pca.inverse_transform(pca.transform(x_test))
    return float(per_example_mse(x_test, recon).mean()), pca


def plane_angle_deg(basis_a: np.ndarray, basis_b: np.ndarray) -> float:
    """Largest principal angle (degrees) between the row spaces of two k x n bases."""
    return float(np.degrees(subspace_angles(np.asarray(basis_a, np.float64).T, np.asarray(basis_b, np.float64).T).max()))


def project_2d(codes: np.ndarray) -> tuple[np.ndarray, str]:
    """Codes as 2D points: as they are when k <= 2, else their first two principal components."""
    codes = codes.reshape(len(codes), -1)
    if codes.shape[1] == 1:
        return np.column_stack([codes[:, 0], np.zeros(len(codes))]), "latent (1D)"
    if codes.shape[1] == 2:
        return codes, "latent"
    return PCA(n_components=2).fit_transform(codes), f"PCA of {codes.shape[1]}-D latent"
