"""One conformance suite every estimator passes: the EM protocol (initialize, e_step, +, m_step,
log_prior, pending_pass) driven chunk by chunk reproduces fit; statistics pickle, add and refuse
other parameters; get_state/set_state restores predictions bit for bit; the parameter protocol
rebuilds the estimator; verbose=2 prints progress; every estimator has lower_bound_ and
warm_start."""

import pickle
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List

import numpy as np
import pytest
from conftest import make_blobs
from hmm_data import make_sequences

import emkit

N_ITER = 15
RTOL = 1e-12


@dataclass
class Case:
    """An estimator, its training data, how to split the data into chunks, and what to compare."""

    make: Callable[..., Any]
    fit_args: Dict[str, Any]  # X and the other arguments of fit / initialize / e_step
    split: Callable[[Dict[str, Any], int], List[Dict[str, Any]]]  # the e_step arguments per chunk
    parameters: List[str]  # public attributes holding the fitted parameters
    outputs: Callable[[Any, Dict[str, Any]], List[np.ndarray]]  # predictions to compare
    extra: Dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------------------------- data
def _rows_split(args, n_chunks):
    """Row chunks of uneven sizes (every argument that has one value per row is split)."""
    n = len(args["X"])
    cuts = np.unique(np.linspace(0, n, n_chunks + 1).astype(int) + np.r_[0, np.arange(1, n_chunks) % 3, 0])
    cuts[-1] = n
    chunks = []
    for a, b in zip(cuts[:-1], cuts[1:]):
        chunk = {}
        for key, value in args.items():
            chunk[key] = None if value is None else (value.iloc[a:b] if hasattr(value, "iloc") else value[a:b])
        chunks.append(chunk)
    return chunks


def _sequence_split(args, n_chunks):
    """Groups of whole sequences (X, lengths, one sample weight per sequence)."""
    lengths = np.asarray(args["lengths"])
    offsets = np.r_[0, np.cumsum(lengths)]
    groups = np.array_split(np.arange(len(lengths)), n_chunks)
    chunks = []
    for g in groups:
        chunk = {"X": args["X"][offsets[g[0]]: offsets[g[-1] + 1]], "lengths": lengths[g]}
        if args.get("sample_weight") is not None:
            chunk["sample_weight"] = args["sample_weight"][g]
        chunks.append(chunk)
    return chunks


def _lca_codes(n=600, items=(3, 3, 2, 4, 3), K=2, seed=0, missing=0.05):
    rng = np.random.default_rng(seed)
    z = rng.integers(0, K, size=n)
    cols = []
    for r in items:
        probs = rng.dirichlet(np.full(r, 0.6), size=K)
        u = rng.uniform(size=n)[:, None]
        cols.append((u > np.cumsum(probs[z], axis=1)).sum(axis=1))
    codes = np.stack(cols, axis=1)
    codes[rng.uniform(size=codes.shape) < missing] = -1
    return codes, z


def _mixed_rows(n=500, seed=1):
    codes, z = _lca_codes(n=n, items=(3, 2), seed=seed)
    rng = np.random.default_rng(seed + 1)
    gauss = rng.normal(np.where(z == 0, -1.0, 1.5), 1.0)
    counts = rng.poisson(np.where(z == 0, 2.0, 6.0)).astype(float)
    X = np.column_stack([codes.astype(float), gauss, counts])
    X[X == -1] = np.nan
    X[rng.uniform(size=n) < 0.05, 2] = np.nan
    return X


def _block_rows(n=500, seed=3):
    """_mixed_rows and three correlated normal columns (a Gaussian block), entries and whole blocks missing."""
    X = _mixed_rows(n=n, seed=seed)
    rng = np.random.default_rng(seed + 2)
    z = (X[:, 2] > 0.25).astype(float)  # the classes show through the normal item
    L = np.array([[1.0, 0.0, 0.0], [0.6, 0.8, 0.0], [-0.3, 0.4, 0.9]])
    block = 2.0 * z[:, None] + rng.normal(size=(n, 3)) @ L.T
    block[rng.uniform(size=block.shape) < 0.05] = np.nan
    block[rng.uniform(size=n) < 0.03] = np.nan
    return np.column_stack([X, block])


