"""basic: the undercomplete dense autoencoder n -> k -> n of the notes (3 -> 2 -> 3), or n -> h -> k -> h -> n."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import numpy as np

from aecore.models.spec import (
    BATCH_SIZE, EPOCHS, LATENT_DIM, LEARNING_RATE, SCHEDULE, SEED, VECTORS, ArchSpec, Field, LayerSeeds, Metric,
    ScriptParts, compile_with_adam, dense_parameters, latent_bottleneck,
)

if TYPE_CHECKING:
    import keras

PCA_ANGLE = Metric("pca_angle_deg", "Angle to PCA plane", "°", "{:.2f}", help=(
    "The angle between the plane the decoder spans and PCA's first k principal components: near 0, the linear "
    "autoencoder found PCA's plane. Only defined for a linear network whose code is smaller than the input."))

ACTIVATIONS = ("linear", "relu", "tanh", "sigmoid", "selu", "elu")


def build_basic(input_dim: int = 3, latent_dim: int = 2, activation: str = "linear", seed: int = 0,
                hidden_width: int = 0) -> keras.Model:
    """Dense n -> k -> n, or n -> h -> k -> h -> n with a hidden width h; the output layer is linear.

    With no hidden layer the decoder is linear, so reconstructions lie on a k-dimensional plane (PCA's, with a
    linear code and MSE). A hidden layer with a non-linear activation lets the decoder bend that surface.
    """
    import keras  # deferred: the registry is read before Keras is needed
    from keras import layers

    # Seeds are drawn in layer order, so hidden width 0 gets the notes' network with its seeded weights unchanged.
    seeds = LayerSeeds(seed)
    inputs = keras.Input((input_dim,), name="x")
    h = inputs
    if hidden_width:
        h = layers.Dense(hidden_width, activation=activation, kernel_initializer=seeds.glorot(), name="enc_hidden")(h)
    code = layers.Dense(latent_dim, activation=activation, kernel_initializer=seeds.glorot(), name="bottleneck")(h)
    encoder = keras.Model(inputs, code, name="encoder")
    code_in = keras.Input((latent_dim,), name="z")
    h = code_in
    if hidden_width:
        h = layers.Dense(hidden_width, activation=activation, kernel_initializer=seeds.glorot(), name="dec_hidden")(h)
    outputs = layers.Dense(input_dim, kernel_initializer=seeds.glorot(), name="reconstruction")(h)
    decoder = keras.Model(code_in, outputs, name="decoder")
    return keras.Model(inputs, decoder(encoder(inputs)), name="basic")


def _build(config, input_shape):
    model = build_basic(input_shape[0], config.latent_dim, config.activation, config.seed, config.hidden_width)
    return compile_with_adam(model, config, "mse")


def _widths(config, input_shape) -> tuple[int, ...]:
    """The widths of build_basic's layers in order, the input's first."""
    n, h = input_shape[0], config.hidden_width
    return (n, h, config.latent_dim, h, n) if h else (n, config.latent_dim, n)


def _parameters(config, input_shape) -> int:
    return dense_parameters(*_widths(config, input_shape))


def _activations(config, input_shape) -> int:
    return sum(_widths(config, input_shape)[1:])


def _pca_metrics(model, config, data, inputs, batch_size) -> dict:
    """The PCA baseline with as many components, and the angle between PCA's plane and the decoder's."""
    from aecore import metrics as M  # deferred: scikit-learn, which the navigation need not wait for

    pca_mse, pca = M.pca_baseline(data.x_train, data.x_test, config.latent_dim)
    out = {"pca_mse": pca_mse}
    # A linear network reconstructs onto a plane; a hidden layer narrower than the code leaves less than a k-plane.
    planar = config.activation == "linear" and (config.hidden_width == 0 or config.hidden_width >= config.latent_dim)
    if planar and config.latent_dim < data.input_shape[0]:
        # The product of the decoder's kernels spans the learned plane (its biases shift it).
        decoder = model.get_layer("decoder")
        kernels = [decoder.get_layer(name).get_weights()[0] for name in ("dec_hidden", "reconstruction")
                   if any(layer.name == name for layer in decoder.layers)]
        out["pca_angle_deg"] = M.plane_angle_deg(functools.reduce(np.matmul, kernels), pca.components_)
    return out


# Its part of a run's standalone Keras script (aecore.script): build_basic's layers, names and seeds, unrolled.
_SCRIPT = """\
INPUT_DIM = {input_dim}  # values per example
LATENT_DIM = {latent_dim}  # the code size k
ACTIVATION = "{activation}"  # of the code{hidden_words}
{hidden_constant}LOSS = "mse"


