"""Hidden Markov models with Gaussian emissions (the core's HMM over the Gaussian family)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Dict, Optional, Tuple

import numpy as np

from .. import _core
from .._families import gaussian as family
from .._families.gaussian import PRIOR_KEYS as GAUSSIAN_PRIOR_KEYS
from .._typing import FloatArray, IntArray, NDArray, ObjectArray, RealArray
from .._validation import check_choice, check_float, check_int, restart_seeds
from .base import BaseHMM, _core_fixed, check_sequence_weight, check_sequences

COVARIANCE_TYPES = family.COVARIANCE_TYPES
covariance_shape = family.covariance_shape


@dataclass(eq=False, repr=False, kw_only=True)
class GaussianFamilyHMM(BaseHMM):
    """What the HMMs with Gaussian emissions (GaussianHMM, GMMHMM) share: the Gaussian emission's
    parameters (fields below; their shapes are the subclass's), the checks of X before any work
    and the conjugate Gaussian prior with data-scaled defaults. A subclass supplies
    ``_check_params`` and ``_prior_components``."""

    covariance_type: str = "diag"
    reg_covar: float = 1e-6
    means_init: Any = None
    covariances_init: Any = None
    prior: Any = None

    def _resolve_prior(
        self, X: RealArray, row_weight: FloatArray, p: Dict[str, Any]
    ) -> Optional[Dict[str, Any]]:
        """The Gaussian family's prior with data-scaled defaults from the time steps (weighted by
        their sequence's weight), its scale divided among ``_prior_components`` Gaussians."""
        hint = ("; the start and transition probabilities take startprob_prior and transmat_prior"
                if isinstance(self.prior, dict) and "weight_concentration" in self.prior else "")
        return family.resolve_prior(self.prior, X, row_weight, p["covariance_type"],
                                    self._prior_components(p), GAUSSIAN_PRIOR_KEYS, hint)

    def _prepare(self, X: Any, lengths: Any, sample_weight: Any) -> Tuple[
        NDArray[Any], NDArray[np.int64], Optional[ObjectArray], FloatArray, FloatArray,
        Dict[str, Any], Any,
    ]:
        """Everything fit and initialize check before any work: (X, lengths, feature names,
        sequence weights, row weights, parameters, resolved Gaussian prior)."""
        X, lengths, names = check_sequences(X, lengths)
        p = self._check_params(X.shape[1])
        w = check_sequence_weight(sample_weight, lengths.shape[0])
        row_weight = np.repeat(w, lengths) if w.size else np.ones(X.shape[0])
        K = p["n_components"]
        if p["means_init"] is None or p["covariances_init"] is None:
            usable = int(((row_weight > 0) & ~np.isnan(X).all(axis=1)).sum())
            if usable < K:
                raise ValueError(
                    f"X: expected at least n_components={K} time steps with an observed value and "
                    f"positive sequence weight to initialise the states, got {usable}"
                )
        return X, lengths, names, w, row_weight, p, self._resolve_prior(X, row_weight, p)

    if TYPE_CHECKING:
        def _check_params(self, n_features: int) -> Dict[str, Any]: ...

    def _prior_components(self, p: Dict[str, Any]) -> int:
        """Number of Gaussian components the default prior's scale is divided among."""
        return int(p["n_components"])

    def _emission_config(self, p: Dict[str, Any]) -> Dict[str, Any]:
        """What the core model needs of the emission's checked parameters (GMMHMM adds its
        weights' prior)."""
        return {"covariance_type": p["covariance_type"], "reg_covar": p["reg_covar"]}

    def _store(self, model: Any, p: Dict[str, Any], prior: Optional[Dict[str, Any]]) -> None:
        self.startprob_ = model.startprob
        self.transmat_ = model.transmat
        self.prior_ = prior
        self._config = {**self._emission_config(p), **self._chain_config(p)}
        self._update_from_model(model)


class GaussianHMM(GaussianFamilyHMM):
    """Hidden Markov model with Gaussian emissions, fitted by EM (Baum-Welch).

    hmmlearn's ``GaussianHMM`` interface (``startprob_``, ``transmat_``, ``means_``, ``covars_``,
    ``fit(X, lengths)``, ``score``, ``score_samples``, ``decode``, ``predict``,
    ``predict_proba``, ``sample``), plus: missing values (NaN entries are integrated out; a time
    step with nothing observed still advances the chain), per-sequence sample weights, restarts
    that report whether the best optimum replicated, parameters held fixed, Dirichlet priors on
    the start and transition probabilities with the conjugate Gaussian prior of
    ``GaussianMixture``, and bit-identical results for any number of threads.

    Parameters
    ----------
    n_components : int
        Number of hidden states.
    covariance_type : {"full", "tied", "diag", "spherical"}
        As hmmlearn (default "diag"). ``covariances_`` has scikit-learn's per-type layout,
        ``covars_`` hmmlearn's full (n_components, n_features, n_features) matrices.
    tol : float
        EM stops when the objective (log-likelihood, plus log-prior under MAP) per time step
        changes by less than ``tol`` (sequence weights count: the divisor is Σ weight × length).
        ``tol=0`` runs exactly ``max_iter`` iterations. (hmmlearn's ``tol`` is on the total.)
    reg_covar : float
        Added to the diagonal of every covariance after each M-step (as ``GaussianMixture``).
    max_iter : int
        Maximum number of EM iterations (M-steps) per run (hmmlearn: ``n_iter``).
    n_init : int
        Number of runs from different seeds; the best objective wins; ``restarts_`` lists all.
    startprob_init, transmat_init, means_init, covariances_init : array-like, optional
        User initial values (any subset). Otherwise: uniform start probabilities; transition
        rows drawn from Dirichlet(1 + K·e_i) mixed with 10% uniform (a bias to persist); means
        and covariances from k-means++ on the time steps (weighted by their sequence's weight;
        missing entries imputed by column means for seeding only).
    startprob_prior, transmat_prior : float or array-like
        Dirichlet concentrations (hmmlearn's names): a number, a (K,) vector, resp. a (K, K)
        matrix (e.g. ``1 + κ·I`` for a "sticky" diagonal). Values must be >= 1; 1 is no prior.
        A probability that is zero stays zero (structural zeros, e.g. left-right models); the
        prior applies to the entries that are not.
    prior : None, "default" or dict
        Conjugate prior on the Gaussian means and covariances, as ``GaussianMixture``'s ``prior``
        (keys ``mean``, ``shrinkage``, ``dof``, ``scale``; "default" = data-scaled values).
    fixed : set of str
        Parameters held fixed while fitting: any of "startprob", "transmat", "means",
        "covariances" (hmmlearn: ``params`` without the corresponding letters).
    algorithm : {"viterbi", "map"}
        Decoder used by ``predict`` and by ``decode`` when not given.
    random_state, warm_start, n_threads, verbose, verbose_interval
        As for :class:`GaussianMixture` (``warm_start``: ``fit`` continues from the previous
        solution, one run; ``n_threads``: threads of the E-step, results bit-identical for any).
    """

    # The constructor: GaussianFamilyHMM's (the chain's and the Gaussian emission's parameters).
    _parameter_attributes = ("startprob_", "transmat_", "means_", "covariances_")

    # ------------------------------------------------------------------ validation
    def _check_params(self, n_features: int) -> Dict[str, Any]:
        K = check_int(self.n_components, "n_components", 1)
        cov_type = check_choice(self.covariance_type, "covariance_type", COVARIANCE_TYPES)
        p = self._check_chain_parameters(K)
        p["covariance_type"] = cov_type
        p["reg_covar"] = check_float(self.reg_covar, "reg_covar", 0.0)
        p["means_init"] = (
            None if self.means_init is None
            else family.check_means(self.means_init, "means_init", (K, n_features))
        )
        p["covariances_init"] = (
            None if self.covariances_init is None
            else family.check_covariances(self.covariances_init, "covariances_init", cov_type,
                                          covariance_shape(cov_type, K, n_features))
        )
        return p

    # ------------------------------------------------------------------ initialisation
    def _initial_parameters(
        self, X: RealArray, row_weight: FloatArray, p: Dict[str, Any], seed: int
    ) -> Tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        """(startprob, transmat, means, covariances) of one run's starting point."""
        K, cov_type = p["n_components"], p["covariance_type"]
        startprob, transmat = self._initial_chain(p, np.random.default_rng(seed))
        means, covariances = p["means_init"], p["covariances_init"]
        if means is None or covariances is None:
            observed = ~np.isnan(X).all(axis=1)
            Xo, wo = family.seeding_rows(X[observed], row_weight[observed]), row_weight[observed]
            if means is not None:
                labels: IntArray = family.nearest(Xo, means)
            else:
                labels = family.kmeans_labels(Xo, wo, K, seed, p["n_threads"])
            _, init_means, init_cov = family.parameters_from_responsibilities(
                Xo, wo, family.one_hot(labels, K), cov_type, p["reg_covar"]
            )
            means = init_means if means is None else means
            covariances = init_cov if covariances is None else covariances
        return startprob, transmat, np.ascontiguousarray(means), np.ascontiguousarray(covariances)

    def _make_model(
        self, start: Any, p: Dict[str, Any], prior: Optional[Dict[str, Any]]
    ) -> _core.GaussianHMMModel:
        return _core.GaussianHMMModel(
            start[0],
            start[1],
            start[2],
            start[3],
            p["covariance_type"],
            p["reg_covar"],
            prior,
            p["startprob_prior"],
            p["transmat_prior"],
            _core_fixed(p["fixed"]),
        )

    # ------------------------------------------------------------------ fitting
    # ------------------------------------------------------------------ parameters
    @property
    def covars_(self) -> FloatArray:
        """Covariance matrices, (n_components, n_features, n_features) for every covariance type
        (hmmlearn's ``covars_``); ``covariances_`` has scikit-learn's per-type layout."""
        self._check_fitted()
        cov_type = self._current_config()["covariance_type"]
        K, d = np.shape(self.means_)
        return family.full_covariances(np.asarray(self.covariances_), cov_type, K, d)

    @covars_.setter
    def covars_(self, value: Any) -> None:
        # As hmmlearn's setter: the per-type layout.
        self.covariances_ = np.asarray(value, dtype=np.float64)

    def _current_config(self) -> Dict[str, Any]:
        """The configuration of the fitted model; for parameters set by hand (hmmlearn style), the
        constructor's."""
        config: Optional[Dict[str, Any]] = getattr(self, "_config", None)
        if config is not None:
            return config
        K = check_int(self.n_components, "n_components", 1)
        return {
            "covariance_type": check_choice(
                self.covariance_type, "covariance_type", COVARIANCE_TYPES
            ),
            "reg_covar": check_float(self.reg_covar, "reg_covar", 0.0),
            **self._chain_config_of_constructor(K),
        }

    def _core_model(self) -> _core.GaussianHMMModel:
        self._check_fitted()
        c = self._current_config()
        means = np.ascontiguousarray(self.means_, dtype=np.float64)
        covariances = np.ascontiguousarray(self.covariances_, dtype=np.float64)
        K = means.shape[0] if means.ndim == 2 else -1
        expected = covariance_shape(c["covariance_type"], K, means.shape[-1])
        if means.ndim != 2 or covariances.shape != expected:
            raise ValueError(
                f"covariances_: expected shape {expected} for "
                f"covariance_type={c['covariance_type']!r} "
                f"and means_ of shape {means.shape}, got {covariances.shape}"
            )
        return _core.GaussianHMMModel(
            np.asarray(self.startprob_, dtype=np.float64),
            np.asarray(self.transmat_, dtype=np.float64),
            means,
            covariances,
            c["covariance_type"],
            c["reg_covar"],
            getattr(self, "prior_", None),
            c["startprob_prior"],
            c["transmat_prior"],
            _core_fixed(c["fixed"]),
        )

    def _sequences(self, X: Any, lengths: Any) -> Tuple[NDArray[Any], NDArray[np.int64]]:
        self._check_fitted()
        X, lengths, _ = check_sequences(X, lengths, n_features=np.shape(self.means_)[1])
        return X, lengths

    def sample(
        self, n_samples: int = 1, random_state: Any = None
    ) -> Tuple[NDArray[Any], NDArray[np.intp]]:
        """One sequence of ``n_samples`` time steps and its states, as hmmlearn (seeded by
        ``random_state``, else the estimator's ``random_state``)."""
        n_samples = check_int(n_samples, "n_samples", 1)
        model = self._core_model()
        seed = restart_seeds(self.random_state if random_state is None else random_state, 1)[0]
        X, states = model.sample(n_samples, seed)
        return X, states.astype(np.intp)

    def _update_from_model(self, model: _core.GaussianHMMModel) -> None:
        self.means_, self.covariances_ = model.means, model.covariances
