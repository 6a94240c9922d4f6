"""emkit.GMMHMM (states emitting Gaussian mixtures) agrees with the plain numpy reference
Baum-Welch, iteration by iteration, to a relative 1e-9, for every covariance type, with several
sequences, missing entries, time steps with nothing observed, sequence weights, fixed parameters
and priors; plus its API, statistics and input validation."""

import pickle

import numpy as np
import pytest
from hmm_checks import (
    RTOL,
    assert_decoding_matches,
    assert_posteriors_match,
    check_fit_and_every_iteration,
    gaussian_prior,
)
from hmm_data import hide
from reference import hmm as ref

import emkit

K, M, D = 2, 2, 2


def make_sequences(lengths=(50, 35, 45), seed=0, missing=0.0, unobserved=0.0):
    """(X, lengths, states): a sticky 2-state chain, each state a 2-component mixture in 2-D."""
    rng = np.random.default_rng(seed)
    lengths = np.asarray(lengths, dtype=np.int64)
    transmat = np.array([[0.85, 0.15], [0.2, 0.8]])
    centres = np.array([[[0.0, 0.0], [3.0, 1.0]], [[-2.0, 4.0], [1.0, 6.0]]])
    weights = np.array([[0.6, 0.4], [0.3, 0.7]])
    X, states = [], []
    for T in lengths:
        z = np.empty(T, dtype=int)
        z[0] = rng.integers(K)
        for t in range(1, T):
            z[t] = rng.choice(K, p=transmat[z[t - 1]])
        m = np.array([rng.choice(M, p=weights[k]) for k in z])
        X.append(centres[z, m] + rng.normal(scale=0.8, size=(T, D)))
        states.append(z)
    X, states = np.concatenate(X), np.concatenate(states)
    hide(X, lengths, rng, missing, unobserved)
    return X, lengths, states


def gmm_start(X, covariance_type, seed=1):
    """Rough initial values: means from random rows (plus noise), the data's variance."""
    rng = np.random.default_rng(seed)
    filled = np.where(np.isnan(X), np.nanmean(X, axis=0), X)
    filled = filled[~np.isnan(X).all(axis=1)]
    means = filled[rng.choice(filled.shape[0], size=K * M, replace=False)].reshape(K, M, D)
    means = means + rng.normal(0, 0.1, size=means.shape)
    var = np.var(filled, axis=0)
    cov = {
        "full": np.broadcast_to(np.diag(var), (K, M, D, D)),
        "tied": np.broadcast_to(np.diag(var), (K, D, D)),
        "diag": np.broadcast_to(var, (K, M, D)),
        "spherical": np.full((K, M), var.mean()),
    }[covariance_type].copy()
    startprob = rng.dirichlet(np.full(K, 2.0))
    transmat = 0.5 * np.eye(K) + 0.5 * rng.dirichlet(np.full(K, 2.0), size=K)
    weights = rng.dirichlet(np.full(M, 3.0), size=K)
    return startprob, transmat, weights, means, cov


CASES = [
    pytest.param(dict(), id="plain"),
    pytest.param(dict(weights=True), id="weights"),
    pytest.param(dict(missing=0.2, unobserved=0.08), id="missing"),
    pytest.param(dict(missing=0.2, unobserved=0.08, weights=True), id="missing+weights"),
    pytest.param(dict(dirichlet=True), id="dirichlet-priors"),
    pytest.param(
        dict(dirichlet=True, gaussian_prior=True, missing=0.15, unobserved=0.05, weights=True),
        id="all-priors+missing+weights",
    ),
    pytest.param(dict(gaussian_prior=True), id="gaussian-prior"),
    pytest.param(dict(fixed={"startprob", "transmat"}), id="fixed-chain"),
    pytest.param(dict(fixed={"weights"}, missing=0.1), id="fixed-weights"),
    pytest.param(dict(fixed={"means"}, missing=0.1, weights=True), id="fixed-means"),
    pytest.param(dict(fixed={"covariances"}, missing=0.1), id="fixed-covariances"),
    pytest.param(
        dict(fixed={"means"}, gaussian_prior=True, dirichlet=True), id="fixed-means+prior"
    ),
    pytest.param(
        dict(fixed={"weights", "means", "covariances"}, dirichlet=True), id="fixed-emission"
    ),
    pytest.param(dict(zero_weight=True, dirichlet=True, missing=0.1), id="zero-weight"),
]


