"""The comparisons the HMM tests make with the numpy reference (tests/python/reference/hmm.py):
to a relative 1e-9, after a whole fit and after every single EM iteration."""

import numpy as np

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
