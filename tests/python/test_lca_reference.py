"""emkit.LatentClass agrees with the numpy reference latent class EM after each of 20
iterations to a relative 1e-9 (missing items, weights, fixed weights, priors, covariates), and
reproduces the published maxima of the poLCA datasets."""

import os

import numpy as np
import pytest
from reference import lca as ref

import emkit

RTOL = 1e-9
DATA = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "data", "lca")


def lca_data(n=400, R=(2, 3, 4, 3, 2), K=3, seed=0, missing=0.0):
    rng = np.random.default_rng(seed)
    classes = rng.integers(0, K, size=n)
    probs = [rng.dirichlet(np.ones(r) * 0.7, size=K) for r in R]
    X = np.stack([[rng.choice(r, p=probs[j][c]) for c in classes] for j, r in enumerate(R)], axis=1)
    if missing:
        mask = rng.uniform(size=X.shape) < missing
        X[mask] = -1
    return X.astype(np.int64), list(R)


def start(R, K, seed=3):
    rng = np.random.default_rng(seed)
    weights = rng.dirichlet(np.ones(K) * 5)
    probs = [rng.dirichlet(np.ones(r), size=K) for r in R]
    return weights, probs


def rel_err(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-3 * max(np.abs(b).max(), 1e-300)))


CASES = [
    pytest.param(dict(missing=0.0, weights=False, fixed=False, prior=None), id="plain"),
    pytest.param(dict(missing=0.2, weights=False, fixed=False, prior=None), id="missing"),
    pytest.param(dict(missing=0.2, weights=True, fixed=False, prior=None), id="missing+weights"),
    pytest.param(dict(missing=0.1, weights=False, fixed=True, prior=None), id="fixed-weights"),
    pytest.param(dict(missing=0.1, weights=True, fixed=False,
                      prior={"weight_concentration": 2.0, "item_concentration": 1.5}), id="prior"),
    pytest.param(dict(missing=0.0, weights=False, fixed=False,
                      prior={"weight_concentration": 1.0, "item_concentration": 2.0}), id="item-prior"),
]


@pytest.mark.parametrize("case", CASES)
def test_twenty_iterations_match_reference(case):
    X, R = lca_data(missing=case["missing"], seed=1)
    K = 3
    w = np.random.default_rng(2).uniform(0.2, 3, size=X.shape[0]) if case["weights"] else None
    weights0, probs0 = start(R, K)
    expected = ref.fit(X, weights0, probs0, None, 20, sample_weight=w, fixed_weights=case["fixed"],
                       prior=case["prior"])
    model = emkit.LatentClass(K, n_categories=R, tol=0.0, max_iter=20, weights_init=weights0,
                              probs_init=probs0, fixed=["weights"] if case["fixed"] else None, prior=case["prior"])
    model.fit(X, sample_weight=w)
    assert model.n_iter_ == 20
    assert rel_err(model.history_, expected["history"]) < RTOL
    assert rel_err(model.weights_, expected["weights"]) < RTOL
    for j in range(len(R)):
        assert rel_err(model.probs_[j], expected["params"][j]) < RTOL
    # ... and after every single iteration.
    for it in range(1, 21):
        step = emkit.LatentClass(K, n_categories=R, tol=0.0, max_iter=it, weights_init=weights0,
                                 probs_init=probs0, fixed=["weights"] if case["fixed"] else None, prior=case["prior"])
        step.fit(X, sample_weight=w)
        ref_step = expected["steps"][it]
        assert rel_err(step.weights_, ref_step["weights"]) < RTOL
        for j in range(len(R)):
            assert rel_err(step.probs_[j], ref_step["params"][j]) < RTOL, (it, j)


def test_covariates_match_reference():
    X, R = lca_data(n=300, K=2, seed=4, missing=0.1)
    rng = np.random.default_rng(5)
    z = rng.normal(size=(X.shape[0], 2))
    Z = np.c_[np.ones(X.shape[0]), z]
    w = rng.uniform(0.5, 2, size=X.shape[0])
    _, probs0 = start(R, 2, seed=6)
    beta0 = np.zeros((3, 2))
    expected = ref.fit(X, None, probs0, None, 20, sample_weight=w, Z=Z, beta=beta0)
    model = emkit.LatentClass(2, n_categories=R, tol=0.0, max_iter=20, probs_init=probs0)
    model.fit(X, sample_weight=w, covariates=z)
    assert rel_err(model.history_, expected["history"]) < RTOL
    assert rel_err(model.coef_, expected["beta"][:, 1:]) < RTOL
    for j in range(len(R)):
        assert rel_err(model.probs_[j], expected["params"][j]) < RTOL
    assert np.all(np.diff(model.history_) >= -1e-9 * np.abs(model.history_[:-1]))


def test_posterior_matches_reference():
    X, R = lca_data(n=200, seed=7, missing=0.3)
    weights0, probs0 = start(R, 3)
    model = emkit.LatentClass(3, n_categories=R, tol=0.0, max_iter=0, weights_init=weights0,
                              probs_init=probs0).fit(X)
    h, loglik_rows = ref.posterior(X, weights0, probs0)
    assert rel_err(model.predict_proba(X), h) < RTOL
    assert rel_err(model.score_samples(X), loglik_rows) < RTOL


def test_log_prior_in_objective_matches_reference():
    X, R = lca_data(n=150, seed=8)
    weights0, probs0 = start(R, 3)
    prior = {"weight_concentration": 3.0, "item_concentration": 2.5}
    model = emkit.LatentClass(3, n_categories=R, tol=0.0, max_iter=0, weights_init=weights0,
                              probs_init=probs0, prior=prior).fit(X)
    expected = ref.log_prior(weights0, probs0, None, prior)
    assert model.history_[0] - model.loglik_ == pytest.approx(expected, rel=RTOL)


@pytest.mark.parametrize(
    "name, K, published",
    [("values", 1, -543.6498), ("values", 2, -504.4677), ("carcinoma", 2, -317.2568),
     ("carcinoma", 3, -293.7050)],
)
@pytest.mark.parametrize("n_threads", [None, 1])
def test_published_maxima(name, K, published, n_threads):
    pd = pytest.importorskip("pandas", reason="pandas is part of the test extra")
    df = pd.read_csv(os.path.join(DATA, f"{name}.csv"))
    model = emkit.LatentClass(K, n_init=20, random_state=0, n_threads=n_threads).fit(df)
    assert round(model.loglik_, 4) == published
    assert model.restarts_.n_replicated >= 2


def test_integer_codes_and_dataframe_give_the_same_fit():
    pd = pytest.importorskip("pandas", reason="pandas is part of the test extra")
    df = pd.read_csv(os.path.join(DATA, "values.csv"))
    codes = df.to_numpy() - 1
    a = emkit.LatentClass(2, n_init=5, random_state=1).fit(df)
    b = emkit.LatentClass(2, n_init=5, random_state=1).fit(codes)
    assert a.loglik_ == pytest.approx(b.loglik_, rel=1e-12)
    assert list(a.probs_[0].columns) == [1, 2]  # labels kept
    np.testing.assert_allclose(a.probs_[0].to_numpy(), b.probs_[0])
