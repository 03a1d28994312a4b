"""The Lesson's runs and figures: the design notes taught one claim at a time, each shown on a real model.

A step's runs are small, named ready-made runs (`LESSON_RUNS`), shipped beside the architectures' own in
aecore/showcase_runs/ and made by the same command (`aecore showcase --lesson`), so every step opens at once;
what a step computes from them (or from nothing but NumPy) lives here too, and the dashboard's
dashboard/lesson/ draws it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from aecore.config import RunConfig

# Steps 1-3 (copying, undercomplete, stacked against shallow): name -> config. A name starts with "lesson-".
# Steps 1 and 2's code 2 is basic's page defaults (the notes' 3 -> 2 -> 3); codes 1 and 3 differ in that alone.
# Step 3's pairs differ in the hidden layers alone: MNIST at the stacked page's defaults but one hidden layer of 64
# (the page's 128, 64 would take the shipped runs over their size budget), points5d at the notes' 5 -> 4 -> 3 -> 2.
DENSE_RUNS: dict[str, RunConfig] = {
    **{f"lesson-code-{k}": RunConfig.for_arch("basic", latent_dim=k) for k in (1, 2, 3)},
    "lesson-shallow-mnist": RunConfig.for_arch("stacked", hidden=()),
    "lesson-stacked-mnist": RunConfig.for_arch("stacked", hidden=(64,)),
    "lesson-shallow-5d": RunConfig.for_arch("stacked", dataset="points5d", loss="mse", hidden=(), latent_dim=2,
                                            epochs=100, batch_size=32, lr=0.01),
    "lesson-stacked-5d": RunConfig.for_arch("stacked", dataset="points5d", loss="mse", hidden=(4, 3), latent_dim=2,
                                            epochs=100, batch_size=32, lr=0.01),
}

# Steps 4-6 (convolutional against dense, the VAE's sampling, the loss): name -> config.
# Each pair differs in one setting, at the page's recipe (2 epochs of 2,048 images) and a quarter of the notes'
# width, so their sizes stay small; the architectures' ready-made runs stand beside them where a step compares.
IMAGE_RUNS: dict[str, RunConfig] = {
    "lesson-conv-3x3": RunConfig.for_arch("conv", width=0.25),
    "lesson-conv-1x1": RunConfig.for_arch("conv", width=0.25, out_kernel=1),
    # Seed 1: a code of two ReLU maps can start dead (both at 0 for every image) and learn nothing; seed 0's does.
    "lesson-conv-code-2": RunConfig.for_arch("conv", width=0.25, latent_dim=2, seed=1),
    "lesson-vae-beta-1": RunConfig.for_arch("vae"),
    "lesson-vae-beta-quarter": RunConfig.for_arch("vae", beta=0.25),  # 1 / the page's latent 4: the notes' mean KL
}

LESSON_RUNS: dict[str, RunConfig] = {**DENSE_RUNS, **IMAGE_RUNS}


# --- Steps 1-3: copying, undercomplete, stacked against shallow (NumPy and scikit-learn; Keras inside functions) --

OFF_PLANE_DISTANCE = 1.0  # how far step 2 pushes test points off the data's plane, in the data's own units


def fit_call(config: RunConfig) -> str:
    """The Keras call that trains an autoencoder, as the notes write it: the inputs are the targets."""
    return (f"model.compile(optimizer=keras.optimizers.Adam({config.lr:g}), loss=\"{_loss_name(config)}\")\n"
            f"model.fit(x_train, x_train,  # inputs = targets\n"
            f"          epochs={config.epochs}, batch_size={config.batch_size},\n"
            f"          validation_data=(x_test, x_test))")


def _loss_name(config: RunConfig) -> str:
    return "binary_crossentropy" if config.arch == "stacked" and config.loss == "bce" else "mse"


def code_angle(codes) -> np.ndarray:
    """Each code's angle (degrees, 0 to 360) about the codes' mean in their first two dimensions, counted from the
    middle of the widest arc that holds no code: one colour that runs along the curve the points make, from input
    through code to reconstruction, without a jump inside it. A 1-D code gives its value."""
    codes = np.asarray(codes, np.float64)
    if codes.shape[1] < 2:
        return codes[:, 0]
    centred = codes[:, :2] - codes[:, :2].mean(axis=0)
    angle = np.arctan2(centred[:, 1], centred[:, 0])
    ordered = np.sort(angle)
    gaps = np.diff(np.append(ordered, ordered[0] + 2 * np.pi))
    cut = ordered[np.argmax(gaps)] + gaps.max() / 2
    return np.degrees(np.mod(angle - cut, 2 * np.pi))


def plane_of(x_train) -> tuple[np.ndarray, np.ndarray]:
    """(centre, unit normal) of the plane that best fits the points (least squares: the normal is their least
    principal axis)."""
    x = np.asarray(x_train, np.float64)
    centre = x.mean(axis=0)
    _, _, axes = np.linalg.svd(x - centre, full_matrices=False)
    return centre, axes[-1]


def pushed_off_plane(x, normal, distance: float = OFF_PLANE_DISTANCE) -> np.ndarray:
    """The points moved `distance` along the plane's normal: inputs no training point was like (float32)."""
    return (np.asarray(x, np.float64) + distance * np.asarray(normal, np.float64)).astype(np.float32)


