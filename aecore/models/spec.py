"""What an architecture is, as the rest of the house reads it: ArchSpec, its hyperparameter Fields, and layer seeds.

Each model file in this package exports one ArchSpec as SPEC; aecore.models collects
them into the registry. Forms, the CLI, shape checks, tables and tests read specs,
so nothing outside the model files branches on an architecture's name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aecore import limits

if TYPE_CHECKING:
    import keras
    import numpy as np

    from aecore.config import RunConfig
    from aecore.datasets import Dataset

# Input kinds: what one example of the data must look like.
VECTORS = "vectors"  # N x D
IMAGES = "images"  # N x H x W x C, any image shape a dataset may hold (aecore.limits' sides and channels)
ANY = "any"  # either: the model flattens what it gets


def image_shape_problem(shape: tuple[int, ...]) -> str | None:
    """Why an IMAGES model cannot take examples of this shape, as words, or None when it can."""
    fits = len(shape) == 3 and limits.image_sides_fit(shape[0], shape[1]) and shape[2] in limits.CHANNELS
    return None if fits else (f"images of {limits.MIN_SIDE} to {limits.MAX_SIDE} pixels high and wide with 1 (grey) "
                              "or 3 (colour) channels")


def padding_to_multiple(shape: tuple[int, ...], multiple: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """((top, bottom), (left, right)) zero rows and columns that make height and width multiples of multiple.

    Split evenly (the odd one at the bottom or right) so the image stays centred in what the strides see.
    """
    def split(side):
        extra = -side % multiple
        return extra // 2, extra - extra // 2

    return split(shape[0]), split(shape[1])


def padded(image_shape: tuple[int, ...], multiple: int) -> tuple[int, int]:
    """(height, width) of an image after padding_to_multiple(image_shape, multiple)."""
    (top, bottom), (left, right) = padding_to_multiple(image_shape, multiple)
    return image_shape[0] + top + bottom, image_shape[1] + left + right


def quarter_grid(image_shape: tuple[int, ...]) -> tuple[int, int]:
    """(rows, columns) of a map two halvings below an image padded by padding_to_multiple(image_shape, 4)."""
    height, width = padded(image_shape, 4)
    return height // 4, width // 4


# Units as every label, axis and caption writes them, so that the pages say each the same way.
NATS_PER_IMAGE = "nats/image"  # the VAE's ELBO, its reconstruction and KL parts, the NLL: summed over an image
NATS_PER_PIXEL = "nats/pixel"  # BCE averaged over an image's pixels

# Loss names a spec's loss() returns, and their units ({per} is "pixel" or "coordinate").
LOSS_UNITS = {"mse": "MSE per {per}", "bce": "BCE, nats/{per}", "elbo": NATS_PER_IMAGE}


@dataclass(frozen=True)
class Metric:
    """A test metric as the pages, the CLI's readers and the benchmarks show it (lower is better unless said)."""

    key: str  # its key in Run.metrics
    label: str
    unit: str
    fmt: str = "{:.4f}"
    help: str = ""  # what it means, for a newcomer: the page's tooltip on it

    @property
    def title(self) -> str:
        """'ELBO loss (nats/image)': the label with its unit."""
        return f"{self.label} ({self.unit})"


# Glossary sentences, one place for every page that shows these figures.
NATS_HELP = "A nat is the natural-log unit of information (1 nat = 1.44 bits); lower is better."
BCE_HELP = ("Binary cross-entropy between each pixel and its reconstruction, averaged over pixels. Its floor is the "
            "pixels' own entropy, not 0: MNIST pixels are grey values in [0, 1], not only 0 or 1. " + NATS_HELP)
MSE_HELP = "Mean squared error between the input and its reconstruction, averaged over values; lower is better."
PSNR_HELP = ("Peak signal-to-noise ratio, 10 log10(1 / MSE) for pixels in [0, 1], in decibels; higher is better. "
             "Around 20 dB a digit is clearly readable; every 10 dB more is ten times less squared error.")
BCE_QUALITY = Metric("test_bce", "BCE", NATS_PER_PIXEL, help=BCE_HELP)  # the image autoencoders' headline figure
# What a person sees: the share of test reconstructions a classifier of the dataset labels as their input's label,
# over its accuracy on the originals (1.0: as recognisable as the originals). aecore.scorecard measures it.
RECOGNISABLE = Metric("recognisability", "Recognisable", "× originals", "{:.2f}", help=(
    "The share of test reconstructions that a small classifier labels as their input's label, over its accuracy "
    "on the real test images: 1.00 is as recognisable as the originals, 0.10 is chance for ten classes."))


