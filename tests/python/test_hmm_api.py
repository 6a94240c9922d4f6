"""The GaussianHMM estimator: hmmlearn's interface and semantics, sequences as a list, the
parameter protocol, restarts, decoding, sampling; and, when hmmlearn is installed, agreement with
it."""

import inspect

import numpy as np
import pytest
from conftest import COVARIANCE_TYPES
from hmm_data import generating_parameters, hmm_start, make_sequences

import emkit
from emkit.gaussian_mixture import covariance_shape
from emkit.hmm import CHAIN_PARAMETERS


@pytest.fixture(scope="module")
def sequences():
    return make_sequences((300, 200, 250), d=2, K=3, seed=0, spread=4.0)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_fitted_attributes_have_hmmlearn_and_sklearn_shapes(sequences, covariance_type):
    X, lengths, _ = sequences
    hmm = emkit.GaussianHMM(3, covariance_type=covariance_type, random_state=0)
    assert hmm.fit(X, lengths) is hmm
    assert hmm.startprob_.shape == (3,) and hmm.transmat_.shape == (3, 3)
    assert hmm.means_.shape == (3, 2)
    assert hmm.covariances_.shape == covariance_shape(covariance_type, 3, 2)
    assert hmm.covars_.shape == (3, 2, 2)  # hmmlearn: full matrices for every type
    np.testing.assert_allclose(hmm.transmat_.sum(axis=1), 1.0, atol=1e-14)
    assert hmm.n_features_in_ == 2
    assert hmm.n_iter_ == len(hmm.history_) - 1 and hmm.loglik_ == hmm.loglik_history_[-1]
    assert isinstance(hmm.converged_, bool) and len(hmm.restarts_) == 1
    assert hmm.score(X, lengths) == pytest.approx(hmm.loglik_, rel=1e-12)


def test_covars_setter_takes_the_per_type_layout():
    hmm = emkit.GaussianHMM(2, covariance_type="diag")
    hmm.startprob_ = np.array([0.5, 0.5])
    hmm.transmat_ = np.array([[0.9, 0.1], [0.1, 0.9]])
    hmm.means_ = np.array([[0.0, 0.0], [5.0, 5.0]])
    hmm.covars_ = np.array([[1.0, 2.0], [0.5, 0.5]])  # hmmlearn's setter layout
    np.testing.assert_array_equal(hmm.covars_[0], np.diag([1.0, 2.0]))
    X, states = hmm.sample(500, random_state=0)  # usable without fit, hmmlearn style
    assert X.shape == (500, 2) and set(np.unique(states)) <= {0, 1}
    assert np.isfinite(hmm.score(X))


def test_recovers_the_generating_parameters():
    X, lengths, states = make_sequences([2000] * 10, d=2, K=3, seed=1, spread=5.0)
    truth = generating_parameters(d=2, K=3, seed=1, spread=5.0)
    hmm = emkit.GaussianHMM(3, covariance_type="full", n_init=3, random_state=0, tol=1e-6).fit(
        X, lengths
    )
    # Match the fitted states to the generating ones by their means, then compare.
    order = [int(np.argmin(((hmm.means_ - m) ** 2).sum(axis=1))) for m in truth[2]]
    assert sorted(order) == [0, 1, 2]
    np.testing.assert_allclose(hmm.means_[order], truth[2], atol=0.1)
    np.testing.assert_allclose(hmm.covariances_[order], truth[3], atol=0.1)
    np.testing.assert_allclose(hmm.transmat_[np.ix_(order, order)], truth[1], atol=0.03)
    # The fitted model decodes the states as well as the generating one does.
    oracle = emkit.GaussianHMM(3, covariance_type="full")
    oracle.startprob_, oracle.transmat_, oracle.means_, oracle.covariances_ = truth
    oracle_accuracy = np.mean(oracle.predict(X, lengths) == states)
    assert np.mean(hmm.predict(X, lengths) == np.asarray(order)[states]) > oracle_accuracy - 0.01