def _weights(n, seed=7):
    return np.random.default_rng(seed).uniform(0.5, 2.0, size=n)


def _gmm_case():
    X, _ = make_blobs(n=600, d=3, K=3, seed=2, missing=0.05)
    return Case(
        lambda **kw: emkit.GaussianMixture(3, covariance_type="full", random_state=3, **kw),
        {"X": X, "sample_weight": _weights(len(X))}, _rows_split,
        ["weights_", "means_", "covariances_"], lambda e, a: [e.predict_proba(a["X"]), e.score_samples(a["X"])],
    )


def _lca_case():
    codes, _ = _lca_codes()
    return Case(
        lambda **kw: emkit.LatentClass(2, random_state=4, prior="default", **kw),
        {"X": codes, "sample_weight": _weights(len(codes))}, _rows_split,
        ["weights_", "probs_"], lambda e, a: [e.predict_proba(a["X"]), e.score_samples(a["X"])],
    )


def _lca_mixed_case():
    X = _mixed_rows()
    return Case(
        lambda **kw: emkit.LatentClass(2, emission=["categorical", "categorical", "gaussian", "poisson"],
                                       random_state=5, **kw),
        {"X": X, "sample_weight": _weights(len(X))}, _rows_split,
        ["weights_", "probs_", "means_", "variances_", "rates_"],
        lambda e, a: [e.predict_proba(a["X"]), e.score_samples(a["X"])],
    )


def _lca_block_case():
    X = _block_rows()
    return Case(
        lambda **kw: emkit.LatentClass(
            2, emission=["categorical", "categorical", "gaussian", "poisson"] + ["gaussian_full"] * 3,
            random_state=6, **kw),
        {"X": X, "sample_weight": _weights(len(X))}, _rows_split,
        ["weights_", "probs_", "means_", "variances_", "rates_", "block_means_", "block_covariances_"],
        lambda e, a: [e.predict_proba(a["X"]), e.score_samples(a["X"])],
    )


def _lca_regression_case():
    codes, z = _lca_codes(n=500, seed=3)
    rng = np.random.default_rng(9)
    Z = np.column_stack([z + rng.normal(0, 1.0, size=len(z)), 40.0 * rng.normal(size=len(z))])
    return Case(
        lambda **kw: emkit.LatentClass(2, random_state=6, **kw),
        {"X": codes, "sample_weight": _weights(len(codes)), "covariates": Z}, _rows_split,
        ["coef_", "probs_"],
        lambda e, a: [e.predict_proba(a["X"], covariates=a["covariates"]),
                      e.score_samples(a["X"], covariates=a["covariates"])],
    )


def _table_case():
    codes, _ = _lca_codes(n=400, items=(3, 2, 3), seed=4, missing=0.15)
    return Case(
        lambda **kw: emkit.CategoricalTable(**kw),
        {"X": codes, "sample_weight": _weights(len(codes))}, _rows_split,
        ["probs_"], lambda e, a: [e.score_samples(a["X"])],
    )


LENGTHS = (60, 45, 80, 50, 70, 40)


def _hmm_outputs(e, a):
    logprob, posteriors = e.score_samples(a["X"], a["lengths"])
    return [np.array([logprob]), posteriors, e.score_sequences(a["X"], a["lengths"])]


def _gaussian_hmm_case():
    X, lengths, _ = make_sequences(LENGTHS, d=2, K=3, seed=5, missing=0.05)
    return Case(
        lambda **kw: emkit.GaussianHMM(3, covariance_type="full", random_state=7, **kw),
        {"X": X, "lengths": lengths, "sample_weight": _weights(len(lengths))}, _sequence_split,
        ["startprob_", "transmat_", "means_", "covariances_"], _hmm_outputs,
    )


