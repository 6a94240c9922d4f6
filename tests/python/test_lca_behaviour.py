"""LatentClass behaviours: EM properties, fit statistics, standard errors, label switching,
errors."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reference import lca as ref
from test_lca_reference import lca_data, start

import emkit


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), K=st.integers(1, 4), missing=st.sampled_from([0.0, 0.25]),
       prior=st.sampled_from([None, "default"]))
def test_objective_never_decreases(seed, K, missing, prior):
    X, R = lca_data(n=200, seed=seed, missing=missing)
    model = emkit.LatentClass(K, n_categories=R, tol=0.0, max_iter=40, prior=prior, random_state=seed)
    model.fit(X)  # a decrease would raise MonitorWarning
    h = model.history_
    assert np.all(np.diff(h) >= -1e-10 * (np.abs(h[:-1]) + X.shape[0]))


def test_bit_identical_across_threads():
    X, R = lca_data(n=30_000, seed=2, missing=0.1)
    X = np.concatenate([X, np.random.default_rng(0).integers(0, 2, size=(30_000, 3))], axis=1)
    R = R + [2, 2, 2]
    fits = [emkit.LatentClass(3, n_categories=R, tol=0.0, max_iter=10, random_state=1, n_threads=t).fit(X)
            for t in (1, 2, 4)]
    for other in fits[1:]:
        assert np.array_equal(other.history_, fits[0].history_)
        assert np.array_equal(other.weights_, fits[0].weights_)
        for a, b in zip(other.probs_, fits[0].probs_):
            assert np.array_equal(a, b)


def test_frequency_weights_equal_repeated_rows():
    X, R = lca_data(n=120, seed=3, missing=0.1)
    w = np.ones(len(X))
    w[::4] = 3.0
    X_rep = np.concatenate([X, X[::4], X[::4]])
    w0, p0 = start(R, 3)
    kw = dict(n_categories=R, tol=0.0, max_iter=25, weights_init=w0, probs_init=p0)
    a = emkit.LatentClass(3, **kw).fit(X, sample_weight=w)
    b = emkit.LatentClass(3, **kw).fit(X_rep)
    np.testing.assert_allclose(a.history_, b.history_, rtol=1e-11)
    np.testing.assert_allclose(a.weights_, b.weights_, rtol=1e-10)


def test_table_of_patterns_with_counts_is_a_valid_input():
    X, R = lca_data(n=500, seed=4)
    patterns, counts = np.unique(X, axis=0, return_counts=True)
    w0, p0 = start(R, 2)
    kw = dict(n_categories=R, tol=0.0, max_iter=30, weights_init=w0[:2] / w0[:2].sum(), probs_init=[p[:2] for p in p0])
    a = emkit.LatentClass(2, **kw).fit(patterns, sample_weight=counts)
    b = emkit.LatentClass(2, **kw).fit(X)
    assert a.loglik_ == pytest.approx(b.loglik_, rel=1e-11)
    assert a.bic_ == pytest.approx(b.bic_, rel=1e-11)


def test_fit_statistics_from_their_definitions():
    X, R = lca_data(n=600, R=(2, 2, 3, 2), K=2, seed=5)
    m = emkit.LatentClass(2, n_categories=list(R), n_init=5, random_state=0).fit(X)
    N, p, ll = 600, (2 - 1) + 2 * (1 + 1 + 2 + 1), m.loglik_
    assert m.n_parameters_ == p
    assert m.aic_ == pytest.approx(-2 * ll + 2 * p)
    assert m.bic_ == pytest.approx(-2 * ll + p * np.log(N))
    assert m.sabic_ == pytest.approx(-2 * ll + p * np.log((N + 2) / 24))
    assert m.caic_ == pytest.approx(-2 * ll + p * (np.log(N) + 1))
    assert m.df_ == min(N, 2 * 2 * 3 * 2 - 1) - p
    # G2 and chi2 over all 24 cells: expected counts N * P(pattern).
    cells = np.array(np.meshgrid(*[np.arange(r) for r in R], indexing="ij")).reshape(len(R), -1).T
    expected = N * np.exp(m.score_samples(cells))
    observed = np.array([np.sum((X == c).all(axis=1)) for c in cells])
    seen = observed > 0
    assert m.g_squared_ == pytest.approx(2 * np.sum(observed[seen] * np.log(observed[seen] / expected[seen])), rel=1e-9)
    assert m.chi_squared_ == pytest.approx(np.sum((observed - expected) ** 2 / expected), rel=1e-9)
    h = m.predict_proba(X)
    entropy = 1 - np.sum(-h * np.log(np.where(h > 0, h, 1))) / (N * np.log(2))
    assert m.entropy_ == pytest.approx(entropy, rel=1e-9)


def test_standard_errors_match_numerical_scores():
    """poLCA's SEs: outer product of per-case scores in the log-ratio parameters, delta method.
    The scores are recomputed here by finite differences of the reference log-likelihood."""
    rng = np.random.default_rng(6)
    R = (2, 3, 2)
    truth = [np.array([[0.8, 0.2], [0.3, 0.7]]), np.array([[0.6, 0.3, 0.1], [0.2, 0.3, 0.5]]),
             np.array([[0.75, 0.25], [0.35, 0.65]])]
    classes = rng.integers(0, 2, size=800)
    X = np.stack([[rng.choice(r, p=truth[j][c]) for c in classes] for j, r in enumerate(R)], axis=1)
    X[rng.uniform(size=X.shape) < 0.1] = -1
    m = emkit.LatentClass(2, n_categories=list(R), n_init=5, random_state=0, tol=1e-11, max_iter=20000).fit(X)
    pi, probs = m.weights_, [np.asarray(p) for p in m.probs_]

    def unpack(theta):
        g = np.r_[0.0, theta[:1]]
        w = np.exp(g) / np.exp(g).sum()
        out, pos = [], 1
        for r in R:
            block = []
            for _ in range(2):
                phi = np.r_[0.0, theta[pos:pos + r - 1]]
                pos += r - 1
                block.append(np.exp(phi) / np.exp(phi).sum())
            out.append(np.array(block))
        return w, out

    theta0 = [np.log(pi[1] / pi[0])]
    for p in probs:
        for k in range(2):
            theta0 += list(np.log(p[k, 1:] / p[k, 0]))
    theta0 = np.array(theta0)
    eps = 1e-6
    scores = np.empty((len(X), len(theta0)))
    for a in range(len(theta0)):
        up, down = theta0.copy(), theta0.copy()
        up[a] += eps
        down[a] -= eps
        scores[:, a] = (ref.posterior(X, *unpack(up))[1] - ref.posterior(X, *unpack(down))[1]) / (2 * eps)
    cov = np.linalg.inv(scores.T @ scores)
    # Delta method for the weights and the first item's probabilities.
    J_w = np.array([[-pi[0] * pi[1]], [pi[1] * (1 - pi[1])]])
    se_w = np.sqrt(np.diag(J_w @ cov[:1, :1] @ J_w.T))
    np.testing.assert_allclose(m.weights_se_, se_w, rtol=1e-4)
    rho = probs[0][0]
    J_p = np.array([[-rho[0] * rho[1]], [rho[1] * (1 - rho[1])]])
    se_p = np.sqrt(np.diag(J_p @ cov[1:2, 1:2] @ J_p.T))
    np.testing.assert_allclose(m.probs_se_[0][0], se_p, rtol=1e-4)


def test_reorder_and_sort_by_size():
    X, R = lca_data(n=400, seed=9)
    m = emkit.LatentClass(3, n_categories=R, n_init=3, random_state=0).fit(X)
    before_w, before_p = m.weights_.copy(), [p.copy() for p in m.probs_]
    proba = m.predict_proba(X)
    m.reorder([2, 0, 1])
    np.testing.assert_array_equal(m.weights_, before_w[[2, 0, 1]])
    np.testing.assert_array_equal(m.probs_[1], before_p[1][[2, 0, 1]])
    np.testing.assert_allclose(m.predict_proba(X), proba[:, [2, 0, 1]])
    s = emkit.LatentClass(3, n_categories=R, n_init=3, random_state=0, sort_classes="size").fit(X)
    assert np.all(np.diff(s.weights_) <= 0)
    with pytest.raises(ValueError, match="order: expected a permutation of 0..2"):
        m.reorder([0, 0, 1])


def test_missing_drop_uses_complete_rows_only():
    X, R = lca_data(n=300, seed=10, missing=0.1)
    complete = X[(X >= 0).all(axis=1)]
    a = emkit.LatentClass(2, n_categories=R, missing="drop", random_state=0).fit(X)
    b = emkit.LatentClass(2, n_categories=R, random_state=0).fit(complete)
    assert a.loglik_ == pytest.approx(b.loglik_, rel=1e-12)
    assert a.n_observations_ == len(complete)


def test_summary_lists_labels_statistics_and_restarts():
    pd = pytest.importorskip("pandas", reason="pandas is part of the test extra")
    df = pd.DataFrame({"q1": ["yes", "no", "yes", None] * 50, "q2": ["a", "b", "c", "a"] * 50,
                       "q3": ["x", "y", "y", "x"] * 50})
    m = emkit.LatentClass(2, n_init=3, random_state=0).fit(df)
    text = m.summary()
    for needle in ("item q1", "yes", "class weights (se)", "BIC", "G-squared", "relative entropy", "reached by"):
        assert needle in text
    assert list(m.probs_[1].columns) == ["a", "b", "c"]
    with pytest.raises(ValueError, match="item 'q2' has the label 'd', not seen in fit"):
        m.predict(pd.DataFrame({"q1": ["yes"], "q2": ["d"], "q3": ["x"]}))


def test_sample_recovers_parameters():
    X, R = lca_data(n=400, seed=11)
    m = emkit.LatentClass(2, n_categories=R, random_state=0).fit(X)
    codes, classes = m.sample(20_000)
    assert codes.shape == (20_000, len(R))
    np.testing.assert_allclose(np.bincount(classes, minlength=2) / 20_000, m.weights_, atol=0.02)


@pytest.mark.parametrize(
    "X, kwargs, exc, match",
    [
        (np.array([[0, 1], [1, 3]]), {"n_categories": [2, 3]}, ValueError, "has code 3, but n_categories declares 3"),
        (np.array([[0, 1], [0, 0], [0, 1]]), {}, ValueError, "item 'item0' has a single category"),
        (np.array([[0.0, 1.5], [1.0, 0.0]]), {}, ValueError, r"expected integer category codes; found 1.5"),
        (np.array([[0, -1], [1, -1], [1, -1]]), {}, ValueError, "item 'item1' is entirely missing"),
        (np.array([[0, 1], [1, 0]]), {"n_components": 0}, ValueError, "n_components: expected an integer >= 1"),
        (np.array([["a", "b"]]), {}, TypeError, "expected integer category codes or a DataFrame"),
        (np.array([0, 1, 1]), {}, ValueError, "expected a 2-D array of category codes"),
        (np.array([[0, 1], [1, 0]]), {"missing": "omit"}, ValueError, "missing: expected one of 'fiml', 'drop'"),
        (np.array([[0, 1], [1, 0]]), {"prior": {"item_concentration": 0.5}}, ValueError,
         r"prior\['item_concentration'\]: expected a number >= 1"),
        (np.array([[0, 1], [1, 0]]), {"probs_init": [np.ones((2, 2))]}, ValueError, "probs_init: expected a list of 2"),
        (np.array([[0, 1], [1, 0], [0, 0]]), {"n_components": 4}, ValueError, "at least n_components=4 rows"),
    ],
)
def test_bad_input(X, kwargs, exc, match):
    params = {"n_components": 2, **kwargs}
    with pytest.raises(exc, match=match):
        emkit.LatentClass(**params).fit(X)


def test_bad_weights_and_covariates():
    X = np.array([[0, 1], [1, 0], [0, 0], [1, 1]])
    with pytest.raises(ValueError, match=r"sample_weight: expected one weight per row \(a 1-D array of 4 values\)"):
        emkit.LatentClass(2).fit(X, sample_weight=np.ones(3))
    with pytest.raises(ValueError, match=r"covariates: rows \[1\] have missing values"):
        emkit.LatentClass(2).fit(X, covariates=np.array([1.0, np.nan, 2.0, 3.0]))
    with pytest.raises(ValueError, match="covariates: expected 4 rows"):
        emkit.LatentClass(2).fit(X, covariates=np.ones(3))
    with pytest.raises(ValueError, match=r"fixed=\['weights'\]/weights_init: not available with covariates"):
        emkit.LatentClass(2, fixed=["weights"]).fit(X, covariates=np.arange(4.0))
