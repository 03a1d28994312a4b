"""The latent map: a run's codes (N x k, maps flattened) drawn in 2-D by PCA, t-SNE or the raw pair of dimensions
that vary most, with the axes named for what they are, and an evenly spread subset of points for thumbnails.

NumPy and scikit-learn only. PCA goes through metrics.Projection2D, the projection every other latent scatter uses
(the VAE's sliders and ellipses are drawn through its components), so the map's PCA is theirs.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

import numpy as np
from sklearn.decomposition import PCA as PrincipalComponents
from sklearn.manifold import TSNE as TSNEmbedding
from threadpoolctl import threadpool_limits

from aecore.errors import DataError
from aecore.limits import MAX_TSNE_POINTS
from aecore.metrics import Projection2D

PCA, TSNE, PAIR = "PCA", "t-SNE", "Most-variance pair"
METHODS = (PCA, TSNE, PAIR)
TSNE_PERPLEXITY = 30.0  # scikit-learn's default, lowered for a set too small for it (it must stay below N)
MIN_TSNE_POINTS = 3
# Wider codes (a conv model's maps) go to t-SNE as their first this many principal components, as scikit-learn's
# guide advises: the neighbours barely change and the distances cost a fraction.
TSNE_INPUT_DIMS = 50
# scikit-learn's default is 1000; for the few thousand codes a map may hold the layout has settled well before
# (its KL divergence barely moves after), so the wait is halved.
TSNE_ITERATIONS = 500
THUMBNAIL_CELLS = 16  # thumbnails: at most one per cell of this many x this many over the map (256 images at most)


@dataclass(frozen=True)
class LatentMap:
    """Codes as 2-D points, how they were drawn and what the two axes are."""

    points: np.ndarray  # (N, 2)
    method: str  # one of METHODS, or "as they are" where k <= 2
    name: str  # "PCA", "t-SNE", "raw pair: z3 and z17", or Projection2D's label where k <= 2
    axes: tuple[str, str]
    projection: Projection2D | None = None  # PCA's (and k <= 2's), which can place a code added later
    dims: tuple[int, int] | None = None  # the raw pair's dimensions, 0-based into the flattened code


def flat(codes: np.ndarray) -> np.ndarray:
    """(N, ...) codes as (N, k): a conv model's maps flattened, as every projection of codes here does."""
    codes = np.asarray(codes)
    return codes.reshape(len(codes), -1)


def dimension_name(i: int, code_shape: tuple[int, ...]) -> str:
    """The name of dimension i (0-based) of a flattened code: 'z3', or for a map 'z3 (row 1, column 1, filter 3)'."""
    name = f"z{i + 1}"
    if len(code_shape) == 3:
        row, column, channel = np.unravel_index(i, code_shape)
        name += f" (row {row + 1}, column {column + 1}, filter {channel + 1})"
    return name


def most_variance_pair(codes: np.ndarray) -> tuple[int, int]:
    """The two dimensions (0-based, lower first) whose values vary most over the codes."""
    variance = flat(codes).astype(np.float64).var(axis=0)
    if len(variance) < 2:
        raise DataError(f"A pair of dimensions needs codes of at least 2 dimensions; these have {len(variance)}.")
    # A stable sort: of equal variances the lower dimensions win, so the choice does not depend on the sort's whim.
    top = np.argsort(-variance, kind="stable")[:2]
    return int(top.min()), int(top.max())


def as_they_are(codes: np.ndarray) -> LatentMap:
    """Codes of 1 or 2 dimensions drawn as they are (1-D along x), as every other latent scatter draws them."""
    projection = Projection2D.fit(codes)
    return LatentMap(projection.transform(codes), "as they are", projection.label,
                     (f"{projection.label} 1", f"{projection.label} 2"), projection)


def pca_map(codes: np.ndarray) -> LatentMap:
    """Codes on their first two principal components, each axis saying its share of the codes' variance."""
    k = flat(codes).shape[1]
    if k <= 2:
        return as_they_are(codes)
    projection = Projection2D.fit(codes)
    shares = projection.pca.explained_variance_ratio_
    axes = tuple(f"PC {i + 1} ({share:.0%} of variance)".replace("%", " %") for i, share in enumerate(shares))
    return LatentMap(projection.transform(codes), PCA, PCA, axes, projection)


def pair_map(codes: np.ndarray) -> LatentMap:
    """Codes drawn on the two of their dimensions that vary most, as they are (no projection)."""
    codes = np.asarray(codes)
    a, b = most_variance_pair(codes)
    names = dimension_name(a, codes.shape[1:]), dimension_name(b, codes.shape[1:])
    short = f"z{a + 1} and z{b + 1}"
    return LatentMap(flat(codes)[:, [a, b]].astype(np.float64), PAIR, f"raw pair: {short}", names, dims=(a, b))


