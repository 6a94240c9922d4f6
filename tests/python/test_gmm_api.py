"""The scikit-learn estimator surface of emkit.GaussianMixture."""

import pickle
import warnings

import numpy as np
import pytest
from conftest import make_blobs

import emkit


@pytest.fixture(scope="module")
def data():
    X, labels = make_blobs(n=300, d=3, K=3, seed=2, spread=8.0)
    return X, labels


@pytest.fixture(scope="module")
def fitted(data):
    return emkit.GaussianMixture(3, random_state=0, n_init=2).fit(data[0])


def test_fit_returns_self_and_sets_attributes(data):
    gm = emkit.GaussianMixture(3, random_state=0)
    assert gm.fit(data[0]) is gm
    assert gm.weights_.shape == (3,) and gm.means_.shape == (3, 3) and gm.covariances_.shape == (3, 3, 3)
    assert isinstance(gm.loglik_, float) and isinstance(gm.converged_, bool) and isinstance(gm.n_iter_, int)
    assert gm.history_.shape == (gm.n_iter_ + 1,)
    assert gm.loglik_ == pytest.approx(gm.score(data[0]) * 300, rel=1e-12)
    assert gm.n_features_in_ == 3


def test_recovers_the_generating_clusters(data, fitted):
    X, labels = data
    pred = fitted.predict(X)
    # The clustering equals the truth up to relabelling.
    table = np.zeros((3, 3), dtype=int)
    np.add.at(table, (labels, pred), 1)
    assert (table.max(axis=1) >= 0.97 * table.sum(axis=1)).all()


def test_fit_predict_equals_fit_then_predict(data):
    a = emkit.GaussianMixture(3, random_state=5).fit_predict(data[0])
    b = emkit.GaussianMixture(3, random_state=5).fit(data[0]).predict(data[0])
    np.testing.assert_array_equal(a, b)


def test_predict_proba_and_score_samples_are_consistent(data, fitted):
    X = data[0]
    proba = fitted.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(proba.argmax(axis=1), fitted.predict(X))
    assert fitted.score(X) == pytest.approx(fitted.score_samples(X).mean(), rel=1e-12)
    w = np.linspace(0.5, 2, X.shape[0])
    assert fitted.score(X, sample_weight=w) == pytest.approx(np.average(fitted.score_samples(X), weights=w))


def test_tol_zero_runs_exactly_max_iter(data):
    gm = emkit.GaussianMixture(3, random_state=0, tol=0.0, max_iter=17).fit(data[0])
    assert gm.n_iter_ == 17 and len(gm.history_) == 18 and not gm.converged_


def test_convergence_by_tol(data):
    gm = emkit.GaussianMixture(3, random_state=0, tol=1e-4, max_iter=500).fit(data[0])
    assert gm.converged_ and gm.n_iter_ < 500
    assert abs(gm.history_[-1] - gm.history_[-2]) / data[0].shape[0] < 1e-4


def test_not_converged_warns(data):
    with pytest.warns(emkit.ConvergenceWarning, match="did not converge in max_iter=1"):
        emkit.GaussianMixture(3, random_state=0, init_params="random", tol=1e-12, max_iter=1).fit(data[0])


def test_warm_start_continues_from_the_previous_solution(data):
    X = data[0]
    gm = emkit.GaussianMixture(3, random_state=0, tol=0.0, max_iter=3, warm_start=True, init_params="random")
    gm.fit(X)
    first = gm.history_.copy()
    gm.fit(X)
    assert gm.history_[0] == pytest.approx(first[-1], rel=1e-12)
    once = emkit.GaussianMixture(3, random_state=0, tol=0.0, max_iter=6, init_params="random").fit(X)
    np.testing.assert_allclose(gm.means_, once.means_, rtol=1e-10)


@pytest.mark.parametrize("init_params", ["kmeans++", "k-means++", "kmeans", "random", "random_from_data"])
def test_every_init_method_fits(data, init_params):
    gm = emkit.GaussianMixture(3, init_params=init_params, random_state=1, max_iter=300).fit(data[0])
    assert np.isfinite(gm.loglik_)


def test_partial_user_initialisation(data):
    X = data[0]
    means = X[[0, 100, 200]]
    gm = emkit.GaussianMixture(3, means_init=means, tol=0.0, max_iter=0).fit(X)
    np.testing.assert_array_equal(gm.means_, means)  # max_iter=0: the starting point itself
    assert gm.n_iter_ == 0 and len(gm.history_) == 1


