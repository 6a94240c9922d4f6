"""Mixed indicators (the Product family): categorical, continuous and count columns under
local independence, missing values integrated out in every family."""

import numpy as np
import pytest
from reference import lca as ref

import emkit
from emkit import _core

RTOL = 1e-9
MEASUREMENT = ["categorical", "gaussian", "poisson", "categorical", "gaussian"]


def mixed_data(n=300, seed=0, missing=0.15):
    rng = np.random.default_rng(seed)
    cls = rng.integers(0, 2, n)
    X = np.c_[
        np.where(cls == 0, rng.choice(3, n, p=[0.6, 0.3, 0.1]), rng.choice(3, n, p=[0.1, 0.3, 0.6])),
        rng.normal(cls * 2.5, 1.0 + 0.5 * cls),
        rng.poisson(1.0 + 3.0 * cls),
        np.where(cls == 0, rng.choice(2, n, p=[0.7, 0.3]), rng.choice(2, n, p=[0.2, 0.8])),
        rng.normal(10 - cls, 2.0),
    ].astype(float)
    if missing:
        X[rng.uniform(size=X.shape) < missing] = np.nan
    return X


def reference_params():
    return [np.array([[0.5, 0.3, 0.2], [0.2, 0.3, 0.5]]), np.array([[0.5, 2.0], [2.0, 2.0]]),
            np.array([2.0, 3.0]), np.array([[0.6, 0.4], [0.3, 0.7]]), np.array([[9.0, 4.0], [10.5, 4.0]])]


def core_model(weights, params, prior=None):
    probs = np.concatenate([params[0], params[3]], axis=1)
    means = np.c_[params[1][:, 0], params[4][:, 0]]
    variances = np.c_[params[1][:, 1], params[4][:, 1]]
    rates = params[2][:, None]
    return _core.MixedLatentClassModel(
        weights, probs, [3, 2], means, variances, rates,
        None if prior is None else prior["item_concentration"],
        1.0 if prior is None else prior["weight_concentration"], False, 1e-6)


def ordered(X):
    """emkit's column order: categorical, then continuous, then counts."""
    return np.ascontiguousarray(X[:, [0, 3, 1, 4, 2]])


@pytest.mark.parametrize("prior", [None, {"weight_concentration": 2.0, "item_concentration": 1.5}])
@pytest.mark.parametrize("weighted", [False, True])
def test_core_matches_reference_for_twenty_iterations(prior, weighted):
    X = mixed_data()
    w = np.random.default_rng(1).uniform(0.3, 2.0, len(X)) if weighted else None
    weights0, params0 = np.array([0.4, 0.6]), reference_params()
    expected = ref.fit(X, weights0, params0, MEASUREMENT, 20, sample_weight=w, prior=prior)
    model = core_model(weights0, params0, prior)
    record = model.fit(ordered(X), np.empty(0) if w is None else w, 20, 0.0)
    np.testing.assert_allclose(record["history"], expected["history"], rtol=RTOL)
    np.testing.assert_allclose(model.weights, expected["weights"], rtol=RTOL)
    got = expected["params"]
    np.testing.assert_allclose(model.probs, np.concatenate([got[0], got[3]], axis=1), rtol=RTOL)
    np.testing.assert_allclose(model.means, np.c_[got[1][:, 0], got[4][:, 0]], rtol=RTOL)
    np.testing.assert_allclose(model.variances, np.c_[got[1][:, 1], got[4][:, 1]], rtol=RTOL)
    np.testing.assert_allclose(model.rates[:, 0], got[2], rtol=RTOL)


def test_estimator_recovers_the_classes_and_keeps_column_roles():
    X = mixed_data(n=2000, seed=3, missing=0.1)
    m = emkit.LatentClass(2, emission=MEASUREMENT, n_init=5, random_state=0, sort_classes=None).fit(X)
    order = np.argsort(m.means_[:, 0])
    np.testing.assert_allclose(m.means_[order, 0], [0.0, 2.5], atol=0.2)
    np.testing.assert_allclose(m.rates_[order, 0], [1.0, 4.0], atol=0.3)
    assert m.emission_ == MEASUREMENT
    assert np.all(np.diff(m.history_) >= -1e-9 * np.abs(m.history_[:-1]))
    assert m.n_parameters_ == 1 + 2 * (2 + 1) + 2 * 2 * 2 + 2
    assert m.g_squared_ is None
    assert "column 1: mean (se)" in m.summary()
    proba = m.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


def test_dict_measurement_with_dataframe():
    pd = pytest.importorskip("pandas", reason="pandas is part of the test extra")
    X = mixed_data(n=400, seed=4)
    df = pd.DataFrame(X, columns=["colour", "height", "visits", "smoker", "score"])
    df["colour"] = df["colour"].map({0.0: "red", 1.0: "green", 2.0: "blue"})
    spec = {"height": "gaussian", "visits": "poisson", "score": "gaussian"}
    m = emkit.LatentClass(2, emission=spec, random_state=0, n_init=2).fit(df)
    assert list(m.probs_[0].columns) == ["blue", "green", "red"]
    assert m.means_.shape == (2, 2) and m.rates_.shape == (2, 1)
    assert np.isfinite(m.score_samples(df)).all()


def test_all_continuous_is_a_diagonal_gaussian_mixture_with_fiml():
    X = mixed_data(n=300, seed=5)[:, [1, 4]]
    m = emkit.LatentClass(2, emission="gaussian", n_init=3, random_state=0).fit(X)
    assert m.probs_ == [] and m.means_.shape == (2, 2)


@pytest.mark.parametrize(
    "measurement, X, exc, match",
    [
        (["categorical", "gamma"], np.zeros((3, 2)), ValueError, r"emission\[1\]: expected one of"),
        (["categorical"], np.zeros((3, 2)), ValueError, "emission: expected 2 entries"),
        ({"nope": "gaussian"}, np.zeros((3, 2)), ValueError, "emission: column 'nope' is not in X"),
        (["categorical", "poisson"], np.array([[0, 1.5], [1, 2], [0, 1]]), ValueError,
         "poisson columns must hold nonnegative integer counts"),
        (["categorical", "gaussian"], np.array([[0, np.nan], [1, np.nan], [0, np.nan]]), ValueError,
         "is entirely missing"),
    ],
)
def test_bad_measurement(measurement, X, exc, match):
    with pytest.raises(exc, match=match):
        emkit.LatentClass(2, emission=measurement).fit(X)
