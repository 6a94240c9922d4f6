"""Sufficient statistics are a value that adds up: chunked E-steps drive the same fit."""

import pickle

import numpy as np
import pytest
from conftest import COVARIANCE_TYPES, make_blobs

import emkit


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_chunk_statistics_add_up_to_the_whole(covariance_type):
    X, _ = make_blobs(n=3000, d=3, K=3, seed=2, missing=0.1)
    w = np.random.default_rng(1).uniform(0, 2, size=X.shape[0])
    gm = emkit.GaussianMixture(3, covariance_type=covariance_type, random_state=0).initialize(X)
    whole = gm.e_step(X, sample_weight=w)
    parts = [gm.e_step(X[a:b], sample_weight=w[a:b]) for a, b in [(0, 700), (700, 2100), (2100, 3000)]]
    total = parts[0] + parts[1] + parts[2]
    for name in ("resp_sum", "sum", "scatter", "shift"):
        np.testing.assert_allclose(getattr(total, name), getattr(whole, name), rtol=1e-11, atol=1e-9)
    assert total.loglik == pytest.approx(whole.loglik, rel=1e-12)
    assert total.total_weight == pytest.approx(w.sum(), rel=1e-12)


def test_chunked_driver_reproduces_fit():
    X, _ = make_blobs(n=2000, d=2, K=2, seed=3)
    fitted = emkit.GaussianMixture(2, random_state=4, tol=0.0, max_iter=10).fit(X)
    driver = emkit.GaussianMixture(2, random_state=4).initialize(X)
    chunks = np.array_split(X, 5)
    for _ in range(10):
        stats = None
        for chunk in chunks:
            s = driver.e_step(chunk)
            stats = s if stats is None else stats + s
        driver.m_step(stats)
    np.testing.assert_allclose(driver.means_, fitted.means_, rtol=1e-10)
    np.testing.assert_allclose(driver.covariances_, fitted.covariances_, rtol=1e-10)


def test_statistics_pickle():
    X, _ = make_blobs(n=200, d=2, K=2, seed=5)
    gm = emkit.GaussianMixture(2, random_state=0).fit(X)
    stats = gm.e_step(X)
    clone = pickle.loads(pickle.dumps(stats))
    for name in ("resp_sum", "sum", "scatter", "shift"):
        np.testing.assert_array_equal(getattr(clone, name), getattr(stats, name))
    assert clone.loglik == stats.loglik
    gm.m_step(clone)  # usable after the round trip


def test_statistics_at_different_parameters_do_not_add():
    X, _ = make_blobs(n=200, d=2, K=2, seed=6)
    gm = emkit.GaussianMixture(2, random_state=0).initialize(X)
    before = gm.e_step(X)
    gm.m_step(before)
    after = gm.e_step(X)
    with pytest.raises(ValueError, match="stats: cannot add statistics computed at different parameters"):
        before + after


def test_pickled_statistics_remember_their_parameters():
    X, _ = make_blobs(n=200, d=2, K=2, seed=6)
    gm = emkit.GaussianMixture(2, random_state=0).initialize(X)
    stale = pickle.loads(pickle.dumps(gm.e_step(X)))
    gm.m_step(gm.e_step(X))
    with pytest.raises(ValueError, match="stats: computed at other parameters"):
        gm.m_step(stale)
