"""RunConfig: one validated, hashable description of a training run."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass

from aecore import limits
from aecore.datasets.catalogue import DATASETS, could_name
from aecore.errors import ConfigError
from aecore.models import get_spec

# Fields added after runs were cached: at their default they stay out of the key, so those runs keep theirs.
KEYED_WHEN_SET = {"hidden_width", "schedule", "out_kernel"}
OUT_KERNELS = (3, 1)  # the conv decoder's last kernel sides: 3 as built, 1 the notes' "1x1 convolution?"


@dataclass(frozen=True)
class RunConfig:
    """Everything that determines a trained run. Frozen, so it hashes and caches.

    Which fields an architecture uses is its spec's business (aecore.models); a field it
    does not use keeps its default here and stays out of the run's key.
    """

    arch: str
    dataset: str = "mnist-sample"
    epochs: int = 3
    batch_size: int = 64
    latent_dim: int = 256
    lr: float = 1e-3
    schedule: str = "constant"  # the learning rate over the run: constant, or warm-up then cosine decay
    seed: int = 0
    width: float = 1.0  # filter-count multiplier, 1.0 is the notes' network
    hidden: tuple[int, ...] = (128, 64)  # dense encoder layer sizes before the bottleneck
    activation: str = "linear"  # the code layer's activation
    loss: str = "bce"  # reconstruction loss where an architecture lets one choose
    noise: float = 0.0  # denoising: std of Gaussian noise added to inputs, 0 = off
    beta: float = 1.0  # weight of the KL term in a variational model's objective (1 = the ELBO)
    kl_warmup: int = 0  # epochs over which the KL weight rises linearly from 0 to beta
    train_size: int = 0  # 0 = every training example the dataset has
    hidden_width: int = 0  # units of one hidden layer each side of a dense code (basic), 0 = none
    out_kernel: int = 3  # the side of the conv decoder's last kernel: 3 (as built), or 1 (a 1x1 convolution)

    @classmethod
    def for_arch(cls, arch: str, **overrides) -> RunConfig:
        """The default config of an architecture, with overrides (None means unset), validated."""
        spec = _spec(arch)
        given = {k: v for k, v in overrides.items() if v is not None}
        unused = [name for name in given if name not in spec.field_names]
        if unused:
            raise ConfigError(
                f"The {arch} model does not use {', '.join(unused)}; its settings are {', '.join(spec.field_names)}."
            )
        values = {**spec.defaults, **given}
        if "hidden" in values:
            values["hidden"] = tuple(int(h) for h in values["hidden"])
        for field in spec.fields:  # a whole-number choice as the CLI parses it (1.0) is the choice itself (1)
            value = values.get(field.name)
            if (field.kind == "choice" and all(type(c) is int for c in field.choices) and isinstance(value, float)
                    and value.is_integer()):
                values[field.name] = int(value)
        return cls(arch=arch, **values).validated()

    def validated(self) -> RunConfig:
        """Return self, or raise ConfigError naming the first bad field."""
        spec = _spec(self.arch)
        _check_dataset(self.dataset)
        _check_int("epochs", self.epochs, 1, limits.MAX_EPOCHS)
        _check_int("batch size", self.batch_size, 1, limits.MAX_BATCH_SIZE)
        _check_int("latent size", self.latent_dim, 1, limits.MAX_LATENT_DIM)
        _check_int("seed", self.seed, 0, 2**31 - 1)
        _check_int("train size", self.train_size, 0, limits.MAX_TRAIN_SIZE)
        _check_int("hidden width", self.hidden_width, 0, limits.MAX_HIDDEN_WIDTH)
        if type(self.out_kernel) is not int or self.out_kernel not in OUT_KERNELS:
            raise ConfigError(f"The last layer's kernel must be {' or '.join(map(str, OUT_KERNELS))} (pixels a side), "
                              f"got {_short(self.out_kernel)}.")
        if not _is_real(self.lr) or not 0 < self.lr <= 10:
            raise ConfigError(f"Learning rate must be a number in (0, 10], got {self.lr}.")
        if not _is_real(self.width) or not 0.05 <= self.width <= 4:
            raise ConfigError(f"Width multiplier must be between 0.05 and 4, got {self.width}.")
        if not _is_real(self.noise) or not 0 <= self.noise <= 1:
            raise ConfigError(f"Noise level must be between 0 and 1, got {self.noise}.")
        if not _is_real(self.beta) or not 0 <= self.beta <= limits.MAX_BETA:
            raise ConfigError(f"The KL weight beta must be a number from 0 to {limits.MAX_BETA:g}, got {self.beta}.")
        _check_int("KL warm-up", self.kl_warmup, 0, limits.MAX_EPOCHS)
        if self.kl_warmup > self.epochs:
            raise ConfigError(f"The KL warm-up ({self.kl_warmup} epochs) cannot be longer than the training "
                              f"({self.epochs} epochs).")
        top, most = limits.MAX_HIDDEN_UNITS, limits.MAX_HIDDEN_LAYERS
        # An empty tuple is allowed: no hidden layers, a shallow autoencoder (stacked's n -> k -> n).
        if not isinstance(self.hidden, tuple) or any(
                isinstance(h, bool) or not isinstance(h, int) or not 1 <= h <= top for h in self.hidden):
            raise ConfigError(f"Hidden sizes must be whole numbers from 1 to {top}, got {_short(self.hidden)}.")
        if len(self.hidden) > most:
            raise ConfigError(f"A model may have 1 to {most} hidden layers, got {len(self.hidden)}.")
        for field in spec.fields:  # named choices (activation, loss) come from the architecture
            value = getattr(self, field.name)
            named = field.kind == "choice" and all(isinstance(c, str) for c in field.choices)
            if named and value not in field.choices:  # a value of another type too (an edited run.json)
                raise ConfigError(f"Unknown {field.label.lower()} '{value}'; choose one of {', '.join(field.choices)}.")
        for name in _FIELD_NAMES - {"arch", *spec.field_names}:
            if getattr(self, name) != _DEFAULTS[name]:
                raise ConfigError(f"The {self.arch} model does not use {name}; leave it out.")
        return self

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["hidden"] = list(self.hidden)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> RunConfig:
        """The config of a dict as to_dict makes it (a run.json's, say: untrusted, it may have been edited)."""
        if not isinstance(d, dict):
            raise ConfigError(f"A run's config must be a mapping of its settings, got {type(d).__name__}.")
        if not isinstance(d.get("arch"), str):
            raise ConfigError("A run's config must name its architecture.")
        d = dict(d)
        hidden = d.get("hidden", (128, 64))
        if not isinstance(hidden, (list, tuple)):
            raise ConfigError(f"Hidden sizes must be a list of whole numbers, got {_short(hidden)}.")
        d["hidden"] = tuple(hidden)
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names}).validated()

    def settings(self) -> dict:
        """The settings its architecture uses, dataset included, every one (what a form or a link shows)."""
        used = _spec(self.arch).field_names
        return {k: v for k, v in self.to_dict().items() if k in used}

    def key_dict(self) -> dict:
        """The fields that determine the run: the architecture and the settings its spec uses (a field of
        KEYED_WHEN_SET left out at its default, so runs cached before it existed keep their keys)."""
        revision = _spec(self.arch).revision
        return {"arch": self.arch, **({"revision": revision} if revision else {}),
                **{k: v for k, v in self.settings().items() if not (k in KEYED_WHEN_SET and v == _DEFAULTS[k])}}

    def digest(self) -> str:
        """A stable hash of the fields that determine the run, independent of Python's hash seed."""
        text = json.dumps(self.key_dict(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()

    def describe(self) -> str:
        """The run's name, as every page, list and message calls it: architecture, dataset, epochs and code, then
        each other setting that differs from the architecture's defaults, e.g. 'stacked, mnist-sample, 15 epochs,
        latent 32, noise level 0.3'. Two runs of different keys on the same data have different names."""
        spec = _spec(self.arch)
        defaults = RunConfig.for_arch(self.arch).settings()
        labels = {f.name: _label_words(f.label) for f in spec.fields}
        epochs = f"{self.epochs} epoch" + ("" if self.epochs == 1 else "s")
        parts = [self.arch, self.dataset, epochs, spec.code_words.format(k=self.latent_dim)]
        parts += [f"{labels[name]} {_setting_words(name, value)}" for name, value in self.settings().items()
                  if name not in ("dataset", "epochs", "latent_dim") and value != defaults[name]]
        return ", ".join(parts)


_FIELD_NAMES = {f.name for f in dataclasses.fields(RunConfig)}
_DEFAULTS = {f.name: f.default for f in dataclasses.fields(RunConfig) if f.default is not dataclasses.MISSING}


def _spec(arch):
    if not isinstance(arch, str):
        arch = repr(arch)
    try:
        return get_spec(arch)
    except KeyError as exc:
        raise ConfigError(exc.args[0]) from None


def _label_words(label: str) -> str:
    """A form label as a run's name says it: 'Noise level (std, 0 = off)' -> 'noise level', 'KL weight β' as is."""
    words = label.split(" (")[0]
    return words if words[1:2].isupper() else words[:1].lower() + words[1:]


def _setting_words(name: str, value) -> str:
    if name == "train_size" and value == 0:
        return "all"
    if isinstance(value, list):  # hidden layer sizes: no commas inside a comma-separated name
        return "-".join(map(str, value)) if value else "none"
    return f"{value:g}" if isinstance(value, (int, float)) and not isinstance(value, bool) else str(value)


def _short(value) -> str:
    """A value as a message quotes it: a list of thousands (a tampered link, an edited run.json) cut short."""
    text = repr(value)
    return text if len(text) <= 60 else text[:59] + "…"


def _is_real(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _check_dataset(name) -> None:
    """A built-in name, npz:PATH or a name an upload could be stored under; whether it exists is load_dataset's
    to say, so a config (and a cached run's run.json) never depends on the uploads' index of the moment."""
    if could_name(name):
        return
    raise ConfigError(f"Unknown dataset '{name}'; choose one of {', '.join(DATASETS)} or a stored upload's name "
                      "(PATH being your .npz file).")


def _check_int(name: str, value, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(f"The {name} must be a whole number from {low} to {high}, got {value}.")