def test_sample(fitted):
    X, y = fitted.sample(5000)
    assert X.shape == (5000, 3) and y.shape == (5000,)
    counts = np.bincount(y, minlength=3) / 5000
    np.testing.assert_allclose(counts, fitted.weights_, atol=0.03)
    for k in range(3):
        np.testing.assert_allclose(X[y == k].mean(axis=0), fitted.means_[k], atol=0.15)
    X2, _ = fitted.sample(5000)
    np.testing.assert_array_equal(X, X2)  # seeded by random_state


def test_get_set_params_roundtrip():
    gm = emkit.GaussianMixture(4, covariance_type="diag", tol=1e-5)
    params = gm.get_params()
    assert params["n_components"] == 4 and params["covariance_type"] == "diag"
    clone = emkit.GaussianMixture(**params)
    assert clone.get_params() == params
    assert gm.set_params(n_components=2) is gm and gm.n_components == 2
    assert "covariance_type='diag'" in repr(gm)


def test_strided_and_fortran_input_give_the_same_fit(data):
    X = data[0]
    wide = np.zeros((X.shape[0], 6))
    wide[:, ::2] = X
    strided = emkit.GaussianMixture(3, random_state=0).fit(wide[:, ::2])
    fortran = emkit.GaussianMixture(3, random_state=0).fit(np.asfortranarray(X))
    plain = emkit.GaussianMixture(3, random_state=0).fit(X)
    np.testing.assert_array_equal(strided.means_, plain.means_)
    np.testing.assert_array_equal(fortran.means_, plain.means_)


def test_integer_input_is_accepted():
    X = np.random.default_rng(0).integers(0, 50, size=(100, 2))
    gm = emkit.GaussianMixture(2, random_state=0).fit(X)
    assert np.isfinite(gm.loglik_)


def test_pandas_dataframe_input(data):
    pd = pytest.importorskip("pandas", reason="pandas is part of the test extra")
    X = data[0]
    df = pd.DataFrame(X, columns=["a", "b", "c"])
    df.iloc[3, 1] = None
    gm = emkit.GaussianMixture(3, random_state=0).fit(df)
    assert list(gm.feature_names_in_) == ["a", "b", "c"]
    Xn = X.copy()
    Xn[3, 1] = np.nan
    ref = emkit.GaussianMixture(3, random_state=0).fit(Xn)
    np.testing.assert_array_equal(gm.means_, ref.means_)
    np.testing.assert_array_equal(gm.predict(df), ref.predict(Xn))


def test_missing_values_in_predict(fitted, data):
    X = data[0][:10].copy()
    X[:, 1] = np.nan
    proba = fitted.predict_proba(X)
    assert np.isfinite(proba).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


def test_precisions_match_covariances(data):
    for cov_type in ("full", "tied", "diag", "spherical"):
        gm = emkit.GaussianMixture(2, covariance_type=cov_type, random_state=0).fit(data[0])
        if cov_type == "full":
            for k in range(2):
                np.testing.assert_allclose(gm.precisions_[k] @ gm.covariances_[k], np.eye(3), atol=1e-9)
        elif cov_type == "tied":
            np.testing.assert_allclose(gm.precisions_ @ gm.covariances_, np.eye(3), atol=1e-9)
        else:
            np.testing.assert_allclose(gm.precisions_ * gm.covariances_, 1.0)


def test_pickle_roundtrip(fitted, data):
    clone = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(clone.predict_proba(data[0]), fitted.predict_proba(data[0]))


def test_verbose_prints_progress(data, capsys):
    emkit.GaussianMixture(3, random_state=0, verbose=2, verbose_interval=1, max_iter=3, tol=0).fit(data[0])
    out = capsys.readouterr().out
    assert "run 0: objective" in out and "iteration 2" in out


def test_agrees_with_scikit_learn_when_installed(data):
    sklearn_mixture = pytest.importorskip(
        "sklearn.mixture", reason="scikit-learn is a benchmark extra, not a test dependency"
    )
    from sklearn.exceptions import ConvergenceWarning

    X = data[0]
    gm = emkit.GaussianMixture(3, random_state=0, tol=0.0, max_iter=30).fit(X)
    start = emkit.GaussianMixture(3, random_state=0, tol=0.0, max_iter=0).fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # tol=0 never "converges" in sklearn
        sk = sklearn_mixture.GaussianMixture(
            3, tol=0.0, max_iter=30, weights_init=start.weights_, means_init=start.means_,
            precisions_init=start.precisions_,
        ).fit(X)
    np.testing.assert_allclose(gm.means_, sk.means_, rtol=1e-8)
    np.testing.assert_allclose(gm.covariances_, sk.covariances_, rtol=1e-7)
