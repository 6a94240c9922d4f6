"""LatentClass with a Gaussian block (emission "gaussian_full", "gaussian_tied",
"gaussian_spherical"): correlated continuous columns beside categorical, normal and count items,
missing entries integrated out. The estimator follows the numpy reference (reference.product)
after each of 20 iterations from its own starting point; a block alone is the Gaussian mixture
with missing values (emkit.GaussianMixture, another code path through the core)."""

import numpy as np
import pytest
from reference import lca as ref_lca
from reference import product as ref

import emkit

RTOL = 1e-9
K = 2


def block_data(n=400, seed=0, missing=0.08, whole_rows=0.04):
    """Columns in X: categorical, block, gaussian, block, poisson, block (the block interleaved)."""
    rng = np.random.default_rng(seed)
    z = rng.integers(0, K, n)
    L = np.array([[1.0, 0.0, 0.0], [0.7, 0.7, 0.0], [-0.4, 0.3, 0.8]])
    block = np.where(z[:, None] == 0, 0.0, 2.0) + rng.normal(size=(n, 3)) @ L.T * np.where(z == 0, 1.0, 1.4)[:, None]
    cat = np.where(z == 0, rng.choice(3, n, p=[0.6, 0.3, 0.1]), rng.choice(3, n, p=[0.1, 0.3, 0.6]))
    X = np.c_[cat, block[:, 0], rng.normal(3.0 * z, 1.0), block[:, 1], rng.poisson(1.0 + 3.0 * z), block[:, 2]]
    X = X.astype(float)
    X[rng.uniform(size=X.shape) < missing] = np.nan
    X[np.ix_(rng.uniform(size=n) < whole_rows, [1, 3, 5])] = np.nan
    return X


def emission(block_family):
    return ["categorical", block_family, "gaussian", block_family, "poisson", block_family]


ITEM_COLUMNS, BLOCK_COLUMNS = [0, 2, 4], [1, 3, 5]
ITEM_KINDS = ["categorical", "gaussian", "poisson"]


def reference_start(est):
    """The estimator's parameters in the reference's layout: (weights, items, block)."""
    items = [np.asarray(est.probs_[0]), np.c_[est.means_[:, 0], est.variances_[:, 0]], est.rates_[:, 0]]
    block = (est.block_means_, est.block_covariances_, est.block_covariance_type_)
    return est.weights_, items, block


@pytest.mark.parametrize("family", ["gaussian_full", "gaussian_tied", "gaussian_spherical"])
def test_estimator_follows_the_reference_after_each_of_twenty_iterations(family):
    X = block_data()
    w = np.random.default_rng(5).uniform(0.5, 2.0, len(X))
    make = lambda **kw: emkit.LatentClass(K, emission=emission(family), random_state=1, **kw)  # noqa: E731
    start = make().initialize(X, sample_weight=w)
    weights, items, block = reference_start(start)
    assert block[2] == family.split("_")[1]
    X_ref = X[:, ITEM_COLUMNS + BLOCK_COLUMNS]
    expected = ref.fit(X_ref, weights, items, ITEM_KINDS, block, 20, sample_weight=w)

    driver = make().initialize(X, sample_weight=w)
    for t in range(20):
        stats = driver.e_step(X, sample_weight=w)
        np.testing.assert_allclose(stats.loglik, expected["history"][t], rtol=RTOL)
        driver.m_step(stats)
        step = expected["steps"][t + 1]
        got_weights, got_items, got_block = reference_start(driver)
        np.testing.assert_allclose(got_weights, step["weights"], rtol=RTOL)
        for got, want in zip(got_items, step["items"]):
            np.testing.assert_allclose(got, want, rtol=RTOL)
        for got, want in zip(got_block[:2], step["block"][:2]):
            np.testing.assert_allclose(got, want, rtol=RTOL, atol=RTOL * np.abs(want).max())

    fitted = make(tol=0.0, max_iter=20).fit(X, sample_weight=w)
    np.testing.assert_allclose(fitted.history_[:20], expected["history"][:20], rtol=RTOL)
    np.testing.assert_allclose(fitted.loglik_, expected["history"][20], rtol=RTOL)
    b = len(BLOCK_COLUMNS)
    covariance_parameters = {"gaussian_full": K * b * (b + 1) // 2, "gaussian_tied": b * (b + 1) // 2,
                             "gaussian_spherical": K}[family]
    assert fitted.n_parameters_ == ref_lca.n_parameters([3, 0, 0], K, measurement=ITEM_KINDS) + K * b + \
        covariance_parameters


