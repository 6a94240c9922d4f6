"""HMMs with mixed-type emissions: categorical, normal and Poisson columns, independent given
the state (the core's HMM over the Product family). ``ProductEmissionHMM`` holds the
implementation, which PoissonHMM shares; ``HMM`` adds its constructor parameters."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Dict, FrozenSet, List, Optional, Tuple, cast

import numpy as np

from .. import _core
from .._base import deprecated_alias
from .._families import mixed as layout
from .._typing import FloatArray, NDArray, ObjectArray
from .._validation import check_float, check_int, is_dataframe
from .base import BaseHMM, _as_2d, _concat_sequences, check_lengths, check_sequence_weight
from .categorical import (
    _check_emission_concentration,
    _flat_probs,
    _sample_categorical,
    _split_probs,
)

MIXED_FIXED_GROUPS = ("startprob", "transmat", "emissionprob", "means", "variances", "rates")


class ProductEmissionHMM(BaseHMM):
    """The HMMs whose emission is a product of independent per-column families (categorical,
    normal, Poisson): the column layout, seeding, core model and sampling of :class:`HMM` and
    :class:`PoissonHMM`, without constructor parameters of its own — HMM declares its emission's
    as fields, PoissonHMM only ``lambdas_init`` and class attributes for the settings it does not
    take. A subclass supplies ``_measurement_spec`` (the family of every column) and may rename
    parameters through it and ``_fixed_spec``."""

    _parameter_attributes: ClassVar[Tuple[str, ...]] = ("startprob_", "transmat_", "means_", "variances_", "rates_")
    _fixed_groups = MIXED_FIXED_GROUPS

    if TYPE_CHECKING:
        # The emission's settings read here: HMM's fields, PoissonHMM's class attributes.
        n_categories: Any
        reg_covar: Any
        emissionprob_init: Any
        emissionprob_prior: Any

        def _measurement_spec(self) -> Any: ...

    def _prepare(self, X: Any, lengths: Any, sample_weight: Any) -> Tuple[
        NDArray[Any], NDArray[np.int64], Optional[ObjectArray], FloatArray, FloatArray,
        Dict[str, Any], Any,
    ]:
        X, lengths = _concat_sequences(X, lengths)
        X = _as_2d(X)
        kinds = layout.emission_kinds(X, self._measurement_spec(), blocks=False)
        groups = layout.groups_of(kinds)
        n_categories = self.n_categories
        if isinstance(n_categories, (int, np.integer)) and not isinstance(n_categories, bool):
            n_categories = [int(n_categories)] * len(kinds)
        if n_categories is not None:
            n_categories = [n_categories[j] for j in groups["categorical"]]
        M, encoding = layout.mixed_matrix(X, groups, n_categories=n_categories)
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

    def _initial_parameters(
        self, X: NDArray[Any], row_weight: FloatArray, p: Dict[str, Any], seed: int
    ) -> Tuple[FloatArray, ...]:
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
    def _core_fixed(fixed: FrozenSet[str], R: List[int], qn: int, qp: int) -> List[str]:
        whole = (not R or "emissionprob" in fixed) and (qn == 0 or {"means", "variances"} <= fixed) and (
            qp == 0 or "rates" in fixed
        )
        return sorted(fixed | {"emission"} if whole else fixed)

    def _new_model(self, startprob: Any, transmat: Any, arrays: Tuple[FloatArray, ...], config: Dict[str, Any]) -> Any:
        """The core model at these chain parameters and emission arrays (probs, means,
        variances, rates) with the checked configuration."""
        R = config["n_categories"]
        probs, means, variances, rates = (np.ascontiguousarray(a, dtype=np.float64) for a in arrays)
        return _core.ProductHMMModel(
            startprob, transmat, probs if R else None, R, means, variances, rates,
            config["concentration"], config["reg_covar"], config["startprob_prior"], config["transmat_prior"],
            self._core_fixed(config["fixed"], R, means.shape[1], rates.shape[1]),
        )

    def _emission_arrays(self) -> Tuple[FloatArray, ...]:
        """The fitted emission parameters as the core's arrays (probs, means, variances, rates)."""
        K = len(self.startprob_)
        R = self._current_config()["n_categories"]
        probs = _flat_probs(self.emissionprob_, K, R, "emissionprob_") if R else np.zeros((K, 0))
        return (probs, self.means_, self.variances_, self.rates_)

    def _read_emission(self, model: Any) -> None:
        """The core model's emission parameters as fitted attributes."""
        K = len(self.startprob_)
        R = self._current_config()["n_categories"]
        if R:  # the model has a categorical part: emissionprob is not None
            self.emissionprob_ = _split_probs(cast(FloatArray, model.emissionprob), R)
        self.means_, self.variances_, self.rates_ = (
            np.zeros((K, 0)) if a.shape[0] == 0 else a for a in (model.means, model.variances, model.rates)
        )

    def _make_model(self, start: Any, p: Dict[str, Any], prior: Any) -> Any:
        return self._new_model(start[0], start[1], start[2:], p)

    def _store(self, model: Any, p: Dict[str, Any], prior: Any) -> None:
        self.startprob_ = model.startprob
        self.transmat_ = model.transmat
        self.encoding_ = p["encoding"]
        self.emission_ = p["kinds"]
        self._config = {
            "n_categories": list(p["n_categories"]),
            "groups": p["groups"],
            "reg_covar": p["reg_covar"],
            "concentration": p["concentration"],
            **self._chain_config(p),
        }
        self._read_emission(model)

    def _current_start(self) -> Tuple[Any, ...]:
        return (self.startprob_, self.transmat_, *self._emission_arrays())

    def _update_from_model(self, model: Any) -> None:
        self._read_emission(model)

    def _current_config(self) -> Dict[str, Any]:
        config: Optional[Dict[str, Any]] = getattr(self, "_config", None)
        if config is None:
            raise ValueError(f"This {type(self).__name__} has no column layout; call fit or initialize first")
        return config

    def _core_model(self) -> Any:
        self._check_fitted()
        return self._new_model(
            np.asarray(self.startprob_, dtype=np.float64), np.asarray(self.transmat_, dtype=np.float64),
            self._emission_arrays(), self._current_config(),
        )

    def _sequences(self, X: Any, lengths: Any) -> Tuple[NDArray[Any], NDArray[np.int64]]:
        self._check_fitted()
        c = self._current_config()
        X, lengths = _concat_sequences(X, lengths)
        M, _ = layout.mixed_matrix(_as_2d(X), c["groups"], encoding=self.encoding_)
        return M, check_lengths(lengths, M.shape[0])

    def sample(
        self, n_samples: int = 1, random_state: Any = None
    ) -> Tuple[NDArray[Any], NDArray[np.intp]]:
        """One sequence of ``n_samples`` time steps ((n_samples, n_columns) floats in the columns'
        order in X; categorical columns hold codes) and its states."""
        states, rng = self._sample_states(n_samples, random_state)
        c = self._current_config()
        groups, R = c["groups"], c["n_categories"]
        n_cols = sum(len(v) for v in groups.values())
        X = np.empty((n_samples, n_cols))
        flat, means, variances, rates = (np.asarray(a) for a in self._emission_arrays())
        if R:
            X[:, groups["categorical"]] = _sample_categorical(flat, R, states, rng)
        for j, col in enumerate(groups["gaussian"]):
            X[:, col] = rng.normal(means[states, j], np.sqrt(variances[states, j]))
        for j, col in enumerate(groups["poisson"]):
            X[:, col] = rng.poisson(rates[states, j])
        return X, states


