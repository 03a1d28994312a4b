"""The sidebar form of an architecture page, built from RunConfig's defaults."""

from __future__ import annotations

import os

import streamlit as st

from aecore.config import ACTIVATIONS, ConfigError, RunConfig
from aecore.data import DATASETS

TEST_DEFAULTS_ENV = "AECORE_STUDIO_TEST_DEFAULTS"
# Tiny runs for tests and quick demos: seconds instead of tens of seconds.
TEST_OVERRIDES = {
    "basic": dict(epochs=5),
    "stacked": dict(epochs=1, train_size=256),
    "conv": dict(epochs=1, train_size=256, width=0.25),
    "vae": dict(epochs=1, train_size=256),
}
DENOISING_ARCHS = ("stacked", "conv")  # the pages with a noise-level slider
DATASET_CHOICES = [name for name in DATASETS if not name.startswith("npz:")]
LEARNING_RATES = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1]
LATENT_LABELS = {
    "basic": "Code size k",
    "stacked": "Bottleneck units",
    "conv": "Bottleneck filters (7 x 7 x filters)",
    "vae": "Latent dimensions",
}


def defaults_for(arch: str) -> RunConfig:
    """The architecture's default config; tiny when AECORE_STUDIO_TEST_DEFAULTS is set."""
    overrides = TEST_OVERRIDES[arch] if os.environ.get(TEST_DEFAULTS_ENV) else {}
    return RunConfig.for_arch(arch, **overrides)


def config_form(arch: str) -> tuple[RunConfig | None, bool]:
    """Draw the sidebar form; return (config of its values, whether Train was pressed).

    The config is None (and an error is shown) when the values do not make a valid run.
    Widget values persist for the session, so leaving the page and coming back keeps them.
    """
    base = defaults_for(arch)

    def key(name: str) -> str:
        return f"form.{arch}.{name}"

    keep = dict(persist_state="session")
    with st.sidebar.form(f"form.{arch}"):
        st.subheader("Hyperparameters")
        values = dict(
            dataset=st.selectbox("Dataset", DATASET_CHOICES, index=DATASET_CHOICES.index(base.dataset),
                                 help="mnist-sample works offline; mnist and fashion-mnist download once.",
                                 key=key("dataset"), **keep),
            epochs=st.number_input("Epochs", 1, 200, base.epochs, key=key("epochs"), **keep),
            batch_size=st.number_input("Batch size", 1, 1024, base.batch_size, key=key("batch_size"), **keep),
            lr=st.select_slider("Learning rate", LEARNING_RATES, base.lr, format_func=lambda v: f"{v:g}",
                                key=key("lr"), **keep),
            latent_dim=st.number_input(LATENT_LABELS[arch], 1, 512, base.latent_dim, key=key("latent_dim"), **keep),
        )
        if arch == "basic":
            values["activation"] = st.selectbox("Activation", ACTIVATIONS, ACTIVATIONS.index(base.activation),
                                                help="linear + MSE recovers PCA's plane", key=key("activation"), **keep)
        if arch == "stacked":
            hidden = st.text_input("Hidden layers", ", ".join(map(str, base.hidden)),
                                   help="encoder layer sizes before the bottleneck, comma separated",
                                   key=key("hidden"), **keep)
            values["loss"] = st.radio("Loss", ["bce", "mse"], ["bce", "mse"].index(base.loss), horizontal=True,
                                      key=key("loss"), **keep)
        if arch == "conv":
            values["width"] = st.select_slider("Width (filter multiplier)", [0.125, 0.25, 0.5, 0.75, 1.0], base.width,
                                               help="1.0 is the notes' Conv64/128/256 network",
                                               key=key("width"), **keep)
        if arch != "basic":
            values["train_size"] = st.number_input("Training images (0 = all)", 0, 60000, base.train_size, step=256,
                                                   key=key("train_size"), **keep)
        values["seed"] = st.number_input("Seed", 0, 2**31 - 1, base.seed, key=key("seed"), **keep)
        if arch in DENOISING_ARCHS:
            noise = st.slider("Noise level (std, 0 = off)", 0.0, 1.0, base.noise, step=0.05,
                              help="Denoising: train on inputs with Gaussian noise of this standard deviation "
                                   "(pixels in [0, 1]) against the clean images",
                              key=key("noise"), **keep)
            values["noise"] = round(noise, 2)  # the slider's 0.15000000000000002 must key the same run as 0.15
        submitted = st.form_submit_button("Train", type="primary", width="stretch")

    try:
        if arch == "stacked":
            values["hidden"] = _parse_sizes(hidden)
        return RunConfig.for_arch(arch, **values), submitted
    except ConfigError as exc:
        st.error(str(exc))
        return None, submitted


def _parse_sizes(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(part) for part in text.replace(" ", "").split(",") if part)
    except ValueError:
        raise ConfigError(f"Hidden layers must be whole numbers separated by commas, got '{text}'.") from None
    if not sizes:
        raise ConfigError("Give at least one hidden layer size, for example '128, 64'.")
    return sizes