def setup(covariance_type, case):
    X, lengths, _ = make_sequences(
        seed=11, missing=case.get("missing", 0.0), unobserved=case.get("unobserved", 0.0)
    )
    w = np.array([0.5, 2.0, 1.3]) if case.get("weights") else None
    start = list(gmm_start(X, covariance_type))
    if case.get("zero_weight"):
        start[2] = np.array([[1.0, 0.0], [0.4, 0.6]])  # state 0: one component only
    prior, estimator_prior = None, {}
    if case.get("dirichlet") or case.get("gaussian_prior"):
        prior = {}
        if case.get("dirichlet"):
            prior["startprob"] = np.array([2.0, 1.5])
            prior["transmat"] = 1.5 + 4.0 * np.eye(K)  # sticky
            prior["weights"] = np.array([[1.0, 2.5], [3.0, 1.5]])
            estimator_prior.update(
                startprob_prior=prior["startprob"],
                transmat_prior=prior["transmat"],
                weights_prior=prior["weights"],
            )
        if case.get("gaussian_prior"):
            prior["gaussian"] = gaussian_prior(X, covariance_type)
            estimator_prior["prior"] = prior["gaussian"]
    return X, lengths, w, tuple(start), prior, estimator_prior, frozenset(case.get("fixed", ()))


def init_kwargs(start):
    return dict(
        startprob_init=start[0],
        transmat_init=start[1],
        weights_init=start[2],
        means_init=start[3],
        covariances_init=start[4],
    )


NAMES = ("startprob", "transmat", "weights", "means", "covariances")


def parameters(hmm):
    return (hmm.startprob_, hmm.transmat_, hmm.weights_, hmm.means_, hmm.covariances_)


@pytest.mark.parametrize("case", CASES)
def test_twenty_iterations_match_reference(covariance_type, case):
    X, lengths, w, start, prior, estimator_prior, fixed = setup(covariance_type, case)
    expected = ref.gmm_fit(
        X,
        lengths,
        start,
        covariance_type,
        20,
        sample_weight=w,
        reg_covar=1e-6,
        prior=prior,
        fixed=fixed,
    )
    hmm = check_fit_and_every_iteration(
        lambda **kw: emkit.GMMHMM(
            K, M, covariance_type=covariance_type, fixed=fixed, **init_kwargs(start), **estimator_prior, **kw
        ),
        X, lengths, w, expected, NAMES, parameters,
        lambda params: ref.gmm_objective(X, lengths, params, covariance_type, sample_weight=w),
    )
    if "weights" in fixed:
        np.testing.assert_allclose(hmm.weights_, start[2], rtol=1e-15, atol=0)
    if "means" in fixed:
        assert np.array_equal(hmm.means_, start[3])
    if "covariances" in fixed:
        assert np.array_equal(hmm.covariances_, start[4])
    if case.get("zero_weight"):
        assert hmm.weights_[0, 1] == 0.0


def test_viterbi_paths_equal_reference(covariance_type):
    X, lengths, _ = make_sequences((60, 35, 80), seed=4, missing=0.2, unobserved=0.05)
    start = gmm_start(X, covariance_type, seed=3)
    hmm = emkit.GMMHMM(
        K, M, covariance_type=covariance_type, max_iter=5, tol=0.0, **init_kwargs(start)
    ).fit(X, lengths)
    expected_logprob, expected_states = ref.gmm_decode(X, lengths, parameters(hmm), covariance_type)
    assert_decoding_matches(hmm, X, lengths, expected_logprob, expected_states)


def test_posteriors_and_scores_match_reference(covariance_type):
    X, lengths, _ = make_sequences((50, 30, 20), seed=8, missing=0.25, unobserved=0.1)
    start = gmm_start(X, covariance_type, seed=2)
    hmm = emkit.GMMHMM(K, M, covariance_type=covariance_type, **init_kwargs(start)).initialize(
        X, lengths
    )
    expected_loglik, expected_post = ref.gmm_posteriors(X, lengths, start, covariance_type)
    assert_posteriors_match(hmm, X, lengths, expected_loglik, expected_post)


