"""The architecture registry (name -> ArchSpec, one per model file here), and the model helpers shared by all.

Importing this package does not import Keras: the registry is data, and the app's
navigation reads it before Keras is needed. The inference helpers (encode, decode,
reconstruct, ...) live in aecore.models.inference and are served from here on first use.
"""

from __future__ import annotations

import importlib
import pkgutil

from aecore import limits, precision
from aecore.datasets.catalogue import OFFLINE_DEFAULT
from aecore.errors import ConfigError, DataError
from aecore.limits import mib
from aecore.models.spec import ANY, IMAGES, VECTORS, ArchSpec, image_shape_problem

__all__ = [
    "ArchSpec",
    "build_model",
    "check_fits",
    "check_shape",
    "check_size",
    "check_trainable",
    "colours",
    "custom_objects",
    "decode",
    "encode",
    "encode_distribution",
    "get_spec",
    "has_distribution",
    "layer_table",
    "model_bytes",
    "names",
    "reconstruct",
    "register",
    "specs",
    "takes_images",
    "unregister",
    "warm_up",
]

_REGISTRY: dict[str, ArchSpec] = {}


_NOT_ARCHITECTURES = {"spec", "inference"}  # and private modules (_name): an architecture's Keras classes
_INFERENCE = {"decode", "encode", "encode_distribution", "has_distribution", "layer_table", "reconstruct", "warm_up"}


def __getattr__(name: str):
    if name in _INFERENCE:
        from aecore.models import inference  # deferred: it imports TensorFlow, which the navigation need not wait for

        return getattr(inference, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _discover() -> None:
    """Register the SPEC of every model module in this package: a new architecture is one new file."""
    for module in pkgutil.iter_modules(__path__):
        if module.name in _NOT_ARCHITECTURES or module.name.startswith("_"):
            continue
        spec = getattr(importlib.import_module(f"{__name__}.{module.name}"), "SPEC", None)
        if isinstance(spec, ArchSpec):
            register(spec)


def register(spec: ArchSpec) -> ArchSpec:
    """Add an architecture (or replace one of the same name); returns it."""
    _REGISTRY[spec.name] = spec
    return spec


def unregister(name: str) -> None:
    """Remove an architecture added with register (tests use this to clean up)."""
    _REGISTRY.pop(name, None)


def specs() -> list[ArchSpec]:
    """Every registered architecture, in navigation order."""
    return sorted(_REGISTRY.values(), key=lambda spec: (spec.order, spec.name))


def names() -> tuple[str, ...]:
    """The registered architectures' names, in navigation order."""
    return tuple(spec.name for spec in specs())


def get_spec(name: str) -> ArchSpec:
    """The spec of a registered architecture; KeyError with the known names otherwise."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"Unknown architecture '{name}'; choose one of {', '.join(names())}.") from None


def colours() -> dict[str, str]:
    """Each architecture's colour, the same in every chart (a Plotly colour map)."""
    return {spec.name: spec.colour for spec in specs()}


def custom_objects() -> dict[str, type]:
    """The Keras classes every registered architecture's saved models need, for keras.models.load_model."""
    return {name: cls for spec in specs() if spec.custom_objects for name, cls in spec.custom_objects().items()}


def check_shape(arch: str, input_shape: tuple[int, ...], source: str = "this dataset") -> None:
    """Raise DataError if the architecture cannot take examples of input_shape (one example's shape)."""
    spec = get_spec(arch)
    input_shape = tuple(input_shape)
    problem = image_shape_problem(input_shape) if spec.input_kind == IMAGES else None
    if problem:
        raise DataError(
            f"The {arch} model needs {problem}, but {source} holds examples of shape {input_shape}; "
            f"use {OFFLINE_DEFAULT} for example."
        )
    if spec.input_kind == VECTORS and len(input_shape) != 1:
        raise DataError(
            f"The {arch} model needs vectors (N x D) such as points3d, but {source} holds examples of shape "
            f"{input_shape}."
        )


def check_fits(arch: str, data) -> None:
    """Raise DataError if the architecture cannot train on this Dataset's shape of examples."""
    check_shape(arch, data.input_shape, f"'{data.name}'")


def model_bytes(config, input_shape: tuple[int, ...], examples: int | None = None) -> tuple[int, int, int] | None:
    """(estimated bytes to train, parameters, batch) of config's model on examples of input_shape, from the
    architecture's estimates alone (nothing is built); None for an architecture without them.

    examples, when known, is how many training examples there are: a batch never holds more.
    """
    spec = get_spec(config.arch)
    if spec.parameters is None or spec.activations is None:
        return None
    input_shape = tuple(input_shape)
    parameters = spec.parameters(config, input_shape)
    batch = min(config.batch_size, examples) if examples else config.batch_size
    # float32 throughout: each weight, its gradient and Adam's two moments; each layer output of a batch and
    # its gradient in the backward pass.
    return 4 * (4 * parameters + 2 * batch * spec.activations(config, input_shape)), parameters, batch


def check_size(config, input_shape: tuple[int, ...], examples: int | None = None) -> None:
    """Raise ConfigError if config's model on examples of input_shape would need more than limits.MAX_MODEL_BYTES
    to train (model_bytes' estimate), saying the bound and how far over it the model is."""
    estimate = model_bytes(config, input_shape, examples)
    if estimate is None or estimate[0] <= limits.MAX_MODEL_BYTES:
        return
    need, parameters, batch = estimate
    raise ConfigError(
        f"The {config.arch} model would need about {mib(need)} to train on examples of shape {tuple(input_shape)} "
        f"({parameters:,} parameters, batches of {batch:,}), {mib(need - limits.MAX_MODEL_BYTES)} over the bound "
        f"of {mib(limits.MAX_MODEL_BYTES)} ({limits.MODEL_BUDGET_ENV}); choose a smaller batch, fewer or narrower "
        "layers or a smaller latent size."
    )


def check_trainable(config, data) -> None:
    """Raise DataError or ConfigError (one sentence) unless config can train on this Dataset: the shape of its
    examples, then the size of the model. What the CLI, the form and a link check before any training."""
    check_fits(config.arch, data)
    n_train = len(data.x_train)
    check_size(config, data.input_shape, min(config.train_size or n_train, n_train))


def takes_images(arch: str) -> bool:
    """Whether the architecture can be given images (image models, and those that flatten anything)."""
    return get_spec(arch).input_kind in (IMAGES, ANY)


def build_model(config, input_shape: tuple[int, ...], examples: int | None = None):
    """A compiled, untrained model for config and data of input_shape (one example's shape), after the checks
    of its shape and of its size (examples: the training examples, when known)."""
    check_shape(config.arch, input_shape)
    check_size(config, input_shape, examples)
    spec = get_spec(config.arch)
    with precision.building_in(precision.policy_for(spec)):
        model = spec.build(config, tuple(input_shape))
    # From the registry, not the model file: a spec registered again with another choice (a benchmark's) governs.
    model.jit_compile = spec.jit_compile
    return model


_discover()
