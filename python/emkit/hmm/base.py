"""Hidden Markov models fitted by EM (Baum-Welch) in the compiled core."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, ClassVar, Dict, FrozenSet, List, Optional, Sequence, Tuple

import numpy as np

from .._base import MixtureEstimator
from .._typing import FloatArray, NDArray, ObjectArray, RealArray
from .._validation import (
    check_choice,
    check_data,
    check_fixed,
    check_float,
    check_int,
    check_n_threads,
    check_sample_weight,
    is_dataframe,
    restart_seeds,
)

if TYPE_CHECKING:
    from .._core import _HMM as CoreHMM  # the methods every core HMM model shares (stub only)

#: Parameter groups ``fixed`` may hold fixed while fitting.
FIXED_GROUPS = ("startprob", "transmat", "means", "covariances")
DECODER_ALGORITHMS = ("viterbi", "map")
#: Probability vectors (startprob, rows of transmat) must sum to one within this.
PROBABILITY_ATOL = 1e-8


# ---------------------------------------------------------------------------------- validation
def check_lengths(lengths: Any, n_rows: int) -> NDArray[np.int64]:
    """Positive integer sequence lengths summing to the number of rows (None: one sequence)."""
    if lengths is None:
        return np.array([n_rows], dtype=np.int64)
    if is_dataframe(lengths) or isinstance(lengths, (str, bytes)):
        raise TypeError(f"lengths: expected a 1-D array of integers, got {type(lengths).__name__}")
    a = np.asarray(lengths)
    if a.ndim == 1 and a.size == 0:
        raise ValueError("lengths: expected at least one sequence")
    if a.dtype.kind not in "iu":
        if a.dtype.kind == "f" and a.size and np.all(np.isfinite(a)) and np.all(a == np.round(a)):
            a = a.astype(np.int64)
        else:
            raise TypeError(f"lengths: expected integers, got dtype {a.dtype}")
    if a.ndim != 1:
        raise ValueError(f"lengths: expected a 1-D array of sequence lengths, got {a.ndim}-D")
    bad = np.nonzero(a <= 0)[0]
    if bad.size:
        raise ValueError(
            f"lengths: expected positive lengths; sequence {int(bad[0])} has length "
            f"{int(a[bad[0]])}"
        )
    total = int(a.sum())
    if total != n_rows:
        raise ValueError(f"lengths: the lengths sum to {total} but X has {n_rows} rows")
    return np.ascontiguousarray(a, dtype=np.int64)


def _list_lengths(parts: Sequence[Any], lengths: Any) -> NDArray[np.int64]:
    """The lengths of X given as a list of sequences; ``lengths``, when given too, must equal them."""
    sizes = np.array([len(x) for x in parts], dtype=np.int64)
    if lengths is not None:
        given = check_lengths(lengths, int(sizes.sum()))
        if not np.array_equal(given, sizes):
            raise ValueError(
                f"lengths: X is a list of sequences of lengths {sizes.tolist()}; lengths, when "
                f"given, must equal them, got {given.tolist()}"
            )
    return sizes


def _is_sequence_block(obj: Any) -> bool:
    return (isinstance(obj, np.ndarray) and obj.ndim == 2) or is_dataframe(obj)


def check_sequences(
    X: Any, lengths: Any, *, n_features: Optional[int] = None
) -> Tuple[RealArray, NDArray[np.int64], Optional[ObjectArray]]:
    """(X as one C-contiguous float64 array, lengths as int64, feature names).

    X is a 2-D array of the concatenated sequences with ``lengths``, or a list of 2-D arrays (one
    per sequence; ``lengths`` is then implied). NaN marks a missing entry; a row may be entirely
    missing (the chain still advances through it).
    """
    if isinstance(X, (list, tuple)) and len(X) > 0 and all(_is_sequence_block(x) for x in X):
        parts, names = [], None
        for i, part in enumerate(X):
            a, part_names = check_data(
                part, f"X[{i}]", n_features=n_features, allow_unobserved_rows=True
            )
            if n_features is None:
                n_features = a.shape[1]
            if i == 0:
                names = part_names
            parts.append(a)
        sizes = _list_lengths(parts, lengths)
        return np.ascontiguousarray(np.concatenate(parts)), sizes, names
    X, names = check_data(X, n_features=n_features, allow_unobserved_rows=True)
    return X, check_lengths(lengths, X.shape[0]), names


def check_sequence_weight(sample_weight: Any, n_sequences: int) -> FloatArray:
    """Nonnegative finite weights, one per sequence, with a positive sum. Empty array = all ones."""
    return check_sample_weight(sample_weight, n_sequences, "sequence")


def _check_probabilities(value: Any, name: str, shape: Tuple[int, ...]) -> FloatArray:
    """A probability vector (or a row-stochastic matrix) of the given shape."""
    p = np.asarray(value)
    if p.dtype.kind not in "fiub":
        raise TypeError(f"{name}: expected real numbers, got dtype {p.dtype}")
    p = np.array(p, dtype=np.float64)
    if p.shape != shape:
        raise ValueError(f"{name}: expected shape {shape}, got {p.shape}")
    if not np.isfinite(p).all():
        raise ValueError(f"{name}: expected finite values")
    if (p < 0).any():
        raise ValueError(f"{name}: expected nonnegative probabilities")
    sums = p.reshape(-1, shape[-1]).sum(axis=1)
    for i, s in enumerate(sums):
        if abs(s - 1.0) > PROBABILITY_ATOL:
            where = f"row {i} sums" if p.ndim == 2 else "the probabilities sum"
            raise ValueError(f"{name}: {where} to {s:.12g}, expected 1")
    normalised: FloatArray = p / (sums[:, None] if p.ndim == 2 else sums[0])
    return normalised


def _check_concentration(value: Any, name: str, shape: Tuple[int, ...]) -> FloatArray:
    """Dirichlet concentrations (a scalar broadcast to shape, or an array of that shape), >= 1."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(
            f"{name}: expected a number or an array of Dirichlet concentrations, got {value!r}"
        )
    a = np.asarray(value)
    if a.dtype.kind not in "fiu":
        raise TypeError(f"{name}: expected real numbers, got dtype {a.dtype}")
    a = np.array(a, dtype=np.float64)
    if a.ndim == 0:
        a = np.full(shape, float(a))
    if a.shape != shape:
        raise ValueError(f"{name}: expected a number or an array of shape {shape}, got {a.shape}")
    if not np.isfinite(a).all():
        raise ValueError(f"{name}: expected finite values")
    if (a < 1.0).any():
        raise ValueError(
            f"{name}: expected Dirichlet concentrations >= 1 (1 = no prior; below 1 the MAP "
            "estimate leaves the simplex), got a minimum of {:g}".format(a.min())
        )
    return np.ascontiguousarray(a)


