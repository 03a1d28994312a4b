"""The VAE lab (aecore.vae_lab): KL per dimension, activity and collapse, traversals, posterior draws,
the importance-sampled NLL, and sample quality by a cached classifier."""

import math
import subprocess
import sys

import keras
import numpy as np
import pytest

from aecore import scorecard as S
from aecore import vae_lab as L
from aecore.datasets import DataError, Dataset, load_dataset
from aecore.models import decode, encode_distribution
from aecore.runner import get_run
from aecore.store import RunStore
from tests.helpers import assert_one_sentence

_RUNS = {}
# A tiny run's first epoch leaves the posterior all but collapsed (KL of thousandths of a nat), where
# the NLL's gain over the ELBO is lost in rounding; three epochs at a higher rate give it some KL.
TRAINED = dict(epochs=3, lr=1e-2)


@pytest.fixture
def vae(tiny):
    """A trained tiny VAE's model, trained once per config in this file (training is most of its time)."""

    def make(**overrides):
        config = tiny("vae", **{**TRAINED, **overrides})
        if config not in _RUNS:
            _RUNS[config] = get_run(config).model
        return _RUNS[config]

    return make


@pytest.fixture(scope="module")
def test_images():
    return load_dataset("mnist-sample").x_test[:200]


def small_labelled(n_train=1000, n_test=300, labels=True):
    """A small labelled image dataset cut from mnist-sample (its own fingerprint)."""
    d = load_dataset("mnist-sample")
    y_train, y_test = (d.y_train[:n_train], d.y_test[:n_test]) if labels else (None, None)
    return Dataset(f"small-{n_train}-{labels}", d.x_train[:n_train], d.x_test[:n_test], y_train, y_test,
                   f"test{n_train}{n_test}{labels}")


# KL per dimension, activity, collapse


def test_kl_per_dimension_sums_to_the_reported_kl(vae, test_images):
    model = vae(latent_dim=5)
    mean, log_var = encode_distribution(model, test_images)
    kl = L.kl_per_dimension(mean, log_var)
    assert kl.shape == (5,) and np.all(kl >= 0)
    model.sampling.restart()
    reported = model.evaluate(test_images, test_images, batch_size=len(test_images), verbose=0, return_dict=True)
    assert kl.sum() == pytest.approx(reported["kl"], rel=1e-3)


def test_kl_per_dimension_by_hand():
    mean = np.array([[1.0, 0.0], [-1.0, 0.0]])
    log_var = np.array([[0.0, np.log(4.0)], [0.0, np.log(4.0)]])
    # Dimension 0: 0.5 * mean^2 = 0.5; dimension 1: 0.5 * (4 - 1 - log 4).
    np.testing.assert_allclose(L.kl_per_dimension(mean, log_var), [0.5, 0.5 * (3 - np.log(4.0))])


def test_active_mask_has_one_entry_per_dimension_and_uses_the_threshold():
    rng = np.random.default_rng(0)
    # Standard deviations 0.2 (variance 0.04: active), 0.05 (0.0025: inactive), 0 (inactive).
    mean = rng.standard_normal((5000, 3)) * np.array([0.2, 0.05, 0.0]) + 3.0
    mask = L.active_dimensions(mean)
    assert mask.dtype == bool and mask.tolist() == [True, False, False]
    assert L.active_dimensions(mean, threshold=0.001).tolist() == [True, True, False]
    assert L.ACTIVE_VARIANCE == 0.01


def test_active_mask_of_a_trained_model(vae, test_images):
    mean, _ = encode_distribution(vae(latent_dim=5), test_images)
    mask = L.active_dimensions(mean)
    assert mask.shape == (5,)
    assert mask.tolist() == (mean.var(axis=0) > 0.01).tolist()


def test_collapse_detection_on_constructed_arrays():
    assert not L.posterior_collapsed(np.array([2.0, 0.01]), np.array([True, False]))
    assert L.posterior_collapsed(np.array([0.04, 0.05]), np.array([True, True]))  # 0.09 nats in all
    assert L.posterior_collapsed(np.array([3.0, 1.0]), np.array([False, False]))  # no active dimension
    assert not L.posterior_collapsed(np.array([0.06, 0.05]), np.array([False, True]))  # 0.11 nats
    # From encodings: every image mapped to the prior.
    mean, log_var = np.zeros((100, 4)), np.zeros((100, 4))
    assert L.posterior_collapsed(L.kl_per_dimension(mean, log_var), L.active_dimensions(mean))


