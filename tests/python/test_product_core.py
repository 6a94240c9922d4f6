"""Composable emissions at the core level (emkit._core): the Poisson mixture, latent class models
with a Gaussian block of any covariance type beside categorical, normal and Poisson items, and
the Poisson HMM, against the plain numpy references (reference.lca, reference.product), after
each of 20 iterations; their statistics add up, pickle and refuse other parameters or shapes."""

import pickle

import numpy as np
import pytest
from reference import lca as ref_lca
from reference import product as ref

from emkit import _core

RTOL = 1e-9
K = 2
COV_TYPES = ("full", "tied", "diag", "spherical")


def assert_close(got, want, rtol=RTOL):
    np.testing.assert_allclose(np.asarray(got, float), np.asarray(want, float), rtol=rtol, atol=0)


def assert_same_sums(got, want, rtol=1e-12):
    """Sums in another order: relative to the array's scale (an entry near 0 cancels)."""
    want = np.asarray(want, float)
    np.testing.assert_allclose(np.asarray(got, float), want, rtol=rtol, atol=rtol * np.abs(want).max(initial=0.0))


# ---------------------------------------------------------------------------------------------
# Data and starting values
# ---------------------------------------------------------------------------------------------
def count_data(n=400, q=3, seed=0, missing=0.1):
    rng = np.random.default_rng(seed)
    state = rng.integers(0, K, n)
    X = rng.poisson(np.array([[1.0, 4.0, 0.5], [5.0, 1.0, 2.0]])[state][:, :q]).astype(float)
    X[rng.uniform(size=X.shape) < missing] = np.nan
    return X


def mixed_data(kinds, b=3, n=300, seed=0, missing=0.15):
    """Item columns (kinds, in the core's order: categorical, gaussian, poisson) then a block of b
    correlated normal columns; entries missing at random and the block entirely missing in some rows."""
    rng = np.random.default_rng(seed)
    state = rng.integers(0, K, n)
    columns = []
    for j, kind in enumerate(kinds):
        if kind == "categorical":
            p = np.array([[0.6, 0.3, 0.1], [0.1, 0.3, 0.6]]) if j % 2 == 0 else np.array([[0.7, 0.3, 0.0], [0.2, 0.8, 0.0]])
            columns.append([rng.choice(3, p=p[s]) for s in state])
        elif kind == "gaussian":
            columns.append(rng.normal(2.5 * state + j, 1.0 + 0.5 * state))
        else:
            columns.append(rng.poisson(1.0 + 3.0 * state))
    L = np.tril(np.full((b, b), 0.4)) + np.eye(b)
    block = 1.5 * state[:, None] + rng.normal(size=(n, b)) @ L.T
    X = np.c_[np.array(columns).T.reshape(n, len(kinds)), block].astype(float)
    X[rng.uniform(size=X.shape) < missing] = np.nan
    X[rng.uniform(size=n) < 0.05, len(kinds):] = np.nan
    return X


def item_start(kinds):
    items = []
    for j, kind in enumerate(kinds):
        if kind == "categorical":
            items.append(np.array([[0.4, 0.35, 0.25], [0.2, 0.3, 0.5]]) if j % 2 == 0 else np.array([[0.5, 0.5], [0.4, 0.6]]))
        elif kind == "gaussian":
            items.append(np.array([[0.5 + j, 1.5], [2.0 + j, 2.0]]))
        else:
            items.append(np.array([2.0, 3.0]))
    return items


def block_start(covariance_type, b=3):
    means = np.array([[0.2] * b, [1.0] * b]) + 0.1 * np.arange(b)
    full = np.array([np.eye(b) * 1.5 + 0.3, np.eye(b) * 2.0 + 0.2])
    covariances = {"full": full, "tied": full[0], "diag": np.array([[1.5] * b, [2.0] * b]),
                   "spherical": np.array([1.5, 2.0])}[covariance_type]
    return means, covariances, covariance_type


def item_arrays(items, kinds):
    """The core's arrays (probs, n_categories, means, variances, rates) of reference items."""
    cat = [p for p, k in zip(items, kinds) if k == "categorical"]
    gau = [p for p, k in zip(items, kinds) if k == "gaussian"]
    poi = [p for p, k in zip(items, kinds) if k == "poisson"]
    probs = np.concatenate(cat, axis=1) if cat else None
    means = np.array([p[:, 0] for p in gau]).T.reshape(K, len(gau))
    variances = np.array([p[:, 1] for p in gau]).T.reshape(K, len(gau))
    rates = np.array(poi).T.reshape(K, len(poi))
    return probs, [p.shape[1] for p in cat], means, variances, rates


def block_kwargs(block):
    if block is None:
        return {}
    return dict(block_means=block[0], block_covariances=block[1], block_covariance_type=block[2])


