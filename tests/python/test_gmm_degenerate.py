"""Degenerate situations: each has one documented policy (docs/design.md) and never yields NaN."""

import numpy as np
import pytest
from conftest import COVARIANCE_TYPES

import emkit


def all_finite(gm):
    return all(np.isfinite(a).all() for a in (gm.weights_, gm.means_, gm.covariances_, gm.history_))


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_component_that_loses_all_weight_keeps_its_parameters_and_warns(covariance_type):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 2))
    far = np.array([[0.0, 0.0], [1e3, 1e3]])
    cov = {"full": np.stack([np.eye(2)] * 2), "tied": np.eye(2), "diag": np.ones((2, 2)),
           "spherical": np.ones(2)}[covariance_type]
    gm = emkit.GaussianMixture(2, covariance_type=covariance_type, weights_init=[0.5, 0.5],
                               means_init=far, covariances_init=cov, tol=0.0, max_iter=5)
    with pytest.warns(emkit.EmptyComponentWarning, match=r"components \[1\]"):
        gm.fit(X)
    assert all_finite(gm)
    assert gm.weights_[1] < 1e-100
    np.testing.assert_array_equal(gm.means_[1], far[1])
    if covariance_type in ("full", "diag", "spherical"):
        np.testing.assert_array_equal(gm.covariances_[1], cov[1])
    assert np.isfinite(gm.predict_proba(X)).all()
    assert (gm.predict(X) == 0).all()


def test_collapsing_covariance_is_held_by_reg_covar():
    # Three distinct points, each repeated: every component collapses onto one point.
    rng = np.random.default_rng(1)
    X = np.repeat(rng.normal(size=(3, 2)), 20, axis=0)
    gm = emkit.GaussianMixture(3, random_state=0, reg_covar=1e-4, tol=1e-10, max_iter=200).fit(X)
    assert all_finite(gm)
    for k in range(3):
        np.testing.assert_allclose(gm.covariances_[k], 1e-4 * np.eye(2), atol=1e-12)
    np.testing.assert_allclose(np.sort(gm.weights_), np.full(3, 1 / 3))


def test_collapsing_covariance_without_regularisation_is_a_clear_error():
    rng = np.random.default_rng(1)
    X = np.repeat(rng.normal(size=(3, 2)), 20, axis=0)
    with pytest.raises(emkit.NumericalError, match="not positive definite.*increase reg_covar"):
        emkit.GaussianMixture(3, random_state=0, reg_covar=0.0).fit(X)
    assert issubclass(emkit.NumericalError, ValueError)


def test_duplicate_rows_are_ordinary_rows():
    rng = np.random.default_rng(2)
    base = rng.normal(size=(40, 2)) + np.repeat([[0, 0], [6, 6]], 20, axis=0)
    X = np.concatenate([base, base])  # every row twice
    gm = emkit.GaussianMixture(2, random_state=0, tol=1e-10, max_iter=300).fit(X)
    single = emkit.GaussianMixture(2, random_state=0, tol=1e-10, max_iter=300).fit(base)
    assert all_finite(gm)
    order, order_single = np.argsort(gm.means_[:, 0]), np.argsort(single.means_[:, 0])
    np.testing.assert_allclose(gm.means_[order], single.means_[order_single], rtol=1e-6)
    assert gm.loglik_ == pytest.approx(2 * single.loglik_, rel=1e-8)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_constant_column_gets_variance_reg_covar(covariance_type):
    rng = np.random.default_rng(3)
    X = np.c_[rng.normal(size=(80, 1)), np.full(80, 3.0), rng.normal(size=(80, 1))]
    gm = emkit.GaussianMixture(2, covariance_type=covariance_type, random_state=0, reg_covar=1e-5).fit(X)
    assert all_finite(gm)
    np.testing.assert_allclose(gm.means_[:, 1], 3.0)
    if covariance_type == "full":
        np.testing.assert_allclose(gm.covariances_[:, 1, 1], 1e-5, rtol=1e-6)
    elif covariance_type == "tied":
        assert gm.covariances_[1, 1] == pytest.approx(1e-5, rel=1e-6)
    elif covariance_type == "diag":
        np.testing.assert_allclose(gm.covariances_[:, 1], 1e-5, rtol=1e-6)
    else:  # spherical: the average variance is still positive
        assert (gm.covariances_ > 1e-5).all()


def test_constant_column_with_default_prior_asks_for_a_scale():
    X = np.c_[np.random.default_rng(0).normal(size=(30, 1)), np.ones(30)]
    with pytest.raises(ValueError, match=r"prior='default': column 1 of X is constant"):
        emkit.GaussianMixture(2, prior="default").fit(X)
    gm = emkit.GaussianMixture(2, prior={"scale": np.eye(2)}, random_state=0).fit(X)
    assert all_finite(gm)


@pytest.mark.parametrize("n_rows", [1, 2])
def test_fewer_rows_than_components_is_an_error(n_rows):
    X = np.arange(2.0 * n_rows).reshape(n_rows, 2)
    with pytest.raises(ValueError, match=f"n_samples >= n_components=3.*got {n_rows}"):
        emkit.GaussianMixture(3).fit(X)


def test_rows_with_zero_weight_do_not_count_towards_n_components():
    X = np.random.default_rng(0).normal(size=(10, 2))
    w = np.zeros(10)
    w[:2] = 1.0
    with pytest.raises(ValueError, match="n_samples >= n_components=3"):
        emkit.GaussianMixture(3).fit(X, sample_weight=w)


def test_map_prior_keeps_an_empty_component_finite():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 2))
    gm = emkit.GaussianMixture(2, weights_init=[0.5, 0.5], means_init=[[0, 0], [1e3, 1e3]],
                               covariances_init=np.stack([np.eye(2)] * 2), prior="default",
                               tol=0.0, max_iter=5).fit(X)
    assert all_finite(gm)
    # Under the prior an empty component moves to the prior mean with the prior's covariance.
    np.testing.assert_allclose(gm.means_[1], X.mean(axis=0), rtol=1e-6)