def height(points, centre, normal) -> np.ndarray:
    """Each point's signed distance from the plane (the data's units)."""
    return (np.asarray(points, np.float64) - centre) @ np.asarray(normal, np.float64)


def offset_kept(x, reconstructed_pushed, centre, normal, distance: float = OFF_PLANE_DISTANCE) -> float:
    """The share of the push off the plane that a model's reconstructions of the pushed points keep: about 1 for a
    model that copies whatever it is given, about 0 for one that learned the plane and projects back onto it."""
    moved = height(reconstructed_pushed, centre, normal) - height(x, centre, normal)
    return float(moved.mean() / distance)


def linear_r2(codes_train, x_train, codes_test, x_test) -> float:
    """R² on the test set of the least-squares linear map from codes back to inputs, fitted on the training set
    (variance-weighted over the coordinates): about 1 when the code is an invertible linear map of the input."""
    from sklearn.linear_model import LinearRegression  # deferred: scikit-learn, for the app's start
    from sklearn.metrics import r2_score

    fitted = LinearRegression().fit(np.asarray(codes_train, np.float64), np.asarray(x_train, np.float64))
    return float(r2_score(np.asarray(x_test, np.float64), fitted.predict(np.asarray(codes_test, np.float64)),
                          multioutput="variance_weighted"))


@dataclass(frozen=True)
class CodeWidth:
    """What one code size does on the 3-D points (step 2): its test error, how linearly its code holds the input,
    and what it makes of points pushed off the plane."""

    latent_dim: int
    test_mse: float  # per coordinate, the data's units squared
    code_r2: float  # a linear map from the codes back to the inputs, on the test set
    offset_kept: float  # share of the push off the plane kept by the reconstructions
    pushed_mse: float  # error on the pushed points against themselves, per coordinate
    pushed: np.ndarray  # the pushed test points
    reconstructed: np.ndarray  # the model's reconstructions of them


def code_width(model, x_train, x_test, latent_dim: int, test_mse: float,
               distance: float = OFF_PLANE_DISTANCE) -> CodeWidth:
    """Step 2's figures for one trained model of the 3-D points (Keras through aecore.models)."""
    from aecore.models import encode, reconstruct  # deferred: Keras

    centre, normal = plane_of(x_train)
    pushed = pushed_off_plane(x_test, normal, distance)
    back = reconstruct(model, pushed)
    r2 = linear_r2(encode(model, x_train), x_train, encode(model, x_test), x_test)
    return CodeWidth(latent_dim, float(test_mse), r2, offset_kept(x_test, back, centre, normal, distance),
                     float(np.mean((back.astype(np.float64) - pushed) ** 2)), pushed, back)


def edge_on(x_train, points) -> tuple[np.ndarray, np.ndarray]:
    """The points seen edge-on to the data's plane: (position along its longest axis, height above it)."""
    x = np.asarray(x_train, np.float64)
    centre = x.mean(axis=0)
    _, _, axes = np.linalg.svd(x - centre, full_matrices=False)
    shifted = np.asarray(points, np.float64) - centre
    return shifted @ axes[0], shifted @ axes[-1]


def shallow_and_stacked(dataset: str, latent_dim: int) -> tuple[RunConfig, RunConfig]:
    """Step 3's pair on a dataset: the same stacked model without and with hidden layers, all else equal; the
    lesson's own runs at their code sizes (MNIST: 784 -> 64 -> 32; points5d: the notes' 5 -> 4 -> 3 -> 2)."""
    if dataset not in PAIRS:
        raise ValueError(f"Step 3 compares on {' or '.join(PAIRS)}, not {dataset!r}.")
    base = DENSE_RUNS[PAIRS[dataset][1]]
    return (RunConfig.for_arch("stacked", **{**base.settings(), "hidden": (), "latent_dim": latent_dim}),
            RunConfig.for_arch("stacked", **{**base.settings(), "latent_dim": latent_dim}))


# Step 3's datasets -> the names of their (shallow, stacked) lesson runs.
PAIRS = {"mnist-sample": ("lesson-shallow-mnist", "lesson-stacked-mnist"),
         "points5d": ("lesson-shallow-5d", "lesson-stacked-5d")}


def layer_widths(config: RunConfig, input_shape) -> str:
    """The dense widths of a stacked or basic run, e.g. '784 → 32 → 784'."""
    n = int(np.prod(input_shape))
    inner = (*config.hidden, config.latent_dim, *reversed(config.hidden)) if config.arch == "stacked" else (
        config.latent_dim,)
    return " → ".join(map(str, (n, *inner, n)))


# --- Steps 4-6: convolutional against dense, the VAE's sampling, the loss (pure NumPy) -------------------------

BCE_TARGETS = (0.0, 0.2, 0.5, 0.8, 1.0)  # the pixel values whose BCE curves step 6 draws
BCE_EPS = 1e-7  # Keras clips p to [eps, 1 - eps] in its binary cross-entropy; so does bce here