def lca_model(weights, items, kinds, block, reg_covar=1e-6):
    probs, R, means, variances, rates = item_arrays(items, kinds)
    return _core.MixedLatentClassModel(weights, probs, R, means, variances, rates, None, 1.0, False, reg_covar,
                                       **block_kwargs(block))


def assert_lca_matches(model, step, kinds):
    probs, _, means, variances, rates = item_arrays(step["items"], kinds)
    assert_close(model.weights, step["weights"])
    if probs is not None:
        assert_close(model.probs, probs)
    assert_close(model.means, means)
    assert_close(model.variances, variances)
    assert_close(model.rates, rates)
    if step["block"] is not None:
        assert_close(model.block_means, step["block"][0])
        assert_close(model.block_covariances, step["block"][1])


# ---------------------------------------------------------------------------------------------
# (a) Poisson mixture
# ---------------------------------------------------------------------------------------------
def poisson_start():
    return np.array([0.45, 0.55]), np.array([[2.0, 2.0, 1.0], [3.0, 1.5, 1.5]])


@pytest.mark.parametrize("weighted", [False, True])
def test_poisson_mixture_matches_reference_after_each_of_twenty_iterations(weighted):
    X = count_data()
    w = np.random.default_rng(1).uniform(0.3, 2.0, len(X)) if weighted else None
    weights, rates = poisson_start()
    expected = ref_lca.fit(X, weights, list(rates.T), ["poisson"] * 3, 20, sample_weight=w)
    model = _core.PoissonMixtureModel(weights, rates)
    sw = np.empty(0) if w is None else w
    for t in range(20):
        stats = model.e_step(X, sw)
        assert_close(stats.loglik, expected["history"][t])
        model.m_step(stats)
        step = expected["steps"][t + 1]
        assert_close(model.weights, step["weights"])
        assert_close(model.rates, np.array(step["params"]).T)
    fitted = _core.PoissonMixtureModel(weights, rates)
    record = fitted.fit(X, sw, 20, 0.0)
    assert_close(record["history"], expected["history"])
    assert_close(fitted.rates, model.rates, rtol=1e-12)
    assert fitted.n_parameters == 1 + 6
    assert fitted.log_prior() == 0.0


def test_poisson_mixture_posterior_sample_and_bad_counts():
    X = count_data(n=50)
    weights, rates = poisson_start()
    model = _core.PoissonMixtureModel(weights, rates)
    log_resp, log_prob = model.posterior(X)
    h, rows = ref_lca.posterior(X, weights, list(rates.T), ["poisson"] * 3)
    assert_close(np.exp(log_resp), h)
    assert_close(log_prob, rows)
    draws, states = model.sample(200, 7)
    assert draws.shape == (200, 3) and states.shape == (200,)
    assert np.all(draws == np.round(draws)) and np.all(draws >= 0)
    with pytest.raises(ValueError, match="not a nonnegative integer"):
        model.e_step(np.array([[1.0, 2.5, 0.0]]), np.empty(0))
    with pytest.raises(ValueError, match="expected 3 columns"):
        model.e_step(X[:, :2], np.empty(0))


# ---------------------------------------------------------------------------------------------
# (b) latent class models with a Gaussian block
# ---------------------------------------------------------------------------------------------
CASES = [
    ("full", ["categorical", "categorical"]),
    ("diag", ["categorical", "gaussian", "poisson"]),
    ("tied", ["categorical", "gaussian", "gaussian", "poisson"]),
    ("spherical", ["categorical", "poisson"]),
    ("full", ["gaussian", "poisson"]),
]