def test_order_by_kl_puts_the_most_informative_first():
    assert L.order_by_kl(np.array([0.1, 3.0, 0.0, 1.5])).tolist() == [1, 3, 0, 2]


# Traversals and posterior draws


@pytest.mark.parametrize("latent", [2, 5])
def test_traversals_sweep_one_dimension_with_the_others_at_zero(vae, latent):
    model = vae(latent_dim=latent)
    order = [latent - 1, 0]
    grid = L.traversals(model, order, steps=7, limit=2.0)
    assert grid.shape == (2, 7, 28, 28, 1)
    for row, dim in enumerate(order):
        z = np.zeros((7, latent), np.float32)
        z[:, dim] = np.linspace(-2.0, 2.0, 7)
        np.testing.assert_allclose(grid[row], decode(model, z), atol=1e-6)
        assert np.abs(grid[row, 0] - grid[row, -1]).max() > 1e-3  # the swept dimension changes the decodes
    # A sweep of one dimension is not a sweep of another.
    assert np.abs(grid[0] - grid[1]).max() > 1e-3
    assert L.traversals(model, [], steps=3).shape == (0, 3, 28, 28, 1)
    with pytest.raises(ValueError):
        L.traversals(model, [latent])


def test_posterior_draws_are_seeded_and_spread_by_the_posterior_scale(vae, test_images):
    model = vae(latent_dim=5)
    mean, log_var, z, decoded = L.posterior_draws(model, test_images[3], n=4000, seed=5)
    assert mean.shape == log_var.shape == (5,) and z.shape == (4000, 5) and decoded.shape == (4000, 28, 28, 1)
    expected_mean, expected_log_var = encode_distribution(model, test_images[3:4])
    np.testing.assert_allclose(mean, expected_mean[0])
    np.testing.assert_allclose(log_var, expected_log_var[0])
    np.testing.assert_allclose(z.std(axis=0) / np.exp(0.5 * log_var), 1.0, atol=0.05)
    np.testing.assert_allclose((z.mean(axis=0) - mean) / np.exp(0.5 * log_var), 0.0, atol=0.05)
    np.testing.assert_allclose(decoded[:8], decode(model, z[:8]), atol=1e-6)
    again = L.posterior_draws(model, test_images[3], n=4000, seed=5)[2]
    other = L.posterior_draws(model, test_images[3], n=4000, seed=6)[2]
    np.testing.assert_array_equal(z, again)
    assert not np.allclose(z, other)


# Importance-sampled NLL


def test_nll_is_below_the_elbo_of_the_same_samples_and_close_to_the_evaluated_elbo(vae, test_images):
    model = vae()
    est = L.importance_sampled_nll(model, test_images, samples=50, seed=1)
    assert (est.samples, est.images) == (50, 200)
    assert np.all(np.isfinite(est.per_image_nll)) and est.per_image_nll.shape == (200,)
    assert np.all(est.per_image_nll <= est.per_image_elbo_loss)
    assert est.nll == pytest.approx(est.per_image_nll.mean()) and est.elbo_loss == pytest.approx(
        est.per_image_elbo_loss.mean())
    assert 0 < est.gap < 0.1 * est.elbo_loss
    # The negative ELBO of 50 draws per image estimates what evaluate estimates with one draw and exact KL.
    model.sampling.restart()
    reported = model.evaluate(test_images, test_images, batch_size=len(test_images), verbose=0, return_dict=True)
    assert est.elbo_loss == pytest.approx(reported["loss"], rel=0.01)


def test_nll_is_seeded_and_does_not_depend_on_the_batch_size(vae, test_images):
    model = vae()
    a = L.importance_sampled_nll(model, test_images[:20], samples=8, seed=3)
    b = L.importance_sampled_nll(model, test_images[:20], samples=8, seed=3, batch_size=3)
    c = L.importance_sampled_nll(model, test_images[:20], samples=8, seed=4)
    np.testing.assert_allclose(a.per_image_nll, b.per_image_nll, rtol=1e-6)
    assert a.nll != c.nll


