"""Every bad input to GaussianHMM is refused before any work, with the error type and a message
naming the argument."""

import numpy as np
import pytest
from hmm_data import make_sequences

import emkit
from emkit import _core

K = 2


@pytest.fixture(scope="module")
def data():
    X, lengths, _ = make_sequences((30, 20, 25), d=2, K=K, seed=0)
    return X, lengths


@pytest.fixture(scope="module")
def fitted(data):
    X, lengths = data
    return emkit.GaussianHMM(K, random_state=0, max_iter=5).fit(X, lengths)


@pytest.mark.parametrize(
    "lengths, error, message",
    [
        ([30, 20, 24], ValueError, r"lengths: the lengths sum to 74 but X has 75 rows"),
        (
            [30, 20, 25, 0],
            ValueError,
            r"lengths: expected positive lengths; sequence 3 has length 0",
        ),
        ([40, -5, 40], ValueError, r"lengths: expected positive lengths; sequence 1 has length -5"),
        ([], ValueError, r"lengths: expected at least one sequence"),
        ([[30, 20, 25]], ValueError, r"lengths: expected a 1-D array of sequence lengths"),
        ([30.5, 20, 24.5], TypeError, r"lengths: expected integers"),
        (["30", "45"], TypeError, r"lengths: expected integers"),
        ("75", TypeError, r"lengths: expected a 1-D array of integers"),
    ],
)
def test_bad_lengths(data, lengths, error, message):
    X, _ = data
    with pytest.raises(error, match=message):
        emkit.GaussianHMM(K).fit(X, lengths)


def test_lengths_given_as_floats_with_integer_values_are_accepted(data):
    X, lengths = data
    emkit.GaussianHMM(K, max_iter=2, random_state=0).fit(X, lengths.astype(float))


def test_lengths_must_match_a_list_of_sequences(data):
    X, lengths = data
    sequences = np.split(X, np.cumsum(lengths)[:-1])
    with pytest.raises(
        ValueError, match=r"lengths: X is a list of sequences of lengths \[30, 20, 25\]"
    ):
        emkit.GaussianHMM(K).fit(sequences, [25, 20, 30])