@dataclass(eq=False, repr=False, kw_only=True)
class HMM(ProductEmissionHMM):
    """Hidden Markov model with mixed-type emissions: per time step, categorical, continuous
    (normal, one mean and variance per state and column) and count (Poisson, one rate per state
    and column) features, independent given the state; fitted by EM (Baum-Welch).

    ``emission`` says the family of every column, as :class:`LatentClass`'s ``emission``: None
    (all categorical), one of "categorical", "gaussian", "poisson" for all, a list (one per
    column) or a dict {column: family} (others categorical). ``measurement`` is a deprecated
    alias. Missing entries: NaN (and negative codes in
    categorical columns). Attributes: ``startprob_``, ``transmat_``, ``emissionprob_`` (the
    categorical columns, as :class:`CategoricalHMM`), ``means_`` and ``variances_``
    (n_components, n_gaussian columns), ``rates_`` (n_components, n_poisson columns), each in the
    order of its columns in X; ``emission_`` (the family of every column).

    Parameters as :class:`CategoricalHMM`, plus ``means_init``, ``variances_init``,
    ``rates_init`` (defaults: k-means++ clusters of the standardised continuous and count
    columns give the means and rates, the columns' variances the variances) and ``reg_covar``
    (added to every variance). ``fixed``: any of "startprob", "transmat", "emissionprob",
    "means", "variances", "rates".
    """

    emission: Any = None
    measurement: Any = None
    n_categories: Any = None
    reg_covar: float = 1e-6
    emissionprob_init: Any = None
    means_init: Any = None
    variances_init: Any = None
    rates_init: Any = None
    emissionprob_prior: float = 1.0

    def _measurement_spec(self) -> Any:
        if self.emission is not None and self.measurement is not None:
            raise ValueError(
                "emission, measurement: give one of them (measurement is a deprecated alias of "
                "emission), not both"
            )
        return deprecated_alias(self.emission, "emission", self.measurement, "measurement", None)