def _gmm_hmm_case():
    X, lengths, _ = make_sequences(LENGTHS, d=2, K=2, seed=6)
    return Case(
        lambda **kw: emkit.GMMHMM(2, n_mix=2, covariance_type="diag", random_state=8, **kw),
        {"X": X, "lengths": lengths, "sample_weight": _weights(len(lengths))}, _sequence_split,
        ["startprob_", "transmat_", "weights_", "means_", "covariances_"], _hmm_outputs,
    )


def _discrete_sequences(seed, kinds):
    X, lengths, states = make_sequences(LENGTHS, d=1, K=2, seed=seed)
    rng = np.random.default_rng(seed)
    cols = []
    for kind in kinds:
        if kind == "categorical":
            cols.append(((states + rng.integers(0, 2, size=len(states))) % 3).astype(float))
        elif kind == "poisson":
            cols.append(rng.poisson(np.where(states == 0, 1.5, 5.0)).astype(float))
        else:
            cols.append(X[:, 0])
    return np.column_stack(cols), lengths


def _categorical_hmm_case():
    X, lengths = _discrete_sequences(7, ["categorical", "categorical"])
    return Case(
        lambda **kw: emkit.CategoricalHMM(2, random_state=9, **kw),
        {"X": X.astype(int), "lengths": lengths, "sample_weight": _weights(len(lengths))}, _sequence_split,
        ["startprob_", "transmat_"], _hmm_outputs,
    )


def _poisson_hmm_case():
    X, lengths = _discrete_sequences(8, ["poisson", "poisson"])
    return Case(
        lambda **kw: emkit.PoissonHMM(2, random_state=10, **kw),
        {"X": X, "lengths": lengths, "sample_weight": _weights(len(lengths))}, _sequence_split,
        ["startprob_", "transmat_", "lambdas_"], _hmm_outputs,
    )


def _mixed_hmm_case():
    X, lengths = _discrete_sequences(9, ["gaussian", "categorical", "poisson"])
    return Case(
        lambda **kw: emkit.HMM(2, emission=["gaussian", "categorical", "poisson"], random_state=11, **kw),
        {"X": X, "lengths": lengths, "sample_weight": _weights(len(lengths))}, _sequence_split,
        ["startprob_", "transmat_", "means_", "variances_", "rates_"], _hmm_outputs,
    )


CASES = {
    "GaussianMixture": _gmm_case,
    "LatentClass": _lca_case,
    "LatentClass-mixed": _lca_mixed_case,
    "LatentClass-block": _lca_block_case,
    "LatentClass-covariates": _lca_regression_case,
    "CategoricalTable": _table_case,
    "GaussianHMM": _gaussian_hmm_case,
    "GMMHMM": _gmm_hmm_case,
    "CategoricalHMM": _categorical_hmm_case,
    "PoissonHMM": _poisson_hmm_case,
    "HMM-mixed": _mixed_hmm_case,
}


@pytest.fixture(params=sorted(CASES), scope="module")
def case(request):
    return CASES[request.param]()


@pytest.fixture(scope="module")
def fitted(case):
    return case.make(tol=0.0, max_iter=N_ITER).fit(**case.fit_args)


def _as_list(value):
    return [np.asarray(v) for v in value] if isinstance(value, (list, tuple)) else [np.asarray(value)]


def _drive(est, chunks, n_iter):
    """The chunked driver: every iteration sums the chunks' statistics, M-steps, and runs the
    extra passes the M-step asks for. Returns the objective before every M-step."""
    history = []
    for _ in range(n_iter):
        stats = sum(est.e_step(**chunk) for chunk in chunks)
        history.append(stats.loglik + est.log_prior())
        est.m_step(stats)
        while est.pending_pass:
            est.m_step(sum(est.e_step(**chunk) for chunk in chunks))
    return history


# ---------------------------------------------------------------------------------- the tests
@pytest.mark.parametrize("n_chunks", [2, 3, 5])
def test_chunked_driver_reproduces_fit(case, fitted, n_chunks):
    driver = case.make().initialize(**case.fit_args)
    history = _drive(driver, case.split(case.fit_args, n_chunks), N_ITER)
    np.testing.assert_allclose(history, fitted.history_[:N_ITER], rtol=RTOL)
    for name in case.parameters:
        for got, want in zip(_as_list(getattr(driver, name)), _as_list(getattr(fitted, name))):
            np.testing.assert_allclose(got, want, rtol=RTOL, atol=RTOL * np.abs(want).max(), err_msg=name)


