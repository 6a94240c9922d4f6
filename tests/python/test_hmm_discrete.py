"""emkit's CategoricalHMM, PoissonHMM and mixed-type HMM agree with the plain numpy reference
Baum-Welch (reference.hmm's item emissions), iteration by iteration, to a relative 1e-9: several
sequences, missing entries and fully missing time steps, sequence weights, fixed groups, priors;
Viterbi paths equal the reference's; bad codes are clear errors."""

import numpy as np
import pytest
from hmm_checks import RTOL, assert_close
from reference import hmm as ref

import emkit

K = 3
LENGTHS = np.array([40, 25, 55])


def chain(seed, lengths=LENGTHS):
    rng = np.random.default_rng(seed)
    transmat = 0.7 * np.eye(K) + 0.3 * rng.dirichlet(np.ones(K), size=K)
    z = []
    for T in lengths:
        s = [rng.integers(K)]
        for _ in range(T - 1):
            s.append(rng.choice(K, p=transmat[s[-1]]))
        z.extend(s)
    return np.array(z), rng


def categorical_data(n_categories=(4, 3), seed=0, missing=0.0, unobserved=0.0, lengths=LENGTHS):
    z, rng = chain(seed, lengths)
    cols = []
    for R in n_categories:
        P = rng.dirichlet(np.full(R, 0.5), size=K)
        cols.append(np.array([rng.choice(R, p=P[k]) for k in z]))
    X = np.stack(cols, axis=1)
    if missing:
        X[rng.uniform(size=X.shape) < missing] = -1
    if unobserved:
        rows = rng.uniform(size=X.shape[0]) < unobserved
        rows[lengths[0]] = True
        X[rows] = -1
    return X


def start_values(n_categories, seed=1):
    rng = np.random.default_rng(seed)
    startprob = rng.dirichlet(np.full(K, 2.0))
    transmat = 0.5 * np.eye(K) + 0.5 * rng.dirichlet(np.full(K, 2.0), size=K)
    probs = [rng.dirichlet(np.full(R, 2.0), size=K) for R in n_categories]
    return startprob, transmat, probs


CAT_CASES = [
    pytest.param(dict(), id="plain"),
    pytest.param(dict(weights=True), id="weights"),
    pytest.param(dict(missing=0.2, unobserved=0.08, weights=True), id="missing+weights"),
    pytest.param(dict(dirichlet=True, emission_prior=1.7, missing=0.1), id="priors"),
    pytest.param(dict(fixed={"startprob", "transmat"}, missing=0.1), id="fixed-chain"),
    pytest.param(dict(fixed={"emissionprob"}, dirichlet=True), id="fixed-emission"),
    pytest.param(dict(structural_zeros=True, missing=0.1), id="structural-zeros"),
    pytest.param(dict(n_categories=(5,), missing=0.1, weights=True), id="one-feature"),
    pytest.param(
        dict(dirichlet=True, missing=0.1, emission_prior=[
            1.0 + np.arange(12.0).reshape(K, 4) / 4, np.array([[1.0, 2.0, 1.0], [3.0, 1.0, 1.0], [1.0, 1.0, 1.0]])
        ]),
        id="array-prior",
    ),
    pytest.param(
        dict(n_categories=(5,), weights=True, emission_prior=1.0 + np.arange(15.0).reshape(K, 5) / 5),
        id="one-feature-array-prior",
    ),
]


