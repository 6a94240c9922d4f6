"""Behaviours EM guarantees or emkit promises: the objective never decreases, results do not
depend on the thread count, weights are frequency weights, restarts report replication."""

import numpy as np
import pytest
from conftest import COVARIANCE_TYPES, make_blobs, start_params
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reference import gmm as ref

import emkit


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**31 - 1),
    covariance_type=st.sampled_from(COVARIANCE_TYPES),
    K=st.integers(1, 4),
    missing=st.sampled_from([0.0, 0.1, 0.3]),
    weighted=st.booleans(),
    prior=st.sampled_from([None, "default"]),
)
def test_objective_never_decreases(seed, covariance_type, K, missing, weighted, prior):
    X, _ = make_blobs(n=150, d=3, K=3, seed=seed % 1000, missing=missing, spread=2.0)
    rng = np.random.default_rng(seed)
    w = rng.uniform(0.1, 2.0, size=X.shape[0]) if weighted else None
    gm = emkit.GaussianMixture(K, covariance_type=covariance_type, tol=0.0, max_iter=30,
                               reg_covar=1e-9, prior=prior, random_state=seed,
                               init_params="random")
    gm.fit(X, sample_weight=w)  # a decrease would raise MonitorWarning (warnings are errors)
    h = gm.history_
    assert len(h) == 31
    assert np.all(np.diff(h) >= -1e-10 * (np.abs(h[:-1]) + X.shape[0]))


@pytest.mark.parametrize("missing", [0.0, 0.2])
def test_bit_identical_for_1_2_4_threads(covariance_type, missing):
    # More rows than one chunk so that several threads really share the work.
    X, _ = make_blobs(n=40_000, d=4, K=4, seed=1, missing=missing)
    w = np.random.default_rng(0).uniform(0.5, 1.5, size=X.shape[0])
    fits = []
    for threads in (1, 2, 4):
        gm = emkit.GaussianMixture(4, covariance_type=covariance_type, tol=0.0, max_iter=5,
                                   random_state=3, n_threads=threads).fit(X, sample_weight=w)
        fits.append(gm)
    for other in fits[1:]:
        assert np.array_equal(other.history_, fits[0].history_)
        assert np.array_equal(other.means_, fits[0].means_)
        assert np.array_equal(other.covariances_, fits[0].covariances_)
        assert np.array_equal(other.weights_, fits[0].weights_)
        assert np.array_equal(other.predict_proba(X), fits[0].predict_proba(X))


def test_same_random_state_gives_identical_fits(covariance_type):
    X, _ = make_blobs(n=500, d=3, K=3, seed=4)
    a = emkit.GaussianMixture(3, covariance_type=covariance_type, n_init=3, random_state=42).fit(X)
    b = emkit.GaussianMixture(3, covariance_type=covariance_type, n_init=3, random_state=42).fit(X)
    assert np.array_equal(a.means_, b.means_)
    assert np.array_equal(a.history_, b.history_)
    assert [r.seed for r in a.restarts_] == [r.seed for r in b.restarts_]
    c = emkit.GaussianMixture(3, covariance_type=covariance_type, n_init=3, random_state=43).fit(X)
    assert [r.seed for r in c.restarts_] != [r.seed for r in a.restarts_]


@pytest.mark.parametrize("missing", [0.0, 0.2])
def test_weight_two_equals_duplicated_row(covariance_type, missing):
    X, _ = make_blobs(n=120, d=3, K=2, seed=6, missing=missing)
    w = np.ones(X.shape[0])
    w[::3] = 2.0
    X_dup = np.concatenate([X, X[::3]])
    start = start_params(X, 2, covariance_type)
    kwargs = dict(covariance_type=covariance_type, tol=0.0, max_iter=15, weights_init=start[0],
                  means_init=start[1], covariances_init=start[2])
    weighted = emkit.GaussianMixture(2, **kwargs).fit(X, sample_weight=w)
    duplicated = emkit.GaussianMixture(2, **kwargs).fit(X_dup)
    np.testing.assert_allclose(weighted.history_, duplicated.history_, rtol=1e-11)
    np.testing.assert_allclose(weighted.means_, duplicated.means_, rtol=1e-10)
    np.testing.assert_allclose(weighted.covariances_, duplicated.covariances_, rtol=1e-10)
    np.testing.assert_allclose(weighted.weights_, duplicated.weights_, rtol=1e-10)


