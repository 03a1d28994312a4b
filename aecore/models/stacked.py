"""stacked: dense encoder, bottleneck and mirrored decoder (784 -> 128 -> 64 -> 32 -> 64 -> 128 -> 784)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from aecore.datasets.catalogue import MNIST_SHAPE
from aecore.models.spec import (
    ANY, BATCH_SIZE, BCE_QUALITY, EPOCHS, LATENT_DIM, LEARNING_RATE, NOISE, SCHEDULE, SEED, TRAIN_SIZE, ArchSpec, Field,
    RECOGNISABLE, LayerSeeds, ScriptParts, compile_with_adam, dense_parameters, latent_bottleneck,
)

if TYPE_CHECKING:
    import keras


def build_stacked(
    input_shape: tuple[int, ...] = MNIST_SHAPE,
    hidden: tuple[int, ...] = (128, 64),
    latent_dim: int = 32,
    output_activation: str = "sigmoid",
    seed: int = 0,
) -> keras.Model:
    """Images are flattened on the way in and reshaped on the way out, so one data path serves all models. No hidden
    sizes (hidden=()) is the shallow autoencoder n -> k -> n, the baseline a stacked one is measured against."""
    import keras  # deferred: the registry is read before Keras is needed
    from keras import layers

    seeds = LayerSeeds(seed)
    n = math.prod(input_shape)
    inputs = keras.Input(input_shape, name="x")
    h = layers.Flatten(name="flatten")(inputs) if len(input_shape) > 1 else inputs
    for i, units in enumerate(hidden):
        h = layers.Dense(units, activation="relu", kernel_initializer=seeds.glorot(), name=f"enc_dense{i + 1}")(h)
    code = layers.Dense(latent_dim, activation="relu", kernel_initializer=seeds.glorot(), name="bottleneck")(h)
    encoder = keras.Model(inputs, code, name="encoder")

    code_in = keras.Input((latent_dim,), name="z")
    h = code_in
    for i, units in enumerate(reversed(hidden)):
        h = layers.Dense(units, activation="relu", kernel_initializer=seeds.glorot(), name=f"dec_dense{i + 1}")(h)
    h = layers.Dense(n, activation=output_activation, kernel_initializer=seeds.glorot(), name="reconstruction")(h)
    if len(input_shape) > 1:
        h = layers.Reshape(input_shape, name="unflatten")(h)
    decoder = keras.Model(code_in, h, name="decoder")
    return keras.Model(inputs, decoder(encoder(inputs)), name="stacked")


def _build(config, input_shape):
    is_bce = config.loss == "bce"
    model = build_stacked(tuple(input_shape), config.hidden, config.latent_dim, "sigmoid" if is_bce else "linear",
                          config.seed)
    return compile_with_adam(model, config, "binary_crossentropy" if is_bce else "mse")


def _widths(config, input_shape) -> tuple[int, ...]:
    """The widths of build_stacked's Dense layers in order, the flattened input's first."""
    n = math.prod(input_shape)
    return (n, *config.hidden, config.latent_dim, *reversed(config.hidden), n)


def _parameters(config, input_shape) -> int:
    return dense_parameters(*_widths(config, input_shape))


def _activations(config, input_shape) -> int:
    widths = _widths(config, input_shape)
    # An image is flattened on the way in and reshaped on the way out: two more layers of n values each.
    return sum(widths[1:]) + (2 * widths[0] if len(input_shape) > 1 else 0)


# Its part of a run's standalone Keras script (aecore.script): build_stacked's layers, names and seeds.
_SCRIPT = """\
INPUT_SHAPE = {input_shape}  # one example
HIDDEN = {hidden}  # the encoder's layer sizes before the bottleneck; the decoder mirrors them{hidden_words}
LATENT_DIM = {latent_dim}  # bottleneck units
LOSS = "{loss}"
OUTPUT_ACTIVATION = "{output_activation}"  # {output_words}


