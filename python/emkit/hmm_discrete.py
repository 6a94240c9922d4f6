"""HMMs with categorical, Poisson and mixed-type emissions (the core's HMM over the Categorical
and Product families), on the shared :class:`emkit.hmm.BaseHMM`."""

from __future__ import annotations

from typing import Any, Dict, FrozenSet, List, Optional, Tuple

import numpy as np

from . import _core
from ._categorical import CategoricalEncoding, encode_fit, encode_new
from ._validation import check_float, check_int, is_dataframe, restart_seeds
from .hmm import (
    BaseHMM,
    _check_concentration,
    _check_probabilities,
    check_lengths,
    check_sequence_weight,
)

CATEGORICAL_FIXED_GROUPS = ("startprob", "transmat", "emissionprob")
MIXED_FIXED_GROUPS = ("startprob", "transmat", "emissionprob", "means", "variances", "rates")


# ---------------------------------------------------------------------------------- helpers
def _is_block(obj: Any) -> bool:
    return (isinstance(obj, np.ndarray) and obj.ndim in (1, 2)) or is_dataframe(obj)


def _concat_sequences(X: Any, lengths: Any) -> Tuple[Any, Any]:
    """X given as a list of sequences (arrays or DataFrames) -> (concatenated X, lengths)."""
    if isinstance(X, (list, tuple)) and len(X) > 0 and all(_is_block(x) for x in X):
        sizes = np.array([len(x) for x in X], dtype=np.int64)
        if lengths is not None:
            given = check_lengths(lengths, int(sizes.sum()))
            if not np.array_equal(given, sizes):
                raise ValueError(
                    f"lengths: X is a list of sequences of lengths {sizes.tolist()}; lengths, when "
                    f"given, must equal them, got {given.tolist()}"
                )
        if all(is_dataframe(x) for x in X):
            import pandas as pd

            X = pd.concat(list(X), ignore_index=True)
        else:
            X = np.concatenate([np.asarray(x).reshape(len(x), -1) for x in X])
        return X, sizes
    return X, lengths


def _as_2d(X: Any) -> Any:
    """A 1-D array of codes is one feature (hmmlearn's (n_samples, 1))."""
    if is_dataframe(X):
        return X
    a = np.asarray(X)
    return a.reshape(-1, 1) if a.ndim == 1 else a