@dataclass(frozen=True)
class Field:
    """One hyperparameter: the RunConfig field it sets, and how a form and the CLI offer it.

    kind: "int" (a number box), "float" (a slider), "choice" (one of choices), "sizes"
    (comma-separated whole numbers). low, high and step bound what the form offers; RunConfig
    validates the values whatever their source.
    """

    name: str
    label: str
    kind: str
    low: float | None = None
    high: float | None = None
    step: float | None = None
    choices: tuple = ()
    help: str = ""
    slider: bool = False  # a choice drawn as a select slider (ordered values) rather than a select box

    def with_label(self, label: str, help: str | None = None) -> Field:
        """The same field under the label this architecture gives it."""
        return Field(self.name, label, self.kind, self.low, self.high, self.step, self.choices,
                     self.help if help is None else help, self.slider)


def parse_sizes(text: str) -> tuple[int, ...]:
    """A "sizes" field's text, e.g. '128, 64' -> (128, 64), blank text -> () (no layers: a shallow autoencoder);
    ValueError with one sentence otherwise."""
    if not str(text).strip():
        return ()
    try:
        sizes = tuple(int(part) for part in str(text).replace(" ", "").split(",") if part)
    except ValueError:
        sizes = ()
    if not sizes:
        raise ValueError(f"'{text}' is not a list of whole numbers separated by commas, such as '128, 64'.")
    return sizes


# The fields most architectures share; a model file lists the ones it uses, in form order.
EPOCHS = Field("epochs", "Epochs", "int", 1, 200)
BATCH_SIZE = Field("batch_size", "Batch size", "int", 1, 1024)
LEARNING_RATE = Field("lr", "Learning rate", "choice", choices=(1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1),
                      slider=True)
SCHEDULE = Field("schedule", "Learning-rate schedule", "choice", choices=("constant", "cosine"),
                 help="cosine: the rate rises from 0 over the first tenth of the steps, then falls to 0 along "
                      "a cosine; a short run ends better annealed")
LATENT_DIM = Field("latent_dim", "Latent dimensions", "int", 1, 512)
TRAIN_SIZE = Field("train_size", "Training images (0 = all)", "int", 0, 60000, step=256,
                   help="use only the first N training examples (0 = all)")
SEED = Field("seed", "Seed", "int", 0, 2**31 - 1)
NOISE = Field("noise", "Noise level (std, 0 = off)", "float", 0.0, 1.0, step=0.05,
              help="Denoising: train on inputs with Gaussian noise of this standard deviation "
                   "(pixels in [0, 1]) against the clean images")


