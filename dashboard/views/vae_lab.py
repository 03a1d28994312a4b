"""The Variational page's lab: what each latent dimension carries, the reparameterisation on one image, a scorecard.

Each view is an st.fragment over the run on the page; the numbers come from aecore.vae_lab.
"""

from __future__ import annotations

import time

import numpy as np
import streamlit as st

from aecore import export, figures, latent, vae_lab
from aecore.scorecard import CONFIDENT, SampleQuality, classifier_path, get_classifier, sample_quality
from aecore.errors import DataError
from aecore.models import encode_distribution
from aecore.models.spec import NATS_PER_IMAGE
from dashboard.views.your_digit import OTHER_SHAPE, current_digit, takes_digit
from dashboard.run_view import RunView
from dashboard.state import view_key

TRAVERSAL_STEPS = 9
NLL_IMAGES = 500  # test images in the likelihood estimate: enough for a stable mean, seconds to compute
KERAS_IO_ELBO = 146.95  # keras.io's VAE example: loss after 30 epochs on all 70 000 MNIST digits


@st.cache_data(max_entries=8, show_spinner=False)
def _encodings(key: str, _model, _x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return encode_distribution(_model, _x)


def _dimension_stats(view: RunView) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(KL per dimension in nats per image, active mask, dimensions by KL high to low) on the view's test images."""
    mean, log_var = _encodings(view.key, view.run.model, view.x_view)
    kl = vae_lab.kl_per_dimension(mean, log_var)
    return kl, vae_lab.active_dimensions(mean), vae_lab.order_by_kl(kl)


@st.fragment
def dimensions(view: RunView) -> None:
    """Per-dimension KL as sorted bars, the active count, a collapse warning, and traversals most active first."""
    kl, active, order = _dimension_stats(view)
    k, config = len(kl), view.config
    shown = [("Active dimensions", f"{int(active.sum())} of {k}",
              f"A dimension is active when its encoder mean varies over the test images (variance above "
              f"{vae_lab.ACTIVE_VARIANCE:g}): it tells the decoder something about the image."),
             (f"KL, all dimensions ({NATS_PER_IMAGE})", f"{kl.sum():.2f}",
              "The sum of the bars: how far the codes are from the prior."),
             ("KL weight β", f"{config.beta:g}", "The objective is reconstruction + β × KL."),
             ("KL warm-up (epochs)", f"{config.kl_warmup}", "β rose from 0 over this many epochs.")]
    for column, (label, value, meaning) in zip(st.columns(len(shown)), shown):
        column.metric(label, value, help=meaning)
    if vae_lab.posterior_collapsed(kl, active):
        st.warning("The posterior has collapsed: the codes carry (almost) nothing about the images, so every z "
                   "decodes to much the same picture. Lower β, add a KL warm-up, or train longer.")
    st.plotly_chart(figures.kl_bars(kl, active), key=f"{config.arch}.lab.kl")
    st.caption(f"KL divergence of each dimension's posterior from the prior N(0, 1), averaged over the first "
               f"{len(view.x_view)} test images, in {NATS_PER_IMAGE}; the bars add up to the run's KL.")

    st.markdown("**Traversals**: each row decodes z with one dimension swept from −3 to 3, the others at 0.")
    rows = st.slider("Rows (dimensions, most KL first)", 1, k, min(k, 8),
                     key=view_key(config.arch, "lab.rows", upper=k)) if k > 1 else 1
    picked = order[:rows]
    decoded = vae_lab.traversals(view.run.model, picked, steps=TRAVERSAL_STEPS)
    values = np.linspace(-3, 3, TRAVERSAL_STEPS)
    captions = [[f"z{d + 1} = {v:+.1f}" for v in values] for d in picked]
    st.image(figures.data_url(figures.png_grid(list(decoded), captions, scale=3)))
    st.download_button("Download the encodings of the whole dataset (CSV)",
                       lambda: export.to_bytes(export.encodings(view.run.model, view.data), ".csv"),
                       f"{config.arch}-{view.key[:8]}-encodings.csv", mime="text/csv", on_click="ignore",
                       help="mean and log-variance of every training and test image, with split, index and label; "
                            "python -m aecore embed writes the same")


@st.fragment
def reparameterisation(view: RunView) -> None:
    """One image's encoder mean and sd ellipses over the prior, draws z = mean + sigma * eps, and their decodes."""
    arch = view.config.arch
    fits_digit = takes_digit(view.data)
    digit = current_digit() if fits_digit else None
    left, middle, right = st.columns(3)
    sources = ["a test image", "your digit"] if digit is not None else ["a test image"]
    source = left.radio("Encode", sources, horizontal=True, key=view_key(arch, "lab.source"),
                        help=None if fits_digit else OTHER_SHAPE)
    if source == "your digit":
        x_one, name = digit[..., None], "your digit"
    else:
        last = len(view.x_view) - 1
        index = left.number_input("Test image #", 0, last, 0, key=view_key(arch, "lab.index", upper=last))
        x_one, name = view.x_view[index], f"test image {view.data.test_title(index)}"
    n = middle.slider("Draws", 1, 16, 8, key=view_key(arch, "lab.draws"))
    seed = right.number_input("Seed", 0, 10_000, 0, key=view_key(arch, "lab.seed"))
    mean, log_var, z, decoded = vae_lab.posterior_draws(view.run.model, x_one, n=n, seed=seed)

    # The plane: both dimensions when there are two, else the two that carry the most KL.
    _, _, order = _dimension_stats(view)
    # Lower-numbered dimension across, as on every latent plot of the app (the explorer's z1 across, z2 up).
    dims = sorted(int(d) for d in order[:2]) if len(mean) > 1 else [0]
    if len(dims) == 1:  # a 1-D code: its axis against a flat second one
        mean2, var2, draws2 = np.array([mean[0], 0.0]), np.array([np.exp(log_var[0]), 0.0]), np.c_[z[:, 0], 0 * z[:, 0]]
        axes = ("z1", "(none)")
    else:
        mean2, var2, draws2 = mean[dims], np.exp(log_var[dims]), z[:, dims]
        axes = (f"z{dims[0] + 1}", f"z{dims[1] + 1}")
    centre, cov = latent.project_gaussian(mean2, var2)
    outlines = {f"{s} sd of q(z | x)": latent.ellipse(centre, cov, n_sd=s) for s in (1, 2)}
    whole, close = st.columns(2)
    whole.plotly_chart(figures.posterior_plane(centre, outlines, draws2, axes), key=f"{arch}.lab.plane")
    whole.caption("In the prior's plane: where the encoding sits.")
    close.plotly_chart(figures.posterior_plane(centre, outlines, draws2, axes, zoom=True), key=f"{arch}.lab.zoom")
    close.caption("Closer: the encoding's ellipses and the numbered draws.")
    sigma = np.exp(0.5 * log_var)
    st.caption(f"The encoder maps {name} to mean ({', '.join(f'{v:.2f}' for v in mean[:4])}"
               f"{', ...' if len(mean) > 4 else ''}) and standard deviation "
               f"({', '.join(f'{v:.2f}' for v in sigma[:4])}{', ...' if len(sigma) > 4 else ''}). "
               "Training decodes z = mean + sigma × eps with eps drawn from N(0, I): the numbered points are such "
               "draws, the dotted circles the prior the KL term pulls the ellipses towards"
               + (f"; shown in the two dimensions with the most KL of {len(mean)}." if len(mean) > 2 else "."))
    st.image(figures.data_url(figures.png_grid([x_one[None], decoded], [[name], [f"draw {i + 1}" for i in range(n)]],
                                               scale=3)))


@st.cache_resource
def _seconds_taken() -> dict[str, float]:
    """The scorecard's parts as this server measured them, the last time each ran: the offer's estimate."""
    return {}


def _timed(part: str, compute):
    started = time.perf_counter()
    result = compute()
    _seconds_taken()[part] = time.perf_counter() - started
    return result


@st.cache_data(max_entries=4, show_spinner="Estimating the likelihood with importance sampling...")
def _nll(key: str, _model, _x: np.ndarray) -> vae_lab.NLLEstimate:
    return _timed("likelihood", lambda: vae_lab.importance_sampled_nll(_model, _x, samples=vae_lab.K_DEFAULT))


@st.cache_data(max_entries=4, show_spinner="Training (once per dataset) and asking the classifier...")
def _quality(key: str, _view: RunView) -> SampleQuality:
    trains = not classifier_path(_view.data, _view.store.root).exists()
    classifier = _timed("classifier", lambda: get_classifier(_view.data, _view.store.root)) if trains else \
        get_classifier(_view.data, _view.store.root)
    return _timed("samples", lambda: sample_quality(_view.run.model, classifier, _view.data))


def _scorecard_time(view: RunView) -> str:
    """How long the scorecard will take, from its parts as this server last measured them."""
    taken = _seconds_taken()
    trains = view.data.y_train is not None and not classifier_path(view.data, view.store.root).exists()
    parts = ["likelihood", "samples", *(["classifier"] if trains else [])]
    if all(part in taken for part in parts):
        return (f"It takes about {sum(taken[p] for p in parts):.0f} s here, once per run"
                + (", the classifier's training (once per dataset) included." if trains else "."))
    return ("Its parts are timed the first time on this server: the likelihood estimate and the samples take "
            "seconds; training the classifier, once per dataset" + (", comes first and takes longest." if trains
                                                                       else ", is done already."))


@st.fragment
def scorecard(view: RunView) -> None:
    """Importance-sampled NLL beside the ELBO, and the quality of prior samples through a classifier."""
    arch = view.config.arch
    asked = f"{arch}.lab.scorecard.{view.key}"
    if not st.session_state.get(asked):
        intro = st.empty()  # the offer goes once it is taken
        with intro.container():
            st.markdown("How good is this model? A likelihood estimate tighter than the ELBO, and how a digit "
                        f"classifier sees the model's samples. {_scorecard_time(view)}")
            pressed = st.button("Compute the scorecard", icon=":material/scoreboard:", key=f"{arch}.lab.compute")
        if not pressed:
            return
        intro.empty()
        st.session_state[asked] = True
    x = view.data.x_test[:NLL_IMAGES]
    estimate = _nll(view.key, view.run.model, x)
    m = view.run.metrics
    shown = [(f"NLL estimate ({NATS_PER_IMAGE})", f"{estimate.nll:.1f}",
              f"-log p(x), importance-sampled with K = {estimate.samples} draws from the encoder per image, "
              f"over the first {estimate.images} test images."),
             (f"ELBO, same draws ({NATS_PER_IMAGE})", f"{estimate.elbo_loss:.1f}",
              "The negative ELBO from the very same draws: the NLL estimate can only be lower."),
             (f"ELBO, test set ({NATS_PER_IMAGE})", f"{m['test_loss']:.1f}" if "test_loss" in m else "n/a",
              "The run's reported test loss (reconstruction + KL) on the whole test set."),
             (f"keras.io VAE loss ({NATS_PER_IMAGE})", f"{KERAS_IO_ELBO:.2f}",
              "Its loss after 30 epochs on all 70 000 MNIST digits: more data and epochs than these runs.")]
    for column, (label, value, meaning) in zip(st.columns(len(shown)), shown):
        column.metric(label, value, help=meaning)
    st.caption(f"K = {estimate.samples} importance samples per image, {estimate.images} test images; the gap to the "
               f"ELBO ({estimate.gap:.1f} {NATS_PER_IMAGE}) is what the encoder's Gaussian leaves out. Published "
               f"likelihoods (around 80-90 {NATS_PER_IMAGE}) are on binarised MNIST with larger networks, so they do "
               "not compare directly with these figures on grey-level pixels.")

    try:
        quality = _quality(view.key, view)
    except DataError as exc:  # no labels: the classifier cannot be trained
        st.info(str(exc))
        return
    shown = [("Confident samples (%)", f"{quality.confident_share:.0%}",
              f"Of {quality.samples} decodes of z ~ N(0, I), the share the classifier gives a class with probability "
              f"above {CONFIDENT:g}."),
             ("Classes covered", f"{quality.classes_covered} of {quality.classes}",
              "Distinct classes among the confident samples: fewer means the model favours some digits."),
             ("Fréchet distance (features)", f"{quality.frechet_distance:.1f}",
              "Between the classifier's penultimate-layer features of the samples and of as many test images: "
              f"lower is closer; real training images score {quality.real_frechet_distance:.1f}. Only comparable "
              "between runs on the same dataset."),
             ("Classifier test accuracy (%)", f"{quality.classifier_test_accuracy:.1%}",
              "How far to trust the yardstick: a small convolutional classifier trained on the dataset's labels.")]
    for column, (label, value, meaning) in zip(st.columns(len(shown)), shown):
        column.metric(label, value, help=meaning)
    floor = quality.real_frechet_distance
    st.caption(f"What the Fréchet distance is worth: real training digits against the test digits score {floor:.1f} "
               f"under this classifier, the best samples could do; this model's samples score "
               f"{quality.frechet_distance:.1f}" + (f", {quality.frechet_distance / floor:.0f} times that." if floor > 0
                                                    else "."))