@pytest.mark.parametrize("case", CAT_CASES)
def test_categorical_twenty_iterations_match_reference(case):
    R = case.get("n_categories", (4, 3))
    X = categorical_data(R, seed=3, missing=case.get("missing", 0.0), unobserved=case.get("unobserved", 0.0))
    w = np.array([0.5, 2.0, 1.3]) if case.get("weights") else None
    startprob, transmat, probs = start_values(R)
    if case.get("structural_zeros"):
        transmat = np.triu(transmat)
        transmat /= transmat.sum(axis=1, keepdims=True)
        startprob = np.array([0.7, 0.3, 0.0])
    prior, kw = {}, {}
    if case.get("dirichlet"):
        prior.update(startprob=np.array([2.0, 1.5, 3.0]), transmat=1.5 + 4.0 * np.eye(K))
        kw.update(startprob_prior=prior["startprob"], transmat_prior=prior["transmat"])
    if case.get("emission_prior") is not None:
        b = case["emission_prior"]
        prior["emission"] = [b] if isinstance(b, np.ndarray) else b
        kw["emissionprob_prior"] = b
    fixed = frozenset(case.get("fixed", ()))
    measurement = ["categorical"] * len(R)
    expected = ref.items_fit(
        X.astype(float), LENGTHS, (startprob, transmat, probs), measurement, 20,
        sample_weight=w, prior=prior or None, fixed=fixed,
    )
    init = dict(
        startprob_init=startprob, transmat_init=transmat,
        emissionprob_init=probs[0] if len(R) == 1 else probs,
    )
    hmm = emkit.CategoricalHMM(
        K, n_categories=list(R), tol=0.0, max_iter=20, fixed=fixed, **init, **kw
    ).fit(X, LENGTHS, sample_weight=w)
    assert hmm.n_iter_ == 20
    assert_close(hmm.history_, expected["history"], "objective history")
    final = expected["params"][-1]
    assert_close(hmm.startprob_, final[0], "startprob")
    assert_close(hmm.transmat_, final[1], "transmat")
    got = [hmm.emissionprob_] if len(R) == 1 else hmm.emissionprob_
    if len(R) == 1:
        assert np.shape(hmm.emissionprob_) == (K, R[0])
    for j in range(len(R)):
        assert_close(got[j], final[2][j], f"emissionprob[{j}]")
    assert hmm.loglik_ == pytest.approx(
        ref.items_objective(X.astype(float), LENGTHS, final, measurement, sample_weight=w), rel=RTOL
    )

    step = emkit.CategoricalHMM(K, n_categories=list(R), fixed=fixed, **init, **kw).initialize(X, LENGTHS)
    for it in range(1, 21):
        step.m_step(step.e_step(X, LENGTHS, sample_weight=w))
        params = expected["params"][it]
        assert_close(step.transmat_, params[1], f"transmat after iteration {it}")
        got = [step.emissionprob_] if len(R) == 1 else step.emissionprob_
        for j in range(len(R)):
            assert_close(got[j], params[2][j], f"emissionprob[{j}] after iteration {it}")
    if "emissionprob" in fixed:
        for j in range(len(R)):
            np.testing.assert_allclose((hmm.emissionprob_ if len(R) > 1 else [hmm.emissionprob_])[j], probs[j],
                                       rtol=1e-15, atol=0)
    if case.get("structural_zeros"):
        assert np.array_equal(hmm.transmat_ == 0, transmat == 0)


def test_categorical_viterbi_posteriors_and_criteria_match_reference():
    R = (4, 3)
    X = categorical_data(R, seed=5, missing=0.2, unobserved=0.05)
    startprob, transmat, probs = start_values(R, seed=2)
    hmm = emkit.CategoricalHMM(
        K, n_categories=list(R), startprob_init=startprob, transmat_init=transmat, emissionprob_init=probs,
        max_iter=5, tol=0.0,
    ).fit(X, LENGTHS)
    params = (hmm.startprob_, hmm.transmat_, hmm.emissionprob_)
    lp, states = ref.items_decode(X.astype(float), LENGTHS, params, ["categorical"] * 2)
    logprob, got = hmm.decode(X, LENGTHS)
    assert np.array_equal(got, states)
    assert logprob == pytest.approx(lp.sum(), rel=RTOL)
    ll, post = ref.items_posteriors(X.astype(float), LENGTHS, params, ["categorical"] * 2)
    assert_close(hmm.predict_proba(X, LENGTHS), post, "posteriors")
    assert_close(hmm.score_sequences(X, LENGTHS), ll, "score per sequence")
    p = (K - 1) + K * (K - 1) + K * (3 + 2)
    assert hmm._n_parameters() == p
    assert hmm.bic(X, LENGTHS) == pytest.approx(-2 * ll.sum() + p * np.log(X.shape[0]), rel=1e-12)
    assert hmm.aic(X, LENGTHS) == pytest.approx(-2 * ll.sum() + 2 * p, rel=1e-12)


