"""The VAE lab (aecore.vae_lab): KL per dimension, activity and collapse, traversals and posterior draws."""

import numpy as np
import pytest

from aecore import vae_lab as L
from aecore.data import load_dataset
from aecore.models import decode, encode_distribution
from aecore.runner import get_run

_RUNS = {}
# A tiny run's first epoch leaves the posterior all but collapsed (KL of thousandths of a nat); three
# epochs at a higher rate give its dimensions some KL and activity to measure.
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