@pytest.mark.parametrize("seed", [0, 1])
def test_more_samples_do_not_raise_the_nll_on_average(vae, test_images, seed):
    model = vae()
    one, few, many = (L.importance_sampled_nll(model, test_images[:100], samples=k, seed=seed) for k in (1, 5, 50))
    assert many.nll < few.nll < one.nll
    np.testing.assert_array_equal(one.per_image_nll, one.per_image_elbo_loss)  # K = 1: the ELBO itself


def test_nll_matches_the_integral_over_a_one_dimensional_latent(test_images):
    """-log p(x) = -log of the integral of p(x|z) N(z; 0, 1) over z, on a fine grid, for a 1-D latent model.

    The decoder depends on z only mildly and q(z|x) = N(0.3, 1.3^2) is set wider than the prior,
    so the importance weights are bounded and K = 2000 samples pin the estimate to hundredths of a nat."""
    from aecore.models._vae_network import build_vae

    model = build_vae(1, seed=0)
    encoder, decoder = model.get_layer("encoder"), model.get_layer("decoder")
    for head, value in (("mean", 0.3), ("log_var", 2 * np.log(1.3))):
        kernel, bias = encoder.get_layer(head).get_weights()
        encoder.get_layer(head).set_weights([np.zeros_like(kernel), np.full_like(bias, value)])
    kernel, bias = decoder.get_layer("dec_dense").get_weights()
    decoder.get_layer("dec_dense").set_weights([kernel * 0.05, bias])
    x = test_images[:4]
    est = L.importance_sampled_nll(model, x, samples=2000, seed=0)

    grid = np.linspace(-10.0, 10.0, 4001)
    p = np.clip(decode(model, grid[:, None]).astype(np.float64), 1e-7, 1 - 1e-7)
    log_px_z = np.stack([(xi * np.log(p) + (1 - xi) * np.log(1 - p)).sum(axis=(1, 2, 3)) for xi in x])
    log_joint = log_px_z - 0.5 * (np.log(2 * np.pi) + grid**2)
    top = log_joint.max(axis=1, keepdims=True)
    exact = -(top[:, 0] + np.log(np.sum(np.exp(log_joint - top), axis=1) * (grid[1] - grid[0])))
    np.testing.assert_allclose(est.per_image_nll, exact, atol=0.05)
    assert np.all(est.per_image_elbo_loss - exact > 0.01)  # the ELBO's bound is not tight here


def test_the_likelihood_is_the_training_loss(test_images):
    """With the posterior squeezed onto its mean, the estimate is evaluate's loss, also where the decoder saturates.

    There Keras computes the training loss from the decoder's logits (no clipping at 1e-7), so a
    likelihood taken from clipped probabilities would differ by thousands of nats."""
    from aecore.models._vae_network import build_vae

    model = build_vae(2, seed=0)
    model.compile(optimizer="adam")
    head = model.get_layer("encoder").get_layer("log_var")
    kernel, bias = head.get_weights()
    head.set_weights([np.zeros_like(kernel), np.full_like(bias, -60.0)])
    out = model.get_layer("decoder").get_layer("reconstruction")
    kernel, bias = out.get_weights()
    out.set_weights([kernel, bias + 25.0])  # probabilities of 1.0 in float32
    x = test_images[:50]
    est = L.importance_sampled_nll(model, x, samples=20)
    reported = model.evaluate(x, x, batch_size=len(x), verbose=0, return_dict=True)
    assert est.elbo_loss == pytest.approx(reported["loss"], rel=1e-4)


# The classifier and sample quality


def test_classifier_is_trained_once_saved_and_loaded(tmp_path, monkeypatch):
    data = small_labelled(n_train=300, n_test=50)
    first = S.get_classifier(data, tmp_path)
    path = tmp_path / ".classifiers" / f"{data.fingerprint}.keras"
    assert path.is_file()
    assert [p.name for p in path.parent.iterdir() if not p.name.endswith('.lock')] == [path.name]  # no temporary file
    assert first.get_layer("features").units == 64 and first.output_shape[1:] == (10,)

    monkeypatch.setattr(keras.Model, "fit", lambda *a, **k: pytest.fail("trained again"))
    store = RunStore(tmp_path)  # a run store over the same folder: the same file, and no entry of its own
    second = S.get_classifier(data, store)
    x = data.x_test[:50]
    np.testing.assert_allclose(second(x, training=False), first(x, training=False), atol=1e-6)
    store.evict()
    assert store.entries() == [] and store.take_problems() == [] and path.is_file()