def test_log_prior_matches_reference(covariance_type):
    X, lengths, _ = make_sequences((30, 30), seed=3)
    start = gmm_start(X, covariance_type)
    prior = {
        "startprob": np.array([1.5, 2.0]),
        "transmat": 1.0 + 2.0 * np.eye(K),
        "weights": np.array([[2.0, 1.0], [1.5, 3.0]]),
        "gaussian": gaussian_prior(X, covariance_type),
    }
    hmm = emkit.GMMHMM(
        K,
        M,
        covariance_type=covariance_type,
        startprob_prior=prior["startprob"],
        transmat_prior=prior["transmat"],
        weights_prior=prior["weights"],
        prior=prior["gaussian"],
        **init_kwargs(start),
    ).initialize(X, lengths)
    assert hmm.log_prior() == pytest.approx(
        ref.gmm_log_prior(start, covariance_type, prior), rel=RTOL
    )


@pytest.mark.parametrize(
    "fixed",
    [
        frozenset(),
        frozenset({"transmat", "weights"}),
        frozenset({"means", "startprob"}),
        frozenset({"covariances"}),
    ],
)
def test_n_parameters_and_criteria_match_reference(covariance_type, fixed):
    X, lengths, _ = make_sequences((30, 40), seed=2)
    start = list(gmm_start(X, covariance_type))
    start[2] = np.array([[1.0, 0.0], [0.5, 0.5]])  # a zero weight is not a free parameter
    hmm = emkit.GMMHMM(
        K, M, covariance_type=covariance_type, fixed=fixed, **init_kwargs(start)
    ).initialize(X, lengths)
    p = ref.gmm_n_parameters(start, covariance_type, fixed)
    assert hmm._n_parameters() == p
    n = X.shape[0]
    assert hmm.bic(X, lengths) == pytest.approx(
        -2 * hmm.score(X, lengths) + p * np.log(n), rel=1e-12
    )
    assert hmm.aic(X, lengths) == pytest.approx(-2 * hmm.score(X, lengths) + 2 * p, rel=1e-12)