def test_a_block_alone_is_the_gaussian_mixture_with_missing_values():
    X = block_data(whole_rows=0.0)[:, BLOCK_COLUMNS]
    X = X[~np.isnan(X).all(axis=1)]
    lca = emkit.LatentClass(K, emission="gaussian_full", random_state=2).initialize(X)
    gmm = emkit.GaussianMixture(
        K, covariance_type="full", weights_init=lca.weights_, means_init=lca.block_means_,
        covariances_init=lca.block_covariances_, tol=0.0, max_iter=30,
    ).fit(X)
    lca = emkit.LatentClass(K, emission="gaussian_full", random_state=2, tol=0.0, max_iter=30).fit(X)
    np.testing.assert_allclose(lca.history_[:30], gmm.history_[:30], rtol=1e-10)
    np.testing.assert_allclose(lca.block_means_, gmm.means_, rtol=1e-8)
    np.testing.assert_allclose(lca.block_covariances_, gmm.covariances_, rtol=1e-8)
    np.testing.assert_allclose(lca.predict_proba(X), gmm.predict_proba(X), rtol=1e-8, atol=1e-12)


def test_recovers_the_correlation_and_reports_what_it_computes():
    X = block_data(n=3000, seed=3)
    est = emkit.LatentClass(K, emission=emission("gaussian_full"), random_state=0, n_init=3,
                            sort_classes="size").fit(X)
    truth = np.array([[1.0, 0.0, 0.0], [0.7, 0.7, 0.0], [-0.4, 0.3, 0.8]])
    low = int(np.argmin(est.block_means_[:, 0]))
    cov = truth @ truth.T
    np.testing.assert_allclose(est.block_covariances_[low], cov, atol=0.15)
    np.testing.assert_allclose(est.block_covariances_[1 - low], 1.4**2 * cov, atol=0.3)
    assert est.block_covariances_.shape == (K, 3, 3) and est.block_covariance_type_ == "full"
    text = est.summary()
    assert "Gaussian block (full covariance) over columns [1, 3, 5]" in text
    assert "standard errors are not computed" in text
    with pytest.raises(AttributeError, match="probs_se_: standard errors are not computed"):
        _ = est.probs_se_
    before = est.predict_proba(X)
    est.reorder([1, 0])
    np.testing.assert_allclose(est.predict_proba(X), before[:, ::-1], rtol=1e-12)


def test_without_a_block_the_block_attributes_say_so():
    X = block_data()[:, ITEM_COLUMNS]
    est = emkit.LatentClass(K, emission=ITEM_KINDS, random_state=0, max_iter=5, tol=0.0).fit(X)
    assert est.block_covariance_type_ is None
    with pytest.raises(AttributeError, match="block_means_: the model has no Gaussian block"):
        _ = est.block_means_


@pytest.mark.parametrize("spec,match", [
    (["gaussian_full", "gaussian_tied", "categorical", "gaussian", "poisson", "gaussian_full"],
     "one Gaussian block at most"),
    (["gaussian_diag"] * 6, r"emission\[0\]: expected one of"),
])
def test_bad_block_specifications(spec, match):
    with pytest.raises(ValueError, match=match):
        emkit.LatentClass(K, emission=spec).fit(block_data())


def test_hmm_refuses_a_block_family():
    with pytest.raises(ValueError, match="expected one of 'categorical', 'gaussian', 'poisson'"):
        emkit.HMM(K, emission="gaussian_full").fit(block_data()[:, BLOCK_COLUMNS])
