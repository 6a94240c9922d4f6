"""Gaussian mixture models fitted by EM in the compiled core."""

from __future__ import annotations

import math
from typing import Any, Dict, Optional, Tuple

import numpy as np

from . import _core
from ._base import progress_callback, BaseEstimator, RestartReport, RestartRun, report_monitor
from ._validation import (
    check_choice,
    check_data,
    check_float,
    check_int,
    check_n_threads,
    check_prior_spec,
    check_sample_weight,
    restart_seeds,
)

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")
INIT_METHODS = ("kmeans++", "k-means++", "kmeans", "random_from_data", "random")
PRIOR_KEYS = ("mean", "shrinkage", "dof", "scale", "weight_concentration")


def covariance_shape(covariance_type: str, n_components: int, n_features: int) -> Tuple[int, ...]:
    """scikit-learn's layout of ``covariances_`` for each covariance type."""
    return {
        "full": (n_components, n_features, n_features),
        "tied": (n_features, n_features),
        "diag": (n_components, n_features),
        "spherical": (n_components,),
    }[covariance_type]


def _weighted_moments(X: np.ndarray, w: np.ndarray):
    """Column means and (biased) variances over the observed entries, and the covariance when
    nothing is missing; sample weights respected."""
    observed = ~np.isnan(X)
    wo = observed * w[:, None]
    totals = wo.sum(axis=0)
    if (totals <= 0).any():
        col = int(np.nonzero(totals <= 0)[0][0])
        raise ValueError(f"X: column {col} has no observed value with positive weight")
    filled = np.where(observed, X, 0.0)
    mean = (wo * filled).sum(axis=0) / totals
    centred = np.where(observed, X - mean, 0.0)
    var = (wo * centred**2).sum(axis=0) / totals
    cov = None
    if observed.all():
        cov = (centred * w[:, None]).T @ centred / w.sum()
    return mean, var, cov


def _precision_cholesky(covariances: np.ndarray, covariance_type: str) -> np.ndarray:
    """scikit-learn's ``precisions_cholesky_``: U with precision = U U^T (U = L^{-T}, Sigma = L L^T).
    Computed by a triangular solve against the identity; only for the attribute, never used in
    the numerics."""
    if covariance_type in ("full", "tied"):
        mats = covariances[None] if covariance_type == "tied" else covariances
        d = mats.shape[-1]
        out = np.empty_like(mats)
        for k, sigma in enumerate(mats):
            L = np.linalg.cholesky(sigma)
            out[k] = np.linalg.solve(L, np.eye(d)).T
        return out[0] if covariance_type == "tied" else out
    return 1.0 / np.sqrt(covariances)


