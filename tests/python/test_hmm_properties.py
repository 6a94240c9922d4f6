"""Behaviours EM guarantees or emkit promises for HMMs: the objective never decreases, results do
not depend on the thread count, long sequences and extreme outliers neither underflow nor produce
NaN, structural zeros stay zero, statistics add up over sets of sequences, weights are
frequency weights."""

import pickle
import warnings

import numpy as np
import pytest
from conftest import COVARIANCE_TYPES
from hmm_data import hmm_start, make_sequences
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reference import hmm as ref

import emkit


def init_kwargs(start):
    return dict(
        startprob_init=start[0],
        transmat_init=start[1],
        means_init=start[2],
        covariances_init=start[3],
    )


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**31 - 1),
    covariance_type=st.sampled_from(COVARIANCE_TYPES),
    K=st.integers(1, 4),
    missing=st.sampled_from([0.0, 0.1, 0.3]),
    unobserved=st.sampled_from([0.0, 0.1]),
    weighted=st.booleans(),
    priors=st.booleans(),
    fixed=st.sampled_from([None, {"transmat"}, {"means"}, {"covariances", "startprob"}]),
)
def test_objective_never_decreases(
    seed, covariance_type, K, missing, unobserved, weighted, priors, fixed
):
    lengths = (60, 35, 90, 15)
    X, lengths, _ = make_sequences(
        lengths, d=3, K=3, seed=seed % 1000, missing=missing, unobserved=unobserved, spread=1.5
    )
    rng = np.random.default_rng(seed)
    w = rng.uniform(0.1, 2.0, size=len(lengths)) if weighted else None
    extra = (
        dict(prior="default", startprob_prior=2.0, transmat_prior=1.0 + 3.0 * np.eye(K))
        if priors
        else {}
    )
    hmm = emkit.GaussianHMM(
        K,
        covariance_type=covariance_type,
        tol=0.0,
        max_iter=30,
        reg_covar=1e-9,
        random_state=seed,
        fixed=fixed,
        **extra,
    )
    with warnings.catch_warnings():
        warnings.simplefilter(
            "ignore", emkit.EmptyComponentWarning
        )  # possible with K=4 on 3 states
        hmm.fit(
            X, lengths, sample_weight=w
        )  # a decrease would raise MonitorWarning (an error here)
    h = hmm.history_
    assert len(h) == 31 and np.isfinite(h).all()
    assert np.all(np.diff(h) >= -1e-10 * (np.abs(h[:-1]) + X.shape[0]))


def assert_identical_fits(fits, X, lengths):
    for other in fits[1:]:
        for name in ("history_", "startprob_", "transmat_", "means_", "covariances_"):
            assert np.array_equal(getattr(other, name), getattr(fits[0], name)), name
        assert np.array_equal(other.predict_proba(X, lengths), fits[0].predict_proba(X, lengths))
        assert np.array_equal(
            other.score_sequences(X, lengths), fits[0].score_sequences(X, lengths)
        )
        assert np.array_equal(other.decode(X, lengths)[1], fits[0].decode(X, lengths)[1])


@pytest.mark.parametrize(
    "lengths",
    [
        pytest.param(np.random.default_rng(0).integers(20, 3000, size=60), id="many-sequences"),
        # Solo sequences (processed with every thread inside them) between shared chunks.
        pytest.param([30_000, 500, 700, 20_000, 300, 5000], id="long-and-short"),
    ],
)
def test_bit_identical_for_1_2_4_threads(covariance_type, lengths):
    X, lengths, _ = make_sequences(lengths, d=3, K=3, seed=1, missing=0.1, unobserved=0.02)
    w = np.random.default_rng(2).uniform(0.5, 1.5, size=len(lengths))
    fits = [
        emkit.GaussianHMM(
            3,
            covariance_type=covariance_type,
            tol=0.0,
            max_iter=4,
            random_state=3,
            n_threads=threads,
        ).fit(X, lengths, sample_weight=w)
        for threads in (1, 2, 4)
    ]
    assert_identical_fits(fits, X, lengths)


def test_same_random_state_gives_identical_fits():
    X, lengths, _ = make_sequences((200, 150), d=2, K=3, seed=4)
    a = emkit.GaussianHMM(3, n_init=3, random_state=42).fit(X, lengths)
    b = emkit.GaussianHMM(3, n_init=3, random_state=42).fit(X, lengths)
    assert np.array_equal(a.history_, b.history_)
    assert np.array_equal(a.transmat_, b.transmat_)
    assert [r.seed for r in a.restarts_] == [r.seed for r in b.restarts_]