# ---------------------------------------------------------------------------------- behaviour
def test_fit_from_its_own_initialisation_recovers_the_states():
    X, lengths, states = make_sequences((200, 150), seed=5)
    hmm = emkit.GMMHMM(K, M, covariance_type="full", random_state=0, n_init=3).fit(X, lengths)
    predicted = hmm.predict(X, lengths)
    agreement = max(np.mean(predicted == states), np.mean(predicted == 1 - states))
    assert agreement > 0.95
    assert np.all(np.diff(hmm.history_) >= -1e-9 * np.abs(hmm.history_[1:]))
    assert len(hmm.restarts_.runs) == 3
    assert hmm.history_[-1] == max(run.objective for run in hmm.restarts_.runs)
    np.testing.assert_allclose(hmm.weights_.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    pi = hmm.stationary_distribution()
    np.testing.assert_allclose(pi @ hmm.transmat_, pi, atol=1e-12)


def test_results_are_bit_identical_for_any_thread_count(covariance_type):
    X, lengths, _ = make_sequences((300, 20, 40, 500), seed=6, missing=0.1, unobserved=0.02)
    fits = [
        emkit.GMMHMM(
            K, M, covariance_type=covariance_type, random_state=1, max_iter=8, tol=0.0, n_threads=t
        ).fit(X, lengths)
        for t in (1, 2, 4)
    ]
    for other in fits[1:]:
        assert np.array_equal(other.history_, fits[0].history_)
        for a, b in zip(parameters(other), parameters(fits[0])):
            assert np.array_equal(a, b)
        assert np.array_equal(other.predict(X, lengths), fits[0].predict(X, lengths))


def test_statistics_add_up_and_pickle():
    X, lengths, _ = make_sequences((40, 30, 50), seed=7, missing=0.1)
    start = gmm_start(X, "full")
    whole = emkit.GMMHMM(K, M, covariance_type="full", **init_kwargs(start)).initialize(X, lengths)
    chunked = emkit.GMMHMM(K, M, covariance_type="full", **init_kwargs(start)).initialize(
        X, lengths
    )
    whole.m_step(whole.e_step(X, lengths))
    parts = [X[:40], X[40:70], X[70:]]
    stats = [pickle.loads(pickle.dumps(chunked.e_step(p))) for p in parts]
    chunked.m_step(stats[0] + stats[1] + stats[2])
    for a, b in zip(parameters(whole), parameters(chunked)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def test_statistics_of_other_parameters_are_refused():
    X, lengths, _ = make_sequences((40, 30), seed=7)
    hmm = emkit.GMMHMM(
        K, M, covariance_type="diag", **init_kwargs(gmm_start(X, "diag"))
    ).initialize(X, lengths)
    old = hmm.e_step(X, lengths)
    hmm.m_step(old)
    new = hmm.e_step(X, lengths)
    with pytest.raises(ValueError, match="different parameters"):
        old + new
    with pytest.raises(ValueError, match="other parameters"):
        hmm.m_step(old)
    with pytest.raises(TypeError, match="stats"):
        hmm.m_step(emkit.GaussianHMM(2).initialize(X, lengths).e_step(X, lengths))


def test_sample_draws_from_the_mixtures():
    X, lengths, _ = make_sequences((300,), seed=9)
    hmm = emkit.GMMHMM(K, M, covariance_type="full", random_state=0).fit(X, lengths)
    Y, z = hmm.sample(400, random_state=3)
    assert Y.shape == (400, D) and z.shape == (400,)
    assert set(np.unique(z)) <= {0, 1}
    Y2, z2 = hmm.sample(400, random_state=3)
    assert np.array_equal(Y, Y2) and np.array_equal(z, z2)


def test_parameters_set_by_hand_decode_without_fit():
    X, lengths, _ = make_sequences((60,), seed=10)
    start = gmm_start(X, "spherical")
    hmm = emkit.GMMHMM(K, M, covariance_type="spherical")
    hmm.startprob_, hmm.transmat_, hmm.weights_, hmm.means_, hmm.covars_ = start
    _, expected = ref.gmm_decode(X, lengths, start, "spherical")
    assert np.array_equal(hmm.predict(X, lengths), expected)
    assert hmm.covars_ is hmm.covariances_


def test_list_of_sequences_equals_lengths():
    X, lengths, _ = make_sequences((30, 40), seed=12)
    start = gmm_start(X, "diag")
    a = emkit.GMMHMM(K, M, max_iter=3, tol=0.0, **init_kwargs(start)).fit(X, lengths)
    b = emkit.GMMHMM(K, M, max_iter=3, tol=0.0, **init_kwargs(start)).fit([X[:30], X[30:]])
    assert np.array_equal(a.history_, b.history_)


def test_n_mix_one_is_the_gaussian_hmm(covariance_type):
    X, lengths, _ = make_sequences((50, 40), seed=13, missing=0.1)
    start = gmm_start(X, covariance_type)
    means = start[3][:, :1]
    cov = start[4] if covariance_type == "tied" else start[4][:, :1]
    gmm = emkit.GMMHMM(
        K,
        1,
        covariance_type=covariance_type,
        tol=0.0,
        max_iter=10,
        startprob_init=start[0],
        transmat_init=start[1],
        weights_init=np.ones((K, 1)),
        means_init=means,
        covariances_init=cov,
    ).fit(X, lengths)
    if covariance_type == "tied":  # GaussianHMM's tied covariance is shared by all states
        return
    hmm = emkit.GaussianHMM(
        K,
        covariance_type=covariance_type,
        tol=0.0,
        max_iter=10,
        startprob_init=start[0],
        transmat_init=start[1],
        means_init=means[:, 0],
        covariances_init=cov[:, 0],
    ).fit(X, lengths)
    np.testing.assert_allclose(gmm.history_, hmm.history_, rtol=1e-12)
    np.testing.assert_allclose(gmm.means_[:, 0], hmm.means_, rtol=1e-10)


def test_fixed_everything_keeps_the_emission():
    X, lengths, _ = make_sequences((50,), seed=14)
    start = gmm_start(X, "full")
    hmm = emkit.GMMHMM(
        K,
        M,
        covariance_type="full",
        fixed={"weights", "means", "covariances"},
        max_iter=5,
        tol=0.0,
        **init_kwargs(start),
    ).fit(X, lengths)
    assert np.array_equal(hmm.means_, start[3]) and np.array_equal(hmm.covariances_, start[4])
    assert hmm._n_parameters() == (K - 1) + K * (K - 1)


# ---------------------------------------------------------------------------------- bad input
@pytest.fixture
def data():
    X, lengths, _ = make_sequences((30, 20), seed=15)
    return X, lengths


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(n_mix=0), ValueError, "n_mix"),
        (dict(n_mix=1.5), TypeError, "n_mix"),
        (dict(covariance_type="banana"), ValueError, "covariance_type"),
        (
            dict(weights_init=np.array([[0.5, 0.4], [0.5, 0.5]])),
            ValueError,
            "weights_init: row 0 sums",
        ),
        (dict(weights_init=np.array([[1.2, -0.2], [0.5, 0.5]])), ValueError, "weights_init"),
        (dict(weights_init=np.full((K, 3), 1 / 3)), ValueError, "weights_init: expected shape"),
        (dict(means_init=np.zeros((K, M))), ValueError, "means_init: expected shape"),
        (dict(means_init=np.full((K, M, D), np.nan)), ValueError, "means_init: expected finite"),
        (dict(covariances_init=np.ones((K, D))), ValueError, "covariances_init: expected shape"),
        (
            dict(covariances_init=-np.ones((K, M, D))),
            ValueError,
            "covariances_init: expected positive",
        ),
        (
            dict(covariance_type="full", covariances_init=np.tile(-np.eye(D), (K, M, 1, 1))),
            ValueError,
            r"covariances_init\[0, 0\]: expected a positive definite",
        ),
        (dict(weights_prior=0.5), ValueError, "weights_prior"),
        (dict(weights_prior=np.ones((K, 3))), ValueError, "weights_prior"),
        (dict(fixed={"mixtures"}), ValueError, "fixed"),
        (dict(prior={"weight_concentration": 2.0}), ValueError, "prior"),
        (dict(transmat_init=np.array([[0.5, 0.6], [0.5, 0.5]])), ValueError, "transmat_init"),
    ],
)
def test_bad_parameters_raise_before_work(data, kwargs, error, match):
    X, lengths = data
    with pytest.raises(error, match=match):
        emkit.GMMHMM(K, **{"n_mix": M, **kwargs}).fit(X, lengths)


