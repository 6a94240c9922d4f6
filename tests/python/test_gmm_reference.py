"""emkit's Gaussian mixture EM agrees with the plain numpy reference EM, iteration by
iteration, to a relative 1e-9, for every covariance type, with and without weights, missing
values and priors."""

import numpy as np
import pytest
from conftest import make_blobs, start_params
from reference import gmm as ref

import emkit

RTOL = 1e-9


def reference_prior(X, covariance_type, K, alpha):
    d = X.shape[1]
    var = np.nanvar(X, axis=0)
    scale = {"full": np.diag(var) * 0.5, "tied": np.diag(var) * 0.5, "diag": var * 0.5,
             "spherical": var.mean() * 0.5}[covariance_type]
    return {"mean": np.nanmean(X, axis=0) + 0.3, "shrinkage": 0.05, "dof": d + 3.0,
            "scale": scale, "weight_concentration": alpha}


def assert_close(actual, expected, what):
    actual, expected = np.asarray(actual), np.asarray(expected)
    scale = np.maximum(np.abs(expected), 1e-300)
    # Entries near zero (off-diagonal covariances, centred means) are compared to the size of
    # the array instead of their own.
    scale = np.maximum(scale, np.abs(expected).max() * 1e-3)
    err = np.max(np.abs(actual - expected) / scale)
    assert err < RTOL, f"{what}: max relative error {err:.3g}"


CASES = [
    pytest.param(dict(missing=0.0, weights=False, prior=None), id="plain"),
    pytest.param(dict(missing=0.0, weights=True, prior=None), id="weights"),
    pytest.param(dict(missing=0.2, weights=False, prior=None), id="missing"),
    pytest.param(dict(missing=0.2, weights=True, prior=None), id="missing+weights"),
    pytest.param(dict(missing=0.0, weights=False, prior=1.0), id="prior"),
    pytest.param(dict(missing=0.15, weights=True, prior=2.5), id="missing+weights+prior"),
]


@pytest.mark.parametrize("case", CASES)
def test_twenty_iterations_match_reference(covariance_type, case):
    K = 3
    X, _ = make_blobs(n=180, d=3, K=K, seed=11, missing=case["missing"])
    rng = np.random.default_rng(5)
    w = rng.uniform(0.2, 3.0, size=X.shape[0]) if case["weights"] else None
    prior = None if case["prior"] is None else reference_prior(X, covariance_type, K, case["prior"])
    weights0, means0, cov0 = start_params(X, K, covariance_type)

    expected = ref.fit(X, weights0, means0, cov0, covariance_type, 20, sample_weight=w,
                       reg_covar=1e-6, prior=prior)

    gm = emkit.GaussianMixture(
        K, covariance_type=covariance_type, tol=0.0, max_iter=20, weights_init=weights0,
        means_init=means0, covariances_init=cov0, prior=prior, reg_covar=1e-6,
    ).fit(X, sample_weight=w)
    assert gm.n_iter_ == 20
    assert_close(gm.history_, expected["history"], "objective history")
    assert_close(gm.weights_, expected["weights"], "weights")
    assert_close(gm.means_, expected["means"], "means")
    assert_close(gm.covariances_, expected["covariances"], "covariances")
    loglik = ref.log_likelihood(X, expected["weights"], expected["means"], expected["covariances"],
                                covariance_type, sample_weight=w)
    assert gm.loglik_ == pytest.approx(loglik, rel=RTOL)

    # Parameters after every single iteration, through the e_step/m_step interface.
    step = emkit.GaussianMixture(
        K, covariance_type=covariance_type, weights_init=weights0, means_init=means0,
        covariances_init=cov0, prior=prior,
    ).initialize(X)
    for it in range(1, 21):
        step.m_step(step.e_step(X, sample_weight=w))
        w_ref, m_ref, c_ref = expected["params"][it]
        assert_close(step.weights_, w_ref, f"weights after iteration {it}")
        assert_close(step.means_, m_ref, f"means after iteration {it}")
        assert_close(step.covariances_, c_ref, f"covariances after iteration {it}")