def _x_log_x(x: np.ndarray) -> np.ndarray:
    """x log x, with its limit 0 at x = 0."""
    return np.where(x > 0, x * np.log(np.where(x > 0, x, 1.0)), 0.0)


def binary_entropy(y) -> np.ndarray:
    """H(y) = -(y log y + (1 - y) log(1 - y)) in nats (0 at y = 0 and 1): the least BCE(p; y) can be."""
    y = np.asarray(y, np.float64)
    return 0.0 - (_x_log_x(y) + _x_log_x(1.0 - y))  # 0.0 - : no -0.0 where the entropy is 0


def bce(p, y) -> np.ndarray:
    """BCE(p; y) = -(y log p + (1 - y) log(1 - p)) in nats, p clipped to [BCE_EPS, 1 - BCE_EPS] as Keras does."""
    p = np.clip(np.asarray(p, np.float64), BCE_EPS, 1 - BCE_EPS)
    y = np.asarray(y, np.float64)
    return -(y * np.log(p) + (1 - y) * np.log(1 - p))


def bce_curves(targets=BCE_TARGETS, points: int = 197) -> tuple[np.ndarray, dict[float, np.ndarray]]:
    """p on a grid inside (0, 1) and BCE(p; y) along it for each target y (nats); each curve's least value is
    H(y), at p = y."""
    p = np.linspace(0.01, 0.99, points)
    return p, {float(y): bce(p, y) for y in targets}


@dataclass(frozen=True)
class BCEFloor:
    """The least BCE any model can score on a set of images: every pixel predicted as its own value."""

    per_pixel: float  # nats per pixel: the mean of the pixels' entropies
    per_image: float  # nats per image: an image's pixels' entropies summed, averaged over the images
    pixels: int  # values per image


def bce_floor(images) -> BCEFloor:
    """The images' BCE floor: the mean binary entropy of their pixels (a pixel of 0 or 1 adds nothing)."""
    x = np.asarray(images, np.float64)
    x = x.reshape(len(x), -1)
    per_image = binary_entropy(x).sum(axis=1)
    return BCEFloor(float(per_image.mean() / x.shape[1]), float(per_image.mean()), int(x.shape[1]))


@dataclass(frozen=True)
class KLTerms:
    """The VAE's KL term on a set of images, as the models here train it and as the notes' loss writes it."""

    summed: float  # nats per image: KL(q(z|x) || N(0, I)) summed over the latent dimensions, averaged over images
    averaged: float  # the notes' kl_reconstruction_loss: reduce_mean over the dimensions instead of a sum
    dimensions: int

    @property
    def beta_equivalent(self) -> float:
        """The KL weight beta under which the summed term weighs what the averaged one does: 1 / dimensions."""
        return 1.0 / self.dimensions


def kl_terms(mean, log_var) -> KLTerms:
    """The KL term of encodings (mean and log_var, one row per image) summed and averaged over the dimensions."""
    mean, log_var = np.asarray(mean, np.float64), np.asarray(log_var, np.float64)
    per_dimension = -0.5 * (1.0 + log_var - mean**2 - np.exp(log_var))
    return KLTerms(float(per_dimension.sum(axis=1).mean()), float(per_dimension.mean(axis=1).mean()),
                   int(mean.shape[1]))


def prior_samples(count: int, dimensions: int, seed: int) -> np.ndarray:
    """count draws of z from the prior N(0, I), float32 (count, dimensions), seeded by seed alone."""
    return np.random.default_rng(seed).standard_normal((count, dimensions)).astype(np.float32)


def reparameterised(mean, log_var, eps) -> np.ndarray:
    """The sampling step: z = mean + exp(0.5 * log_var) * eps, one z per row of eps (float32)."""
    mean, log_var = np.asarray(mean, np.float32), np.asarray(log_var, np.float32)
    return (mean + np.exp(0.5 * log_var) * np.asarray(eps, np.float32)).astype(np.float32)


def unlike_images(digit, seed: int = 0) -> dict[str, np.ndarray]:
    """Inputs of a digit's shape unlike any training digit (name -> image): the digit itself, the digit inverted,
    uniform noise and a checkerboard of single pixels; a code that copied its input would give each back."""
    digit = np.asarray(digit, np.float32)
    rows, cols = np.indices(digit.shape[:2])
    board = ((rows + cols) % 2).astype(np.float32).reshape(*digit.shape[:2], *([1] * (digit.ndim - 2)))
    return {"a test digit": digit, "the digit inverted": 1.0 - digit,
            "uniform noise": np.random.default_rng(seed).random(digit.shape, dtype=np.float32),
            "a checkerboard": np.broadcast_to(board, digit.shape).copy()}


def code_to_pixels(code_values: int, input_shape: tuple[int, ...]) -> float:
    """How many times an example's values its code holds: above 1, the code is wider than the input
    (overcomplete), and only the layers around it keep it from copying."""
    return code_values / float(np.prod(input_shape))