def test_categorical_api_restarts_sample_and_labels():
    X = categorical_data((4, 3), seed=7, lengths=np.array([200, 150]))
    hmm = emkit.CategoricalHMM(K, n_init=3, random_state=0, max_iter=30, tol=0.0).fit(X, [200, 150])
    assert len(hmm.restarts_) == 3
    assert hmm.history_.shape[0] == hmm.n_iter_ + 1 or hmm.history_.shape[0] >= 1
    assert np.all(np.diff(hmm.history_) > -1e-9 * np.abs(hmm.history_[1:]))
    Xs, z = hmm.sample(100, random_state=1)
    assert Xs.shape == (100, 2) and z.shape == (100,)
    assert (Xs[:, 0] < 4).all() and (Xs[:, 1] < 3).all() and (Xs >= 0).all()
    # Sequences given as a list; a 1-D array is one feature.
    seqs = [X[:200], X[200:]]
    assert emkit.CategoricalHMM(K, random_state=0, tol=0.0, max_iter=10).fit(seqs).score(seqs) == pytest.approx(
        emkit.CategoricalHMM(K, random_state=0, tol=0.0, max_iter=10).fit(X, [200, 150]).score(X, [200, 150]))
    one = emkit.CategoricalHMM(2, random_state=0, max_iter=5, tol=0.0).fit(X[:, 0])
    assert np.shape(one.emissionprob_) == (2, 4)
    # A DataFrame of labels.
    pd = pytest.importorskip("pandas")
    labels = np.array(["a", "b", "c", "d"])
    df = pd.DataFrame({"x": labels[X[:, 0]], "y": X[:, 1]})
    fitted = emkit.CategoricalHMM(K, random_state=0, max_iter=10, tol=0.0).fit(df, [200, 150])
    assert list(fitted.feature_names_in_) == ["x", "y"]
    assert fitted.predict(df, [200, 150]).shape == (350,)


def test_categorical_bad_codes_are_clear_errors():
    X = categorical_data((4, 3), seed=1)
    with pytest.raises(ValueError, match="code"):
        emkit.CategoricalHMM(K, n_categories=[3, 3]).fit(X, LENGTHS)
    with pytest.raises(ValueError, match="integer"):
        emkit.CategoricalHMM(K).fit(X + 0.5, LENGTHS)
    hmm = emkit.CategoricalHMM(K, n_categories=[4, 3], max_iter=3, tol=0.0, random_state=0).fit(X, LENGTHS)
    bad = X.copy()
    bad[5, 1] = 3
    with pytest.raises(ValueError, match="code"):
        hmm.predict(bad, LENGTHS)
    with pytest.raises(ValueError, match="emissionprob_prior"):
        emkit.CategoricalHMM(K, emissionprob_prior=0.5).fit(X, LENGTHS)
    with pytest.raises(ValueError, match="fixed"):
        emkit.CategoricalHMM(K, fixed={"means"}).fit(X, LENGTHS)


# ---------------------------------------------------------------------------------- Poisson, mixed
def mixed_data(kinds, seed=0, missing=0.0):
    z, rng = chain(seed)
    cols = []
    for kind in kinds:
        if kind == "categorical":
            P = rng.dirichlet(np.full(3, 0.5), size=K)
            cols.append(np.array([rng.choice(3, p=P[k]) for k in z], dtype=float))
        elif kind == "gaussian":
            mu = rng.normal(0, 3, size=K)
            cols.append(mu[z] + rng.normal(size=z.size))
        else:
            lam = rng.uniform(0.5, 8.0, size=K)
            cols.append(rng.poisson(lam[z]).astype(float))
    X = np.stack(cols, axis=1)
    if missing:
        X[rng.uniform(size=X.shape) < missing] = np.nan
    return X


def mixed_start(kinds, X, seed=1):
    rng = np.random.default_rng(seed)
    startprob = rng.dirichlet(np.full(K, 2.0))
    transmat = 0.5 * np.eye(K) + 0.5 * rng.dirichlet(np.full(K, 2.0), size=K)
    items = []
    for j, kind in enumerate(kinds):
        col = X[:, j][~np.isnan(X[:, j])]
        if kind == "categorical":
            items.append(rng.dirichlet(np.full(3, 2.0), size=K))
        elif kind == "gaussian":
            items.append(np.stack([col.mean() + rng.normal(size=K) * col.std(), np.full(K, col.var())], axis=1))
        else:
            items.append(col.mean() * rng.uniform(0.5, 1.5, size=K))
    return startprob, transmat, items