@dataclass(frozen=True)
class ArchSpec:
    """Everything the house needs to know about one architecture."""

    name: str  # the registry key, the CLI's --arch value and the page file's name
    title: str  # as the navigation shows it
    description: str  # one line, in the notes' terms
    summary: str  # a sentence for a newcomer: what it is and what to look at
    icon: str  # a Material icon for the navigation
    colour: str  # its colour in every chart that tells runs apart by architecture (aecore.models.colours)
    order: int  # place in the navigation and in listings
    input_kind: str  # VECTORS, IMAGES or ANY
    build: Callable[[RunConfig, tuple[int, ...]], keras.Model]  # a compiled, untrained model
    loss: Callable[[RunConfig], str]  # a key of LOSS_UNITS
    defaults: Mapping[str, Any]  # RunConfig values this architecture starts from
    fields: tuple[Field, ...]  # the hyperparameters it uses, in form order (dataset comes first, always)
    quality: Metric  # the test figure its page headlines, the recipe search and the benchmarks measure
    # (shape as text, number of values) of the code of a run on examples of the given shape
    bottleneck: Callable[[RunConfig, tuple[int, ...]], tuple[str, int]]
    diagram: str  # the layer sizes, one line, for the Home page's card
    code_words: str = "latent {k}"  # its code in a run's name, k its latent_dim
    # Raised when the same settings come to build another network: part of every run key from 1 on, so that a cached
    # run of the old network is never served for the new one.
    revision: int = 0
    jit_compile: bool = False  # XLA for training, where it pays on CPU (the benchmark measures it)
    # XLA only for runs of at least this many training images: its compile is paid before the first step,
    # and a shorter run ends sooner without it (python -m benchmarks --time-to-quality prints the break-even).
    xla_min_images: int = 0
    steps_per_execution: int = 1  # training steps per call of the compiled step, at most
    # CPU features (Linux's names) under which mixed bfloat16 trains it faster at equal test quality, measured
    # (aecore.precision); empty: float32 everywhere.
    bfloat16_on: tuple[str, ...] = ()
    samples: bool = False  # a generative model: its decoder turns prior samples into examples
    custom_objects: Callable[[], Mapping[str, type]] | None = None  # the Keras classes its saved models need
    tiny: Mapping[str, Any] = field(default_factory=dict)  # overrides for a run of seconds (tests, quick demos)
    # Keras callbacks its training needs: (config, steps per epoch) -> callbacks (the VAE's KL warm-up).
    callbacks: Callable[[RunConfig, int], list] | None = None
    # Test metrics beyond reconstruction error: (model, config, data, test inputs, batch size) -> {name: value}.
    extra_metrics: Callable[[keras.Model, RunConfig, Dataset, np.ndarray, int], dict] | None = None
    header_metrics: tuple[Metric, ...] = ()  # of extra_metrics, those its page's header shows (where a run has them)
    loss_parts: Mapping[str, str] = field(default_factory=dict)  # training logs beyond the loss: key -> words
    uploads: str | None = None  # the kind of upload ('images', 'vectors') whose "train on it" link opens its page
    notes_overrides: Mapping[str, Any] = field(default_factory=dict)  # settings that give the notes' own network
    # Overrides of the defaults for its ready-made run (aecore.showcase): it may train longer than the page default.
    showcase: Mapping[str, Any] = field(default_factory=dict)
    # Its size from the config and one example's shape alone, so that a model too big for the server is refused
    # before it is built (aecore.models.check_size): the weights count_params() would count, and the values per
    # example of every layer's output (what a batch holds for the backward pass). None: not bounded.
    parameters: Callable[[RunConfig, tuple[int, ...]], int] | None = None
    activations: Callable[[RunConfig, tuple[int, ...]], int] | None = None
    # Its part of a run's standalone Keras script (aecore.script): (config, one example's shape) -> ScriptParts.
    script: Callable[[RunConfig, tuple[int, ...]], ScriptParts] | None = None

    @property
    def field_names(self) -> tuple[str, ...]:
        """The RunConfig fields this architecture uses (dataset and seed among them)."""
        return ("dataset", *(f.name for f in self.fields))

    def loss_unit(self, config: RunConfig, per: str) -> str:
        """The training loss's unit, e.g. 'BCE, nats/pixel'; per is 'pixel' or 'coordinate'."""
        return LOSS_UNITS[self.loss(config)].format(per=per)


@dataclass(frozen=True)
class ScriptParts:
    """An architecture's part of a run's standalone Keras script (aecore.script writes the rest: data, training).

    network: Python source that defines its settings as constants, LOSS (a Keras loss name, or None where the
    model computes its own) and build_model() (the uncompiled network, its encoder and decoder sub-models named
    "encoder" and "decoder"); it may use keras, layers, np, math, SEED and LayerSeeds. callbacks: source of the
    Keras callbacks its training adds (the VAE's KL warm-up). imports: import lines it needs beyond those.
    """

    network: str
    callbacks: tuple[str, ...] = ()
    imports: tuple[str, ...] = ()


def compile_with_adam(model: keras.Model, config: RunConfig, loss: str | None = None):
    """Compile a model as every architecture trains: Adam at config.lr (a schedule moves it in training); the model.
    Whether it runs under XLA is the registered spec's jit_compile, which aecore.models.build_model sets."""
    import keras  # deferred: Keras

    model.compile(optimizer=keras.optimizers.Adam(learning_rate=config.lr), loss=loss, jit_compile=False)
    return model


def dense_parameters(*units: int) -> int:
    """The weights of a chain of Dense layers of these widths, the first being the input's (kernels and biases)."""
    return sum(n_in * n_out + n_out for n_in, n_out in zip(units, units[1:]))


def conv_parameters(channels_in: int, channels_out: int, kernel: int = 3) -> int:
    """The weights of one square-kernel convolution (or transposed convolution): kernel and biases."""
    return kernel * kernel * channels_in * channels_out + channels_out


def latent_bottleneck(config: RunConfig, input_shape: tuple[int, ...]) -> tuple[str, int]:
    """A flat code of latent_dim values, whatever the input's shape."""
    return str(config.latent_dim), config.latent_dim


class LayerSeeds:
    """Distinct, reproducible initializer seeds for one model's layers.

    Keras' unseeded initializers draw from process-wide random state, which another
    session training in the same server moves at any moment; a seeded initializer per
    layer makes a model's starting weights depend on its run's seed alone.
    """

    def __init__(self, seed: int):
        self._next = (int(seed) * 7919) % (2**31 - 1000)

    def glorot(self):
        """Keras' default kernel initializer, seeded."""
        import keras  # deferred: Keras

        self._next += 1
        return keras.initializers.GlorotUniform(seed=self._next)
