"""emkit's Gaussian HMM agrees with the plain numpy reference Baum-Welch, iteration by iteration,
to a relative 1e-9, for every covariance type, with several sequences, missing entries, time
steps with nothing observed, sequence weights, fixed parameters, structural zeros and priors."""

import numpy as np
import pytest
from hmm_checks import (
    RTOL,
    assert_decoding_matches,
    assert_posteriors_match,
    check_fit_and_every_iteration,
    gaussian_prior,
)
from hmm_data import hmm_start, make_sequences
from reference import hmm as ref

import emkit

K = 3
NAMES = ("startprob", "transmat", "means", "covariances")


def parameters(hmm):
    return (hmm.startprob_, hmm.transmat_, hmm.means_, hmm.covariances_)


def left_right(transmat):
    """Structural zeros: state i never returns to a state j < i."""
    A = np.triu(transmat)
    return A / A.sum(axis=1, keepdims=True)


CASES = [
    pytest.param(dict(), id="plain"),
    pytest.param(dict(weights=True), id="weights"),
    pytest.param(dict(missing=0.2, unobserved=0.08), id="missing"),
    pytest.param(dict(missing=0.2, unobserved=0.08, weights=True), id="missing+weights"),
    pytest.param(dict(dirichlet=True), id="dirichlet-priors"),
    pytest.param(
        dict(dirichlet=True, gaussian_prior=True, missing=0.15, unobserved=0.05, weights=True),
        id="all-priors+missing+weights",
    ),
    pytest.param(dict(fixed={"startprob", "transmat"}), id="fixed-chain"),
    pytest.param(dict(fixed={"means"}, missing=0.1, weights=True), id="fixed-means"),
    pytest.param(dict(fixed={"covariances"}, missing=0.1), id="fixed-covariances"),
    pytest.param(
        dict(fixed={"means"}, gaussian_prior=True, dirichlet=True), id="fixed-means+prior"
    ),
    pytest.param(dict(fixed={"means", "covariances"}, dirichlet=True), id="fixed-emission"),
    pytest.param(dict(structural_zeros=True, dirichlet=True, missing=0.1), id="structural-zeros"),
]


def setup(covariance_type, case):
    X, lengths, _ = make_sequences(
        (40, 25, 55),
        d=2,
        K=K,
        seed=11,
        missing=case.get("missing", 0.0),
        unobserved=case.get("unobserved", 0.0),
    )
    w = np.array([0.5, 2.0, 1.3]) if case.get("weights") else None
    startprob, transmat, means, cov = hmm_start(X, K, covariance_type)
    if case.get("structural_zeros"):
        transmat = left_right(transmat)
        startprob = np.array([0.7, 0.3, 0.0])
    prior = None
    estimator_prior = {}
    if case.get("dirichlet") or case.get("gaussian_prior"):
        prior = {}
        if case.get("dirichlet"):
            prior["startprob"] = np.array([2.0, 1.0, 3.0])
            prior["transmat"] = 1.0 + 4.0 * np.eye(K) + 0.5  # sticky
            estimator_prior.update(
                startprob_prior=prior["startprob"], transmat_prior=prior["transmat"]
            )
        if case.get("gaussian_prior"):
            prior["gaussian"] = gaussian_prior(X, covariance_type)
            estimator_prior["prior"] = prior["gaussian"]
    fixed = frozenset(case.get("fixed", ()))
    return X, lengths, w, (startprob, transmat, means, cov), prior, estimator_prior, fixed


@pytest.mark.parametrize("case", CASES)
def test_twenty_iterations_match_reference(covariance_type, case):
    X, lengths, w, start, prior, estimator_prior, fixed = setup(covariance_type, case)
    expected = ref.fit(
        X,
        lengths,
        start,
        covariance_type,
        20,
        sample_weight=w,
        reg_covar=1e-6,
        prior=prior,
        fixed=fixed,
    )
    init = dict(
        startprob_init=start[0],
        transmat_init=start[1],
        means_init=start[2],
        covariances_init=start[3],
    )
    hmm = check_fit_and_every_iteration(
        lambda **kw: emkit.GaussianHMM(
            K, covariance_type=covariance_type, fixed=fixed, **init, **estimator_prior, **kw
        ),
        X, lengths, w, expected, NAMES, parameters,
        lambda params: ref.objective(X, lengths, params, covariance_type, sample_weight=w),
    )
    # Fixed probabilities are the given ones renormalised (their sum may be 1 +- an ulp).
    if "startprob" in fixed:
        np.testing.assert_allclose(hmm.startprob_, start[0], rtol=1e-15, atol=0)
    if "transmat" in fixed:
        np.testing.assert_allclose(hmm.transmat_, start[1], rtol=1e-15, atol=0)
    if "means" in fixed:
        assert np.array_equal(hmm.means_, start[2])
    if "covariances" in fixed:
        assert np.array_equal(hmm.covariances_, start[3])
    if case.get("structural_zeros"):
        assert np.array_equal(hmm.transmat_ == 0, start[1] == 0)
        assert hmm.startprob_[2] == 0.0