@pytest.mark.parametrize("covariance_type,kinds", CASES)
def test_latent_class_with_a_block_matches_reference_after_each_of_twenty_iterations(covariance_type, kinds):
    X = mixed_data(kinds, seed=len(kinds))
    w = np.random.default_rng(2).uniform(0.3, 2.0, len(X))
    weights, items, block = np.array([0.45, 0.55]), item_start(kinds), block_start(covariance_type)
    expected = ref.fit(X, weights, items, kinds, block, 20, sample_weight=w)
    model = lca_model(weights, items, kinds, block)
    for t in range(20):
        stats = model.e_step(X, w)
        assert_close(stats.loglik, expected["history"][t])
        model.m_step(stats)
        assert_lca_matches(model, expected["steps"][t + 1], kinds)
    fitted = lca_model(weights, items, kinds, block)
    assert_close(fitted.fit(X, w, 20, 0.0)["history"], expected["history"])
    b = 3
    block_parameters = {"full": K * b * (b + 1) // 2, "tied": b * (b + 1) // 2, "diag": K * b, "spherical": K}
    assert fitted.n_parameters == ref_lca.n_parameters(
        [p.shape[1] if k == "categorical" else 0 for p, k in zip(items, kinds)], K, measurement=kinds
    ) + K * b + block_parameters[covariance_type]


def test_block_properties_layouts_and_errors():
    kinds = ["categorical", "gaussian"]
    items = item_start(kinds)
    probs, R, means, variances, rates = item_arrays(items, kinds)
    for covariance_type in COV_TYPES:
        block = block_start(covariance_type)
        model = lca_model(np.array([0.5, 0.5]), items, kinds, block)
        assert model.block_covariance_type == covariance_type
        assert model.block_covariances.shape == np.shape(block[1])
        assert_close(model.block_means, block[0], rtol=0)
        assert model.n_columns == 1 + 1 + 3
    plain = lca_model(np.array([0.5, 0.5]), items, kinds, None)
    assert plain.block_means is None and plain.block_covariance_type is None
    assert plain.rates.shape == (K, 0)
    with pytest.raises(ValueError, match="block_covariances: given without block_means"):
        _core.MixedLatentClassModel([0.5, 0.5], probs, R, means, variances, rates, block_covariances=np.ones(2))
    with pytest.raises(ValueError, match="block_covariances: expected"):
        _core.MixedLatentClassModel([0.5, 0.5], probs, R, means, variances, rates, block_means=np.zeros((K, 3)),
                                    block_covariances=np.ones((K, 2)), block_covariance_type="diag")
    with pytest.raises(ValueError, match="expected 5 columns"):
        lca_model(np.array([0.5, 0.5]), items, kinds, block_start("full")).e_step(np.zeros((3, 4)), np.empty(0))


def test_product_hmm_with_a_block_matches_reference():
    kinds = ["categorical", "poisson"]
    X = mixed_data(kinds, seed=5, n=200)
    lengths = np.array([60, 90, 50])
    w = np.array([1.0, 2.0, 0.5])
    startprob, transmat = np.array([0.6, 0.4]), np.array([[0.8, 0.2], [0.3, 0.7]])
    items, block = item_start(kinds), block_start("full")
    expected = ref.hmm_fit(X, lengths, (startprob, transmat, items, block), kinds, 20, sample_weight=w)
    probs, R, means, variances, rates = item_arrays(items, kinds)
    model = _core.ProductHMMModel(startprob, transmat, probs, R, means, variances, rates, **block_kwargs(block))
    record = model.fit(X, lengths, w, 20, 0.0)
    assert_close(record["history"], expected["history"])
    final = expected["params"][-1]
    assert_close(model.transmat, final[1])
    assert_close(model.block_means, final[3][0])
    assert_close(model.block_covariances, final[3][1])
    assert_close(model.rates, item_arrays(final[2], kinds)[4])
    draws, states = model.sample(30, 3)
    assert draws.shape == (30, 1 + 1 + 3) and set(np.unique(draws[:, 0])) <= {0.0, 1.0, 2.0}


def test_product_hmm_holds_block_groups_fixed():
    kinds = ["categorical"]
    X = mixed_data(kinds, seed=6, n=120)
    items, block = item_start(kinds), block_start("diag")
    probs, R, means, variances, rates = item_arrays(items, kinds)
    model = _core.ProductHMMModel([0.5, 0.5], [[0.9, 0.1], [0.1, 0.9]], probs, R, means, variances, rates,
                                  fixed=["block_means"], **block_kwargs(block))
    model.fit(X, np.array([120]), np.empty(0), 5, 0.0)
    np.testing.assert_array_equal(model.block_means, block[0])
    assert not np.array_equal(model.block_covariances, block[1])
    assert model.n_parameters == 1 + 2 + K * 2 + K * 3
    with pytest.raises(ValueError, match="unknown parameter group 'block'"):
        _core.ProductHMMModel([0.5, 0.5], [[0.9, 0.1], [0.1, 0.9]], probs, R, means, variances, rates,
                              fixed=["block"], **block_kwargs(block))


# ---------------------------------------------------------------------------------------------
# (c) the Poisson HMM is the product HMM with Poisson items only
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fixed", [[], ["rates"], ["transmat"]])
def test_poisson_hmm_equals_product_hmm_with_poisson_items_only(fixed):
    X = count_data(n=300, seed=4)
    lengths, w = np.array([100, 120, 80]), np.array([1.0, 0.5, 2.0])
    startprob, transmat = np.array([0.7, 0.3]), np.array([[0.85, 0.15], [0.25, 0.75]])
    rates = poisson_start()[1]
    poisson = _core.PoissonHMMModel(startprob, transmat, rates, fixed=fixed)
    product = _core.ProductHMMModel(startprob, transmat, None, [], np.zeros((K, 0)), np.zeros((K, 0)), rates,
                                    fixed=fixed)
    a = poisson.fit(X, lengths, w, 20, 0.0)
    b = product.fit(X, lengths, w, 20, 0.0)
    assert_close(a["history"], b["history"], rtol=1e-12)
    assert_close(poisson.rates, product.rates, rtol=1e-12)
    assert_close(poisson.transmat, product.transmat, rtol=1e-12)
    assert poisson.n_parameters == product.n_parameters
    assert_close(poisson.score(X, lengths), product.score(X, lengths), rtol=1e-12)
    np.testing.assert_array_equal(poisson.viterbi(X, lengths)[1], product.viterbi(X, lengths)[1])
    assert poisson.sample(20, 1)[0].shape == (20, 3)


# ---------------------------------------------------------------------------------------------
# (d) statistics: additive over row chunks, picklable, refusing other parameters and shapes
# ---------------------------------------------------------------------------------------------
def lca_with_block():
    kinds = ["categorical", "gaussian", "poisson"]
    X = mixed_data(kinds, seed=8)
    return X, lambda: lca_model(np.array([0.45, 0.55]), item_start(kinds), kinds, block_start("full"))


def poisson_mixture():
    return count_data(seed=9), lambda: _core.PoissonMixtureModel(*poisson_start())


def parameters_of(model):
    names = ["weights", "rates", "probs", "means", "variances", "block_means", "block_covariances", "transmat"]
    return {n: getattr(model, n) for n in names if getattr(model, n, None) is not None}


def assert_same_m_step(make, stats, expected_stats, rtol=1e-12):
    """The M-steps of two fresh models on stats and expected_stats agree; returns the first model."""
    a, b = make(), make()
    a.m_step(stats)
    b.m_step(expected_stats)
    for name, value in parameters_of(a).items():
        assert_same_sums(value, parameters_of(b)[name], rtol)
    return a


@pytest.mark.parametrize("setup", [lca_with_block, poisson_mixture])
def test_mixture_statistics_of_two_chunks_add_up_and_pickle(setup):
    X, make = setup()
    model = make()
    none = np.empty(0)
    whole = model.e_step(X, none)
    total = pickle.loads(pickle.dumps(model.e_step(X[:170], none))) + model.e_step(X[170:], none)
    assert total.loglik == pytest.approx(whole.loglik, rel=1e-12)
    assert_same_sums(total.resp_sum, whole.resp_sum)
    assert_same_m_step(make, total, whole)
    # The round trip is exact: the same M-step.
    assert_same_m_step(make, pickle.loads(pickle.dumps(whole)), whole, rtol=0.0)


@pytest.mark.parametrize("setup", [lca_with_block, poisson_mixture])
def test_mixture_statistics_refuse_other_parameters_and_shapes(setup):
    X, make = setup()
    model, none = make(), np.empty(0)
    stale = model.e_step(X, none)
    model.m_step(stale)
    fresh = model.e_step(X, none)
    with pytest.raises(ValueError, match="different parameters"):
        stale + fresh
    with pytest.raises(ValueError, match="other parameters"):
        model.m_step(stale)
    other = _core.PoissonMixtureModel([0.5, 0.5], np.ones((K, 2))) if X.shape[1] == 3 else None
    if other is not None:
        with pytest.raises(ValueError, match="different shapes"):
            fresh + other.e_step(X[:, :2], none)


@pytest.mark.parametrize("family", ["poisson", "product"])
def test_hmm_statistics_add_up_pickle_and_refuse_other_parameters(family):
    X = count_data(n=200, seed=10) if family == "poisson" else mixed_data(["categorical"], seed=10, n=200)
    lengths = np.array([70, 50, 80])

    def make():
        if family == "poisson":
            return _core.PoissonHMMModel([0.5, 0.5], [[0.8, 0.2], [0.2, 0.8]], poisson_start()[1])
        probs, R, means, variances, rates = item_arrays(item_start(["categorical"]), ["categorical"])
        return _core.ProductHMMModel([0.5, 0.5], [[0.8, 0.2], [0.2, 0.8]], probs, R, means, variances, rates,
                                     **block_kwargs(block_start("tied")))

    model, none = make(), np.empty(0)
    whole = model.e_step(X, lengths, none)
    parts = [model.e_step(X[:70], [70], none), model.e_step(X[70:120], [50], none), model.e_step(X[120:], [80], none)]
    total = sum((pickle.loads(pickle.dumps(p)) for p in parts[1:]), parts[0])
    assert total.loglik == pytest.approx(whole.loglik, rel=1e-12)
    assert_same_sums(total.transition_counts, whole.transition_counts)
    a = assert_same_m_step(make, total, whole)
    with pytest.raises(ValueError, match="different parameters"):
        whole + a.e_step(X, lengths, none)
    with pytest.raises(ValueError, match="other parameters"):
        a.m_step(whole)
