"""Reconstruction metrics, the PCA baseline and latent projections (NumPy and scikit-learn)."""

from __future__ import annotations

from dataclasses import dataclass

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
    """Test MSE of PCA with k components fitted on x_train (all of them, for a k as wide as the data or wider: an
    exact copy), and the fitted PCA."""
    pca = PCA(n_components=min(k, *x_train.shape)).fit(x_train)
    recon = pca.inverse_transform(pca.transform(x_test))
    return float(per_example_mse(x_test, recon).mean()), pca


def plane_angle_deg(basis_a: np.ndarray, basis_b: np.ndarray) -> float:
    """Largest principal angle (degrees) between the row spaces of two k x n bases."""
    angles = subspace_angles(np.asarray(basis_a, np.float64).T, np.asarray(basis_b, np.float64).T)
    return float(np.degrees(angles.max()))


@dataclass(frozen=True)
class Projection2D:
    """How k-D codes are drawn in 2D: as they are when k <= 2, else on their first two principal components,
    fitted once on the codes a scatter shows, so that a point added later (a slider's z, your digit) lands where
    the scatter would have put it."""

    k: int
    pca: PCA | None = None

    @classmethod
    def fit(cls, codes: np.ndarray) -> Projection2D:
        codes = codes.reshape(len(codes), -1)
        k = codes.shape[1]
        return cls(k, PCA(n_components=2).fit(codes) if k > 2 else None)

    @property
    def label(self) -> str:
        """The axes' name: 'latent', 'latent (1D)' or 'PCA of 32-D latent'."""
        return {1: "latent (1D)", 2: "latent"}.get(self.k, f"PCA of {self.k}-D latent")

    def transform(self, codes: np.ndarray) -> np.ndarray:
        """(N, k) codes as (N, 2) points."""
        codes = np.asarray(codes).reshape(len(codes), -1)
        if self.pca is not None:
            return self.pca.transform(codes)
        return codes if self.k == 2 else np.column_stack([codes[:, 0], np.zeros(len(codes))])


def project_2d(codes: np.ndarray) -> tuple[np.ndarray, str]:
    """Codes as 2D points (Projection2D fitted on them) and the axes' name."""
    projection = Projection2D.fit(codes)
    return projection.transform(codes), projection.label