def test_viterbi_paths_equal_reference(covariance_type):
    X, lengths, _ = make_sequences((60, 35, 80), d=2, K=K, seed=4, missing=0.2, unobserved=0.05)
    start = hmm_start(X, K, covariance_type, seed=3)
    hmm = emkit.GaussianHMM(
        K,
        covariance_type=covariance_type,
        startprob_init=start[0],
        transmat_init=start[1],
        means_init=start[2],
        covariances_init=start[3],
        max_iter=5,
        tol=0.0,
    ).fit(X, lengths)
    params = (hmm.startprob_, hmm.transmat_, hmm.means_, hmm.covariances_)
    expected_logprob, expected_states = ref.decode(X, lengths, params, covariance_type)
    assert_decoding_matches(hmm, X, lengths, expected_logprob, expected_states)


def test_posteriors_and_scores_match_reference(covariance_type):
    X, lengths, _ = make_sequences((50, 30, 20), d=3, K=K, seed=8, missing=0.25, unobserved=0.1)
    start = hmm_start(X, K, covariance_type, seed=2)
    hmm = emkit.GaussianHMM(
        K,
        covariance_type=covariance_type,
        startprob_init=start[0],
        transmat_init=start[1],
        means_init=start[2],
        covariances_init=start[3],
    ).initialize(X, lengths)
    expected_loglik, expected_post = ref.posteriors(X, lengths, start, covariance_type)
    assert_posteriors_match(hmm, X, lengths, expected_loglik, expected_post)


def test_log_prior_matches_reference(covariance_type):
    X, lengths, _ = make_sequences((30, 30), d=2, K=K, seed=3)
    start = hmm_start(X, K, covariance_type)
    transmat = left_right(start[1])
    prior = {
        "startprob": np.array([1.5, 2.0, 1.0]),
        "transmat": 1.0 + 2.0 * np.eye(K),
        "gaussian": gaussian_prior(X, covariance_type),
    }
    hmm = emkit.GaussianHMM(
        K,
        covariance_type=covariance_type,
        startprob_init=start[0],
        transmat_init=transmat,
        means_init=start[2],
        covariances_init=start[3],
        startprob_prior=prior["startprob"],
        transmat_prior=prior["transmat"],
        prior=prior["gaussian"],
    ).initialize(X, lengths)
    expected = ref.log_prior((start[0], transmat, start[2], start[3]), covariance_type, prior)
    assert hmm.log_prior() == pytest.approx(expected, rel=RTOL)


@pytest.mark.parametrize(
    "fixed", [frozenset(), frozenset({"transmat"}), frozenset({"means", "startprob"})]
)
def test_n_parameters_and_criteria_match_reference(covariance_type, fixed):
    X, lengths, _ = make_sequences((30, 40), d=3, K=K, seed=2)
    start = hmm_start(X, K, covariance_type)
    transmat = left_right(start[1])  # structural zeros are not free parameters
    hmm = emkit.GaussianHMM(
        K,
        covariance_type=covariance_type,
        startprob_init=start[0],
        transmat_init=transmat,
        means_init=start[2],
        covariances_init=start[3],
        fixed=fixed,
    ).initialize(X, lengths)
    p = ref.n_parameters((start[0], transmat, start[2], start[3]), covariance_type, fixed)
    n = X.shape[0]
    assert hmm._n_parameters() == p
    assert hmm.bic(X, lengths) == pytest.approx(
        -2 * hmm.score(X, lengths) + p * np.log(n), rel=1e-12
    )
    assert hmm.aic(X, lengths) == pytest.approx(-2 * hmm.score(X, lengths) + 2 * p, rel=1e-12)