def outlier_sequence(T, seed=0):
    """One sequence of T steps from a 3-state chain, with a 10^4-sigma outlier in the middle."""
    rng = np.random.default_rng(seed)
    means = np.array([[0.0, 0.0], [4.0, 0.0], [0.0, 4.0]])
    transmat = np.array([[0.98, 0.01, 0.01], [0.02, 0.96, 0.02], [0.01, 0.02, 0.97]])
    z = np.empty(T, dtype=int)
    z[0] = 0
    u = rng.uniform(size=T)
    cumulative = np.cumsum(transmat, axis=1)
    for t in range(1, T):
        z[t] = np.searchsorted(cumulative[z[t - 1]], u[t])
    X = means[z] + rng.normal(size=(T, 2))
    X[T // 2] = [1e4, -1e4]
    return X


def test_outlier_of_ten_thousand_sigma_matches_log_space_reference(covariance_type):
    X = outlier_sequence(300, seed=1)
    start = hmm_start(X, 3, covariance_type, seed=2)
    hmm = emkit.GaussianHMM(3, covariance_type=covariance_type, **init_kwargs(start)).initialize(X)
    expected_loglik, expected_post = ref.posteriors(X, None, start, covariance_type)
    logprob, post = hmm.score_samples(X)
    assert logprob == pytest.approx(expected_loglik[0], rel=1e-9)
    np.testing.assert_allclose(post, expected_post, rtol=1e-8, atol=1e-12)
    assert np.isfinite(post).all()


def test_million_step_sequence_with_outlier_fits_without_underflow():
    T = 1_000_000  # about 7 s on one core
    X = outlier_sequence(T)
    hmm = emkit.GaussianHMM(3, covariance_type="full", tol=0.0, max_iter=8, random_state=0).fit(X)
    for name in ("history_", "startprob_", "transmat_", "means_", "covariances_"):
        assert np.isfinite(getattr(hmm, name)).all(), name
    assert np.all(np.diff(hmm.history_) >= -1e-10 * (np.abs(hmm.history_[:-1]) + T))
    logprob, post = hmm.score_samples(X)
    assert np.isfinite(logprob) and logprob == pytest.approx(hmm.loglik_, rel=1e-12)
    assert np.isfinite(post).all()
    np.testing.assert_allclose(post.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    logprob_path, states = hmm.decode(X)
    assert states.shape == (T,)
    assert np.isfinite(logprob_path) and logprob_path <= logprob


def test_scaled_pass_falls_back_to_log_space_when_it_loses_range(covariance_type):
    # Left-right chain 0 -> 1 (state 0 cannot be re-entered). State 0 is broad, state 1 narrow; once
    # in state 1, an outlier is 10^7 times more likely under the unreachable state 0: the predicted
    # mass of the plausible states underflows, the scaled pass gives up and the sequence is redone
    # in log space. The result must equal the log-space reference.
    rng = np.random.default_rng(0)
    d, K = 2, 2
    # After ~130 steps that fit state 1, p(state 0 | past) < 1e-250 (tests/cpp/test_hmm.cpp checks
    # that the scaled pass indeed gives up on this sequence).
    X = np.concatenate([rng.normal(0, 30, size=(20, d)), rng.normal(5, 1, size=(140, d))])
    X[150] = [3e3, -3e3]
    startprob = np.array([1.0, 0.0])
    transmat = np.array([[0.9, 0.1], [0.0, 1.0]])
    means = np.array([[0.0, 0.0], [5.0, 5.0]])
    cov = {
        "full": np.stack([np.eye(d) * 900.0, np.eye(d)]),
        "tied": np.eye(d) * 4.0,
        "diag": np.array([[900.0, 900.0], [1.0, 1.0]]),
        "spherical": np.array([900.0, 1.0]),
    }[covariance_type]
    start = (startprob, transmat, means, cov)
    hmm = emkit.GaussianHMM(K, covariance_type=covariance_type, **init_kwargs(start)).initialize(X)
    expected_loglik, expected_post = ref.posteriors(X, None, start, covariance_type)
    logprob, post = hmm.score_samples(X)
    assert logprob == pytest.approx(expected_loglik[0], rel=1e-9)
    np.testing.assert_allclose(post, expected_post, rtol=1e-8, atol=1e-12)
    assert hmm.score(X) == pytest.approx(expected_loglik[0], rel=1e-9)
    expected = ref.fit(X, None, start, covariance_type, 3)
    fitted = emkit.GaussianHMM(
        K, covariance_type=covariance_type, tol=0.0, max_iter=3, **init_kwargs(start)
    ).fit(X)
    np.testing.assert_allclose(fitted.history_, expected["history"], rtol=1e-9)
    np.testing.assert_allclose(fitted.transmat_, expected["params"][-1][1], rtol=1e-9, atol=1e-15)
    assert fitted.transmat_[1, 0] == 0.0


def test_structural_zeros_stay_zero_with_and_without_prior():
    X, lengths, _ = make_sequences((80, 60, 70), d=2, K=3, seed=5)
    transmat = np.array([[0.8, 0.2, 0.0], [0.0, 0.7, 0.3], [0.0, 0.0, 1.0]])
    startprob = np.array([1.0, 0.0, 0.0])
    for prior in (1.0, 1.0 + 5.0 * np.eye(3) + 0.5):
        hmm = emkit.GaussianHMM(
            3,
            startprob_init=startprob,
            transmat_init=transmat,
            transmat_prior=prior,
            startprob_prior=2.0,
            tol=0.0,
            max_iter=15,
            random_state=0,
        ).fit(X, lengths)
        assert np.array_equal(hmm.transmat_ == 0, transmat == 0)
        assert np.array_equal(hmm.startprob_ == 0, startprob == 0)
        np.testing.assert_allclose(hmm.transmat_.sum(axis=1), 1.0, rtol=0, atol=1e-14)


def test_distribution_without_expected_counts_keeps_its_previous_value():
    # State 2 can never be reached: its transition row has no expected counts and keeps its
    # previous value (never NaN); its emission is empty and keeps its parameters, with a warning.
    X, lengths, _ = make_sequences((50, 50), d=2, K=2, seed=6)
    startprob = np.array([0.5, 0.5, 0.0])
    transmat = np.array([[0.9, 0.1, 0.0], [0.2, 0.8, 0.0], [0.3, 0.3, 0.4]])
    means = np.array([[0.0, 0.0], [3.0, 3.0], [-5.0, 1.0]])
    cov = np.ones((3, 2))
    hmm = emkit.GaussianHMM(
        3,
        startprob_init=startprob,
        transmat_init=transmat,
        means_init=means,
        covariances_init=cov,
        tol=0.0,
        max_iter=5,
    )
    with pytest.warns(emkit.EmptyComponentWarning, match=r"components \[2\]"):
        hmm.fit(X, lengths)
    assert np.array_equal(hmm.transmat_[2], transmat[2])
    assert np.array_equal(hmm.means_[2], means[2]) and np.array_equal(hmm.covariances_[2], cov[2])
    assert np.isfinite(hmm.transmat_).all() and hmm.startprob_[2] == 0.0


def test_unobserved_steps_advance_the_chain():
    # A sequence with nothing observed has likelihood 1 and posteriors equal to the chain's own
    # marginals startprob A^t; an observed neighbour's posteriors feel the unobserved gap.
    start = (
        np.array([0.6, 0.4]),
        np.array([[0.9, 0.1], [0.3, 0.7]]),
        np.array([[0.0], [4.0]]),
        np.array([[1.0], [1.0]]),
    )
    hmm = emkit.GaussianHMM(2, **init_kwargs(start)).initialize(np.zeros((4, 1)))
    X = np.full((6, 1), np.nan)
    logprob, post = hmm.score_samples(X)
    assert logprob == 0.0
    marginal = start[0].copy()
    for t in range(6):
        np.testing.assert_allclose(post[t], marginal, rtol=1e-14)
        marginal = marginal @ start[1]
    X = np.array([[4.0], [np.nan], [np.nan], [0.1]])
    expected_loglik, expected_post = ref.posteriors(X, None, start, "diag")
    logprob, post = hmm.score_samples(X)
    assert logprob == pytest.approx(expected_loglik[0], rel=1e-12)
    np.testing.assert_allclose(post, expected_post, rtol=1e-12)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_sequence_statistics_add_up_to_the_whole(covariance_type):
    X, lengths, _ = make_sequences(
        (300, 120, 500, 80, 260), d=3, K=3, seed=2, missing=0.1, unobserved=0.03
    )
    w = np.random.default_rng(1).uniform(0, 2, size=len(lengths))
    hmm = emkit.GaussianHMM(3, covariance_type=covariance_type, random_state=0).initialize(
        X, lengths
    )
    whole = hmm.e_step(X, lengths, sample_weight=w)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    parts = []
    for first, last in [(0, 2), (2, 3), (3, 5)]:
        rows = slice(offsets[first], offsets[last])
        parts.append(hmm.e_step(X[rows], lengths[first:last], sample_weight=w[first:last]))
    total = parts[0] + parts[1] + parts[2]
    for name in ("start_counts", "transition_counts", "emission_counts", "sum", "scatter", "shift"):
        np.testing.assert_allclose(
            getattr(total, name), getattr(whole, name), rtol=1e-11, atol=1e-9
        )
    assert total.loglik == pytest.approx(whole.loglik, rel=1e-12)
    assert total.total_weight == pytest.approx(w @ lengths, rel=1e-12)


def test_chunked_driver_reproduces_fit():
    X, lengths, _ = make_sequences((400, 300, 500, 200, 350), d=2, K=2, seed=3)
    fitted = emkit.GaussianHMM(2, random_state=4, tol=0.0, max_iter=10).fit(X, lengths)
    driver = emkit.GaussianHMM(2, random_state=4).initialize(X, lengths)
    sequences = np.split(X, np.cumsum(lengths)[:-1])
    for _ in range(10):
        stats = None
        for chunk in (sequences[:2], sequences[2:3], sequences[3:]):
            s = driver.e_step(chunk)  # a list of sequences
            stats = s if stats is None else stats + s
        driver.m_step(stats)
    for name in ("startprob_", "transmat_", "means_", "covariances_"):
        np.testing.assert_allclose(
            getattr(driver, name), getattr(fitted, name), rtol=1e-10, atol=1e-14
        )


def test_statistics_pickle():
    X, lengths, _ = make_sequences((100, 100), d=2, K=2, seed=5)
    hmm = emkit.GaussianHMM(2, random_state=0).fit(X, lengths)
    stats = hmm.e_step(X, lengths)
    clone = pickle.loads(pickle.dumps(stats))
    for name in ("start_counts", "transition_counts", "emission_counts", "sum", "scatter", "shift"):
        np.testing.assert_array_equal(getattr(clone, name), getattr(stats, name))
    assert clone.loglik == stats.loglik and clone.total_weight == stats.total_weight
    hmm.m_step(clone)  # usable after the round trip


def test_statistics_at_different_parameters_do_not_add():
    X, lengths, _ = make_sequences((100, 100), d=2, K=2, seed=6)
    hmm = emkit.GaussianHMM(2, random_state=0).initialize(X, lengths)
    before = hmm.e_step(X, lengths)
    hmm.m_step(before)
    after = hmm.e_step(X, lengths)
    with pytest.raises(
        ValueError, match="stats: cannot add statistics computed at different parameters"
    ):
        before + after


@pytest.mark.parametrize("missing", [0.0, 0.2])
def test_weight_two_equals_duplicated_sequence(covariance_type, missing):
    X, lengths, _ = make_sequences((70, 50, 60), d=2, K=2, seed=7, missing=missing)
    start = hmm_start(X, 2, covariance_type)
    w = np.array([1.0, 2.0, 1.0])
    sequences = np.split(X, np.cumsum(lengths)[:-1])
    kwargs = dict(covariance_type=covariance_type, tol=0.0, max_iter=12, **init_kwargs(start))
    weighted = emkit.GaussianHMM(2, **kwargs).fit(X, lengths, sample_weight=w)
    duplicated = emkit.GaussianHMM(2, **kwargs).fit(sequences + [sequences[1]])
    np.testing.assert_allclose(weighted.history_, duplicated.history_, rtol=1e-11)
    for name in ("startprob_", "transmat_", "means_", "covariances_"):
        np.testing.assert_allclose(
            getattr(weighted, name), getattr(duplicated, name), rtol=1e-10, atol=1e-14
        )


def test_zero_weight_sequence_is_ignored():
    X, lengths, _ = make_sequences((70, 50, 60), d=2, K=2, seed=8)
    start = hmm_start(X, 2, "diag")
    sequences = np.split(X, np.cumsum(lengths)[:-1])
    kwargs = dict(tol=0.0, max_iter=8, **init_kwargs(start))
    a = emkit.GaussianHMM(2, **kwargs).fit(X, lengths, sample_weight=[1.0, 0.0, 1.0])
    b = emkit.GaussianHMM(2, **kwargs).fit([sequences[0], sequences[2]])
    np.testing.assert_allclose(a.history_, b.history_, rtol=1e-12)
    np.testing.assert_allclose(a.means_, b.means_, rtol=1e-12)
    np.testing.assert_allclose(a.transmat_, b.transmat_, rtol=1e-12)


def test_sampling_is_reproducible_and_follows_the_chain():
    start = (
        np.array([1.0, 0.0]),
        np.array([[0.95, 0.05], [0.1, 0.9]]),
        np.array([[0.0, 0.0], [5.0, 5.0]]),
        np.ones((2, 2)),
    )
    hmm = emkit.GaussianHMM(2, random_state=3, **init_kwargs(start)).initialize(np.zeros((4, 2)))
    X, states = hmm.sample(20_000)
    X2, states2 = hmm.sample(20_000)
    assert np.array_equal(X, X2) and np.array_equal(states, states2)
    assert not np.array_equal(hmm.sample(50, random_state=4)[0], hmm.sample(50, random_state=5)[0])
    assert X.shape == (20_000, 2) and states[0] == 0
    transitions = np.zeros((2, 2))
    np.add.at(transitions, (states[:-1], states[1:]), 1)
    np.testing.assert_allclose(
        transitions / transitions.sum(axis=1, keepdims=True), start[1], atol=0.01
    )
    np.testing.assert_allclose(X[states == 1].mean(axis=0), [5.0, 5.0], atol=0.05)
