"""Every size and memory bound in one place: what a config, a dataset and an upload may be.

A leaf (it imports only aecore.errors), so a bound is one setting that every reader and
check uses. docs/RELIABILITY.md lists them with what a user sees past each.
"""

from __future__ import annotations

import os

from aecore.errors import DataError

FLOAT32_MAX = 3.4028234663852886e38  # examples are stored as float32: every number must fit (numpy.finfo's)

# A run's settings (RunConfig validates against these, whatever the source: form, link, CLI, run.json).
MAX_EPOCHS = 500
MAX_BATCH_SIZE = 8192
MAX_LATENT_DIM = 4096
MAX_BETA = 10.0
MAX_PROBE_DRAWS = 20  # seeded draws of a labelled subset per label count in a probe (aecore.probe)
MAX_TSNE_POINTS = 5000  # codes in one t-SNE of the latent map (aecore.latent_map): its seconds grow as N log N
MAX_HIDDEN_WIDTH = 1024
MAX_HIDDEN_UNITS = 8192  # each dense layer of a stacked model's encoder
MAX_HIDDEN_LAYERS = 16  # dense layers of a stacked model's encoder (the decoder mirrors them)
MAX_TRAIN_SIZE = 10_000_000

# Images: height and width each, and channels (grey or colour).
MIN_SIDE, MAX_SIDE = 8, 128
CHANNELS = (1, 3)
MAX_VECTOR_DIM = 4096
MAX_EXAMPLES = 1_000_000  # examples in one split of a dataset read from a file
MAX_CLASSES = 1000  # labels of a dataset read from a file are 0 to MAX_CLASSES - 1 (or as many distinct names)


DATASET_BUDGET_ENV = "AECORE_MAX_DATASET_MB"
MODEL_BUDGET_ENV = "AECORE_MAX_MODEL_MB"


def _budget_from_env(default_mb: float = 1024, variable: str = DATASET_BUDGET_ENV) -> int:
    try:
        mb = float(os.environ.get(variable, default_mb))
    except ValueError:
        mb = default_mb  # a typo in the environment must not stop every import of aecore
    return int(mb * 2**20) if 0 < mb < float("inf") else int(default_mb * 2**20)


# The one memory budget (as float32) of any dataset read from a file: npz:PATH, uploads and
# stored uploads. It is checked on headers, before any data is decoded in full.
MAX_DATASET_BYTES = _budget_from_env()

# The one memory budget of training a model: its estimate (aecore.models.check_size: weights, gradients and
# Adam's moments, and one batch's layer outputs and their gradients) from the config and the input shape alone,
# checked before any model is built, whatever asks for it (form, link, CLI, a script calling train()).
MAX_MODEL_BYTES = _budget_from_env(2048, MODEL_BUDGET_ENV)

# Uploads, checked on the zip's directory or the file's bytes before anything is decoded.
MAX_ZIP_MEMBERS = 100_000
MAX_ZIP_BYTES = 512 * 2**20  # the zip's total uncompressed size, from its directory
MAX_IMAGE_FILE_BYTES = 4 * 2**20  # one image file, uncompressed from the zip
MAX_ZIP_RATIO = 100  # PNG and JPEG are compressed already: a member that deflates far more is a bomb
MAX_CSV_CELLS = 50_000_000

# An uploaded .keras model (aecore.own_models), checked on its size and its zip's directory before anything is read
# from it or unpacked.
MAX_MODEL_FILE_BYTES = 256 * 2**20  # the file as uploaded
MAX_MODEL_UNPACKED_BYTES = 512 * 2**20  # its members' total uncompressed size, from the zip's directory
MAX_MODEL_CONFIG_BYTES = 8 * 2**20  # its config.json, uncompressed: parsed whole before Keras sees the file
MAX_MODEL_MEMBERS = 64  # a .keras holds three (config, metadata, weights) and the assets of a few layers


def mib(n_bytes: int | float) -> str:
    """A size as every message and page shows it, e.g. '1,024.0 MiB'."""
    return f"{n_bytes / 2**20:,.1f} MiB"


def image_sides_fit(height: int, width: int) -> bool:
    """Whether both sides lie in MIN_SIDE..MAX_SIDE: what a dataset may hold and an image model takes."""
    return MIN_SIDE <= height <= MAX_SIDE and MIN_SIDE <= width <= MAX_SIDE


def check_image_size(height: int, width: int, what: str) -> None:
    """Raise DataError unless both sides lie in MIN_SIDE..MAX_SIDE."""
    if not image_sides_fit(height, width):
        raise DataError(f"{what} must be {MIN_SIDE} to {MAX_SIDE} pixels a side, got {height} high by {width} wide.")
