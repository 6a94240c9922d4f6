"""GaussianMixture(fixed=...): parameter groups held at their initial values, each M-step checked
against the constrained maximiser computed in numpy from the same responsibilities."""

import numpy as np
import pytest
from conftest import make_blobs, start_params

import emkit

K = 3


def _data():
    X, _ = make_blobs(n=400, d=2, K=K, seed=11)
    w = np.random.default_rng(2).uniform(0.5, 2.0, size=len(X))
    return X, w


def _one_step(gm, X, w):
    """The responsibilities at the current parameters (numpy, from predict_proba) and one
    M-step through the protocol."""
    resp = gm.predict_proba(X) * w[:, None]
    gm.m_step(gm.e_step(X, sample_weight=w))
    return resp


@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_fixed_means_keep_their_values_and_covariances_scatter_about_them(covariance_type):
    X, w = _data()
    weights, means, cov = start_params(X, K, covariance_type)
    gm = emkit.GaussianMixture(K, covariance_type=covariance_type, weights_init=weights, means_init=means,
                               covariances_init=cov, fixed=["means"], reg_covar=0.0).initialize(X)
    for _ in range(5):
        resp = _one_step(gm, X, w)
        np.testing.assert_array_equal(gm.means_, means)
        nk = resp.sum(axis=0)
        np.testing.assert_allclose(gm.weights_, nk / nk.sum(), rtol=1e-12)
        for k in range(K):
            diff = X - means[k]
            scatter = (resp[:, k, None] * diff).T @ diff / nk[k]
            want = scatter if covariance_type == "full" else np.diag(scatter)
            np.testing.assert_allclose(gm.covariances_[k], want, rtol=1e-10, atol=1e-12)


def test_fixed_means_and_covariances_leave_only_the_weights():
    X, w = _data()
    weights, means, cov = start_params(X, K, "full")
    gm = emkit.GaussianMixture(K, weights_init=weights, means_init=means, covariances_init=cov,
                               fixed=["means", "covariances"], tol=0.0, max_iter=25).fit(X, sample_weight=w)
    np.testing.assert_array_equal(gm.means_, means)
    np.testing.assert_array_equal(gm.covariances_, cov)
    # The weights' EM with fixed components, in numpy.
    from scipy.stats import multivariate_normal

    dens = np.column_stack([multivariate_normal(means[k], cov[k]).pdf(X) for k in range(K)])
    pi = weights.copy()
    for _ in range(25):
        r = pi * dens
        r /= r.sum(axis=1, keepdims=True)
        pi = (w[:, None] * r).sum(axis=0) / w.sum()
    np.testing.assert_allclose(gm.weights_, pi, rtol=1e-10)


def test_fixed_weights_keep_them_and_fixed_groups_do_not_count_as_parameters():
    X, w = _data()
    weights = np.array([0.5, 0.3, 0.2])
    free = emkit.GaussianMixture(K, random_state=0, max_iter=5).fit(X)
    held = emkit.GaussianMixture(K, weights_init=weights, fixed="weights", random_state=0, max_iter=5).fit(X)
    np.testing.assert_array_equal(held.weights_, weights)
    n = len(X)
    extra = (free.bic(X) + 2 * free.score_samples(X).sum()) / np.log(n)
    held_p = (held.bic(X) + 2 * held.score_samples(X).sum()) / np.log(n)
    assert round(extra - held_p) == K - 1


def test_unknown_fixed_group_is_a_clear_error():
    X, _ = _data()
    with pytest.raises(ValueError, match="fixed: unknown parameter 'startprob'"):
        emkit.GaussianMixture(K, fixed=["startprob"]).fit(X)