def test_log_prior_matches_reference(covariance_type):
    X, _ = make_blobs(n=60, d=3, K=2, seed=3)
    prior = reference_prior(X, covariance_type, 2, 1.7)
    weights0, means0, cov0 = start_params(X, 2, covariance_type)
    gm = emkit.GaussianMixture(2, covariance_type=covariance_type, weights_init=weights0,
                               means_init=means0, covariances_init=cov0, prior=prior).initialize(X)
    expected = ref.log_prior(weights0, means0, cov0, covariance_type, prior)
    assert gm.log_prior() == pytest.approx(expected, rel=RTOL)


def test_score_samples_and_posterior_match_reference(covariance_type):
    X, _ = make_blobs(n=100, d=4, K=3, seed=8, missing=0.25)
    weights0, means0, cov0 = start_params(X, 3, covariance_type)
    gm = emkit.GaussianMixture(3, covariance_type=covariance_type, weights_init=weights0,
                               means_init=means0, covariances_init=cov0).initialize(X)
    log_prob = ref.log_prob_components(X, means0, cov0, covariance_type) + np.log(weights0)
    expected_rows = np.logaddexp.reduce(log_prob, axis=1)
    assert_close(gm.score_samples(X), expected_rows, "score_samples")
    assert_close(gm.predict_proba(X), ref.responsibilities(X, weights0, means0, cov0, covariance_type),
                 "predict_proba")


def test_n_parameters_match_reference(covariance_type):
    X, _ = make_blobs(n=50, d=4, K=3, seed=2)
    gm = emkit.GaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(X)
    p = ref.n_parameters(3, 4, covariance_type)
    n = X.shape[0]
    assert gm.bic(X) == pytest.approx(-2 * gm.score(X) * n + p * np.log(n), rel=1e-12)
    assert gm.aic(X) == pytest.approx(-2 * gm.score(X) * n + 2 * p, rel=1e-12)


MANY_FEATURES = [
    pytest.param(dict(missing=0.0, spread=4.0, K=3), id="complete"),
    pytest.param(dict(missing=0.05, spread=4.0, K=3), id="missing"),
    # States far apart: most responsibilities are exactly zero, which the scatter skips.
    pytest.param(dict(missing=0.0, spread=12.0, K=8), id="separated"),
    # States ~10^2 standard deviations from their centre: the quadratic-feature E-step would
    # cancel too many digits, and the triangular products are used instead.
    pytest.param(dict(missing=0.0, spread=100.0, K=3), id="far"),
]


@pytest.mark.parametrize("d", [12, 40])
@pytest.mark.parametrize("case", MANY_FEATURES)
def test_many_features_match_reference(covariance_type, case, d):
    # Full/tied: from d = 8 the sums and scatter are one product of the rows' quadratic features
    # with the responsibilities; from d = 32 (Gaussian::kTriangularFeatures) the scatter is gathered
    # over the nonzero responsibilities instead. The full E-step is the quadratic-feature product
    # (from d = 8) or, for the far states, the GEMM or triangular products. n > 256: several
    # blocks are summed.
    K = case["K"]
    X, _ = make_blobs(n=700, d=d, K=K, seed=12, missing=case["missing"], spread=case["spread"])
    weights0, means0, cov0 = start_params(X, K, covariance_type)
    expected = ref.fit(X, weights0, means0, cov0, covariance_type, 8, reg_covar=1e-6)
    gm = emkit.GaussianMixture(
        K, covariance_type=covariance_type, tol=0.0, max_iter=8, weights_init=weights0,
        means_init=means0, covariances_init=cov0, reg_covar=1e-6,
    ).fit(X)
    if case["spread"] == 12.0 and d >= 32:
        # the case it is meant to be: many zeros for the gathered scatter to skip
        assert np.mean(gm.predict_proba(X) == 0.0) > 0.3
    assert_close(gm.history_, expected["history"], "objective history")
    assert_close(gm.means_, expected["means"], "means")
    assert_close(gm.covariances_, expected["covariances"], "covariances")