def test_bad_data_raises(data):
    X, lengths = data
    with pytest.raises(ValueError, match="lengths"):
        emkit.GMMHMM(K, M).fit(X, [30, 30])
    with pytest.raises(ValueError, match="lengths"):
        emkit.GMMHMM(K, M).fit(X, [50, 0])
    with pytest.raises(ValueError, match="sample_weight"):
        emkit.GMMHMM(K, M).fit(X, lengths, sample_weight=[1.0])
    hmm = emkit.GMMHMM(K, M, random_state=0, max_iter=2, tol=0.0).fit(X, lengths)
    with pytest.raises(ValueError, match="features"):
        hmm.predict(X[:, :1])
    with pytest.raises(ValueError, match="X"):
        emkit.GMMHMM(K, M).fit(np.full((10, D), np.nan))


def test_bad_hand_set_parameters_raise(data):
    X, lengths = data
    start = gmm_start(X, "diag")
    hmm = emkit.GMMHMM(K, M)
    hmm.startprob_, hmm.transmat_, hmm.weights_, hmm.means_, hmm.covariances_ = start
    hmm.weights_ = np.array([[0.7, 0.7], [0.5, 0.5]])
    with pytest.raises(ValueError, match="weights"):
        hmm.predict(X, lengths)
    hmm.weights_ = start[2]
    hmm.covariances_ = np.ones((K, D))
    with pytest.raises(ValueError, match="covariances_"):
        hmm.predict(X, lengths)


def test_long_sequence_with_a_huge_outlier_fits_without_nan():
    X, lengths, _ = make_sequences((20000,), seed=16)
    X[12345] = [1e4, -1e4]  # ~10^4 standard deviations from every component
    hmm = emkit.GMMHMM(K, M, covariance_type="diag", random_state=0, max_iter=5, tol=0.0).fit(
        X, lengths
    )
    assert np.isfinite(hmm.history_).all()
    for value in parameters(hmm):
        assert np.isfinite(value).all()
    assert np.isfinite(hmm.predict_proba(X)).all()