def test_a_damaged_classifier_file_is_retrained(tmp_path, monkeypatch):
    data = small_labelled(n_train=300, n_test=50)
    path = S.classifier_path(data, tmp_path)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not a keras file")
    fits = []
    fit = keras.Model.fit
    monkeypatch.setattr(keras.Model, "fit", lambda self, *a, **k: fits.append(1) or fit(self, *a, **k))
    model = S.get_classifier(data, tmp_path)
    assert fits and model.output_shape[1:] == (10,)
    reloaded = keras.models.load_model(path, compile=False)  # replaced by a good one
    np.testing.assert_allclose(reloaded(data.x_test[:5]), model(data.x_test[:5]), atol=1e-6)


def test_classifier_training_is_seeded(tmp_path):
    data = small_labelled(n_train=300, n_test=50)
    a = S.get_classifier(data, tmp_path / "a")
    b = S.get_classifier(data, tmp_path / "b")
    np.testing.assert_allclose(a(data.x_test), b(data.x_test), atol=1e-5)


def test_an_unlabelled_dataset_raises_one_sentence(tmp_path):
    data = small_labelled(labels=False)
    with pytest.raises(DataError) as caught:
        S.get_classifier(data, tmp_path)
    message = str(caught.value)
    assert "has no labels, so sample quality cannot be measured by a classifier;" in message
    assert_one_sentence(message)
    assert not (tmp_path / ".classifiers").exists()


def test_sample_quality_fields_are_in_range(vae, tmp_path):
    data = small_labelled()
    classifier = S.get_classifier(data, tmp_path)
    q = S.sample_quality(vae(), classifier, data, n=300, seed=0)
    assert q.samples == 300 and q.classes == 10
    assert 0.0 <= q.confident_share <= 1.0
    assert 0 <= q.classes_covered <= q.classes
    assert q.classes_covered >= 1 if q.confident_share > 0 else q.classes_covered == 0
    assert math.isfinite(q.frechet_distance) and q.frechet_distance > 0
    # Real digits against real digits: the floor that says what a distance is worth, far below a weak model's samples.
    assert 0 <= q.real_frechet_distance < q.frechet_distance
    assert 0.7 < q.classifier_test_accuracy <= 1.0
    assert S.sample_quality(vae(), classifier, data, n=300, seed=0) == q


def test_frechet_distance_by_hand():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((20000, 3))
    assert S.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    # N(0, I) against N(m, 4I) in 3D: |m|^2 + 3 * (1 + 4 - 2 * 2).
    b = rng.standard_normal((20000, 3)) * 2.0 + np.array([1.0, 0.0, 2.0])
    assert S.frechet_distance(a, b) == pytest.approx(5.0 + 3.0, rel=0.05)


def test_frechet_distance_agrees_with_scipy_sqrtm():
    from scipy import linalg

    rng = np.random.default_rng(1)
    a = rng.standard_normal((500, 6)) @ rng.standard_normal((6, 6))
    b = rng.standard_normal((500, 6)) @ rng.standard_normal((6, 6)) + 0.5
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    by_sqrtm = (np.sum((a.mean(0) - b.mean(0)) ** 2) + np.trace(cov_a) + np.trace(cov_b)
                - 2 * np.trace(np.real(linalg.sqrtm(cov_a @ cov_b))))
    assert S.frechet_distance(a, b) == pytest.approx(by_sqrtm, rel=1e-9)


def test_the_lab_never_imports_streamlit_and_imports_keras_only_when_used():
    code = ("import sys, aecore.vae_lab, aecore.scorecard; "
            "assert not {'streamlit', 'keras'} & set(sys.modules), sorted(sys.modules)")
    subprocess.run([sys.executable, "-c", code], check=True)