def test_statistics_add_pickle_and_refuse_other_parameters(case):
    est = case.make().initialize(**case.fit_args)
    chunks = case.split(case.fit_args, 3)
    parts = [est.e_step(**chunk) for chunk in chunks]
    whole = est.e_step(**case.fit_args)
    total = parts[0] + parts[1] + parts[2]
    assert total.loglik == pytest.approx(whole.loglik, rel=RTOL)
    assert total.total_weight == pytest.approx(whole.total_weight, rel=RTOL)
    clone = pickle.loads(pickle.dumps(total))
    a = case.make().set_state(est.get_state()).m_step(total)
    b = case.make().set_state(est.get_state()).m_step(clone)
    for name in case.parameters:
        for x, y in zip(_as_list(getattr(a, name)), _as_list(getattr(b, name))):
            np.testing.assert_array_equal(x, y)
    est.m_step(whole)
    while est.pending_pass:
        est.m_step(est.e_step(**case.fit_args))
    newer = est.e_step(**case.fit_args)
    with pytest.raises(ValueError, match="stats: cannot add statistics computed at different parameters"):
        total + newer
    with pytest.raises(ValueError, match="stats: computed at other parameters"):
        est.m_step(total)


def _assert_plain(value, where="state"):
    if isinstance(value, dict):
        for key, v in value.items():
            assert isinstance(key, str), where
            _assert_plain(v, f"{where}[{key!r}]")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _assert_plain(v, f"{where}[{i}]")
    elif isinstance(value, np.ndarray):
        assert value.dtype.kind in "biufcU", f"{where}: dtype {value.dtype}"
    else:
        assert value is None or isinstance(value, (bool, int, float, str)), f"{where}: {type(value)}"


def test_state_round_trip_predicts_bit_identically(case, fitted):
    state = fitted.get_state()
    _assert_plain(state)
    restored = case.make(max_iter=1).set_state(state)
    for got, want in zip(case.outputs(restored, case.fit_args), case.outputs(fitted, case.fit_args)):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(restored.history_, fitted.history_)
    assert restored.restarts_.runs == fitted.restarts_.runs
    want = fitted.get_params()
    got = restored.get_params()
    assert sorted(got) == sorted(want)
    for name, value in want.items():
        np.testing.assert_equal(got[name], value, err_msg=name)


def test_params_rebuild_the_estimator(case, fitted):
    rebuilt = type(fitted)(**fitted.get_params()).fit(**case.fit_args)
    for got, want in zip(case.outputs(rebuilt, case.fit_args), case.outputs(fitted, case.fit_args)):
        np.testing.assert_array_equal(got, want)
    other = type(fitted)(**fitted.get_params()).set_params(max_iter=2).fit(**case.fit_args)
    assert other.n_iter_ == 2  # tol=0: set_params reached the fit
    np.testing.assert_array_equal(other.history_[:2], fitted.history_[:2])


def test_verbose_2_prints_progress(case, capsys):
    case.make(verbose=2, verbose_interval=1, max_iter=3, tol=0.0).fit(**case.fit_args)
    out = capsys.readouterr().out
    assert "iteration 1: objective" in out and "run 0: objective" in out


def test_lower_bound_and_warm_start(case, fitted):
    n = fitted.history_[-1] / fitted.lower_bound_
    assert n > 0
    warm = type(fitted)(**{**fitted.get_params(), "warm_start": True, "max_iter": 2})
    warm.set_state(fitted.get_state()).set_params(warm_start=True, max_iter=2)
    warm.fit(**case.fit_args)
    assert warm.history_[0] == pytest.approx(fitted.history_[-1], rel=1e-12)
    assert warm.history_[-1] >= fitted.history_[-1] - 1e-9 * abs(fitted.history_[-1])
