"""Shared fixtures: small synthetic mixtures with optional missing values and weights."""

import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))  # makes `reference` importable

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")


def make_blobs(n=240, d=3, K=3, seed=0, missing=0.0, spread=4.0):
    """Rows from K well-separated Gaussian blobs; a fraction `missing` of entries set to NaN
    (never a whole row)."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(0.0, spread, size=(K, d))
    labels = rng.integers(0, K, size=n)
    A = rng.normal(size=(K, d, d)) * 0.4 + np.eye(d)
    X = centers[labels] + np.einsum("nij,nj->ni", A[labels], rng.normal(size=(n, d)))
    if missing:
        mask = rng.uniform(size=X.shape) < missing
        mask[mask.all(axis=1), 0] = False
        X[mask] = np.nan
    return X, labels


def start_params(X, K, covariance_type, seed=1):
    """Deliberately rough initial values (random rows as means, the data's variance)."""
    rng = np.random.default_rng(seed)
    n, d = X.shape
    filled = np.where(np.isnan(X), np.nanmean(X, axis=0), X)
    means = filled[rng.choice(n, size=K, replace=False)] + rng.normal(0, 0.1, size=(K, d))
    var = np.var(filled, axis=0)
    weights = np.full(K, 1.0 / K)
    if covariance_type == "full":
        cov = np.stack([np.diag(var)] * K)
    elif covariance_type == "tied":
        cov = np.diag(var)
    elif covariance_type == "diag":
        cov = np.tile(var, (K, 1))
    else:
        cov = np.full(K, var.mean())
    return weights, means, cov


@pytest.fixture(params=COVARIANCE_TYPES)
def covariance_type(request):
    return request.param