def _core_fixed(fixed: FrozenSet[str]) -> List[str]:
    """The core's fixed groups: means and covariances both fixed = the whole emission family,
    whose statistics the E-step then skips."""
    if {"means", "covariances"} <= fixed:
        fixed = fixed | {"emission"}
    return sorted(fixed)


def _random_transmat(K: int, rng: np.random.Generator) -> FloatArray:
    """Rows drawn from Dirichlet(1 + K·e_i) (a diagonal bias: states tend to persist), mixed with
    10% of the uniform distribution so that no entry starts at (or near) a structural zero."""
    rows = np.array([rng.dirichlet(1.0 + K * np.eye(K)[i]) for i in range(K)])
    return 0.9 * rows + 0.1 / K


# ---------------------------------------------------------------------------------- sequences as blocks
def _is_block(obj: Any) -> bool:
    return (isinstance(obj, np.ndarray) and obj.ndim in (1, 2)) or is_dataframe(obj)


def _concat_sequences(X: Any, lengths: Any) -> Tuple[Any, Any]:
    """X given as a list of sequences (arrays or DataFrames) -> (concatenated X, lengths)."""
    if isinstance(X, (list, tuple)) and len(X) > 0 and all(_is_block(x) for x in X):
        sizes = _list_lengths(X, lengths)
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