@pytest.mark.parametrize("fixed", [frozenset(), frozenset({"lambdas"})])
def test_poisson_hmm_matches_reference(fixed):
    kinds = ["poisson", "poisson"]
    X = mixed_data(kinds, seed=4, missing=0.1)
    w = np.array([1.0, 0.4, 2.5])
    startprob, transmat, items = mixed_start(kinds, X)
    lambdas = np.stack(items, axis=1)
    ref_fixed = frozenset("rates" if f == "lambdas" else f for f in fixed)
    expected = ref.items_fit(X, LENGTHS, (startprob, transmat, items), kinds, 20, sample_weight=w, fixed=ref_fixed,
                             prior={"transmat": 1.0 + 2.0 * np.eye(K)})
    hmm = emkit.PoissonHMM(
        K, tol=0.0, max_iter=20, startprob_init=startprob, transmat_init=transmat, lambdas_init=lambdas,
        transmat_prior=1.0 + 2.0 * np.eye(K), fixed=fixed,
    ).fit(X, LENGTHS, sample_weight=w)
    assert_close(hmm.history_, expected["history"], "objective history")
    final = expected["params"][-1]
    assert_close(hmm.transmat_, final[1], "transmat")
    assert_close(hmm.lambdas_, np.stack(final[2], axis=1), "lambdas")
    assert hmm.lambdas_.shape == (K, 2)
    lp, states = ref.items_decode(X, LENGTHS, final, kinds)
    assert np.array_equal(hmm.predict(X, LENGTHS), states)
    Xs, z = hmm.sample(50, random_state=0)
    assert Xs.shape == (50, 2) and (Xs >= 0).all()


@pytest.mark.parametrize(
    "fixed", [frozenset(), frozenset({"means"}), frozenset({"variances", "emissionprob"})]
)
def test_mixed_hmm_matches_reference(fixed):
    kinds = ["gaussian", "categorical", "poisson", "gaussian"]
    X = mixed_data(kinds, seed=9, missing=0.15)
    startprob, transmat, items = mixed_start(kinds, X)
    prior = {"startprob": np.array([1.2, 2.0, 1.5]), "transmat": np.full((K, K), 1.1), "emission": 1.3}
    expected = ref.items_fit(X, LENGTHS, (startprob, transmat, items), kinds, 20, prior=prior, fixed=fixed,
                             reg_covar=1e-6)
    gauss = [j for j, k in enumerate(kinds) if k == "gaussian"]
    hmm = emkit.HMM(
        K, emission=kinds, n_categories=3, tol=0.0, max_iter=20, startprob_init=startprob, transmat_init=transmat,
        emissionprob_init=items[1], means_init=np.stack([items[j][:, 0] for j in gauss], axis=1),
        variances_init=np.stack([items[j][:, 1] for j in gauss], axis=1), rates_init=items[2][:, None],
        startprob_prior=prior["startprob"], transmat_prior=prior["transmat"], emissionprob_prior=1.3,
        fixed=fixed,
    ).fit(X, LENGTHS)
    assert_close(hmm.history_, expected["history"], "objective history")
    final = expected["params"][-1]
    assert_close(hmm.startprob_, final[0], "startprob")
    assert_close(hmm.transmat_, final[1], "transmat")
    assert_close(hmm.emissionprob_, final[2][1], "emissionprob")
    assert_close(hmm.means_, np.stack([final[2][j][:, 0] for j in gauss], axis=1), "means")
    assert_close(hmm.variances_, np.stack([final[2][j][:, 1] for j in gauss], axis=1), "variances")
    assert_close(hmm.rates_, final[2][2][:, None], "rates")
    lp, states = ref.items_decode(X, LENGTHS, final, kinds)
    logprob, got = hmm.decode(X, LENGTHS)
    assert np.array_equal(got, states)
    assert logprob == pytest.approx(lp.sum(), rel=RTOL)
    Xs, _ = hmm.sample(30, random_state=0)
    assert Xs.shape == (30, 4)


def test_mixed_hmm_array_emission_prior_matches_reference():
    kinds = ["categorical", "gaussian", "categorical"]
    X = mixed_data(kinds, seed=5, missing=0.1)
    startprob, transmat, items = mixed_start(kinds, X)
    alpha = [np.array([[1.0, 2.0, 3.0], [1.5, 1.0, 1.0], [2.0, 2.0, 2.0]]), np.full((K, 3), 1.4)]
    # A start prior keeps startprob off exact zeros (a support change shifts the flat densities).
    prior = {"emission": alpha, "startprob": np.full(K, 1.2)}
    expected = ref.items_fit(X, LENGTHS, (startprob, transmat, items), kinds, 20, prior=prior)
    hmm = emkit.HMM(
        K, emission=kinds, n_categories=3, tol=0.0, max_iter=20, startprob_init=startprob, transmat_init=transmat,
        emissionprob_init=[items[0], items[2]], means_init=items[1][:, :1], variances_init=items[1][:, 1:],
        emissionprob_prior=alpha, startprob_prior=prior["startprob"],
    ).fit(X, LENGTHS)
    assert_close(hmm.history_, expected["history"], "objective history")
    final = expected["params"][-1]
    assert_close(hmm.emissionprob_[0], final[2][0], "emissionprob[0]")
    assert_close(hmm.emissionprob_[1], final[2][2], "emissionprob[1]")
    assert_close(hmm.means_, final[2][1][:, :1], "means")
    assert hmm.log_prior() == pytest.approx(ref.items_log_prior(final, kinds, prior), rel=RTOL)