def build_model():
    \"\"\"Dense layers down to the bottleneck and mirrored back up{flatten_words}.\"\"\"
    seeds = LayerSeeds(SEED)  # drawn in layer order
    inputs = keras.Input(INPUT_SHAPE, name="x")
    h = {flatten}
    for i, units in enumerate(HIDDEN):
        h = layers.Dense(units, activation="relu", kernel_initializer=seeds.glorot(), name=f"enc_dense{{i + 1}}")(h)
    code = layers.Dense(LATENT_DIM, activation="relu", kernel_initializer=seeds.glorot(), name="bottleneck")(h)
    encoder = keras.Model(inputs, code, name="encoder")

    code_in = keras.Input((LATENT_DIM,), name="z")
    h = code_in
    for i, units in enumerate(reversed(HIDDEN)):
        h = layers.Dense(units, activation="relu", kernel_initializer=seeds.glorot(), name=f"dec_dense{{i + 1}}")(h)
    h = layers.Dense(math.prod(INPUT_SHAPE), activation=OUTPUT_ACTIVATION, kernel_initializer=seeds.glorot(),
                     name="reconstruction")(h)
    outputs = {unflatten}
    decoder = keras.Model(code_in, outputs, name="decoder")
    return keras.Model(inputs, decoder(encoder(inputs)), name="stacked")
"""


def _script(config, input_shape) -> ScriptParts:
    image = len(input_shape) > 1
    is_bce = config.loss == "bce"
    return ScriptParts(_SCRIPT.format(
        input_shape=tuple(input_shape), hidden=tuple(config.hidden), latent_dim=config.latent_dim,
        hidden_words="" if config.hidden else " (none: a shallow autoencoder)",
        loss="binary_crossentropy" if is_bce else "mse", output_activation="sigmoid" if is_bce else "linear",
        output_words="values in [0, 1] for BCE" if is_bce else "any values, for MSE",
        flatten_words=" (images flattened on the way in, reshaped back)" if image else "",
        flatten='layers.Flatten(name="flatten")(inputs)' if image else "inputs",
        unflatten='layers.Reshape(INPUT_SHAPE, name="unflatten")(h)' if image else "h"), imports=("import math",))


SPEC = ArchSpec(
    name="stacked",
    title="Stacked",
    description="dense 784 -> 128 -> 64 -> 32 bottleneck, mirrored decoder",
    summary="Dense layers around a 32-unit bottleneck on MNIST digits, mirrored decoder, BCE or MSE.",
    icon=":material/stacks:",
    colour="#d97706",
    order=2,
    input_kind=ANY,
    build=_build,
    loss=lambda config: config.loss,
    defaults=dict(dataset="mnist-sample", epochs=15, batch_size=64, latent_dim=32, lr=1e-3),
    fields=(
        EPOCHS, BATCH_SIZE, LEARNING_RATE, SCHEDULE, LATENT_DIM.with_label("Bottleneck units"),
        Field("hidden", "Hidden layers", "sizes", 1, 8192,
              help="encoder layer sizes before the bottleneck, comma separated; empty for none (a shallow "
                   "autoencoder, input -> bottleneck -> output)"),
        Field("loss", "Loss", "choice", choices=("bce", "mse"), help="bce for pixels in [0, 1]; mse for any values"),
        TRAIN_SIZE, SEED, NOISE,
    ),
    quality=BCE_QUALITY,
    bottleneck=latent_bottleneck,
    diagram="784 → 128 → 64 → 32 → 64 → 128 → 784",
    # XLA pays (in a long run) together with several steps per call: a dense step is short next to the call around it.
    jit_compile=True,
    xla_min_images=100_000,
    steps_per_execution=8,
    tiny=dict(epochs=1, train_size=256),
    uploads="vectors",
    header_metrics=(RECOGNISABLE,),
    # Wider and longer than the page default: its reconstructions as recognisable as the originals (0.98 and up).
    showcase=dict(epochs=100, hidden=(256, 128), latent_dim=64),
    parameters=_parameters,
    activations=_activations,
    script=_script,
)