def test_list_of_sequences_equals_concatenation_with_lengths(sequences):
    X, lengths, _ = sequences
    parts = np.split(X, np.cumsum(lengths)[:-1])
    a = emkit.GaussianHMM(3, random_state=2, max_iter=10, tol=0.0).fit(X, lengths)
    b = emkit.GaussianHMM(3, random_state=2, max_iter=10, tol=0.0).fit(parts)
    assert np.array_equal(a.history_, b.history_)
    assert np.array_equal(a.transmat_, b.transmat_)
    assert np.array_equal(a.predict(X, lengths), b.predict(parts))
    assert a.score(X, lengths) == b.score(parts)


def test_dataframe_input_keeps_feature_names(sequences):
    pd = pytest.importorskip("pandas")
    X, lengths, _ = sequences
    frame = pd.DataFrame(X, columns=["speed", "angle"])
    hmm = emkit.GaussianHMM(3, random_state=0, max_iter=5, tol=0.0).fit(frame, lengths)
    assert list(hmm.feature_names_in_) == ["speed", "angle"]
    assert hmm.predict(frame, lengths).shape == (X.shape[0],)


def test_score_samples_returns_total_loglik_and_posteriors(sequences):
    X, lengths, _ = sequences
    hmm = emkit.GaussianHMM(3, random_state=0).fit(X, lengths)
    logprob, post = hmm.score_samples(X, lengths)
    per_sequence = hmm.score_sequences(X, lengths)
    assert per_sequence.shape == (3,)
    assert logprob == pytest.approx(per_sequence.sum(), rel=1e-12)
    assert post.shape == (X.shape[0], 3)
    np.testing.assert_allclose(post.sum(axis=1), 1.0, atol=1e-12)
    np.testing.assert_array_equal(hmm.predict_proba(X, lengths), post)
    # Without lengths the rows are one sequence.
    assert hmm.score(X) == pytest.approx(hmm.score_sequences(X)[0], rel=1e-12)
    assert hmm.score(X) != pytest.approx(hmm.score(X, lengths), rel=1e-9)


def test_decode_viterbi_and_map(sequences):
    X, lengths, _ = sequences
    hmm = emkit.GaussianHMM(3, random_state=0).fit(X, lengths)
    logprob, states = hmm.decode(X, lengths)
    assert states.shape == (X.shape[0],) and states.dtype == np.intp
    assert logprob <= hmm.score(X, lengths)  # one path is less likely than all of them
    np.testing.assert_array_equal(hmm.predict(X, lengths), states)
    map_logprob, map_states = hmm.decode(X, lengths, algorithm="map")
    post = hmm.predict_proba(X, lengths)
    np.testing.assert_array_equal(map_states, post.argmax(axis=1))
    assert map_logprob == pytest.approx(np.log(post.max(axis=1)).sum(), rel=1e-12)
    map_hmm = emkit.GaussianHMM(3, algorithm="map", random_state=0).fit(X, lengths)
    np.testing.assert_array_equal(
        map_hmm.predict(X, lengths), map_hmm.predict_proba(X, lengths).argmax(axis=1)
    )


def test_restarts_keep_the_best_run(sequences):
    X, lengths, _ = sequences
    hmm = emkit.GaussianHMM(3, n_init=4, random_state=0).fit(X, lengths)
    assert len(hmm.restarts_) == 4
    assert hmm.history_[-1] == max(run.objective for run in hmm.restarts_)
    assert hmm.restarts_.best_objective == hmm.history_[-1]
    assert "best objective" in str(hmm.restarts_)


def test_stationary_distribution():
    hmm = emkit.GaussianHMM(2)
    hmm.startprob_ = np.array([1.0, 0.0])
    hmm.transmat_ = np.array([[0.9, 0.1], [0.3, 0.7]])
    hmm.means_, hmm.covariances_ = np.zeros((2, 1)), np.ones((2, 1))
    pi = hmm.stationary_distribution()
    np.testing.assert_allclose(pi, [0.75, 0.25], rtol=1e-12)
    np.testing.assert_allclose(pi @ hmm.transmat_, pi, rtol=1e-12)
    np.testing.assert_array_equal(hmm.get_stationary_distribution(), pi)