def test_zero_weight_rows_are_ignored():
    X, _ = make_blobs(n=100, d=2, K=2, seed=9)
    w = np.ones(100)
    w[50:] = 0.0
    start = start_params(X[:50], 2, "full")
    kw = dict(tol=0.0, max_iter=10, weights_init=start[0], means_init=start[1], covariances_init=start[2])
    a = emkit.GaussianMixture(2, **kw).fit(X, sample_weight=w)
    b = emkit.GaussianMixture(2, **kw).fit(X[:50])
    np.testing.assert_allclose(a.means_, b.means_, rtol=1e-12)
    assert a.loglik_ == pytest.approx(b.loglik_, rel=1e-12)


class TestIncompleteMultivariateNormal:
    """With one component, EM is the classic EM for an incomplete multivariate normal sample."""

    def sample(self, missing):
        rng = np.random.default_rng(12)
        cov = np.array([[2.0, 0.8, -0.3], [0.8, 1.0, 0.2], [-0.3, 0.2, 0.5]])
        X = rng.multivariate_normal([1.0, -2.0, 3.0], cov, size=300)
        if missing:
            mask = rng.uniform(size=X.shape) < missing
            mask[mask.all(axis=1), 0] = False
            X[mask] = np.nan
        return X

    def test_matches_reference_fixed_point(self):
        X = self.sample(0.25)
        gm = emkit.GaussianMixture(1, tol=0.0, max_iter=300, reg_covar=0.0).fit(X)
        # The reference's EM map leaves the answer unchanged: it is the incomplete-data MLE.
        _, m1, c1, _ = ref.em_step(X, gm.weights_, gm.means_, gm.covariances_, "full", reg_covar=0.0)
        np.testing.assert_allclose(m1, gm.means_, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(c1, gm.covariances_, rtol=1e-9, atol=1e-12)
        # ... and it is not the complete-case answer (the missing entries carry information).
        complete = X[~np.isnan(X).any(axis=1)]
        assert not np.allclose(gm.means_[0], complete.mean(axis=0), rtol=1e-3)

    def test_without_missing_values_gives_sample_mean_and_covariance(self):
        X = self.sample(0.0)
        gm = emkit.GaussianMixture(1, tol=0.0, max_iter=3, reg_covar=0.0).fit(X)
        np.testing.assert_allclose(gm.means_[0], X.mean(axis=0), rtol=1e-12)
        np.testing.assert_allclose(gm.covariances_[0], np.cov(X.T, bias=True), rtol=1e-11)


def test_restarts_report_replication():
    X, _ = make_blobs(n=400, d=2, K=3, seed=21)
    gm = emkit.GaussianMixture(3, n_init=8, random_state=0, tol=1e-10, max_iter=500).fit(X)
    rep = gm.restarts_
    assert len(rep) == 8
    objectives = np.array([r.objective for r in rep])
    assert rep.best == int(np.argmax(objectives))
    assert gm.history_[-1] == pytest.approx(objectives.max(), rel=0, abs=0)
    expected = int(np.sum(np.abs(objectives - objectives.max()) <= 1e-6 * abs(objectives.max())))
    assert rep.n_replicated == expected >= 1
    assert rep.replicated == (expected >= 2)
    assert "reached by" in rep.table()


def test_best_restart_is_at_least_as_good_as_each_single_run():
    X, _ = make_blobs(n=300, d=2, K=4, seed=2, spread=1.5)
    multi = emkit.GaussianMixture(4, n_init=6, random_state=7).fit(X)
    for run in multi.restarts_:
        assert run.objective <= multi.history_[-1]
    assert multi.loglik_ == pytest.approx(max(r.loglik for r in multi.restarts_))


def test_map_default_prior_objective_includes_log_prior(covariance_type):
    X, _ = make_blobs(n=200, d=3, K=2, seed=14)
    gm = emkit.GaussianMixture(2, covariance_type=covariance_type, prior="default", random_state=1).fit(X)
    d = X.shape[1]
    assert gm.prior_["dof"] == d + 2
    assert gm.prior_["shrinkage"] == 0.01
    np.testing.assert_allclose(gm.prior_["mean"], X.mean(axis=0))
    assert gm.history_[-1] == pytest.approx(gm.loglik_ + gm.log_prior(), rel=1e-12)
    expected = ref.log_prior(gm.weights_, gm.means_, gm.covariances_, covariance_type, gm.prior_)
    assert gm.log_prior() == pytest.approx(expected, rel=1e-9)
