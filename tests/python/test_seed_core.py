"""Seeding a model from given responsibilities at the ``_core`` level: the family's own M-step.

``seed_from_responsibilities(X, sample_weight, resp)`` runs the M-step from an (n, K) assignment
instead of an E-step's posteriors; with a hard assignment that is the weighted frequencies, means
and covariances of each state's rows, computed here in numpy.
"""

import numpy as np
import pytest

from emkit import _core


def _hard_assignment(n, K, rng):
    labels = np.arange(n) % K
    rng.shuffle(labels)
    resp = np.zeros((n, K))
    resp[np.arange(n), labels] = 1.0
    return labels, resp


def _blobs(rng, n=240, d=3):
    return rng.normal(size=(n, d)) * [1.0, 2.0, 0.5] + 10.0


def _start(covariance_type, K, d):
    means = np.zeros((K, d))
    covariances = {
        "full": np.stack([np.eye(d)] * K),
        "tied": np.eye(d),
        "diag": np.ones((K, d)),
        "spherical": np.ones(K),
    }[covariance_type]
    return np.full(K, 1.0 / K), means, covariances


def _weighted_moments(X, w, labels, K):
    d = X.shape[1]
    counts = np.array([w[labels == k].sum() for k in range(K)])
    means = np.stack([np.average(X[labels == k], axis=0, weights=w[labels == k]) for k in range(K)])
    scatter = np.zeros((K, d, d))
    for k in range(K):
        z = X[labels == k] - means[k]
        scatter[k] = (w[labels == k, None] * z).T @ z
    return counts, means, scatter


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_gaussian_mixture_seeded_from_a_hard_assignment_has_the_weighted_moments(covariance_type):
    rng = np.random.default_rng(0)
    K, reg_covar = 3, 1e-3
    X = _blobs(rng)
    n, d = X.shape
    w = rng.uniform(0.5, 2.0, size=n)
    labels, resp = _hard_assignment(n, K, rng)
    model = _core.GaussianMixtureModel(*_start(covariance_type, K, d), covariance_type, reg_covar)
    empty = model.seed_from_responsibilities(X, w, resp)
    assert list(empty) == []

    counts, means, scatter = _weighted_moments(X, w, labels, K)
    np.testing.assert_allclose(model.weights, counts / counts.sum(), rtol=1e-12)
    np.testing.assert_allclose(model.means, means, rtol=1e-10, atol=1e-10)
    expected = {
        "full": scatter / counts[:, None, None] + reg_covar * np.eye(d),
        "tied": scatter.sum(axis=0) / counts.sum() + reg_covar * np.eye(d),
        "diag": np.stack([np.diag(s) for s in scatter]) / counts[:, None] + reg_covar,
        "spherical": np.array([np.trace(s) for s in scatter]) / (d * counts) + reg_covar,
    }[covariance_type]
    np.testing.assert_allclose(model.covariances, expected, rtol=1e-10, atol=1e-12)


def test_gaussian_mixture_seeding_rejects_bad_responsibilities():
    rng = np.random.default_rng(1)
    X = _blobs(rng, n=30)
    model = _core.GaussianMixtureModel(*_start("diag", 2, 3), "diag", 1e-6)
    no_weights = np.zeros(0)
    with pytest.raises(ValueError, match="resp"):
        model.seed_from_responsibilities(X, no_weights, np.ones((30, 3)))  # K does not match
    with pytest.raises(ValueError, match="resp"):
        model.seed_from_responsibilities(X, no_weights, np.ones((29, 2)))  # n does not match
    negative = np.ones((30, 2))
    negative[4, 1] = -0.5
    with pytest.raises(ValueError, match="resp"):
        model.seed_from_responsibilities(X, no_weights, negative)
    bad = np.ones((30, 2))
    bad[2, 0] = np.nan
    with pytest.raises(ValueError, match="resp"):
        model.seed_from_responsibilities(X, no_weights, bad)


def test_latent_class_seeded_from_a_hard_assignment_has_the_class_frequencies():
    rng = np.random.default_rng(2)
    K, R = 3, [2, 4, 3]
    n = 300
    X = np.stack([rng.integers(0, r, size=n) for r in R], axis=1).astype(np.int32)
    X[rng.uniform(size=X.shape) < 0.1] = -1  # missing codes leave the item out of its row
    w = rng.uniform(0.5, 2.0, size=n)
    labels, resp = _hard_assignment(n, K, rng)
    start = np.concatenate([np.full((K, r), 1.0 / r) for r in R], axis=1)
    model = _core.LatentClassModel(np.full(K, 1.0 / K), start, R)
    model.seed_from_responsibilities(X, w, resp)

    counts = np.array([w[labels == k].sum() for k in range(K)])
    np.testing.assert_allclose(model.weights, counts / counts.sum(), rtol=1e-12)
    expected = []
    for j, r in enumerate(R):
        freq = np.zeros((K, r))
        for k in range(K):
            rows = (labels == k) & (X[:, j] >= 0)
            freq[k] = np.bincount(X[rows, j], weights=w[rows], minlength=r) / w[rows].sum()
        expected.append(freq)
    np.testing.assert_allclose(model.probs, np.concatenate(expected, axis=1), rtol=1e-12)


def test_gaussian_hmm_seeded_from_posteriors_keeps_its_chain():
    rng = np.random.default_rng(3)
    K = 2
    X = _blobs(rng, n=100)
    labels, post = _hard_assignment(100, K, rng)
    startprob = np.array([0.3, 0.7])
    transmat = np.array([[0.9, 0.1], [0.2, 0.8]])
    model = _core.GaussianHMMModel(startprob, transmat, *_start("full", K, 3)[1:], "full", 1e-3)
    lengths = np.array([60, 40])
    w = np.array([1.0, 2.0])
    model.seed_from_posteriors(X, lengths, w, post)
    row_w = np.repeat(w, lengths)
    counts, means, scatter = _weighted_moments(X, row_w, labels, K)
    np.testing.assert_allclose(model.startprob, startprob)
    np.testing.assert_allclose(model.transmat, transmat)
    np.testing.assert_allclose(model.means, means, rtol=1e-10, atol=1e-10)