def test_sample_follows_random_state(sequences):
    X, lengths, _ = sequences
    hmm = emkit.GaussianHMM(3, random_state=7).fit(X, lengths)
    a, sa = hmm.sample(100)
    b, sb = hmm.sample(100)
    c, _ = hmm.sample(100, random_state=8)
    assert np.array_equal(a, b) and np.array_equal(sa, sb)
    assert not np.array_equal(a, c)
    assert a.shape == (100, 2) and sa.dtype == np.intp


def test_missing_values_and_unobserved_steps_are_accepted():
    X, lengths, _ = make_sequences((200, 150), d=3, K=2, seed=3, missing=0.3, unobserved=0.1)
    hmm = emkit.GaussianHMM(2, covariance_type="full", random_state=0).fit(X, lengths)
    assert np.isfinite(hmm.loglik_)
    post = hmm.predict_proba(X, lengths)
    assert np.isfinite(post).all()
    assert hmm.predict(X, lengths).shape == (350,)


def test_fixed_parameters_stay_put(sequences):
    X, lengths, _ = sequences
    start = hmm_start(X, 3, "diag")
    hmm = emkit.GaussianHMM(
        3,
        startprob_init=start[0],
        transmat_init=start[1],
        means_init=start[2],
        covariances_init=start[3],
        fixed={"transmat", "covariances"},
    ).fit(X, lengths)
    np.testing.assert_allclose(hmm.transmat_, start[1], rtol=1e-15)
    np.testing.assert_array_equal(hmm.covariances_, start[3])
    assert not np.array_equal(hmm.means_, start[2])
    assert hmm._n_parameters() == 2 + 3 * 2  # startprob and means only


def test_fixing_means_and_covariances_fixes_the_whole_emission(sequences):
    X, lengths, _ = sequences
    start = hmm_start(X, 3, "full")
    hmm = emkit.GaussianHMM(
        3,
        covariance_type="full",
        startprob_init=start[0],
        transmat_init=start[1],
        means_init=start[2],
        covariances_init=start[3],
        fixed={"means", "covariances"},
    ).initialize(X, lengths)
    stats = hmm.e_step(X, lengths)
    assert not stats.sum.any() and not stats.scatter.any()  # emission statistics skipped
    assert stats.emission_counts.sum() == pytest.approx(X.shape[0], rel=1e-12)
    hmm.m_step(stats)
    np.testing.assert_array_equal(hmm.means_, start[2])
    np.testing.assert_array_equal(hmm.covariances_, start[3])
    assert hmm._n_parameters() == 2 + 3 * 2  # startprob and transmat rows only


def test_sticky_transmat_prior_raises_the_diagonal(sequences):
    X, lengths, _ = sequences
    kwargs = dict(random_state=0, tol=0.0, max_iter=30)
    plain = emkit.GaussianHMM(3, **kwargs).fit(X, lengths)
    sticky = emkit.GaussianHMM(3, transmat_prior=1.0 + 500.0 * np.eye(3), **kwargs).fit(X, lengths)
    assert np.all(np.diag(sticky.transmat_) > np.diag(plain.transmat_))
    assert sticky.log_prior() != 0.0 and plain.log_prior() == 0.0


def test_get_and_set_params_and_repr():
    hmm = emkit.GaussianHMM(3, covariance_type="full", fixed={"startprob"})
    params = hmm.get_params()
    assert params["n_components"] == 3 and params["covariance_type"] == "full"
    hmm.set_params(n_components=4, tol=1e-4)
    assert hmm.n_components == 4 and hmm.tol == 1e-4
    assert "n_components=4" in repr(hmm)
    with pytest.raises(ValueError, match="set_params: unknown parameter 'n_iter'"):
        hmm.set_params(n_iter=10)


HMM_ESTIMATORS = [
    emkit.GaussianHMM,
    emkit.GMMHMM,
    emkit.CategoricalHMM,
    emkit.HMM,
    emkit.PoissonHMM,
]