def test_sequences_with_different_feature_counts(data):
    X, _ = data
    with pytest.raises(ValueError, match=r"X\[1\]: expected 2 features \(as in fit\), got 3"):
        emkit.GaussianHMM(K).fit([X[:10], np.ones((5, 3))])


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (
            dict(startprob_init=[0.5, 0.6]),
            ValueError,
            r"startprob_init: the probabilities sum to 1.1, expected 1",
        ),
        (
            dict(startprob_init=[1.2, -0.2]),
            ValueError,
            r"startprob_init: expected nonnegative probabilities",
        ),
        (
            dict(startprob_init=[1.0, 0.0, 0.0]),
            ValueError,
            r"startprob_init: expected shape \(2,\), got \(3,\)",
        ),
        (dict(startprob_init=[np.nan, 1.0]), ValueError, r"startprob_init: expected finite values"),
        (
            dict(transmat_init=[[0.9, 0.1], [0.5, 0.6]]),
            ValueError,
            r"transmat_init: row 1 sums to 1.1, expected 1",
        ),
        (
            dict(transmat_init=[[1.1, -0.1], [0.5, 0.5]]),
            ValueError,
            r"transmat_init: expected nonnegative",
        ),
        (
            dict(transmat_init=np.eye(3)),
            ValueError,
            r"transmat_init: expected shape \(2, 2\), got \(3, 3\)",
        ),
        (
            dict(transmat_init=[["a", "b"], ["c", "d"]]),
            TypeError,
            r"transmat_init: expected real numbers",
        ),
        (
            dict(means_init=np.zeros((3, 2))),
            ValueError,
            r"means_init: expected shape \(2, 2\), got \(3, 2\)",
        ),
        (
            dict(covariances_init=-np.ones((2, 2))),
            ValueError,
            r"covariances_init: expected positive variances",
        ),
        (
            dict(covariance_type="full", covariances_init=np.stack([np.eye(2), -np.eye(2)])),
            ValueError,
            r"covariances_init\[1\]: expected a positive definite matrix",
        ),
        (
            dict(startprob_prior=0.5),
            ValueError,
            r"startprob_prior: expected Dirichlet concentrations >= 1",
        ),
        (
            dict(startprob_prior=[1.0, 2.0, 3.0]),
            ValueError,
            r"startprob_prior: expected a number or an array of shape \(2,\)",
        ),
        (
            dict(transmat_prior=np.ones((2, 3))),
            ValueError,
            r"transmat_prior: expected a number or an array of shape \(2, 2\)",
        ),
        (
            dict(transmat_prior=[[1.0, 0.9], [1.0, 1.0]]),
            ValueError,
            r"transmat_prior: expected Dirichlet concentrations >= 1",
        ),
        (dict(transmat_prior=True), TypeError, r"transmat_prior: expected a number or an array"),
        (
            dict(fixed={"weights"}),
            ValueError,
            r"fixed: unknown parameter 'weights'; expected some of 'startprob'",
        ),
        (dict(fixed={1}), TypeError, r"fixed: expected parameter names"),
        (dict(fixed=3), TypeError, r"fixed: expected a set of parameter names"),
        (
            dict(prior={"weight_concentration": 2.0}),
            ValueError,
            r"prior: unknown keys \['weight_concentration'\].*startprob_prior and transmat_prior",
        ),
        (dict(prior="flat"), ValueError, r"prior: expected None, 'default' or a dict"),
        (dict(algorithm="forward"), ValueError, r"algorithm: expected one of 'viterbi', 'map'"),
        (dict(covariance_type="dense"), ValueError, r"covariance_type: expected one of"),
        (dict(n_components=0), ValueError, r"n_components: expected an integer >= 1"),
        (dict(n_components="2"), TypeError, r"n_components: expected an integer"),
        (dict(tol=-1.0), ValueError, r"tol: expected a number >= 0"),
        (dict(max_iter=1.5), TypeError, r"max_iter: expected an integer"),
        (dict(n_threads=0), ValueError, r"n_threads: expected an integer >= 1"),
        (dict(random_state=-1), ValueError, r"random_state: expected an integer >= 0"),
    ],
)
def test_bad_parameters(data, kwargs, error, message):
    X, lengths = data
    params = dict(n_components=K)
    params.update(kwargs)
    with pytest.raises(error, match=message):
        emkit.GaussianHMM(**params).fit(X, lengths)


@pytest.mark.parametrize(
    "sample_weight, error, message",
    [
        (
            [1.0, 2.0],
            ValueError,
            r"sample_weight: expected one weight per sequence \(a 1-D array of 3 values\), got shape \(2,\)",
        ),
        ([1.0, -2.0, 1.0], ValueError, r"sample_weight: expected values >= 0"),
        ([0.0, 0.0, 0.0], ValueError, r"sample_weight: expected a positive total weight"),
        ([1.0, np.inf, 1.0], ValueError, r"sample_weight: expected finite values"),
        (["a", "b", "c"], TypeError, r"sample_weight: expected real numbers"),
    ],
)
def test_bad_sample_weight(data, sample_weight, error, message):
    X, lengths = data
    with pytest.raises(error, match=message):
        emkit.GaussianHMM(K).fit(X, lengths, sample_weight=sample_weight)


@pytest.mark.parametrize(
    "X, error, message",
    [
        (np.ones(10), ValueError, r"X: expected a 2-D array, got 1-D"),
        (
            np.array([[1.0, np.inf], [0.0, 1.0]]),
            ValueError,
            r"X: expected finite values or NaN for missing; row 0",
        ),
        (np.array([["a", "b"]]), TypeError, r"X: expected an array of real numbers"),
        (np.empty((0, 2)), ValueError, r"X: expected at least one row and one column"),
    ],
)
def test_bad_X(X, error, message):
    with pytest.raises(error, match=message):
        emkit.GaussianHMM(1).fit(X)