# ---------------------------------------------------------------------------------- estimator
@dataclass(eq=False, repr=False, kw_only=True)
class BaseHMM(MixtureEstimator):
    """What every HMM estimator shares: the restart loop around the core's EM driver, the
    engine's three calls (``initialize``, ``e_step``, ``m_step``), scoring, decoding and the
    information criteria. A subclass (one emission family) provides ``_prepare`` (checks X and the
    parameters), ``_initial_parameters``, ``_make_model``, ``_store``, ``_core_model``,
    ``_current_config``, ``_sequences`` (new data in the core's layout), ``_update_from_model``,
    ``sample``, and the class attribute ``_parameter_attributes``.

    The chain's parameters (``CHAIN_PARAMETERS``) are BaseHMM's dataclass fields (those of
    :class:`~emkit._base.MixtureEstimator` and the start, transition and decoder settings
    below), checked by ``_check_chain_parameters``; a subclass declares its emission's parameters
    as fields of its own (see :class:`~emkit._base.EMEstimator`) and names what ``fixed`` may
    hold in ``_fixed_groups``."""

    startprob_init: Any = None
    transmat_init: Any = None
    startprob_prior: Any = 1.0
    transmat_prior: Any = 1.0
    algorithm: str = "viterbi"

    _parameter_attributes: ClassVar[Tuple[str, ...]] = ("startprob_", "transmat_")
    #: The names ``fixed`` may hold.
    _fixed_groups: ClassVar[Tuple[str, ...]] = FIXED_GROUPS

    if TYPE_CHECKING:
        # What every subclass (one emission family) provides; see the class docstring.
        def _prepare(self, X: Any, lengths: Any, sample_weight: Any) -> Tuple[
            NDArray[Any], NDArray[np.int64], Optional[ObjectArray], FloatArray, FloatArray,
            Dict[str, Any], Any,
        ]: ...
        def _initial_parameters(
            self, X: NDArray[Any], row_weight: FloatArray, p: Dict[str, Any], seed: int
        ) -> Tuple[Any, ...]: ...
        def _make_model(self, start: Any, p: Dict[str, Any], prior: Any) -> CoreHMM: ...
        def _store(self, model: Any, p: Dict[str, Any], prior: Any) -> None: ...
        def _core_model(self) -> CoreHMM: ...
        def _current_config(self) -> Dict[str, Any]: ...
        def _sequences(self, X: Any, lengths: Any) -> Tuple[NDArray[Any], NDArray[np.int64]]: ...
        def _update_from_model(self, model: Any) -> None: ...

    # ------------------------------------------------------------------ the chain's parameters
    def _fixed_spec(self) -> Any:
        """``fixed`` in the names of ``_fixed_groups`` (PoissonHMM renames one)."""
        return self.fixed

    def _check_chain_parameters(self, K: int) -> Dict[str, Any]:
        """The chain's parameters and the fitting settings, checked (K: ``n_components``)."""
        p: Dict[str, Any] = {
            "n_components": K,
            "tol": check_float(self.tol, "tol", 0.0),
            "max_iter": check_int(self.max_iter, "max_iter", 0),
            "n_init": check_int(self.n_init, "n_init", 1),
            "algorithm": check_choice(self.algorithm, "algorithm", DECODER_ALGORITHMS),
            "n_threads": check_n_threads(self.n_threads),
            "verbose": check_int(self.verbose, "verbose", 0),
            "verbose_interval": check_int(self.verbose_interval, "verbose_interval", 1),
            "fixed": check_fixed(self._fixed_spec(), self._fixed_groups),
            "startprob_prior": _check_concentration(self.startprob_prior, "startprob_prior", (K,)),
            "transmat_prior": _check_concentration(self.transmat_prior, "transmat_prior", (K, K)),
        }
        p["startprob_init"] = (
            None
            if self.startprob_init is None
            else _check_probabilities(self.startprob_init, "startprob_init", (K,))
        )
        p["transmat_init"] = (
            None
            if self.transmat_init is None
            else _check_probabilities(self.transmat_init, "transmat_init", (K, K))
        )
        return p

    @staticmethod
    def _chain_config(p: Dict[str, Any]) -> Dict[str, Any]:
        """What the core model needs of the chain's checked parameters besides its probabilities."""
        return {
            name: p[name] for name in ("startprob_prior", "transmat_prior", "fixed", "n_threads")
        }

    def _chain_config_of_constructor(self, K: int) -> Dict[str, Any]:
        """``_chain_config`` from the constructor's parameters (for parameters set by hand)."""
        return {
            "startprob_prior": _check_concentration(self.startprob_prior, "startprob_prior", (K,)),
            "transmat_prior": _check_concentration(self.transmat_prior, "transmat_prior", (K, K)),
            "fixed": check_fixed(self._fixed_spec(), self._fixed_groups),
            "n_threads": check_n_threads(self.n_threads),
        }

    @staticmethod
    def _initial_chain(
        p: Dict[str, Any], rng: np.random.Generator
    ) -> Tuple[FloatArray, FloatArray]:
        """(startprob, transmat) of one run's starting point: the user's, else uniform start
        probabilities and random sticky transitions."""
        K = p["n_components"]
        startprob = p["startprob_init"] if p["startprob_init"] is not None else np.full(K, 1.0 / K)
        transmat = (
            p["transmat_init"] if p["transmat_init"] is not None else _random_transmat(K, rng)
        )
        return startprob, transmat

    def fit(self, X: Any, lengths: Any = None, sample_weight: Any = None) -> BaseHMM:
        """Estimates the parameters by EM (best of ``n_init`` runs). Returns self.

        X: the concatenated sequences (n_samples, n_features) with ``lengths``, or a list of
        2-D arrays, one per sequence. sample_weight: one weight per sequence.
        """
        X, lengths, names, w, row_weight, p, prior = self._prepare(X, lengths, sample_weight)
        warm = self._warm()
        if warm and np.shape(self.transmat_) != (p["n_components"], p["n_components"]):
            raise ValueError("warm_start: the previous fit has another n_components")
        seeds = restart_seeds(self.random_state, 1 if warm else p["n_init"])

        def run(index: int, seed: int, callback: Any, n_threads: int) -> Tuple[CoreHMM, Dict[str, Any]]:
            start = self._current_start() if warm else self._initial_parameters(X, row_weight, p, seed)
            model = self._make_model(start, p, prior)
            return model, model.fit(X, lengths, w, p["max_iter"], p["tol"], n_threads, callback)

        total_weight = float(row_weight.sum())
        model = self._fit_runs(seeds, run, p, total_weight, X.shape[0])
        self._store(model, p, prior)
        self.n_features_in_ = X.shape[1]
        if names is not None:
            self.feature_names_in_ = names
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        return self

    def _current_start(self) -> Tuple[Any, ...]:
        """The current parameters as a starting point (warm_start), in ``_make_model``'s order."""
        return tuple(np.asarray(getattr(self, name)) for name in self._parameter_attributes)

    def _n_parameters(self) -> int:
        """Free parameters: the nonzero entries of startprob_ and of the rows of transmat_ (minus
        one per distribution) and the Gaussian parameters, excluding groups held fixed."""
        return int(self._core_model().n_parameters)

    def log_prior(self) -> float:
        """log p(parameters) under the priors (0 without any)."""
        return float(self._core_model().log_prior())

    def stationary_distribution(self) -> FloatArray:
        """A stationary distribution π = π A of the chain (the unique one when the chain is
        irreducible), by a least-squares solve of (Aᵀ − I)π = 0 with Σπ = 1."""
        self._check_fitted()
        A = np.asarray(self.transmat_, dtype=np.float64)
        K = A.shape[0]
        system = np.vstack([A.T - np.eye(K), np.ones((1, K))])
        rhs = np.zeros(K + 1)
        rhs[-1] = 1.0
        pi = np.linalg.lstsq(system, rhs, rcond=None)[0]
        pi = np.clip(pi, 0.0, None)
        stationary: FloatArray = pi / pi.sum()  # lstsq is typed Any
        return stationary

    def get_stationary_distribution(self) -> FloatArray:
        """hmmlearn's name for :meth:`stationary_distribution`."""
        return self.stationary_distribution()

    # ------------------------------------------------------------------ the EM protocol
    def initialize(self, X: Any, lengths: Any = None, sample_weight: Any = None) -> BaseHMM:
        """Sets the starting parameters of the first run without fitting, so that an external
        driver can iterate ``e_step`` / ``m_step`` itself."""
        X, _, _, _, row_weight, p, prior = self._prepare(X, lengths, sample_weight)
        seed = restart_seeds(self.random_state, 1)[0]
        self._store(
            self._make_model(self._initial_parameters(X, row_weight, p, seed), p, prior), p, prior
        )
        self.n_features_in_ = X.shape[1]
        return self

    def e_step(self, X: Any, lengths: Any = None, sample_weight: Any = None) -> Any:
        """Expected sufficient statistics of whole sequences at the current parameters (a
        ``*HMMStats``: statistics of sets of sequences add up with ``+``)."""
        model = self._core_model()
        X, lengths = self._sequences(X, lengths)
        w = check_sequence_weight(sample_weight, lengths.shape[0])
        return self._stats(model.e_step(X, lengths, w, self._current_config()["n_threads"]))

    def m_step(self, stats: Any) -> BaseHMM:
        """Updates the parameters from summed statistics (MAP when a prior is set)."""
        core_stats = self._check_stats(stats)
        model = self._core_model()
        model.m_step(core_stats)
        self.startprob_, self.transmat_ = model.startprob, model.transmat
        self._update_from_model(model)
        return self

    # ------------------------------------------------------------------ inference
    def score_sequences(self, X: Any, lengths: Any = None) -> FloatArray:
        """log p(x_s) of every sequence (missing entries integrated out)."""
        model = self._core_model()
        X, lengths = self._sequences(X, lengths)
        return model.score(X, lengths, self._current_config()["n_threads"])

    def score(self, X: Any, lengths: Any = None) -> float:
        """Total log-likelihood of the sequences (hmmlearn's ``score``)."""
        return float(self.score_sequences(X, lengths).sum())

    def score_samples(self, X: Any, lengths: Any = None) -> Tuple[float, FloatArray]:
        """(total log-likelihood, state posteriors (n_samples, n_components)), as hmmlearn."""
        model = self._core_model()
        X, lengths = self._sequences(X, lengths)
        log_post, log_prob = model.posterior(X, lengths, self._current_config()["n_threads"])
        return float(log_prob.sum()), np.exp(log_post)

    def predict_proba(self, X: Any, lengths: Any = None) -> FloatArray:
        """Posterior probability of each state at every time step (forward-backward)."""
        return self.score_samples(X, lengths)[1]

    def decode(
        self, X: Any, lengths: Any = None, algorithm: Optional[str] = None
    ) -> Tuple[float, NDArray[np.intp]]:
        """(log-probability, state sequence), as hmmlearn.

        "viterbi": the most probable state paths and Σ_s log p(x_s, z*_s). "map": the most
        probable state of every time step and Σ_t log max_k p(z_t = k | x) (hmmlearn returns the
        sum of the maxima without the log, its issue #188).
        """
        algorithm = check_choice(
            self.algorithm if algorithm is None else algorithm, "algorithm", DECODER_ALGORITHMS
        )
        if algorithm == "map":
            _, posteriors = self.score_samples(X, lengths)
            best = posteriors.max(axis=1)
            return float(np.log(best).sum()), posteriors.argmax(axis=1)
        model = self._core_model()
        X, lengths = self._sequences(X, lengths)
        log_prob, states = model.viterbi(X, lengths, self._current_config()["n_threads"])
        return float(log_prob.sum()), states.astype(np.intp)

    def predict(self, X: Any, lengths: Any = None) -> NDArray[np.intp]:
        """The decoded state of every time step (``algorithm``: Viterbi by default)."""
        return self.decode(X, lengths)[1]

    def _weighted_loglik(self, X: Any, lengths: Any, sample_weight: Any) -> Tuple[float, float]:
        X, lengths = self._sequences(X, lengths)
        log_prob = self._core_model().score(X, lengths, self._current_config()["n_threads"])
        w = check_sequence_weight(sample_weight, lengths.shape[0])
        if not w.size:
            return float(log_prob.sum()), float(X.shape[0])
        return float(log_prob @ w), float(w @ lengths)

    def bic(self, X: Any, lengths: Any = None, sample_weight: Any = None) -> float:
        """Bayesian information criterion: -2 log L + p log n, n the number of time steps (as
        hmmlearn; Σ weight × length with sample_weight). Lower is better."""
        total, n = self._weighted_loglik(X, lengths, sample_weight)
        return float(-2.0 * total + self._n_parameters() * math.log(n))

    def aic(self, X: Any, lengths: Any = None, sample_weight: Any = None) -> float:
        """Akaike information criterion: -2 log L + 2p (lower is better)."""
        total, _ = self._weighted_loglik(X, lengths, sample_weight)
        return float(-2.0 * total + 2.0 * self._n_parameters())

    def _sample_states(
        self, n_samples: int, random_state: Any
    ) -> Tuple[NDArray[np.intp], np.random.Generator]:
        """A state path of n_samples steps drawn from startprob_ and transmat_, and the generator
        (seeded by ``random_state``, else the estimator's) that goes on to draw the emissions."""
        n_samples = check_int(n_samples, "n_samples", 1)
        self._check_fitted()
        seed = restart_seeds(self.random_state if random_state is None else random_state, 1)[0]
        rng = np.random.default_rng(seed)
        startprob = np.asarray(self.startprob_, dtype=np.float64)
        transmat = np.asarray(self.transmat_, dtype=np.float64)
        cum = np.cumsum(transmat, axis=1)
        states = np.empty(n_samples, dtype=np.intp)
        u = rng.uniform(size=n_samples)
        states[0] = min(int(np.searchsorted(np.cumsum(startprob), u[0], side="right")), len(startprob) - 1)
        for t in range(1, n_samples):
            row = cum[states[t - 1]]
            states[t] = min(int(np.searchsorted(row, u[t] * row[-1], side="right")), len(row) - 1)
        return states, rng


#: The constructor parameters of the hidden chain, which every HMM estimator takes: BaseHMM's.
CHAIN_PARAMETERS: Tuple[str, ...] = tuple(f.name for f in fields(BaseHMM))