class GaussianMixture(BaseEstimator):
    """Gaussian mixture fitted by Expectation-Maximization.

    A superset of scikit-learn's ``GaussianMixture``: the same parameters and attributes, plus
    sample weights, missing values (NaN entries are integrated out exactly), restarts that report
    whether the best optimum replicated, and MAP estimation with a conjugate prior.

    float32 input (an array, or a DataFrame of float32 columns) is not converted: the E-step and
    the per-block sums of the M-step statistics run in float32, and the statistics are added up
    and the parameters estimated in float64 (``fit_dtype_`` says which precision the fit used).
    With full covariances that is 1.6-2x faster, at a precision limited by float32 input anyway:
    log-densities to ~1e-5 (at worst ~6e-4) where float64 gives ~1e-10, responsibilities to
    ~1e-7; on the benchmark's 10^6 x 16 mixture the log-likelihood agrees with the float64 fit's
    to 6e-8 (relative). A component with fewer rows than features (a covariance singular but for
    ``reg_covar``) is beyond float32 statistics: its small variances drown in their rounding, and
    such a fit can differ from the float64 one by 1e-5 or more.
    Every other input is converted to float64.

    Parameters
    ----------
    n_components : int
        Number of mixture components.
    covariance_type : {"full", "tied", "diag", "spherical"}
    tol : float
        EM stops when the per-row average objective (log-likelihood, plus log-prior under MAP)
        changes by less than ``tol``; ``tol=0`` runs exactly ``max_iter`` iterations.
    reg_covar : float
        Added to the diagonal of every covariance after each M-step (as scikit-learn).
    max_iter : int
        Maximum number of EM iterations (M-steps) per run.
    n_init : int
        Number of runs from different seeds; the run with the highest objective is kept and
        ``restarts_`` reports all of them.
    init_params : {"kmeans++", "kmeans", "random_from_data", "random"}
        "kmeans++" (alias "k-means++", "kmeans"): k-means++ seeding and a few Lloyd iterations in
        the core, then one M-step from the hard assignment. "random_from_data": random rows as
        means, then the nearest-mean assignment. "random": random responsibilities. With missing
        values, initialisation sees column-mean-imputed data.
    weights_init, means_init, covariances_init : array-like, optional
        User initial values; any subset may be given, the rest comes from ``init_params``.
    prior : None, "default" or dict
        MAP estimation. A Dirichlet prior on the weights and a conjugate normal-inverse-Wishart
        prior on means and covariances (Fraley & Raftery 2007, as mclust's ``priorControl``).
        "default" uses data-scaled hyper-parameters; a dict may set any of ``mean`` (column
        means), ``shrinkage`` (0.01), ``dof`` (d + 2), ``scale`` (covariance of the data divided
        by K^(2/d); its diagonal for "diag", the mean variance for "spherical") and
        ``weight_concentration`` (1, a flat Dirichlet).
    random_state : None, int, numpy Generator or RandomState
    warm_start : bool
        If True, ``fit`` starts from the previous solution (one run).
    n_threads : int or None
        Threads for the E-step; None uses all cores. Results are bit-identical for any value.
    verbose : int
        0 silent; 1 prints each run's result; 2 also every ``verbose_interval`` iterations.
    verbose_interval : int
    """

    def __init__(
        self,
        n_components: int = 1,
        *,
        covariance_type: str = "full",
        tol: float = 1e-3,
        reg_covar: float = 1e-6,
        max_iter: int = 100,
        n_init: int = 1,
        init_params: str = "kmeans++",
        weights_init: Any = None,
        means_init: Any = None,
        covariances_init: Any = None,
        prior: Any = None,
        random_state: Any = None,
        warm_start: bool = False,
        n_threads: Optional[int] = None,
        verbose: int = 0,
        verbose_interval: int = 10,
    ):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.weights_init = weights_init
        self.means_init = means_init
        self.covariances_init = covariances_init
        self.prior = prior
        self.random_state = random_state
        self.warm_start = warm_start
        self.n_threads = n_threads
        self.verbose = verbose
        self.verbose_interval = verbose_interval

    # ------------------------------------------------------------------ validation
    def _check_params(self, n_features: int) -> Dict[str, Any]:
        K = check_int(self.n_components, "n_components", 1)
        p = {
            "n_components": K,
            "covariance_type": check_choice(self.covariance_type, "covariance_type", COVARIANCE_TYPES),
            "tol": check_float(self.tol, "tol", 0.0),
            "reg_covar": check_float(self.reg_covar, "reg_covar", 0.0),
            "max_iter": check_int(self.max_iter, "max_iter", 0),
            "n_init": check_int(self.n_init, "n_init", 1),
            "init_params": check_choice(self.init_params, "init_params", INIT_METHODS),
            "n_threads": check_n_threads(self.n_threads),
            "verbose": check_int(self.verbose, "verbose", 0),
            "verbose_interval": check_int(self.verbose_interval, "verbose_interval", 1),
        }
        if not isinstance(self.warm_start, (bool, np.bool_)):
            raise TypeError(f"warm_start: expected a bool, got {self.warm_start!r}")
        p["weights_init"] = self._check_weights_init(K)
        p["means_init"] = self._check_means_init(K, n_features)
        p["covariances_init"] = self._check_covariances_init(p["covariance_type"], K, n_features)
        return p

    def _check_weights_init(self, K: int) -> Optional[np.ndarray]:
        if self.weights_init is None:
            return None
        w = np.asarray(self.weights_init, dtype=np.float64)
        if w.shape != (K,):
            raise ValueError(f"weights_init: expected shape ({K},), got {w.shape}")
        if not np.isfinite(w).all() or (w < 0).any() or not np.isclose(w.sum(), 1.0, rtol=0, atol=1e-8):
            raise ValueError("weights_init: expected nonnegative values summing to 1")
        return w / w.sum()

    def _check_means_init(self, K: int, d: int) -> Optional[np.ndarray]:
        if self.means_init is None:
            return None
        m = np.asarray(self.means_init, dtype=np.float64)
        if m.shape != (K, d):
            raise ValueError(f"means_init: expected shape ({K}, {d}), got {m.shape}")
        if not np.isfinite(m).all():
            raise ValueError("means_init: expected finite values")
        return np.ascontiguousarray(m)

    def _check_covariances_init(self, cov_type: str, K: int, d: int) -> Optional[np.ndarray]:
        if self.covariances_init is None:
            return None
        c = np.asarray(self.covariances_init, dtype=np.float64)
        shape = covariance_shape(cov_type, K, d)
        if c.shape != shape:
            raise ValueError(
                f"covariances_init: expected shape {shape} for covariance_type={cov_type!r}, got {c.shape}"
            )
        if not np.isfinite(c).all():
            raise ValueError("covariances_init: expected finite values")
        if cov_type in ("full", "tied"):
            for k, sigma in enumerate(c.reshape(-1, d, d)):
                if not np.allclose(sigma, sigma.T, rtol=1e-8, atol=1e-12):
                    raise ValueError(f"covariances_init[{k}]: expected a symmetric matrix")
                try:
                    np.linalg.cholesky(sigma)
                except np.linalg.LinAlgError:
                    raise ValueError(f"covariances_init[{k}]: expected a positive definite matrix") from None
        elif (c <= 0).any():
            raise ValueError("covariances_init: expected positive variances")
        return np.ascontiguousarray(c)

    def _resolve_prior(self, X: np.ndarray, w: np.ndarray, cov_type: str, K: int) -> Optional[dict]:
        prior = check_prior_spec(self.prior, PRIOR_KEYS)
        if prior is None:
            return None
        d = X.shape[1]
        weights = w if w.size else np.ones(X.shape[0])
        mean, var, cov = _weighted_moments(X, weights)
        shrink = K ** (2.0 / d)
        out: Dict[str, Any] = {}
        if "mean" in prior:
            m = np.asarray(prior["mean"], dtype=np.float64)
            if m.shape != (d,) or not np.isfinite(m).all():
                raise ValueError(f"prior['mean']: expected {d} finite values, got shape {m.shape}")
            out["mean"] = m
        else:
            out["mean"] = mean
        out["shrinkage"] = check_float(prior.get("shrinkage", 0.01), "prior['shrinkage']", 0.0, strict=True)
        min_dof = d - 1.0 if cov_type in ("full", "tied") else 0.0
        out["dof"] = check_float(prior.get("dof", d + 2.0), "prior['dof']", min_dof, strict=True)
        out["weight_concentration"] = check_float(
            prior.get("weight_concentration", 1.0), "prior['weight_concentration']", 1.0
        )
        if "scale" in prior:
            scale = np.asarray(prior["scale"], dtype=np.float64)
            expected = {"full": (d, d), "tied": (d, d), "diag": (d,), "spherical": ()}[cov_type]
            if scale.shape != expected:
                raise ValueError(
                    f"prior['scale']: expected shape {expected} for covariance_type={cov_type!r}, got {scale.shape}"
                )
            if not np.isfinite(scale).all():
                raise ValueError("prior['scale']: expected finite values")
            if cov_type in ("full", "tied"):
                try:
                    np.linalg.cholesky(scale)
                except np.linalg.LinAlgError:
                    raise ValueError("prior['scale']: expected a positive definite matrix") from None
            elif (scale <= 0).any():
                raise ValueError("prior['scale']: expected positive values")
        else:
            if (var <= 0).any():
                col = int(np.nonzero(var <= 0)[0][0])
                raise ValueError(
                    f"prior='default': column {col} of X is constant, so the data-scaled prior scale "
                    "is singular; give prior['scale'] explicitly"
                )
            if cov_type in ("full", "tied"):
                scale = (cov if cov is not None else np.diag(var)) / shrink
            elif cov_type == "diag":
                scale = var / shrink
            else:
                scale = np.asarray(var.mean() / shrink)
        out["scale"] = np.array(scale, dtype=np.float64)  # 0-d for spherical
        return out

    # ------------------------------------------------------------------ initialisation
    def _initial_parameters(self, X: np.ndarray, w: np.ndarray, p: Dict[str, Any], seed: int):
        """(weights, means, covariances) of one run's starting point."""
        K, cov_type, reg = p["n_components"], p["covariance_type"], p["reg_covar"]
        n, d = X.shape
        if p["weights_init"] is not None and p["means_init"] is not None and p["covariances_init"] is not None:
            return p["weights_init"], p["means_init"], p["covariances_init"]
        weights = w if w.size else np.ones(n)
        # The starting values are computed in float64 whatever the precision of X.
        X = np.asarray(X, dtype=np.float64)
        # Seeding sees column-mean-imputed rows when values are missing.
        missing = np.isnan(X)
        if missing.any():
            col_mean = _weighted_moments(X, weights)[0]
            X = np.where(missing, col_mean, X)
        rng = np.random.default_rng(seed)
        method = p["init_params"]
        if p["means_init"] is not None:
            labels = _nearest(X, p["means_init"])
            resp = None
        elif method in ("kmeans++", "k-means++", "kmeans"):
            _, labels, _ = _core.kmeans_plus_plus(X, w, K, seed, 10, p["n_threads"])
            resp = None
        elif method == "random_from_data":
            rows = rng.choice(np.flatnonzero(weights > 0), size=K, replace=False)
            labels = _nearest(X, X[rows])
            resp = None
        else:
            resp = rng.uniform(size=(n, K))
            resp /= resp.sum(axis=1, keepdims=True)
        if resp is None:
            resp = np.zeros((n, K))
            resp[np.arange(n), labels] = 1.0
        init_w, init_m, init_c = _m_step_from_resp(X, weights, resp, cov_type, reg)
        if p["weights_init"] is not None:
            init_w = p["weights_init"]
        if p["means_init"] is not None:
            init_m = p["means_init"]
        if p["covariances_init"] is not None:
            init_c = p["covariances_init"]
        return init_w, init_m, init_c

    # ------------------------------------------------------------------ fitting
    def fit(self, X: Any, y: Any = None, sample_weight: Any = None) -> "GaussianMixture":
        """Estimates the parameters by EM (best of ``n_init`` runs). Returns self."""
        self._fit(X, sample_weight)
        return self

    def fit_predict(self, X: Any, y: Any = None, sample_weight: Any = None) -> np.ndarray:
        """Fits, then returns the most probable component of every row."""
        X = self._fit(X, sample_weight)
        return self.predict(X)

    def _fit(self, X: Any, sample_weight: Any) -> np.ndarray:
        X, names = check_data(X, keep_float32=True)
        p = self._check_params(X.shape[1])
        w = check_sample_weight(sample_weight, X.shape[0])
        K = p["n_components"]
        n_positive = int((w > 0).sum()) if w.size else X.shape[0]
        if n_positive < K:
            raise ValueError(
                f"X: expected n_samples >= n_components={K} (rows with positive weight), got {n_positive}"
            )
        prior = self._resolve_prior(X, w, p["covariance_type"], K)
        warm = bool(self.warm_start) and hasattr(self, "loglik_")
        if warm and (self.means_.shape != (K, X.shape[1]) or self._fit_covariance_type != p["covariance_type"]):
            raise ValueError("warm_start: the previous fit has other n_components, features or covariance_type")
        seeds = restart_seeds(self.random_state, 1 if warm else p["n_init"])

        report = RestartReport()
        best = None
        for run, seed in enumerate(seeds):
            if warm:
                start = (self.weights_, self.means_, self.covariances_)
            else:
                start = self._initial_parameters(X, w, p, seed)
            model = _core.GaussianMixtureModel(
                start[0], start[1], start[2], p["covariance_type"], p["reg_covar"], prior
            )
            record = model.fit(X, w, p["max_iter"], p["tol"], p["n_threads"], self._progress(p, run))
            objective = record["history"][-1]
            report.runs.append(
                RestartRun(seed, objective, record["loglik"][-1], record["n_iter"], record["converged"])
            )
            if p["verbose"]:
                print(
                    f"run {run}: objective {objective:.6f} after {record['n_iter']} iterations, "
                    f"converged={record['converged']}"
                )
            if best is None or objective > best[2]["history"][-1]:
                best = (model, seed, record)
        model, _, record = best
        report_monitor(record, type(self).__name__, p["tol"], p["max_iter"])
        self._store(model, p, prior)
        self.converged_ = bool(record["converged"])
        self.n_iter_ = int(record["n_iter"])
        self.history_ = np.asarray(record["history"])
        self.loglik_history_ = np.asarray(record["loglik"])
        self.iteration_seconds_ = np.asarray(record["seconds"])
        self.loglik_ = float(record["loglik"][-1])
        self.lower_bound_ = float(record["history"][-1]) / (w.sum() if w.size else X.shape[0])
        self.restarts_ = report
        self.n_features_in_ = X.shape[1]
        self.fit_dtype_ = X.dtype
        if names is not None:
            self.feature_names_in_ = names
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        return X

    def _progress(self, p: Dict[str, Any], run: int):
        return progress_callback(p["verbose"], p["verbose_interval"], run)

    def _store(self, model: Any, p: Dict[str, Any], prior: Optional[dict]) -> None:
        self.weights_ = model.weights
        self.means_ = model.means
        self.covariances_ = model.covariances
        self.precisions_cholesky_ = _precision_cholesky(self.covariances_, p["covariance_type"])
        self.prior_ = prior
        self._fit_covariance_type = p["covariance_type"]
        self._fit_reg_covar = p["reg_covar"]
        self._n_threads = p["n_threads"]

    @property
    def precisions_(self) -> np.ndarray:
        """Inverse covariances (derived from ``precisions_cholesky_``)."""
        self._check_fitted()
        U = self.precisions_cholesky_
        if self._fit_covariance_type == "full":
            return np.einsum("kij,klj->kil", U, U)
        if self._fit_covariance_type == "tied":
            return U @ U.T
        return U**2

    # ------------------------------------------------------------------ the engine's three calls
    def initialize(self, X: Any, sample_weight: Any = None) -> "GaussianMixture":
        """Sets the starting parameters of the first run without fitting, so that an external
        driver can iterate ``e_step`` / ``m_step`` itself."""
        X, _ = check_data(X)
        p = self._check_params(X.shape[1])
        w = check_sample_weight(sample_weight, X.shape[0])
        prior = self._resolve_prior(X, w, p["covariance_type"], p["n_components"])
        start = self._initial_parameters(X, w, p, restart_seeds(self.random_state, 1)[0])
        model = _core.GaussianMixtureModel(
            start[0], start[1], start[2], p["covariance_type"], p["reg_covar"], prior
        )
        self._store(model, p, prior)
        self.n_features_in_ = X.shape[1]
        self._initialized = True
        return self

    def _core_model(self) -> Any:
        self._check_fitted()
        return _core.GaussianMixtureModel(
            self.weights_, self.means_, self.covariances_, self._fit_covariance_type,
            self._fit_reg_covar, self.prior_,
        )

    def e_step(self, X: Any, sample_weight: Any = None) -> Any:
        """Expected sufficient statistics of the rows X at the current parameters
        (a ``GaussianMixtureStats``: statistics of chunks add up with ``+``)."""
        model = self._core_model()
        X, _ = check_data(X, n_features=self.n_features_in_, keep_float32=True)
        w = check_sample_weight(sample_weight, X.shape[0])
        return model.e_step(X, w, self._n_threads)

    def m_step(self, stats: Any) -> "GaussianMixture":
        """Updates the parameters from summed statistics (MAP when a prior is set)."""
        if not isinstance(stats, _core.GaussianMixtureStats):
            raise TypeError(f"stats: expected GaussianMixtureStats from e_step, got {type(stats).__name__}")
        model = self._core_model()
        model.m_step(stats)
        self.weights_, self.means_, self.covariances_ = model.weights, model.means, model.covariances
        self.precisions_cholesky_ = _precision_cholesky(self.covariances_, self._fit_covariance_type)
        return self

    def log_prior(self) -> float:
        """log p(parameters) under the prior (0 without one)."""
        return float(self._core_model().log_prior())

    # ------------------------------------------------------------------ inference
    def _posterior(self, X: Any) -> Tuple[np.ndarray, np.ndarray]:
        model = self._core_model()
        X, _ = check_data(X, n_features=self.n_features_in_, keep_float32=True)
        return model.posterior(X, self._n_threads)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Posterior probability of each component for every row (missing entries integrated out)."""
        return np.exp(self._posterior(X)[0])

    def predict(self, X: Any) -> np.ndarray:
        """The most probable component of every row."""
        return self._posterior(X)[0].argmax(axis=1)

    def score_samples(self, X: Any) -> np.ndarray:
        """log p(x_i) of every row (observed entries only where values are missing)."""
        return self._posterior(X)[1]

    def score(self, X: Any, y: Any = None, sample_weight: Any = None) -> float:
        """Average log-likelihood per row (weighted average with sample_weight)."""
        log_prob = self.score_samples(X)
        w = check_sample_weight(sample_weight, log_prob.shape[0])
        return float(np.average(log_prob, weights=w if w.size else None))

    def _n_parameters(self) -> int:
        self._check_fitted()
        return int(self._core_model().n_parameters)

    def bic(self, X: Any, sample_weight: Any = None) -> float:
        """Bayesian information criterion: -2 log L + p log n (lower is better)."""
        log_prob = self.score_samples(X)
        w = check_sample_weight(sample_weight, log_prob.shape[0])
        total = log_prob @ w if w.size else log_prob.sum()
        n = w.sum() if w.size else log_prob.shape[0]
        return float(-2.0 * total + self._n_parameters() * math.log(n))

    def aic(self, X: Any, sample_weight: Any = None) -> float:
        """Akaike information criterion: -2 log L + 2p (lower is better)."""
        log_prob = self.score_samples(X)
        w = check_sample_weight(sample_weight, log_prob.shape[0])
        total = log_prob @ w if w.size else log_prob.sum()
        return float(-2.0 * total + 2.0 * self._n_parameters())

    def sample(self, n_samples: int = 1) -> Tuple[np.ndarray, np.ndarray]:
        """Draws ``n_samples`` rows and their components (seeded by ``random_state``)."""
        n_samples = check_int(n_samples, "n_samples", 1)
        model = self._core_model()
        seed = restart_seeds(self.random_state, 1)[0]
        X, labels = model.sample(n_samples, seed)
        return X, labels.astype(np.intp)


def _nearest(X: np.ndarray, centers: np.ndarray) -> np.ndarray:
    """Index of the nearest center of every row."""
    d2 = (X**2).sum(1)[:, None] - 2.0 * X @ centers.T + (centers**2).sum(1)[None, :]
    return d2.argmin(axis=1)


def _m_step_from_resp(X: np.ndarray, w: np.ndarray, resp: np.ndarray, cov_type: str, reg: float):
    """Initial parameters from (soft or hard) responsibilities on complete data."""
    n, d = X.shape
    K = resp.shape[1]
    # With reg_covar=0 a one-point cluster would start singular: the starting covariances (only
    # they) get a ridge of 1e-6 times the average variance instead.
    reg = reg if reg > 0 else 1e-6 * float(np.mean(np.var(X, axis=0))) or 1e-12
    r = resp * w[:, None]
    nk = r.sum(axis=0) + 10 * np.finfo(float).eps
    weights = nk / nk.sum()
    means = (r.T @ X) / nk[:, None]
    if cov_type in ("full", "tied"):
        cov = np.empty((K, d, d))
        for k in range(K):
            rows = r[:, k] > 0
            diff = X[rows] - means[k]
            cov[k] = (r[rows, k, None] * diff).T @ diff / nk[k]
        if cov_type == "tied":
            cov = np.einsum("k,kij->ij", nk, cov) / nk.sum()
            cov.flat[:: d + 1] += reg
        else:
            cov[:, np.arange(d), np.arange(d)] += reg
        # k-means clusters of one point give a zero scatter: the ridge keeps them definite.
    else:
        var = (r.T @ X**2) / nk[:, None] - means**2
        var = np.maximum(var, 0.0) + reg
        cov = var if cov_type == "diag" else var.mean(axis=1)
    return weights, means, cov