def test_too_few_observed_time_steps_to_initialise():
    X = np.full((6, 2), np.nan)
    X[:2] = [[0.0, 1.0], [1.0, 0.0]]
    with pytest.raises(
        ValueError, match=r"X: expected at least n_components=3 time steps with an observed value"
    ):
        emkit.GaussianHMM(3).fit(X)
    with pytest.raises(ValueError, match=r"X: expected at least n_components=3 time steps"):
        emkit.GaussianHMM(3).initialize(X)


def test_wrong_feature_count_after_fit(fitted):
    for method in (
        "predict",
        "predict_proba",
        "score",
        "score_samples",
        "decode",
        "score_sequences",
    ):
        with pytest.raises(ValueError, match=r"X: expected 2 features \(as in fit\), got 3"):
            getattr(fitted, method)(np.ones((5, 3)))
    with pytest.raises(ValueError, match=r"lengths: the lengths sum to 4 but X has 5 rows"):
        fitted.predict(np.ones((5, 2)), [2, 2])


def test_decode_with_unknown_algorithm(fitted, data):
    X, lengths = data
    with pytest.raises(
        ValueError, match=r"algorithm: expected one of 'viterbi', 'map', got 'beam'"
    ):
        fitted.decode(X, lengths, algorithm="beam")


def test_use_before_fit():
    with pytest.raises(emkit.NotFittedError, match=r"not fitted yet.*startprob_"):
        emkit.GaussianHMM(K).predict(np.ones((3, 2)))


def test_bad_sample_size(fitted):
    with pytest.raises(ValueError, match=r"n_samples: expected an integer >= 1"):
        fitted.sample(0)


def test_m_step_takes_only_hmm_statistics(fitted, data):
    X, lengths = data
    with pytest.raises(TypeError, match=r"stats: expected the Stats of e_step"):
        fitted.m_step({"start_counts": np.ones(K)})
    stale = fitted.e_step(X, lengths)
    other = emkit.GaussianHMM(K, means_init=fitted.means_ + 1.0, random_state=0).initialize(
        X, lengths
    )
    with pytest.raises(
        ValueError, match=r"stats: computed at other parameters than the model's current ones"
    ):
        other.m_step(stale)


def test_parameters_set_by_hand_are_validated(fitted):
    hmm = emkit.GaussianHMM(K)
    hmm.startprob_ = np.array([0.5, 0.5])
    hmm.transmat_ = np.array([[0.5, 0.4], [0.5, 0.5]])
    hmm.means_ = fitted.means_
    hmm.covars_ = fitted.covariances_
    with pytest.raises(ValueError, match=r"transmat: row 0: expected probabilities summing to 1"):
        hmm.sample(5)


def test_core_model_names_bad_arguments():
    means, cov = np.zeros((2, 1)), np.ones((2, 1))
    with pytest.raises(ValueError, match=r"startprob: expected 2 values, got 3"):
        _core.GaussianHMMModel(np.ones(3) / 3, np.eye(2), means, cov, "diag")
    with pytest.raises(ValueError, match=r"transmat_prior: expected Dirichlet concentrations >= 1"):
        _core.GaussianHMMModel(
            np.ones(2) / 2, np.eye(2), means, cov, "diag", transmat_prior=np.zeros((2, 2))
        )
    with pytest.raises(ValueError, match=r"fixed: unknown parameter group 'weights'"):
        _core.GaussianHMMModel(np.ones(2) / 2, np.eye(2), means, cov, "diag", fixed=["weights"])
    model = _core.GaussianHMMModel(np.ones(2) / 2, np.eye(2), means, cov, "diag")
    X = np.zeros((4, 1))
    with pytest.raises(
        ValueError, match=r"lengths: expected positive lengths; sequence 1 has length 0"
    ):
        model.score(X, np.array([4, 0]))
    with pytest.raises(ValueError, match=r"sample_weight: expected one value per sequence \(1\)"):
        model.e_step(X, np.array([4]), np.ones(2))
