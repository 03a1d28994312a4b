"""RunConfig: one validated, hashable description of a training run, and its defaults."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass

ARCHS = ("basic", "stacked", "conv", "vae")

# One source of defaults. Each architecture page starts from these; they are
# chosen so that training (compile and evaluation included) finishes within 30 s on
# 2 CPU cores with recognisable reconstructions (python -m benchmarks measures them).
# vae: 6 epochs of batch 32 reach a lower test loss (170 nats) than 10 of batch 64 (173)
# in about two thirds of the time.
ARCH_DEFAULTS: dict[str, dict] = {
    "basic": dict(dataset="points3d", epochs=60, batch_size=32, latent_dim=2, lr=0.01),
    "stacked": dict(dataset="mnist-sample", epochs=15, batch_size=64, latent_dim=32, lr=1e-3),
    "conv": dict(dataset="mnist-sample", epochs=3, batch_size=64, latent_dim=256, lr=1e-3, width=0.5),
    "vae": dict(dataset="mnist-sample", epochs=6, batch_size=32, latent_dim=2, lr=1e-3),
}

ARCH_DESCRIPTIONS = {
    "basic": "undercomplete dense autoencoder n -> k -> n (3 -> 2 -> 3), linear, MSE",
    "stacked": "dense 784 -> 128 -> 64 -> 32 bottleneck, mirrored decoder",
    "conv": "Conv64+pool, Conv128+pool, Conv256 bottleneck at 7x7, mirrored decoder, BCE",
    "vae": "convolutional VAE with BatchNorm, mean and log-variance heads, BCE + KL",
}

MAX_EPOCHS = 500
MAX_BATCH_SIZE = 8192
MAX_LATENT_DIM = 4096
ACTIVATIONS = ("linear", "relu", "tanh", "sigmoid", "selu", "elu")
LOSSES = ("mse", "bce")


class ConfigError(ValueError):
    """A configuration a user asked for that cannot be run; the message is one sentence."""


@dataclass(frozen=True)
class RunConfig:
    """Everything that determines a trained run. Frozen, so it hashes and caches."""

    arch: str = "conv"
    dataset: str = "mnist-sample"
    epochs: int = 3
    batch_size: int = 64
    latent_dim: int = 256
    lr: float = 1e-3
    seed: int = 0
    width: float = 1.0  # conv: filter-count multiplier, 1.0 is the notes' network
    hidden: tuple[int, ...] = (128, 64)  # stacked: encoder layer sizes before the bottleneck
    activation: str = "linear"  # basic: hidden activation
    loss: str = "bce"  # stacked: mse or bce
    noise: float = 0.0  # denoising: std of Gaussian noise added to inputs, 0 = off
    train_size: int = 0  # 0 = every training example the dataset has

    @classmethod
    def for_arch(cls, arch: str, **overrides) -> RunConfig:
        """The default config of an architecture, with overrides, validated."""
        if arch not in ARCHS:
            raise ConfigError(f"Unknown architecture '{arch}'; choose one of {', '.join(ARCHS)}.")
        values = dict(ARCH_DEFAULTS[arch])
        if arch == "basic":
            values.update(loss="mse")
        values.update({k: v for k, v in overrides.items() if v is not None})
        if "hidden" in values:
            values["hidden"] = tuple(int(h) for h in values["hidden"])
        return cls(arch=arch, **values).validated()

    def validated(self) -> RunConfig:
        """Return self, or raise ConfigError naming the first bad field."""
        if self.arch not in ARCHS:
            raise ConfigError(f"Unknown architecture '{self.arch}'; choose one of {', '.join(ARCHS)}.")
        _check_dataset(self.dataset)
        _check_int("epochs", self.epochs, 1, MAX_EPOCHS)
        _check_int("batch size", self.batch_size, 1, MAX_BATCH_SIZE)
        _check_int("latent size", self.latent_dim, 1, MAX_LATENT_DIM)
        _check_int("seed", self.seed, 0, 2**31 - 1)
        _check_int("train size", self.train_size, 0, 10_000_000)
        if not _is_real(self.lr) or not 0 < self.lr <= 10:
            raise ConfigError(f"Learning rate must be a number in (0, 10], got {self.lr}.")
        if not _is_real(self.width) or not 0.05 <= self.width <= 4:
            raise ConfigError(f"Width multiplier must be between 0.05 and 4, got {self.width}.")
        if not _is_real(self.noise) or not 0 <= self.noise <= 1:
            raise ConfigError(f"Noise level must be between 0 and 1, got {self.noise}.")
        if not self.hidden or any(not isinstance(h, int) or not 1 <= h <= 8192 for h in self.hidden):
            raise ConfigError(f"Hidden sizes must be whole numbers from 1 to 8192, got {self.hidden}.")
        if self.activation not in ACTIVATIONS:
            raise ConfigError(f"Unknown activation '{self.activation}'; choose one of {', '.join(ACTIVATIONS)}.")
        if self.loss not in LOSSES:
            raise ConfigError(f"Unknown loss '{self.loss}'; choose mse or bce.")
        return self

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["hidden"] = list(self.hidden)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> RunConfig:
        d = dict(d)
        d["hidden"] = tuple(d.get("hidden", (128, 64)))
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names}).validated()

    def digest(self) -> str:
        """A stable hash of the fields, independent of Python's hash seed."""
        text = json.dumps(self.to_dict(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()

    def describe(self) -> str:
        """A short human label, e.g. 'conv, mnist-sample, 3 epochs, latent 256'."""
        return f"{self.arch}, {self.dataset}, {self.epochs} epochs, latent {self.latent_dim}"


def _is_real(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _check_dataset(name) -> None:
    from aecore.data import DATASETS  # NumPy only: cheap, and data never imports config

    known = isinstance(name, str) and (len(name) > 4 if name.startswith("npz:") else name in DATASETS)
    if not known:
        raise ConfigError(f"Unknown dataset '{name}'; choose one of {', '.join(DATASETS)} (PATH being your .npz file).")


def _check_int(name: str, value, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(f"The {name} must be a whole number from {low} to {high}, got {value}.")
