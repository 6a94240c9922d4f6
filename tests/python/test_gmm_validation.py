"""Every bad input is refused with a clear error naming the argument, before any work."""

import numpy as np
import pytest

import emkit

X_GOOD = np.random.default_rng(0).normal(size=(30, 2))


def fit(X=X_GOOD, sample_weight=None, **params):
    return emkit.GaussianMixture(**{"n_components": 2, **params}).fit(X, sample_weight=sample_weight)


@pytest.mark.parametrize(
    "X, exc, match",
    [
        (np.ones(5), ValueError, r"X: expected a 2-D array, got 1-D \(reshape"),
        (np.ones((2, 3, 4)), ValueError, "X: expected a 2-D array, got 3-D"),
        (np.empty((0, 3)), ValueError, "X: expected at least one row and one column"),
        (np.array([["a", "b"], ["c", "d"]]), TypeError, "X: expected an array of real numbers"),
        (np.array([[1, None], [2, 3]], dtype=object), TypeError, "X: expected an array of real numbers"),
        (np.ones((4, 2), dtype=complex), TypeError, "X: expected an array of real numbers"),
        (np.array([[1.0, np.inf], [0, 1], [2, 2]]), ValueError, r"X: expected finite values.*row 0"),
        (np.array([[1.0, 2], [np.nan, np.nan], [2, 2]]), ValueError, r"X: rows \[1\] are entirely missing"),
        ([[1.0, 2.0], [3.0]], TypeError, "X: expected a 2-D array of numbers"),
    ],
)
def test_bad_X(X, exc, match):
    with pytest.raises(exc, match=match):
        fit(X)


@pytest.mark.parametrize(
    "w, exc, match",
    [
        (np.ones(29), ValueError, r"sample_weight: expected one weight per row \(a 1-D array of 30 values\), got shape \(29,\)"),
        (np.ones((30, 1)), ValueError, r"sample_weight: expected one weight per row \(a 1-D array of 30 values\)"),
        (np.r_[np.ones(29), np.nan], ValueError, "sample_weight: expected finite values"),
        (np.r_[np.ones(29), np.inf], ValueError, "sample_weight: expected finite values"),
        (np.r_[np.ones(29), -1.0], ValueError, r"sample_weight: expected values >= 0"),
        (np.zeros(30), ValueError, "sample_weight: expected a positive total weight"),
        (np.array(["a"] * 30), TypeError, "sample_weight: expected real numbers"),
    ],
)
def test_bad_sample_weight(w, exc, match):
    with pytest.raises(exc, match=match):
        fit(sample_weight=w)


@pytest.mark.parametrize(
    "params, exc, match",
    [
        ({"n_components": 0}, ValueError, "n_components: expected an integer >= 1, got 0"),
        ({"n_components": 2.5}, TypeError, "n_components: expected an integer"),
        ({"covariance_type": "ful"}, ValueError, "covariance_type: expected one of 'full', 'tied'"),
        ({"tol": -1.0}, ValueError, "tol: expected a number >= 0"),
        ({"tol": np.nan}, ValueError, "tol: expected a finite number"),
        ({"reg_covar": -1e-6}, ValueError, "reg_covar: expected a number >= 0"),
        ({"max_iter": -1}, ValueError, "max_iter: expected an integer >= 0"),
        ({"n_init": 0}, ValueError, "n_init: expected an integer >= 1"),
        ({"init_params": "kmeans+"}, ValueError, "init_params: expected one of"),
        ({"n_threads": 0}, ValueError, "n_threads: expected an integer >= 1"),
        ({"random_state": "seed"}, TypeError, "random_state: expected None, an int"),
        ({"random_state": -3}, ValueError, "random_state: expected an integer >= 0"),
        ({"warm_start": "yes"}, TypeError, "warm_start: expected a bool"),
        ({"weights_init": [0.2, 0.3]}, ValueError, "weights_init: expected nonnegative values summing to 1"),
        ({"weights_init": [1.0]}, ValueError, r"weights_init: expected shape \(2,\)"),
        ({"means_init": np.zeros((3, 2))}, ValueError, r"means_init: expected shape \(2, 2\), got \(3, 2\)"),
        ({"means_init": [[0, np.nan], [1, 1]]}, ValueError, "means_init: expected finite values"),
        ({"covariances_init": np.zeros((2, 2))}, ValueError,
         r"covariances_init: expected shape \(2, 2, 2\) for covariance_type='full'"),
        ({"covariances_init": np.stack([np.eye(2), -np.eye(2)])}, ValueError,
         r"covariances_init\[1\]: expected a positive definite matrix"),
        ({"covariances_init": np.stack([np.eye(2), [[1, 0.5], [0, 1]]])}, ValueError,
         r"covariances_init\[1\]: expected a symmetric matrix"),
        ({"covariance_type": "diag", "covariances_init": np.array([[1.0, 1.0], [0.0, 1.0]])}, ValueError,
         "covariances_init: expected positive variances"),
        ({"prior": "defualt"}, ValueError, "prior: expected None, 'default' or a dict"),
        ({"prior": 3}, TypeError, "prior: expected None, 'default' or a dict"),
        ({"prior": {"shrink": 1}}, ValueError, r"prior: unknown keys \['shrink'\]"),
        ({"prior": {"shrinkage": 0}}, ValueError, r"prior\['shrinkage'\]: expected a number > 0"),
        ({"prior": {"dof": 0.5}}, ValueError, r"prior\['dof'\]: expected a number > 1"),
        ({"prior": {"mean": [0.0]}}, ValueError, r"prior\['mean'\]: expected 2 finite values"),
        ({"prior": {"scale": np.eye(3)}}, ValueError, r"prior\['scale'\]: expected shape \(2, 2\)"),
        ({"prior": {"scale": -np.eye(2)}}, ValueError, r"prior\['scale'\]: expected a positive definite"),
        ({"prior": {"weight_concentration": 0.5}}, ValueError,
         r"prior\['weight_concentration'\]: expected a number >= 1"),
    ],
)
def test_bad_parameters(params, exc, match):
    with pytest.raises(exc, match=match):
        fit(**params)


def test_unknown_set_params_key():
    with pytest.raises(ValueError, match="set_params: unknown parameter 'n_component'"):
        emkit.GaussianMixture().set_params(n_component=3)


def test_use_before_fit():
    gm = emkit.GaussianMixture(2)
    for method in (gm.predict, gm.predict_proba, gm.score_samples, gm.score):
        with pytest.raises(emkit.NotFittedError, match="not fitted yet"):
            method(X_GOOD)


def test_wrong_feature_count_after_fit():
    gm = fit(random_state=0)
    with pytest.raises(ValueError, match="X: expected 2 features \\(as in fit\\), got 3"):
        gm.predict(np.ones((4, 3)))


def test_pandas_non_numeric_column():
    pd = pytest.importorskip("pandas", reason="pandas is part of the test extra")
    df = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": ["x", "y", "z"]})
    with pytest.raises(TypeError, match=r"X: expected numeric columns; columns \['b'\]"):
        emkit.GaussianMixture(1).fit(df)


def test_m_step_refuses_foreign_objects_and_stale_stats():
    gm = fit(random_state=0)
    with pytest.raises(TypeError, match="stats: expected the Stats of e_step"):
        gm.m_step({"resp_sum": [1, 2]})
    stats = gm.e_step(X_GOOD)
    gm.m_step(stats)
    with pytest.raises(ValueError, match="stats: computed at other parameters"):
        gm.m_step(stats)