def _check_emission_concentration(
    value: Any, K: int, n_categories: List[int], name: str = "emissionprob_prior"
) -> Optional[np.ndarray]:
    """Dirichlet concentrations (>= 1) on the emission probabilities: a number (the same for every
    state, feature and category) or arrays shaped as ``emissionprob_`` (one (K, R) array for one
    feature, a list of (K, R_j) arrays for several). Returns the K x sum R_j matrix, or None when
    every concentration is 1 (maximum likelihood)."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name}: expected a number or arrays of Dirichlet concentrations, got {value!r}")
    if isinstance(value, (int, float, np.integer, np.floating)):
        v = float(value)
        if not np.isfinite(v) or v < 1.0:
            raise ValueError(f"{name}: expected a Dirichlet concentration >= 1 (1 = no prior), got {value!r}")
        if v == 1.0:
            return None
        if not n_categories:
            raise ValueError(f"{name}: the model has no categorical feature to put a prior on")
        return np.full((K, int(sum(n_categories))), v)
    if not n_categories:
        raise ValueError(f"{name}: the model has no categorical feature to put a prior on")
    if len(n_categories) == 1 and not isinstance(value, (list, tuple)):
        value = [value]
    if not isinstance(value, (list, tuple)) or len(value) != len(n_categories):
        raise ValueError(
            f"{name}: expected a number or {len(n_categories)} arrays (one (n_components, "
            "n_categories_j) array per feature, as emissionprob_)"
        )
    parts = [
        _check_concentration(v, name if len(n_categories) == 1 else f"{name}[{j}]", (K, R))
        for j, (v, R) in enumerate(zip(value, n_categories))
    ]
    flat = np.ascontiguousarray(np.concatenate(parts, axis=1))
    return None if (flat == 1.0).all() else flat


def _split_probs(flat: np.ndarray, n_categories: List[int]):
    """K x sum R_j -> one K x R array for one feature, else a list of K x R_j arrays."""
    flat = np.asarray(flat, dtype=np.float64)
    offsets = np.concatenate([[0], np.cumsum(n_categories)])
    parts = [flat[:, a:b].copy() for a, b in zip(offsets[:-1], offsets[1:])]
    return parts[0] if len(parts) == 1 else parts


def _flat_probs(value: Any, K: int, n_categories: List[int], name: str) -> np.ndarray:
    """The K x sum R_j matrix from one K x R array (one feature) or a list of K x R_j arrays,
    every row a probability vector."""
    if len(n_categories) == 1 and not isinstance(value, (list, tuple)):
        value = [value]
    if not isinstance(value, (list, tuple)) or len(value) != len(n_categories):
        raise ValueError(
            f"{name}: expected {len(n_categories)} arrays (one (n_components, n_categories_j) array "
            "per feature)"
        )
    parts = [
        _check_probabilities(v, name if len(n_categories) == 1 else f"{name}[{j}]", (K, R))
        for j, (v, R) in enumerate(zip(value, n_categories))
    ]
    return np.ascontiguousarray(np.concatenate(parts, axis=1))


def _sample_categorical(flat: np.ndarray, n_categories: List[int], states: np.ndarray,
                        rng: np.random.Generator) -> np.ndarray:
    offsets = np.concatenate([[0], np.cumsum(n_categories)])
    out = np.empty((states.shape[0], len(n_categories)), dtype=np.int64)
    for j, (a, b) in enumerate(zip(offsets[:-1], offsets[1:])):
        cum = np.cumsum(flat[:, a:b], axis=1)[states]
        u = rng.uniform(size=states.shape[0])[:, None] * cum[:, -1:]
        out[:, j] = np.minimum((u >= cum).sum(axis=1), b - a - 1)
    return out


# ---------------------------------------------------------------------------------- categorical
class CategoricalHMM(BaseHMM):
    """Hidden Markov model with categorical emissions, fitted by EM (Baum-Welch).

    hmmlearn's ``CategoricalHMM`` generalised to several categorical features per time step, each
    with its own alphabet (conditionally independent given the state). X is (n_samples,
    n_features) integer codes (a 1-D array is one feature; negative codes or NaN = missing, a
    time step with every feature missing advances the chain and adds nothing), a list of such
    arrays (one per sequence), or a DataFrame of labels (categories learnt as ``LatentClass``).

    Attributes: ``startprob_``, ``transmat_``, ``emissionprob_`` (for one feature an
    (n_components, n_categories) array as hmmlearn; for several a list of (n_components,
    n_categories_j) arrays), ``encoding_``, and the monitor's ``loglik_``, ``history_``,
    ``converged_``, ``n_iter_``, ``restarts_``. Same methods as :class:`GaussianHMM`.

    Parameters
    ----------
    n_components : int
        Number of hidden states.
    n_categories : None, int or list of int
        Alphabet size per feature (hmmlearn's ``n_features``); an int applies to every feature.
        None: the largest code seen in fit + 1.
    emissionprob_init : array or list of arrays, optional
        Initial emission probabilities; otherwise every state's distribution of every feature is
        drawn from a flat Dirichlet.
    emissionprob_prior : float
        Symmetric Dirichlet concentration (>= 1; 1 = no prior) on every state's distribution of
        every feature (MAP).
    fixed : set of str
        Any of "startprob", "transmat", "emissionprob".
    Other parameters as :class:`GaussianHMM`.
    """

    _fitted_attributes = ("startprob_", "transmat_", "emissionprob_")
    _stats_type = "CategoricalHMMStats"
    _fixed_groups = CATEGORICAL_FIXED_GROUPS

    def __init__(
        self,
        n_components: int = 1,
        *,
        n_categories: Any = None,
        tol: float = 1e-3,
        max_iter: int = 100,
        n_init: int = 1,
        startprob_init: Any = None,
        transmat_init: Any = None,
        emissionprob_init: Any = None,
        startprob_prior: Any = 1.0,
        transmat_prior: Any = 1.0,
        emissionprob_prior: float = 1.0,
        fixed: Any = None,
        algorithm: str = "viterbi",
        random_state: Any = None,
        n_threads: Optional[int] = None,
        verbose: int = 0,
        verbose_interval: int = 10,
    ):
        self._set_chain_parameters(locals())
        self.n_categories = n_categories
        self.emissionprob_init = emissionprob_init
        self.emissionprob_prior = emissionprob_prior

    # ------------------------------------------------------------------ validation
    def _n_categories_spec(self, n_features: int) -> Optional[List[int]]:
        nc = self.n_categories
        if nc is None:
            return None
        if isinstance(nc, (int, np.integer)) and not isinstance(nc, bool):
            return [int(nc)] * n_features
        return list(nc)

    def _prepare(self, X: Any, lengths: Any, sample_weight: Any):
        X, lengths = _concat_sequences(X, lengths)
        X = _as_2d(X)
        codes, encoding = encode_fit(X, self._n_categories_spec(np.shape(X)[1]))
        lengths = check_lengths(lengths, codes.shape[0])
        K = check_int(self.n_components, "n_components", 1)
        p = self._check_chain_parameters(K)
        p["n_categories"] = encoding.n_categories
        p["encoding"] = encoding
        p["concentration"] = _check_emission_concentration(self.emissionprob_prior, K, encoding.n_categories)
        p["emissionprob_init"] = (
            None
            if self.emissionprob_init is None
            else _flat_probs(self.emissionprob_init, K, encoding.n_categories, "emissionprob_init")
        )
        w = check_sequence_weight(sample_weight, lengths.shape[0])
        row_weight = np.repeat(w, lengths) if w.size else np.ones(codes.shape[0])
        names = np.array(encoding.item_names, dtype=object) if encoding.labelled else None
        return codes, lengths, names, w, row_weight, p, None

    def _initial_parameters(self, X: np.ndarray, row_weight: np.ndarray, p: Dict[str, Any], seed: int):
        K = p["n_components"]
        rng = np.random.default_rng(seed)
        startprob, transmat = self._initial_chain(p, rng)
        probs = p["emissionprob_init"]
        if probs is None:
            probs = np.concatenate([rng.dirichlet(np.ones(R), size=K) for R in p["n_categories"]], axis=1)
        return startprob, transmat, np.ascontiguousarray(probs)

    @staticmethod
    def _core_fixed(fixed: FrozenSet[str]) -> list:
        return sorted(fixed | {"emission"} if "emissionprob" in fixed else fixed)

    def _make_model(self, start, p: Dict[str, Any], prior: Any) -> Any:
        return _core.CategoricalHMMModel(
            start[0], start[1], p["n_categories"], start[2], p["concentration"],
            p["startprob_prior"], p["transmat_prior"], self._core_fixed(p["fixed"]),
        )

    def _store(self, model: Any, p: Dict[str, Any], prior: Any) -> None:
        self.startprob_ = model.startprob
        self.transmat_ = model.transmat
        self.emissionprob_ = _split_probs(model.emissionprob, p["n_categories"])
        self.encoding_ = p["encoding"]
        self._config = {
            "n_categories": list(p["n_categories"]),
            "concentration": p["concentration"],
            **self._chain_config(p),
        }

    def _update_from_model(self, model: Any) -> None:
        self.emissionprob_ = _split_probs(model.emissionprob, self._current_config()["n_categories"])

    # ------------------------------------------------------------------ parameters
    def _current_config(self) -> Dict[str, Any]:
        config = getattr(self, "_config", None)
        if config is not None:
            return config
        K = check_int(self.n_components, "n_components", 1)
        e = self.emissionprob_
        parts = list(e) if isinstance(e, (list, tuple)) else [e]
        return {
            "n_categories": [int(np.shape(a)[1]) for a in parts],
            "concentration": _check_emission_concentration(
                self.emissionprob_prior, K, [int(np.shape(a)[1]) for a in parts]
            ),
            **self._chain_config_of_constructor(K),
        }

    def _core_model(self) -> Any:
        self._check_fitted()
        c = self._current_config()
        startprob = np.asarray(self.startprob_, dtype=np.float64)
        probs = _flat_probs(self.emissionprob_, startprob.shape[0], c["n_categories"], "emissionprob_")
        return _core.CategoricalHMMModel(
            startprob, np.asarray(self.transmat_, dtype=np.float64), c["n_categories"], probs,
            c["concentration"], c["startprob_prior"], c["transmat_prior"], self._core_fixed(c["fixed"]),
        )

    def _sequences(self, X: Any, lengths: Any):
        self._check_fitted()
        encoding = getattr(self, "encoding_", None)
        if encoding is None:
            R = self._current_config()["n_categories"]
            encoding = CategoricalEncoding([f"item{j}" for j in range(len(R))], [np.arange(r) for r in R], False)
        X, lengths = _concat_sequences(X, lengths)
        codes = encode_new(_as_2d(X), encoding)
        return codes, check_lengths(lengths, codes.shape[0])

    def sample(self, n_samples: int = 1, random_state: Any = None) -> Tuple[np.ndarray, np.ndarray]:
        """One sequence of ``n_samples`` time steps (integer codes, (n_samples, n_features)) and
        its states."""
        n_samples = check_int(n_samples, "n_samples", 1)
        self._check_fitted()
        c = self._current_config()
        seed = restart_seeds(self.random_state if random_state is None else random_state, 1)[0]
        rng = np.random.default_rng(seed)
        states = self._sample_states(n_samples, rng)
        flat = _flat_probs(self.emissionprob_, len(self.startprob_), c["n_categories"], "emissionprob_")
        return _sample_categorical(flat, c["n_categories"], states, rng), states


# ---------------------------------------------------------------------------------- mixed types
class HMM(BaseHMM):
    """Hidden Markov model with mixed-type emissions: per time step, categorical, continuous
    (normal, one mean and variance per state and column) and count (Poisson, one rate per state
    and column) features, independent given the state; fitted by EM (Baum-Welch).

    ``emission`` says the family of every column, as :class:`LatentClass`'s ``measurement``: None
    (all categorical), one of "categorical", "gaussian", "poisson" for all, a list (one per
    column) or a dict {column: family} (others categorical). ``measurement`` is accepted as an
    alias (the name :class:`LatentClass` uses); give one or the other. Missing entries: NaN (and negative codes in
    categorical columns). Attributes: ``startprob_``, ``transmat_``, ``emissionprob_`` (the
    categorical columns, as :class:`CategoricalHMM`), ``means_`` and ``variances_``
    (n_components, n_gaussian columns), ``rates_`` (n_components, n_poisson columns), each in the
    order of its columns in X; ``emission_`` (the family of every column; also ``measurement_``).

    Parameters as :class:`CategoricalHMM`, plus ``means_init``, ``variances_init``,
    ``rates_init`` (defaults: k-means++ clusters of the standardised continuous and count
    columns give the means and rates, the columns' variances the variances) and ``reg_covar``
    (added to every variance). ``fixed``: any of "startprob", "transmat", "emissionprob",
    "means", "variances", "rates".
    """

    _fitted_attributes = ("startprob_", "transmat_", "means_", "variances_", "rates_")
    _stats_type = "ProductHMMStats"
    _fixed_groups = MIXED_FIXED_GROUPS

    def __init__(
        self,
        n_components: int = 1,
        *,
        emission: Any = None,
        measurement: Any = None,
        n_categories: Any = None,
        tol: float = 1e-3,
        reg_covar: float = 1e-6,
        max_iter: int = 100,
        n_init: int = 1,
        startprob_init: Any = None,
        transmat_init: Any = None,
        emissionprob_init: Any = None,
        means_init: Any = None,
        variances_init: Any = None,
        rates_init: Any = None,
        startprob_prior: Any = 1.0,
        transmat_prior: Any = 1.0,
        emissionprob_prior: float = 1.0,
        fixed: Any = None,
        algorithm: str = "viterbi",
        random_state: Any = None,
        n_threads: Optional[int] = None,
        verbose: int = 0,
        verbose_interval: int = 10,
    ):
        self._set_chain_parameters(locals())
        self.emission = emission
        self.measurement = measurement
        self.n_categories = n_categories
        self.reg_covar = reg_covar
        self.emissionprob_init = emissionprob_init
        self.means_init = means_init
        self.variances_init = variances_init
        self.rates_init = rates_init
        self.emissionprob_prior = emissionprob_prior

    # Subclasses (PoissonHMM) rename parameters through this and _fixed_spec.
    def _measurement_spec(self) -> Any:
        if self.emission is not None and self.measurement is not None:
            raise ValueError(
                "emission, measurement: give one of them (measurement is an alias of emission), "
                "not both"
            )
        return self.emission if self.emission is not None else self.measurement

    def _layout(self, measurement: Any = None):
        """A LatentClass that does the column bookkeeping (families, encoding, splitting)."""
        from .latent_class import LatentClass

        lc = LatentClass(
            max(check_int(self.n_components, "n_components", 1), 1),
            measurement=self._measurement_spec() if measurement is None else measurement,
            n_categories=self.n_categories,
        )
        return lc

    def _prepare(self, X: Any, lengths: Any, sample_weight: Any):
        X, lengths = _concat_sequences(X, lengths)
        X = _as_2d(X)
        lc = self._layout()
        kinds = lc._measurement_kinds(X)
        if isinstance(self.n_categories, (int, np.integer)) and not isinstance(self.n_categories, bool):
            lc.n_categories = [int(self.n_categories)] * len(kinds)
        M, encoding, groups = lc._mixed_matrix(X, True, kinds)
        lengths = check_lengths(lengths, M.shape[0])
        K = check_int(self.n_components, "n_components", 1)
        p = self._check_chain_parameters(K)
        R = encoding.n_categories
        qn, qp = len(groups["gaussian"]), len(groups["poisson"])
        p.update(
            n_categories=R, encoding=encoding, groups=groups, kinds=kinds,
            reg_covar=check_float(self.reg_covar, "reg_covar", 0.0),
            concentration=_check_emission_concentration(self.emissionprob_prior, K, R),
        )
        p["emissionprob_init"] = (
            None if self.emissionprob_init is None or not R
            else _flat_probs(self.emissionprob_init, K, R, "emissionprob_init")
        )
        for name, q in (("means_init", qn), ("variances_init", qn), ("rates_init", qp)):
            value = getattr(self, name)
            if value is None:
                p[name] = None
                continue
            a = np.array(value, dtype=np.float64)
            if a.shape != (K, q):
                raise ValueError(f"{name}: expected shape {(K, q)}, got {a.shape}")
            if not np.isfinite(a).all():
                raise ValueError(f"{name}: expected finite values")
            if name == "variances_init" and (a <= 0).any():
                raise ValueError("variances_init: expected positive values")
            if name == "rates_init" and (a < 0).any():
                raise ValueError("rates_init: expected nonnegative values")
            p[name] = a
        w = check_sequence_weight(sample_weight, lengths.shape[0])
        row_weight = np.repeat(w, lengths) if w.size else np.ones(M.shape[0])
        names = (
            np.array([str(c) for c in X.columns], dtype=object) if is_dataframe(X) else None
        )
        return M, lengths, names, w, row_weight, p, None

    def _initial_parameters(self, X: np.ndarray, row_weight: np.ndarray, p: Dict[str, Any], seed: int):
        K, R = p["n_components"], p["n_categories"]
        qc, qn = len(R), len(p["groups"]["gaussian"])
        rng = np.random.default_rng(seed)
        startprob, transmat = self._initial_chain(p, rng)
        probs = p["emissionprob_init"]
        if probs is None:
            probs = (
                np.concatenate([rng.dirichlet(np.ones(r), size=K) for r in R], axis=1)
                if R else np.zeros((K, 0))
            )
        cont = X[:, qc:]
        q = cont.shape[1]
        means = p["means_init"]
        variances = p["variances_init"]
        rates = p["rates_init"]
        if q and (means is None or variances is None or rates is None):
            observed = ~np.isnan(cont)
            col_mean = np.array([np.average(c[o], weights=row_weight[o] + 1e-300) for c, o in zip(cont.T, observed.T)])
            col_var = np.array([
                np.average((c[o] - m) ** 2, weights=row_weight[o] + 1e-300)
                for c, o, m in zip(cont.T, observed.T, col_mean)
            ])
            sd = np.sqrt(np.maximum(col_var, 1e-12))
            usable = observed.any(axis=1) & (row_weight > 0)
            if int(usable.sum()) < K:
                raise ValueError(
                    f"X: expected at least n_components={K} time steps with an observed continuous "
                    "or count value and positive sequence weight to initialise the states"
                )
            Z = (np.where(observed, cont, col_mean) - col_mean) / sd
            _, labels, _ = _core.kmeans_plus_plus(
                np.ascontiguousarray(Z[usable]), row_weight[usable], K, seed, 10, p["n_threads"]
            )
            centers = np.tile(col_mean, (K, 1))
            cu, ou, wu = cont[usable], observed[usable], row_weight[usable]
            for k in range(K):
                for j in range(q):
                    sel = (labels == k) & ou[:, j]
                    if wu[sel].sum() > 0:
                        centers[k, j] = np.average(cu[sel, j], weights=wu[sel])
            if means is None:
                means = centers[:, :qn]
            if variances is None:
                variances = np.tile(np.maximum(col_var[:qn], 1e-6), (K, 1))
            if rates is None:
                rates = np.maximum(centers[:, qn:], 1e-3 * col_mean[qn:] + 1e-6)
        means = np.zeros((K, 0)) if means is None else means
        variances = np.zeros((K, 0)) if variances is None else variances
        rates = np.zeros((K, 0)) if rates is None else rates
        return startprob, transmat, np.ascontiguousarray(probs), np.ascontiguousarray(means), \
            np.ascontiguousarray(variances), np.ascontiguousarray(rates)

    @staticmethod
    def _core_fixed(fixed: FrozenSet[str], R: List[int], qn: int, qp: int) -> list:
        whole = (not R or "emissionprob" in fixed) and (qn == 0 or {"means", "variances"} <= fixed) and (
            qp == 0 or "rates" in fixed
        )
        return sorted(fixed | {"emission"} if whole else fixed)

    def _make_model(self, start, p: Dict[str, Any], prior: Any) -> Any:
        R = p["n_categories"]
        return _core.ProductHMMModel(
            start[0], start[1], start[2] if R else None, R, start[3], start[4], start[5],
            p["concentration"], p["reg_covar"], p["startprob_prior"], p["transmat_prior"],
            self._core_fixed(p["fixed"], R, start[3].shape[1], start[5].shape[1]),
        )

    @staticmethod
    def _core_matrix(a: np.ndarray, K: int) -> np.ndarray:
        return np.zeros((K, 0)) if a.shape[0] == 0 else a

    def _store(self, model: Any, p: Dict[str, Any], prior: Any) -> None:
        K = p["n_components"]
        self.startprob_ = model.startprob
        self.transmat_ = model.transmat
        R = p["n_categories"]
        if R:
            self.emissionprob_ = _split_probs(model.emissionprob, R)
        self.means_ = self._core_matrix(model.means, K)
        self.variances_ = self._core_matrix(model.variances, K)
        self.rates_ = self._core_matrix(model.rates, K)
        self.encoding_ = p["encoding"]
        self.emission_ = self.measurement_ = p["kinds"]
        self._config = {
            "n_categories": list(R),
            "groups": p["groups"],
            "reg_covar": p["reg_covar"],
            "concentration": p["concentration"],
            **self._chain_config(p),
        }

    def _update_from_model(self, model: Any) -> None:
        K = len(self.startprob_)
        R = self._current_config()["n_categories"]
        if R:
            self.emissionprob_ = _split_probs(model.emissionprob, R)
        self.means_ = self._core_matrix(model.means, K)
        self.variances_ = self._core_matrix(model.variances, K)
        self.rates_ = self._core_matrix(model.rates, K)

    def _current_config(self) -> Dict[str, Any]:
        config = getattr(self, "_config", None)
        if config is None:
            raise ValueError(f"This {type(self).__name__} has no column layout; call fit or initialize first")
        return config

    def _core_model(self) -> Any:
        self._check_fitted()
        c = self._current_config()
        startprob = np.asarray(self.startprob_, dtype=np.float64)
        K = startprob.shape[0]
        R = c["n_categories"]
        probs = _flat_probs(self.emissionprob_, K, R, "emissionprob_") if R else None
        means = np.ascontiguousarray(self.means_, dtype=np.float64)
        variances = np.ascontiguousarray(self.variances_, dtype=np.float64)
        rates = np.ascontiguousarray(self.rates_, dtype=np.float64)
        return _core.ProductHMMModel(
            startprob, np.asarray(self.transmat_, dtype=np.float64), probs, R, means, variances, rates,
            c["concentration"], c["reg_covar"], c["startprob_prior"], c["transmat_prior"],
            self._core_fixed(c["fixed"], R, means.shape[1], rates.shape[1]),
        )

    def _sequences(self, X: Any, lengths: Any):
        self._check_fitted()
        c = self._current_config()
        X, lengths = _concat_sequences(X, lengths)
        lc = self._layout()
        lc._mixed = {"groups": c["groups"]}
        lc.encoding_ = self.encoding_
        M, _, _ = lc._mixed_matrix(_as_2d(X), False)
        return M, check_lengths(lengths, M.shape[0])

    def sample(self, n_samples: int = 1, random_state: Any = None) -> Tuple[np.ndarray, np.ndarray]:
        """One sequence of ``n_samples`` time steps ((n_samples, n_columns) floats in the columns'
        order in X; categorical columns hold codes) and its states."""
        n_samples = check_int(n_samples, "n_samples", 1)
        self._check_fitted()
        c = self._current_config()
        seed = restart_seeds(self.random_state if random_state is None else random_state, 1)[0]
        rng = np.random.default_rng(seed)
        states = self._sample_states(n_samples, rng)
        groups, R = c["groups"], c["n_categories"]
        n_cols = sum(len(v) for v in groups.values())
        X = np.empty((n_samples, n_cols))
        if R:
            flat = _flat_probs(self.emissionprob_, len(self.startprob_), R, "emissionprob_")
            X[:, groups["categorical"]] = _sample_categorical(flat, R, states, rng)
        means, variances, rates = (np.asarray(a) for a in (self.means_, self.variances_, self.rates_))
        for j, col in enumerate(groups["gaussian"]):
            X[:, col] = rng.normal(means[states, j], np.sqrt(variances[states, j]))
        for j, col in enumerate(groups["poisson"]):
            X[:, col] = rng.poisson(rates[states, j])
        return X, states


class PoissonHMM(HMM):
    """Hidden Markov model with Poisson emissions (independent counts per feature given the
    state), fitted by EM: hmmlearn's ``PoissonHMM`` (attribute ``lambdas_``, (n_components,
    n_features)), plus missing values (NaN), sequence weights, restarts, fixed parameters and
    Dirichlet priors on the chain. ``lambdas_init``: initial rates (default: k-means++ clusters
    of the standardised counts). ``fixed``: any of "startprob", "transmat", "lambdas"."""

    _fitted_attributes = ("startprob_", "transmat_", "rates_")
    n_categories = None
    reg_covar = 1e-6
    emissionprob_init = None
    means_init = None
    variances_init = None
    emissionprob_prior = 1.0

    def __init__(
        self,
        n_components: int = 1,
        *,
        tol: float = 1e-3,
        max_iter: int = 100,
        n_init: int = 1,
        startprob_init: Any = None,
        transmat_init: Any = None,
        lambdas_init: Any = None,
        startprob_prior: Any = 1.0,
        transmat_prior: Any = 1.0,
        fixed: Any = None,
        algorithm: str = "viterbi",
        random_state: Any = None,
        n_threads: Optional[int] = None,
        verbose: int = 0,
        verbose_interval: int = 10,
    ):
        self._set_chain_parameters(locals())
        self.lambdas_init = lambdas_init

    @property
    def rates_init(self) -> Any:
        return self.lambdas_init

    def _measurement_spec(self) -> Any:
        return "poisson"

    def _fixed_spec(self) -> Any:
        fixed = self.fixed
        if fixed is None:
            return None
        if isinstance(fixed, str):
            fixed = (fixed,)
        names = list(fixed)
        for name in names:
            if name not in ("startprob", "transmat", "lambdas"):
                raise ValueError(
                    f"fixed: unknown parameter {name!r}; expected some of 'startprob', 'transmat', 'lambdas'"
                )
        return ["rates" if n == "lambdas" else n for n in names]

    @property
    def lambdas_(self) -> np.ndarray:
        """Poisson rates, (n_components, n_features) (hmmlearn's name)."""
        return self.rates_

    @lambdas_.setter
    def lambdas_(self, value: Any) -> None:
        self.rates_ = np.asarray(value, dtype=np.float64)
