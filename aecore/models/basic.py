"""basic: the undercomplete dense autoencoder n -> k -> n of the notes (3 -> 2 -> 3)."""

from __future__ import annotations

from aecore.models.spec import (
    BATCH_SIZE, EPOCHS, LATENT_DIM, LEARNING_RATE, SEED, VECTORS, ArchSpec, Field, LayerSeeds, latent_bottleneck,
)

ACTIVATIONS = ("linear", "relu", "tanh", "sigmoid", "selu", "elu")


def build_basic(input_dim: int = 3, latent_dim: int = 2, activation: str = "linear", seed: int = 0) -> keras.Model:
    """Dense n -> k -> n. With a linear activation and MSE it learns PCA's subspace."""
    import keras
    from keras import layers

    seeds = LayerSeeds(seed)
    inputs = keras.Input((input_dim,), name="x")
    code = layers.Dense(latent_dim, activation=activation, kernel_initializer=seeds.glorot(), name="bottleneck")(inputs)
    encoder = keras.Model(inputs, code, name="encoder")
    code_in = keras.Input((latent_dim,), name="z")
    outputs = layers.Dense(input_dim, kernel_initializer=seeds.glorot(), name="reconstruction")(code_in)
    decoder = keras.Model(code_in, outputs, name="decoder")
    return keras.Model(inputs, decoder(encoder(inputs)), name="basic")


def _build(config, input_shape):
    import keras

    model = build_basic(input_shape[0], config.latent_dim, config.activation, config.seed)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=config.lr), loss="mse", jit_compile=SPEC.jit_compile)
    return model


def _pca_metrics(model, config, data, inputs, batch_size) -> dict:
    """The PCA baseline with as many components, and the angle between PCA's plane and the decoder's."""
    from aecore import metrics as M

    pca_mse, pca = M.pca_baseline(data.x_train, data.x_test, config.latent_dim)
    out = {"pca_mse": pca_mse}
    if config.activation == "linear" and config.latent_dim < data.input_shape[0]:
        # The decoder's weight rows span the learned plane (its bias shifts it).
        w = model.get_layer("decoder").get_layer("reconstruction").get_weights()[0]
        out["pca_angle_deg"] = M.plane_angle_deg(w, pca.components_)
    return out


SPEC = ArchSpec(
    name="basic",
    title="Basic",
    description="undercomplete dense autoencoder n -> k -> n (3 -> 2 -> 3), linear, MSE",
    summary="Dense, undercomplete and linear, trained with MSE on a 3D point cloud: it finds the same plane as PCA.",
    icon=":material/scatter_plot:",
    order=1,
    input_kind=VECTORS,
    build=_build,
    loss=lambda config: "mse",
    defaults=dict(dataset="points3d", epochs=60, batch_size=32, latent_dim=2, lr=0.01),
    fields=(
        EPOCHS, BATCH_SIZE, LEARNING_RATE, LATENT_DIM.with_label("Code size k"),
        Field("activation", "Activation", "choice", choices=ACTIVATIONS, help="linear + MSE recovers PCA's plane"),
        SEED,
    ),
    latent_label="k units",
    bottleneck=latent_bottleneck,
    diagram="3 → 2 → 3",
    # Too small for XLA's compile to pay; many steps per call, since one step costs less than the call around it.
    jit_compile=False,
    steps_per_execution=16,
    tiny=dict(epochs=5),
    extra_metrics=_pca_metrics,
)
