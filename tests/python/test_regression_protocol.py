"""The chunked protocol of the core's latent class regression and contingency table: e_step on any
split of the rows, +, m_step (and, for the regression, the line-search passes of its Newton step)
reproduce the in-memory fit to 1e-12; statistics pickle and refuse to mix with others."""

import pickle

import numpy as np
import pytest

from emkit import _core

RTOL = 1e-12
SPLITS = {"1 chunk": [], "3 chunks": [101, 350], "7 chunks": [13, 90, 200, 201, 420, 555]}


def rel_err(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-3 * max(np.abs(b).max(), 1e-300)))


def regression_data(n=640, R=(2, 3, 4, 3), K=3, seed=0, scale=1.0, missing=0.1):
    """Items from a K-class logit model in an intercept and two covariates, the second multiplied
    by `scale`; and starting item probabilities near the generating ones (so that the posteriors pull
    beta away from a poor start)."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, 2))
    z[:, 1] *= scale
    Z = np.c_[np.ones(n), z]
    beta = np.c_[np.zeros(3), rng.normal(size=(3, K - 1))]
    beta[2] /= scale
    eta = Z @ beta
    p = np.exp(eta - eta.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    classes = np.array([rng.choice(K, p=row) for row in p])
    item_probs = [rng.dirichlet(np.ones(r) * 0.2, size=K) for r in R]
    X = np.stack([[rng.choice(r, p=item_probs[j][c]) for c in classes] for j, r in enumerate(R)], axis=1)
    X[rng.uniform(size=X.shape) < missing] = -1
    w = rng.uniform(0.5, 2.0, size=n)
    near = [0.7 * q + 0.3 * rng.dirichlet(np.ones(q.shape[1]), size=K) for q in item_probs]
    return X.astype(np.int32), Z, w, list(R), np.concatenate(near, axis=1)


def chunks(n, cuts):
    bounds = [0, *cuts, n]
    return [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:])]


def drive_regression(model, X, Z, w, n_iter, cuts):
    """EM by the chunked protocol; returns the objective history and the step sizes taken."""
    parts = chunks(X.shape[0], cuts)
    history, steps, passes = [], [], []
    for it in range(n_iter + 1):
        stats = model.e_step(X[parts[0]], Z[parts[0]], w[parts[0]])
        for s in parts[1:]:
            stats = stats + model.e_step(X[s], Z[s], w[s])
        history.append(stats.loglik + model.log_prior())
        if it == n_iter:
            break
        before = model.coef
        model.m_step(stats)
        direction = model.pending_step
        n_passes = 0
        while model.pending_pass:
            search = model.line_search(Z[parts[0]], w[parts[0]])
            for s in parts[1:]:
                search = search + model.line_search(Z[s], w[s])
            model.m_step(search)
            n_passes += 1
        passes.append(n_passes)
        if direction is not None and np.abs(model.coef - before).max() > 0:
            moved = model.coef - before
            steps.append(float(moved[np.unravel_index(np.abs(direction).argmax(), moved.shape)] /
                               direction[np.unravel_index(np.abs(direction).argmax(), moved.shape)]))
    return np.array(history), np.array(steps), np.array(passes)


REGRESSION_CASES = [
    pytest.param(dict(seed=0, scale=1.0, coef_start=0.0, per_pass=8), id="from-zero"),
    # A covariate on the scale of 10 and a start far out: full Newton steps overshoot (t = 1/2 is
    # taken); one trial step per pass makes that a second pass. (A start deeper in the saturated
    # region, where the information is nearly singular, makes EM itself so sensitive that the order
    # of the sums alone moves the 25th iterate by ~1e-11.)
    pytest.param(dict(seed=1, scale=10.0, coef_start=3.0, per_pass=1), id="halving"),
]


@pytest.mark.parametrize("case", REGRESSION_CASES)
@pytest.mark.parametrize("split", list(SPLITS))
def test_chunked_regression_equals_fit(case, split):
    X, Z, w, R, probs0 = regression_data(seed=case["seed"], scale=case["scale"])
    K, n_iter = 3, 25
    coef0 = np.zeros((Z.shape[1], K))
    coef0[:, 1:] = case["coef_start"] * np.array([[1.0, -1.0]])
    coef0[2] /= case["scale"]
    fitted = _core.LatentClassRegressionModel(coef0, probs0, R)
    record = fitted.fit(X, Z, w, n_iter, 0.0, 2)
    driven = _core.LatentClassRegressionModel(coef0, probs0, R)
    driven.trial_steps_per_pass = case["per_pass"]  # the fit's is 8: the steps taken do not depend on it
    history, steps, passes = drive_regression(driven, X, Z, w, n_iter, SPLITS[split])
    assert record["n_iter"] == n_iter
    assert rel_err(history, record["history"]) < RTOL
    assert rel_err(driven.coef, fitted.coef) < RTOL
    assert rel_err(driven.probs, fitted.probs) < RTOL
    assert np.all(np.diff(history) >= -1e-10 * np.abs(history[:-1]))
    if case["scale"] > 1:
        # moved / delta carries rounding, so a halved step is one at most 1/2 (up to it).
        assert (steps <= 0.5 + 1e-9).any() and (passes > 1).any()
    else:
        assert np.all(passes == 1)


def test_a_line_search_pass_tries_eight_halvings():
    X, Z, w, R, probs0 = regression_data()
    coef0 = np.zeros((3, 3))
    coef0[:, 1:] = [[8.0, -8.0]] * 3
    model = _core.LatentClassRegressionModel(coef0, probs0, R)
    assert not model.pending_pass and model.pending_step is None and model.trial_steps.size == 0
    model.m_step(model.e_step(X, Z, w))
    assert model.pending_pass
    np.testing.assert_array_equal(model.trial_steps, 2.0 ** -np.arange(8))
    search = model.line_search(Z, w)
    assert search.first_halving == 0
    np.testing.assert_array_equal(search.step_sizes, model.trial_steps)
    assert search.log_partition_change.shape == (8,)


def test_regression_statistics_pickle():
    X, Z, w, R, probs0 = regression_data()
    coef0 = np.zeros((3, 3))
    a = _core.LatentClassRegressionModel(coef0, probs0, R)
    b = _core.LatentClassRegressionModel(coef0, probs0, R)
    stats = a.e_step(X, Z, w)
    again = pickle.loads(pickle.dumps(stats))
    for name in ("resp_sum", "counts", "gradient", "information", "resp_covariates"):
        np.testing.assert_array_equal(getattr(again, name), getattr(stats, name))
    assert (again.loglik, again.total_weight, again.parameters) == (stats.loglik, stats.total_weight, stats.parameters)
    a.m_step(stats)
    b.m_step(again)
    search = a.line_search(Z, w)
    search_again = pickle.loads(pickle.dumps(search))
    np.testing.assert_array_equal(search_again.log_partition_change, search.log_partition_change)
    a.m_step(search)
    b.m_step(search_again)
    np.testing.assert_array_equal(a.coef, b.coef)
    np.testing.assert_array_equal(a.probs, b.probs)


def test_mismatched_regression_statistics_are_refused():
    X, Z, w, R, probs0 = regression_data()
    model = _core.LatentClassRegressionModel(np.zeros((3, 3)), probs0, R)
    moved = np.zeros((3, 3))
    moved[0, 1] = 0.1
    other = _core.LatentClassRegressionModel(moved, probs0, R)
    two = _core.LatentClassRegressionModel(np.zeros((3, 2)), probs0[:2], R)
    stats = model.e_step(X, Z, w)
    with pytest.raises(ValueError, match="different parameters"):
        stats + other.e_step(X, Z, w)
    with pytest.raises(ValueError, match="different shapes"):
        stats + two.e_step(X, Z, w)
    with pytest.raises(ValueError, match="other parameters"):
        model.m_step(other.e_step(X, Z, w))
    with pytest.raises(ValueError, match="shapes"):
        two.m_step(stats)
    with pytest.raises(ValueError, match="no line search is pending"):
        model.line_search(Z, w)
    model.m_step(stats)
    other.m_step(other.e_step(X, Z, w))
    with pytest.raises(ValueError, match="line search is pending"):
        model.e_step(X, Z, w)
    with pytest.raises(ValueError, match="line search is pending"):
        model.m_step(stats)
    with pytest.raises(ValueError, match="another step"):
        model.m_step(other.line_search(Z, w))
    with pytest.raises(ValueError, match="different steps"):
        model.line_search(Z, w) + other.line_search(Z, w)
    with pytest.raises(ValueError, match="covariates"):
        model.line_search(Z[:, :2], w)
    with pytest.raises(ValueError, match="sample_weight"):
        model.line_search(Z, w[:-1])


# ---------------------------------------------------------------------------------- contingency table
def table_data(n=500, seed=0):
    rng = np.random.default_rng(seed)
    X = np.stack([rng.integers(0, 3, n), rng.integers(0, 2, n), rng.integers(0, 4, n)], axis=1)
    X[rng.uniform(size=X.shape) < 0.3] = -1
    X[(X < 0).all(axis=1), 0] = 0
    return X.astype(np.int32), rng.uniform(0.5, 2.0, size=n), [3, 2, 4]


def drive_table(model, X, w, n_iter, cuts):
    parts = chunks(X.shape[0], cuts)
    history = []
    for it in range(n_iter + 1):
        stats = model.e_step(X[parts[0]], w[parts[0]])
        for s in parts[1:]:
            stats = stats + model.e_step(X[s], w[s])
        history.append(stats.loglik + model.log_prior())
        if it == n_iter:
            break
        assert model.m_step(stats) == []
    return np.array(history)


@pytest.mark.parametrize("split", list(SPLITS))
def test_chunked_table_equals_fit(split):
    X, w, R = table_data()
    start = np.full(24, 1.0 / 24)
    fitted = _core.ContingencyTableModel(R, start)
    record = fitted.fit(X, w, 20, 0.0, 2)
    driven = _core.ContingencyTableModel(R, start)
    history = drive_table(driven, X, w, 20, SPLITS[split])
    assert rel_err(history, record["history"]) < RTOL
    assert rel_err(driven.probs, fitted.probs) < RTOL


def test_table_statistics_pickle_and_refuse_other_shapes():
    X, w, R = table_data()
    model = _core.ContingencyTableModel(R, np.full(24, 1.0 / 24))
    stats = model.e_step(X, w)
    again = pickle.loads(pickle.dumps(stats))
    np.testing.assert_array_equal(again.counts, stats.counts)
    assert (again.loglik, again.total_weight) == (stats.loglik, stats.total_weight)
    smaller = _core.ContingencyTableModel([3, 2, 3], np.full(18, 1.0 / 18))
    other = smaller.e_step(np.where(X[:, :3] > 2, 2, X[:, :3]).astype(np.int32), w)
    with pytest.raises(ValueError, match="different shapes"):
        stats + other
    with pytest.raises(ValueError, match="24 cells"):
        model.m_step(other)
    with pytest.raises(ValueError, match="sample_weight"):
        model.e_step(X, w[:-1])
    with pytest.raises(ValueError, match="variables"):
        model.e_step(X[:, :2], w)


def test_table_score_log_prior_and_parameters():
    X, w, R = table_data()
    model = _core.ContingencyTableModel(R, np.random.default_rng(1).dirichlet(np.ones(24)))
    probs = model.probs.reshape(R)
    expected = [np.log(probs[tuple(slice(None) if c < 0 else c for c in row)].sum()) for row in X]
    np.testing.assert_allclose(model.score(X), expected, rtol=1e-13)
    assert model.score(X) @ w == pytest.approx(model.e_step(X, w).loglik, rel=1e-13)
    assert model.log_prior() == 0.0
    assert model.n_parameters == 23