@pytest.mark.parametrize("estimator", HMM_ESTIMATORS, ids=lambda c: c.__name__)
def test_every_hmm_lists_the_chain_parameters_with_the_same_defaults(estimator):
    signature = inspect.signature(estimator.__init__).parameters
    reference = inspect.signature(emkit.GaussianHMM.__init__).parameters
    defaults = {name: signature[name].default for name in CHAIN_PARAMETERS if name in signature}
    assert defaults == {name: reference[name].default for name in CHAIN_PARAMETERS}
    non_default = dict(tol=0.5, n_init=2, fixed={"startprob"}, random_state=7, verbose=1)
    hmm = estimator(2, **non_default)
    assert {name: hmm.get_params()[name] for name in non_default} == non_default
    assert estimator(**hmm.get_params()).get_params() == hmm.get_params()


def test_verbose_reports_runs_and_iterations(sequences, capsys):
    X, lengths, _ = sequences
    emkit.GaussianHMM(3, random_state=0, verbose=2, verbose_interval=1, max_iter=3, tol=0.0).fit(
        X, lengths
    )
    out = capsys.readouterr().out
    assert "run 0: objective" in out and "iteration 2" in out


def test_tol_zero_runs_exactly_max_iter(sequences):
    X, lengths, _ = sequences
    hmm = emkit.GaussianHMM(3, tol=0.0, max_iter=7, random_state=0).fit(X, lengths)
    assert hmm.n_iter_ == 7 and len(hmm.history_) == 8 and not hmm.converged_


def test_tol_is_per_time_step(sequences):
    X, lengths, _ = sequences
    hmm = emkit.GaussianHMM(3, tol=1e-2, random_state=0).fit(X, lengths)
    assert hmm.converged_
    change = abs(hmm.history_[-1] - hmm.history_[-2]) / X.shape[0]
    assert change < 1e-2
    if hmm.n_iter_ > 1:
        assert abs(hmm.history_[-2] - hmm.history_[-3]) / X.shape[0] >= 1e-2


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_agrees_with_hmmlearn(covariance_type):
    hmmlearn = pytest.importorskip(
        "hmmlearn.hmm", reason="hmmlearn is a benchmark extra, not a test dependency"
    )
    X, lengths, _ = make_sequences((120, 90, 150), d=2, K=3, seed=9)
    start = hmm_start(X, 3, covariance_type)
    theirs = hmmlearn.GaussianHMM(
        n_components=3,
        covariance_type=covariance_type,
        n_iter=20,
        tol=-np.inf,
        params="stmc",
        init_params="",
        means_prior=0,
        means_weight=0,
        covars_prior=0,
        covars_weight=1,
        implementation="log",
    )
    theirs.startprob_, theirs.transmat_, theirs.means_ = start[0], start[1], start[2]
    theirs.covars_ = start[3]
    theirs.fit(X, lengths)
    ours = emkit.GaussianHMM(
        3,
        covariance_type=covariance_type,
        tol=0.0,
        max_iter=20,
        reg_covar=0.0,
        startprob_init=start[0],
        transmat_init=start[1],
        means_init=start[2],
        covariances_init=start[3],
    ).fit(X, lengths)
    np.testing.assert_allclose(ours.startprob_, theirs.startprob_, rtol=1e-6, atol=1e-10)
    np.testing.assert_allclose(ours.transmat_, theirs.transmat_, rtol=1e-6, atol=1e-10)
    np.testing.assert_allclose(ours.means_, theirs.means_, rtol=1e-6, atol=1e-10)
    if covariance_type == "spherical":
        # hmmlearn 0.3 keeps spherical variances tiled to (K, d) after an M-step, which its
        # covars_ getter does not expect: compare the variances themselves.
        theirs_variances = np.asarray(theirs._covars_).reshape(3, -1)[:, 0]
        np.testing.assert_allclose(ours.covariances_, theirs_variances, rtol=1e-6, atol=1e-10)
    else:
        np.testing.assert_allclose(ours.covars_, theirs.covars_, rtol=1e-6, atol=1e-10)
    assert ours.score(X, lengths) == pytest.approx(theirs.score(X, lengths), rel=1e-9)
    np.testing.assert_array_equal(ours.predict(X, lengths), theirs.predict(X, lengths))
    np.testing.assert_allclose(
        ours.predict_proba(X, lengths), theirs.predict_proba(X, lengths), atol=1e-8
    )