def check_tsne_size(n: int) -> None:
    """Refuse, in one sentence, a t-SNE of more codes than limits.MAX_TSNE_POINTS or too few to have neighbours."""
    if n > MAX_TSNE_POINTS:
        raise DataError(f"t-SNE draws at most {MAX_TSNE_POINTS:,} codes and this set has {n:,}, so choose PCA or "
                        "the most-variance pair for it.")
    if n < MIN_TSNE_POINTS:
        raise DataError(f"t-SNE needs at least {MIN_TSNE_POINTS} codes and this set has {n}.")


def tsne_perplexity(n: int) -> float:
    """The perplexity for n codes: scikit-learn's default, or a third of the other points where that is fewer."""
    return float(min(TSNE_PERPLEXITY, max(1.0, (n - 1) / 3)))


# Seconds per unit of N log N of the last t-SNE this process computed: what the wait of the next one is said from
# (no time is promised that this machine has not shown).
_tsne_pace: float | None = None
_pace_lock = threading.Lock()


def _work(n: int) -> float:
    return n * math.log(max(n, 2))


def expected_tsne_seconds(n: int) -> float | None:
    """The seconds a t-SNE of n codes should take here, from the last one this process computed; None before any."""
    with _pace_lock:
        return None if _tsne_pace is None else _tsne_pace * _work(n)


def tsne_map(codes: np.ndarray, seed: int = 0) -> LatentMap:
    """Codes embedded in 2-D by t-SNE (scikit-learn, PCA start, seeded: the same codes give the same map); codes
    wider than TSNE_INPUT_DIMS go in as that many principal components.

    Checked against limits.MAX_TSNE_POINTS before anything is computed."""
    codes = flat(codes)
    check_tsne_size(len(codes))
    started = time.perf_counter()
    codes = codes.astype(np.float64)
    if codes.shape[1] > TSNE_INPUT_DIMS and len(codes) > TSNE_INPUT_DIMS:
        codes = PrincipalComponents(n_components=TSNE_INPUT_DIMS, random_state=seed).fit_transform(codes)
    # One OpenMP thread: on a shared CPU a second one spins while it waits for a core, costing several times the
    # work (docs/PERFORMANCE.md), and a training keeps the other core. OpenMP's limit is the calling thread's own.
    with threadpool_limits(limits=1, user_api="openmp"):
        points = TSNEmbedding(n_components=2, perplexity=tsne_perplexity(len(codes)), init="pca",
                              learning_rate="auto", max_iter=TSNE_ITERATIONS, random_state=seed).fit_transform(codes)
    global _tsne_pace
    with _pace_lock:
        _tsne_pace = (time.perf_counter() - started) / _work(len(codes))
    return LatentMap(points, TSNE, TSNE, ("t-SNE 1", "t-SNE 2"))


def latent_map(codes: np.ndarray, method: str = PCA, seed: int = 0) -> LatentMap:
    """Codes drawn by method (one of METHODS); codes of 1 or 2 dimensions are drawn as they are, whatever the
    method."""
    if method not in METHODS:
        raise DataError(f"A latent map is drawn by {', '.join(METHODS[:-1])} or {METHODS[-1]}, not {method!r}.")
    if flat(codes).shape[1] <= 2:
        return as_they_are(codes)
    return {PCA: pca_map, TSNE: lambda c: tsne_map(c, seed), PAIR: pair_map}[method](codes)


def spread_subset(points: np.ndarray, cells: int = THUMBNAIL_CELLS) -> np.ndarray:
    """Indices of points spread evenly over the map: the square of the points' range cut into cells x cells, and in
    each cell that holds any the point nearest its centre (at most cells**2, in index order)."""
    points = np.asarray(points, np.float64)
    if len(points) == 0:
        return np.zeros(0, int)
    low, high = points.min(axis=0), points.max(axis=0)
    size = np.where(high > low, (high - low) / cells, 1.0)
    cell = np.minimum(((points - low) / size).astype(int), cells - 1)
    centre = low + (cell + 0.5) * size
    distance = np.square((points - centre) / size).sum(axis=1)
    cell_id = cell[:, 0] * cells + cell[:, 1]
    # Nearest first within each cell, then the first of each cell.
    order = np.lexsort((distance, cell_id))
    _, first = np.unique(cell_id[order], return_index=True)
    return np.sort(order[first])
