"""The comparisons the HMM tests make with the numpy reference (tests/python/reference/hmm.py):
to a relative 1e-9, after a whole fit and after every single EM iteration."""

import numpy as np
import pytest

RTOL = 1e-9


def assert_close(actual, expected, what):
    actual, expected = np.asarray(actual, dtype=float), np.asarray(expected, dtype=float)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    scale = np.maximum(np.abs(expected), 1e-300)
    # Entries near zero (off-diagonal covariances, small probabilities) are compared to the size
    # of the array instead of their own.
    scale = np.maximum(scale, np.abs(expected).max() * 1e-3)
    err = np.max(np.abs(actual - expected) / scale)
    assert err < RTOL, f"{what}: max relative error {err:.3g}"


def assert_parameters_close(names, actual, expected, when=""):
    """Every parameter (named by ``names``, in the reference's order) agrees."""
    assert len(actual) == len(expected) == len(names)
    for name, value, exp in zip(names, actual, expected):
        assert_close(value, exp, f"{name}{when}")


def assert_fit_matches(hmm, expected, names, parameters):
    """A fit with tol=0 ran as many iterations as ``expected`` (the reference's ``*fit``), through
    the same objectives, to the same parameters (``parameters(hmm)``, in the order of ``names``)."""
    assert hmm.n_iter_ == len(expected["history"]) - 1
    assert_close(hmm.history_, expected["history"], "objective history")
    assert_parameters_close(names, parameters(hmm), expected["params"][-1])


def assert_every_iteration_matches(step, X, lengths, sample_weight, expected, names, parameters):
    """One e_step/m_step of the initialised estimator ``step`` per iteration of ``expected``, its
    parameters compared with the reference's after each."""
    for it in range(1, len(expected["params"])):
        step.m_step(step.e_step(X, lengths, sample_weight=sample_weight))
        when = f" after iteration {it}"
        assert_parameters_close(names, parameters(step), expected["params"][it], when)


def check_fit_and_every_iteration(make, X, lengths, sample_weight, expected, names, parameters, objective):
    """``make(**settings)`` builds the estimator at the reference's starting point. Its fit (tol=0,
    as many iterations as ``expected``) and its e_step/m_step, one iteration at a time, both follow
    the reference; the fit's log-likelihood is ``objective(final parameters)``. Returns the fit."""
    hmm = make(tol=0.0, max_iter=len(expected["history"]) - 1, reg_covar=1e-6).fit(
        X, lengths, sample_weight=sample_weight
    )
    assert_fit_matches(hmm, expected, names, parameters)
    assert hmm.loglik_ == pytest.approx(objective(expected["params"][-1]), rel=RTOL)
    step = make().initialize(X, lengths)
    assert_every_iteration_matches(step, X, lengths, sample_weight, expected, names, parameters)
    return hmm


def assert_decoding_matches(hmm, X, lengths, expected_logprob, expected_states):
    """decode and predict give the reference's Viterbi paths and their log-probabilities."""
    logprob, states = hmm.decode(X, lengths)
    assert np.array_equal(states, expected_states)
    assert logprob == pytest.approx(expected_logprob.sum(), rel=RTOL)
    assert np.array_equal(hmm.predict(X, lengths), expected_states)


def assert_posteriors_match(hmm, X, lengths, expected_loglik, expected_post):
    """score_samples, score_sequences, score and predict_proba against the reference's
    forward-backward (log-likelihood per sequence, posteriors per time step)."""
    logprob, post = hmm.score_samples(X, lengths)
    assert_close(post, expected_post, "posteriors")
    assert logprob == pytest.approx(expected_loglik.sum(), rel=RTOL)
    assert_close(hmm.score_sequences(X, lengths), expected_loglik, "score per sequence")
    assert hmm.score(X, lengths) == pytest.approx(expected_loglik.sum(), rel=RTOL)
    assert_close(hmm.predict_proba(X, lengths), expected_post, "predict_proba")


def gaussian_prior(X, covariance_type):
    """A Gaussian prior (GaussianMixture's dict) centred off the data's mean."""
    var = np.nanvar(X, axis=0)
    scale = {
        "full": np.diag(var) * 0.5,
        "tied": np.diag(var) * 0.5,
        "diag": var * 0.5,
        "spherical": var.mean() * 0.5,
    }[covariance_type]
    return {
        "mean": np.nanmean(X, axis=0) + 0.3,
        "shrinkage": 0.05,
        "dof": X.shape[1] + 3.0,
        "scale": scale,
    }