def test_emission_is_the_documented_name_and_measurement_its_deprecated_alias():
    kinds = ["gaussian", "categorical", "poisson"]
    X = mixed_data(kinds, seed=2)
    a = emkit.HMM(K, emission=kinds, n_categories=3, random_state=0, max_iter=5, tol=0.0).fit(X, LENGTHS)
    with pytest.warns(FutureWarning, match="measurement is deprecated"):
        b = emkit.HMM(K, measurement=kinds, n_categories=3, random_state=0, max_iter=5, tol=0.0).fit(X, LENGTHS)
    assert np.array_equal(a.history_, b.history_)
    assert a.emission_ == b.emission_ == kinds
    assert "emission" in a.get_params()
    with pytest.raises(ValueError, match="emission, measurement"):
        emkit.HMM(K, emission=kinds, measurement=kinds).fit(X, LENGTHS)


@pytest.mark.parametrize(
    "value, error, match",
    [
        (np.ones((K, 3)), ValueError, r"expected a number or 2 arrays"),
        ([np.ones((K, 4)), np.ones((K, 2))], ValueError, r"emissionprob_prior\[1\]: expected a number or an array of shape"),
        ([np.ones((K, 4)), np.full((K, 3), 0.5)], ValueError, r"emissionprob_prior\[1\]: expected Dirichlet concentrations >= 1"),
        ([np.ones((K, 4)), np.full((K, 3), np.nan)], ValueError, r"emissionprob_prior\[1\]: expected finite"),
        (True, TypeError, "emissionprob_prior"),
        ([np.ones((K, 4)), np.full((K, 3), "a")], TypeError, "emissionprob_prior"),
    ],
)
def test_bad_emission_prior_arrays_are_clear_errors(value, error, match):
    X = categorical_data((4, 3), seed=1)
    with pytest.raises(error, match=match):
        emkit.CategoricalHMM(K, n_categories=[4, 3], emissionprob_prior=value).fit(X, LENGTHS)


def test_emission_prior_needs_a_categorical_column():
    X = mixed_data(["gaussian"], seed=1)
    with pytest.raises(ValueError, match="emissionprob_prior: the model has no categorical"):
        emkit.HMM(K, emission="gaussian", emissionprob_prior=2.0).fit(X, LENGTHS)


@pytest.mark.parametrize("model", ["categorical", "mixed", "poisson"])
def test_statistics_pickle_and_add_up(model):
    import pickle

    if model == "categorical":
        X = categorical_data((4, 3), seed=2, missing=0.1)
        hmm = emkit.CategoricalHMM(K, n_categories=[4, 3], random_state=0, emissionprob_prior=1.5)
    elif model == "mixed":
        X = mixed_data(["gaussian", "categorical", "poisson"], seed=2, missing=0.1)
        hmm = emkit.HMM(K, emission=["gaussian", "categorical", "poisson"], n_categories=3, random_state=0)
    else:
        X = mixed_data(["poisson", "poisson"], seed=2)
        hmm = emkit.PoissonHMM(K, random_state=0)
    hmm.initialize(X, LENGTHS)
    parts = [X[:40], X[40:65], X[65:]]
    stats = [pickle.loads(pickle.dumps(hmm.e_step(p))) for p in parts]
    total = stats[0] + stats[1] + stats[2]
    whole = hmm.e_step(X, LENGTHS)
    assert total.loglik == pytest.approx(whole.loglik, rel=1e-12)
    np.testing.assert_allclose(total.transition_counts, whole.transition_counts, rtol=1e-12)
    copy = pickle.loads(pickle.dumps(hmm))
    copy.m_step(total)
    hmm.m_step(whole)
    np.testing.assert_allclose(copy.transmat_, hmm.transmat_, rtol=1e-12)