def build_model():
    \"\"\"{shape_words}; the output layer is linear.\"\"\"
    seeds = LayerSeeds(SEED)  # drawn in layer order
    inputs = keras.Input((INPUT_DIM,), name="x")
{encoder}
    encoder = keras.Model(inputs, code, name="encoder")

    code_in = keras.Input((LATENT_DIM,), name="z")
{decoder}
    decoder = keras.Model(code_in, outputs, name="decoder")
    return keras.Model(inputs, decoder(encoder(inputs)), name="basic")
"""


def _dense(out: str, units: str, activation: str, name: str, given: str) -> str:
    activation = f", activation={activation}" if activation else ""
    return f'    {out} = layers.Dense({units}{activation}, kernel_initializer=seeds.glorot(), name="{name}")({given})'


def _script(config, input_shape) -> ScriptParts:
    hidden = config.hidden_width
    encoder = [_dense("code", "LATENT_DIM", "ACTIVATION", "bottleneck", "h" if hidden else "inputs")]
    decoder = [_dense("outputs", "INPUT_DIM", "", "reconstruction", "h" if hidden else "code_in")]
    if hidden:
        encoder.insert(0, _dense("h", "HIDDEN_WIDTH", "ACTIVATION", "enc_hidden", "inputs"))
        decoder.insert(0, _dense("h", "HIDDEN_WIDTH", "ACTIVATION", "dec_hidden", "code_in"))
    return ScriptParts(_SCRIPT.format(
        input_dim=input_shape[0], latent_dim=config.latent_dim, activation=config.activation,
        hidden_words=" and the hidden layers" if hidden else "",
        hidden_constant=f"HIDDEN_WIDTH = {hidden}  # units of one hidden layer each side of the code\n" * bool(hidden),
        shape_words=("Dense n -> h -> k -> h -> n, a hidden layer each side of the code" if hidden
                     else "Dense n -> k -> n (with a linear code, the decoder spans PCA's plane)"),
        encoder="\n".join(encoder), decoder="\n".join(decoder)))


SPEC = ArchSpec(
    name="basic",
    title="Basic",
    description="undercomplete dense autoencoder n -> k -> n (3 -> 2 -> 3), linear by default, MSE; "
                "optionally a non-linear activation and a hidden layer each side (n -> h -> k -> h -> n)",
    summary="Dense, undercomplete and linear, trained with MSE on a 3D point cloud: it finds the same plane as PCA. "
            "Give it a hidden width and a non-linear activation to follow a curved surface such as the swiss roll.",
    icon=":material/scatter_plot:",
    colour="#0284c7",
    order=1,
    input_kind=VECTORS,
    build=_build,
    loss=lambda config: "mse",
    defaults=dict(dataset="points3d", epochs=60, batch_size=32, latent_dim=2, lr=0.01),
    fields=(
        EPOCHS, BATCH_SIZE, LEARNING_RATE, SCHEDULE, LATENT_DIM.with_label("Code size k"),
        Field("activation", "Activation", "choice", choices=ACTIVATIONS,
              help="of the code and the hidden layers; linear + MSE recovers PCA's plane"),
        Field("hidden_width", "Hidden width (0 = none)", "int", 0, 1024, step=8,
              help="units of one hidden layer before and after the code (n -> h -> k -> h -> n); "
                   "0 keeps the notes' n -> k -> n, whose linear decoder can only reconstruct onto a plane"),
        SEED,
    ),
    quality=PCA_ANGLE,
    bottleneck=latent_bottleneck,
    diagram="3 → 2 → 3 (or 3 → h → 2 → h → 3)",
    # Too small for XLA's compile to pay; many steps per call, since one step costs less than the call around it.
    jit_compile=False,
    steps_per_execution=16,
    tiny=dict(epochs=5),
    parameters=_parameters,
    activations=_activations,
    extra_metrics=_pca_metrics,
    script=_script,
    header_metrics=(Metric("pca_mse", "PCA MSE", "per coord.", "{:.4f}", help=(
        "The test error of PCA with as many components as the code: the best any linear k-D code can do.")),
        PCA_ANGLE),
)
