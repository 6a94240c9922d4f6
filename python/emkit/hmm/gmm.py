"""HMM whose states emit Gaussian mixtures (hmmlearn's GMMHMM), on the shared
:class:`emkit.hmm.BaseHMM`: the core's HMM over the GaussianMixtureEmission family."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, FrozenSet, List, Optional, Tuple

import numpy as np

from .. import _core
from .._families import gaussian as family
from .._typing import FloatArray, IntArray, NDArray, RealArray
from .._validation import check_choice, check_float, check_int, restart_seeds
from .base import _check_concentration, _check_probabilities, check_sequences
from .gaussian import COVARIANCE_TYPES, GaussianFamilyHMM

#: Parameter groups ``fixed`` may hold fixed while fitting.
GMM_FIXED_GROUPS = ("startprob", "transmat", "weights", "means", "covariances")
_EMISSION_GROUPS = frozenset({"weights", "means", "covariances"})


def mixture_covariance_shape(covariance_type: str, K: int, M: int, d: int) -> Tuple[int, ...]:
    """hmmlearn's GMMHMM layout of the covariances: full (K, M, d, d), tied (K, d, d) (one
    covariance per state, shared by its components), diag (K, M, d), spherical (K, M)."""
    return {
        "full": (K, M, d, d),
        "tied": (K, d, d),
        "diag": (K, M, d),
        "spherical": (K, M),
    }[covariance_type]


@dataclass(eq=False, repr=False, kw_only=True)
class GMMHMM(GaussianFamilyHMM):
    """Hidden Markov model whose states emit Gaussian mixtures, fitted by EM (Baum-Welch).

    hmmlearn's ``GMMHMM``: state k emits Σ_m w_km N(μ_km, Σ_km) with ``n_mix`` components. Same
    additions as :class:`GaussianHMM`: missing values (NaN entries integrated out; a time step with
    nothing observed advances the chain), per-sequence sample weights, restarts, parameters held
    fixed, priors, bit-identical results for any number of threads.

    Attributes: ``startprob_``, ``transmat_``, ``weights_`` (n_components, n_mix), ``means_``
    (n_components, n_mix, n_features), ``covariances_`` (= hmmlearn's ``covars_``): full
    (n_components, n_mix, d, d), tied (n_components, d, d) — one covariance per state, shared by
    its components, as hmmlearn —, diag (n_components, n_mix, d), spherical (n_components, n_mix);
    and the monitor's ``loglik_``, ``history_``, ``converged_``, ``n_iter_``, ``restarts_``.

    Parameters
    ----------
    n_components : int
        Number of hidden states.
    n_mix : int
        Number of Gaussian components per state.
    covariance_type : {"full", "tied", "diag", "spherical"}
        As hmmlearn (default "diag").
    weights_init, means_init, covariances_init : array-like, optional
        User initial values in the attributes' shapes (any subset, with ``startprob_init`` and
        ``transmat_init``). Otherwise: k-means++ on the time steps gives each state its steps, the
        state's covariance starts every component's, and k-means++ within the state (``n_mix``
        clusters) gives the component means and weights.
    weights_prior : float or array-like
        Dirichlet concentrations (>= 1; 1 = no prior) on every state's mixture weights: a number
        or an (n_components, n_mix) array. A weight that is zero stays zero.
    prior : None, "default" or dict
        The conjugate Gaussian prior of ``GaussianMixture`` on every component (the default scale
        uses n_components × n_mix components).
    fixed : set of str
        Any of "startprob", "transmat", "weights", "means", "covariances".
    Other parameters as :class:`GaussianHMM`.
    """

    _parameter_attributes = ("startprob_", "transmat_", "weights_", "means_", "covariances_")
    _fixed_groups = GMM_FIXED_GROUPS

    n_mix: int = field(default=1, kw_only=False)
    weights_init: Any = None
    weights_prior: Any = 1.0

    # ------------------------------------------------------------------ validation
    def _check_params(self, n_features: int) -> Dict[str, Any]:
        K = check_int(self.n_components, "n_components", 1)
        M = check_int(self.n_mix, "n_mix", 1)
        cov_type = check_choice(self.covariance_type, "covariance_type", COVARIANCE_TYPES)
        d = n_features
        p = self._check_chain_parameters(K)
        p["n_mix"] = M
        p["covariance_type"] = cov_type
        p["reg_covar"] = check_float(self.reg_covar, "reg_covar", 0.0)
        p["weights_prior"] = _check_concentration(self.weights_prior, "weights_prior", (K, M))
        p["weights_init"] = (
            None
            if self.weights_init is None
            else _check_probabilities(self.weights_init, "weights_init", (K, M))
        )
        p["means_init"] = (
            None
            if self.means_init is None
            else family.check_means(self.means_init, "means_init", (K, M, d))
        )
        p["covariances_init"] = (
            None
            if self.covariances_init is None
            else family.check_covariances(
                self.covariances_init, "covariances_init", cov_type,
                mixture_covariance_shape(cov_type, K, M, d),
            )
        )
        return p

    def _prior_components(self, p: Dict[str, Any]) -> int:
        n_gaussians: int = p["n_components"] * p["n_mix"]
        return n_gaussians

    # ------------------------------------------------------------------ initialisation
    def _initial_parameters(
        self, X: RealArray, row_weight: FloatArray, p: Dict[str, Any], seed: int
    ) -> Tuple[FloatArray, ...]:
        """(startprob, transmat, weights, means, covariances) of one run's starting point."""
        K, M, cov_type = p["n_components"], p["n_mix"], p["covariance_type"]
        d = X.shape[1]
        rng = np.random.default_rng(seed)
        startprob, transmat = self._initial_chain(p, rng)
        weights, means, covariances = p["weights_init"], p["means_init"], p["covariances_init"]
        if weights is None or means is None or covariances is None:
            observed = ~np.isnan(X).all(axis=1)
            Xo, wo = family.seeding_rows(X[observed], row_weight[observed]), row_weight[observed]
            if means is not None:  # each step goes to the state of its nearest component mean
                labels: IntArray = family.nearest(Xo, means.reshape(K * M, d)) // M
            else:
                labels = family.kmeans_labels(Xo, wo, K, seed, p["n_threads"])
            # Every state's steps: its covariance starts all its components; k-means++ within the
            # state (n_mix clusters) gives the component means and weights.
            state_type = "full" if cov_type == "tied" else cov_type
            init_weights = np.full((K, M), 1.0 / M)
            init_means = np.empty((K, M, d))
            init_cov = np.empty(mixture_covariance_shape(cov_type, K, M, d))
            for k in range(K):
                rows = (labels == k) & (wo > 0)
                if not rows.any():
                    rows = wo > 0
                Xk, wk = Xo[rows], wo[rows]
                _, mean_k, cov_k = family.parameters_from_responsibilities(
                    Xk, wk, np.ones((Xk.shape[0], 1)), state_type, p["reg_covar"]
                )
                init_cov[k] = cov_k[0]
                n_distinct = np.unique(Xk, axis=0).shape[0]
                if n_distinct >= M:
                    sub_seed = int(rng.integers(2**62))
                    centers, sub_labels, _ = _core.kmeans_plus_plus(
                        Xk, wk, M, sub_seed, 10, p["n_threads"]
                    )
                    counts = np.bincount(sub_labels, weights=wk, minlength=M)
                    # A floor keeps every starting weight positive (a zero weight would stay zero).
                    init_weights[k] = 0.9 * counts / counts.sum() + 0.1 / M
                    init_means[k] = centers
                else:
                    init_means[k] = mean_k[0]
            weights = init_weights if weights is None else weights
            means = init_means if means is None else means
            covariances = init_cov if covariances is None else covariances
        return (
            startprob,
            transmat,
            np.ascontiguousarray(weights),
            np.ascontiguousarray(means),
            np.ascontiguousarray(covariances),
        )

    @staticmethod
    def _core_fixed(fixed: FrozenSet[str]) -> List[str]:
        """Weights, means and covariances all fixed = the whole emission (the E-step then skips
        its statistics)."""
        return sorted(fixed | {"emission"} if _EMISSION_GROUPS <= fixed else fixed)

    def _make_model(
        self, start: Any, p: Dict[str, Any], prior: Optional[Dict[str, Any]]
    ) -> _core.GMMHMMModel:
        return _core.GMMHMMModel(
            start[0],
            start[1],
            start[2],
            start[3],
            start[4],
            p["covariance_type"],
            p["reg_covar"],
            prior,
            p["weights_prior"],
            p["startprob_prior"],
            p["transmat_prior"],
            self._core_fixed(p["fixed"]),
        )

    # ------------------------------------------------------------------ fitting
    def _emission_config(self, p: Dict[str, Any]) -> Dict[str, Any]:
        return {**super()._emission_config(p), "weights_prior": p["weights_prior"]}

    def _update_from_model(self, model: _core.GMMHMMModel) -> None:
        self.weights_, self.means_, self.covariances_ = (
            model.weights,
            model.means,
            model.covariances,
        )

    # ------------------------------------------------------------------ parameters
    @property
    def covars_(self) -> FloatArray:
        """hmmlearn's name for ``covariances_`` (the same layout)."""
        self._check_fitted()
        return self.covariances_

    @covars_.setter
    def covars_(self, value: Any) -> None:
        self.covariances_ = np.asarray(value, dtype=np.float64)

    def _current_config(self) -> Dict[str, Any]:
        config: Optional[Dict[str, Any]] = getattr(self, "_config", None)
        if config is not None:
            return config
        K = check_int(self.n_components, "n_components", 1)
        M = check_int(self.n_mix, "n_mix", 1)
        return {
            "covariance_type": check_choice(
                self.covariance_type, "covariance_type", COVARIANCE_TYPES
            ),
            "reg_covar": check_float(self.reg_covar, "reg_covar", 0.0),
            "weights_prior": _check_concentration(self.weights_prior, "weights_prior", (K, M)),
            **self._chain_config_of_constructor(K),
        }

    def _core_model(self) -> _core.GMMHMMModel:
        self._check_fitted()
        c = self._current_config()
        weights = np.ascontiguousarray(self.weights_, dtype=np.float64)
        means = np.ascontiguousarray(self.means_, dtype=np.float64)
        covariances = np.ascontiguousarray(self.covariances_, dtype=np.float64)
        if weights.ndim != 2 or means.ndim != 3 or means.shape[:2] != weights.shape:
            raise ValueError(
                "weights_, means_: expected shapes (n_components, n_mix) and (n_components, "
                f"n_mix, n_features), got {weights.shape} and {means.shape}"
            )
        K, M, d = means.shape
        expected = mixture_covariance_shape(c["covariance_type"], K, M, d)
        if covariances.shape != expected:
            raise ValueError(
                f"covariances_: expected shape {expected} for "
                f"covariance_type={c['covariance_type']!r} and means_ of shape {means.shape}, "
                f"got {covariances.shape}"
            )
        weights_prior = c["weights_prior"]
        if np.shape(weights_prior) != (K, M):
            raise ValueError(f"weights_prior: expected a number or an array of shape {(K, M)}")
        return _core.GMMHMMModel(
            np.asarray(self.startprob_, dtype=np.float64),
            np.asarray(self.transmat_, dtype=np.float64),
            weights,
            means,
            covariances,
            c["covariance_type"],
            c["reg_covar"],
            getattr(self, "prior_", None),
            weights_prior,
            c["startprob_prior"],
            c["transmat_prior"],
            self._core_fixed(c["fixed"]),
        )

    def _sequences(self, X: Any, lengths: Any) -> Tuple[NDArray[Any], NDArray[np.int64]]:
        self._check_fitted()
        X, lengths, _ = check_sequences(X, lengths, n_features=np.shape(self.means_)[-1])
        return X, lengths

    def sample(
        self, n_samples: int = 1, random_state: Any = None
    ) -> Tuple[NDArray[Any], NDArray[np.intp]]:
        """One sequence of ``n_samples`` time steps and its states (seeded by ``random_state``,
        else the estimator's ``random_state``)."""
        n_samples = check_int(n_samples, "n_samples", 1)
        model = self._core_model()
        seed = restart_seeds(self.random_state if random_state is None else random_state, 1)[0]
        X, states = model.sample(n_samples, seed)
        return X, states.astype(np.intp)
