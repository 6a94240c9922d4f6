"""Latent class analysis: mixtures of products of categorical distributions (with covariates,
or with continuous and count items beside the categorical ones), fitted by EM in the compiled
core, with the fit statistics and standard errors LCA users publish."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple, cast

import numpy as np

from .. import _core
from .._base import MixtureEstimator, deprecated_alias
from .._categorical import encode_new
from .._families import gaussian as gaussian_family
from .._families import mixed as mixed_layout
from .._typing import FloatArray, NDArray
from .._validation import (
    check_choice,
    check_fixed,
    check_float,
    check_int,
    check_n_threads,
    check_prior_spec,
    check_sample_weight,
    restart_seeds,
)
from . import layout
from .inference import LatentClassInference, _class_probs

PRIOR_KEYS = ("weight_concentration", "item_concentration")
#: Parameter groups ``fixed`` may hold at their initial values.
FIXED_GROUPS = ("weights",)


def _mixed_parameter(attribute: str, doc: str) -> Any:
    """A read-only fitted parameter of the mixed form (continuous, count or block columns)."""
    name = attribute[1:] + "_"

    def get(self: LatentClass) -> FloatArray:
        self._check_fitted()
        if self._kind != "mixed":
            raise AttributeError(f"{name}: the model has no continuous or count indicators")
        value: Optional[FloatArray] = getattr(self, attribute)
        if value is None:
            raise AttributeError(f"{name}: the model has no Gaussian block")
        return value

    return property(get, doc=doc)


@dataclass(eq=False, repr=False, kw_only=True)
class LatentClass(LatentClassInference, MixtureEstimator):
    """Latent class model (poLCA, StepMix's measurement model) fitted by EM.

    Parameters
    ----------
    n_components : int
        Number of latent classes (``n_classes`` is a deprecated alias).
    n_categories : list of int, optional
        Number of categories of each item, for integer-coded input (default: max code + 1).
    emission : None, str, list or dict
        The family of each column (StepMix's mixed measurement model): "categorical",
        "gaussian" (a normal item with its own mean and variance per class), "poisson"
        (counts), or one Gaussian block of correlated columns: "gaussian_full" (a covariance
        matrix per class), "gaussian_tied" (one shared by the classes) or "gaussian_spherical"
        (one variance per class); every column of the block names the same family. A single
        string applies to every column; a dict maps column names (or indices) to families,
        unlisted columns being categorical. Default: all categorical. Missing values (NaN,
        negative codes) are integrated out in every family, within the block too.
        (``measurement`` is a deprecated alias.)
    reg_covar : float
        Added to the variance of every continuous item after each M-step.
    missing : {"fiml", "drop"}
        "fiml" integrates missing items out (full-information ML, poLCA's ``na.rm=FALSE``);
        "drop" drops incomplete rows.
    tol : float
        EM stops when the per-row average objective changes by less than ``tol``;
        ``tol=0`` runs exactly ``max_iter`` iterations.
    max_iter, n_init, random_state, warm_start, n_threads, verbose, verbose_interval
        As for ``GaussianMixture``. Random starts draw uniform weights and Dirichlet(1)
        response probabilities.
    weights_init : array (n_components,), optional
    probs_init : list of arrays, optional
        One ``n_components × R_j`` array per item.
    fixed : None or set of str
        Parameter groups held at their initial values: "weights" (the class weights:
        ``weights_init``, else uniform). ``fixed_weights=True`` is a deprecated alias.
    prior : None, "default" or dict
        MAP estimation with symmetric Dirichlet priors: ``weight_concentration`` on the
        class weights and ``item_concentration`` on each item's response probabilities
        (default 1 and 2 — the latter keeps estimates off the 0/1 boundary).
    sort_classes : {None, "size"}
        "size" orders the classes by decreasing weight after fitting (labels then compare
        across runs); see also ``reorder``.
    fit_intercept : bool
        With covariates (``fit(X, covariates=Z)``, latent class regression), add an intercept
        column to Z. Class membership is then a multinomial logit in Z with class 0 as the
        reference; ``coef_`` has one column per other class (row 0 the intercept).
    """

    _parameter_attributes = ("_weights", "_probs_flat")
    #: The training data kept for the standard errors is not part of the fitted state.
    _transient_attributes = ("_se_training",)
    _optional_parameter_attributes = ("_coef", "_means", "_variances", "_rates", "_block_means", "_block_covariances")

    n_components: int = field(default=2, kw_only=False)
    n_categories: Optional[List[int]] = None
    emission: Any = None
    missing: str = "fiml"
    tol: float = 1e-10
    max_iter: int = 1000
    weights_init: Any = None
    probs_init: Any = None
    prior: Any = None
    sort_classes: Optional[str] = None
    fit_intercept: bool = True
    reg_covar: float = 1e-6
    # Deprecated aliases of n_components, emission and fixed=["weights"] (FutureWarning in fit).
    n_classes: Optional[int] = None
    measurement: Any = None
    fixed_weights: Optional[bool] = None

    # ------------------------------------------------------------------ validation
    def _check_params(self) -> Dict[str, Any]:
        K = deprecated_alias(self.n_components, "n_components", self.n_classes, "n_classes", 2)
        fixed = self.fixed
        if self.fixed_weights is not None:
            if not isinstance(self.fixed_weights, (bool, np.bool_)):
                raise TypeError(f"fixed_weights: expected a bool, got {self.fixed_weights!r}")
            fixed = deprecated_alias(fixed, "fixed", ["weights"] if self.fixed_weights else [],
                                     "fixed_weights", None)
        p = {
            "n_components": check_int(K, "n_components", 1),
            "missing": check_choice(self.missing, "missing", ("fiml", "drop")),
            "tol": check_float(self.tol, "tol", 0.0),
            "max_iter": check_int(self.max_iter, "max_iter", 0),
            "n_init": check_int(self.n_init, "n_init", 1),
            "n_threads": check_n_threads(self.n_threads),
            "verbose": check_int(self.verbose, "verbose", 0),
            "verbose_interval": check_int(self.verbose_interval, "verbose_interval", 1),
            "reg_covar": check_float(self.reg_covar, "reg_covar", 0.0),
            "fixed": check_fixed(fixed, FIXED_GROUPS),
            "emission_spec": deprecated_alias(self.emission, "emission", self.measurement, "measurement", None),
        }
        if self.sort_classes is not None:
            check_choice(self.sort_classes, "sort_classes", ("size",))
        if not isinstance(self.fit_intercept, (bool, np.bool_)):
            raise TypeError(f"fit_intercept: expected a bool, got {self.fit_intercept!r}")
        self._warm()
        p["prior"] = self._check_prior()
        return p

    def _check_prior(self) -> Optional[Dict[str, float]]:
        prior = check_prior_spec(self.prior, PRIOR_KEYS)
        if prior is None:
            return None
        return {
            "weight_concentration": check_float(
                prior.get("weight_concentration", 1.0), "prior['weight_concentration']", 1.0
            ),
            "item_concentration": check_float(
                prior.get("item_concentration", 2.0), "prior['item_concentration']", 1.0
            ),
        }

    def _check_inits(
        self, K: int, n_categories: List[int]
    ) -> Tuple[Optional[FloatArray], Optional[FloatArray]]:
        weights = None
        if self.weights_init is not None:
            weights = np.asarray(self.weights_init, dtype=np.float64)
            if weights.shape != (K,):
                raise ValueError(f"weights_init: expected shape ({K},), got {weights.shape}")
            if not np.isfinite(weights).all() or (weights < 0).any() or not np.isclose(weights.sum(), 1.0, atol=1e-8):
                raise ValueError("weights_init: expected nonnegative values summing to 1")
        probs = None
        if self.probs_init is not None and n_categories:
            if not isinstance(self.probs_init, (list, tuple)) or len(self.probs_init) != len(n_categories):
                raise ValueError(f"probs_init: expected a list of {len(n_categories)} arrays (one per item)")
            blocks = []
            for j, (block, R) in enumerate(zip(self.probs_init, n_categories)):
                block = np.asarray(block, dtype=np.float64)
                if block.shape != (K, R):
                    raise ValueError(f"probs_init[{j}]: expected shape ({K}, {R}), got {block.shape}")
                if not np.isfinite(block).all() or (block < 0).any() or not np.allclose(block.sum(axis=1), 1.0, atol=1e-8):
                    raise ValueError(f"probs_init[{j}]: expected nonnegative rows summing to 1")
                blocks.append(block)
            probs = np.ascontiguousarray(np.concatenate(blocks, axis=1))
        return weights, probs

    def _prepare(self, X: Any, sample_weight: Any, covariates: Any) -> Tuple[
        Dict[str, Any], layout.TrainingData, Tuple[Optional[FloatArray], Optional[FloatArray]]
    ]:
        """Everything fit and initialize check before any work: (parameters, training data,
        user initial values)."""
        p = self._check_params()
        emission = mixed_layout.emission_kinds(X, p["emission_spec"], "emission")
        data = layout.prepare(
            X, sample_weight, covariates, emission=emission, n_categories=self.n_categories,
            missing=p["missing"], fit_intercept=bool(self.fit_intercept), n_components=p["n_components"],
        )
        p["block_covariance_type"] = data.block_covariance_type
        inits = self._check_inits(p["n_components"], data.encoding.n_categories)
        if data.kind == "regression" and ("weights" in p["fixed"] or inits[0] is not None):
            raise ValueError("fixed=['weights']/weights_init: not available with covariates (the class "
                             "probabilities are then a function of the covariates)")
        return p, data, inits

    # ------------------------------------------------------------------ starting points
    def _start(self, data: layout.TrainingData, p: Dict[str, Any], inits: Tuple[Any, Any], seed: int) -> Dict[str, Any]:
        """One run's starting parameters: uniform (or given) weights, Dirichlet(1) (or given)
        response probabilities; continuous items at the data mean moved by up to one standard
        deviation with the data variance, counts at the data mean times a factor in (0.5, 1.5)."""
        K, R = p["n_components"], data.encoding.n_categories
        rng = np.random.default_rng(seed)
        start: Dict[str, Any] = {
            "weights": inits[0] if inits[0] is not None else np.full(K, 1.0 / K),
            "probs": inits[1] if inits[1] is not None else (
                np.concatenate([rng.dirichlet(np.ones(r), size=K) for r in R], axis=1) if R else np.zeros((K, 0))
            ),
        }
        if data.kind == "regression":
            start["coef"] = np.zeros((cast(FloatArray, data.covariates).shape[1], K))  # regression
        if data.kind == "mixed":
            qc, qn, qp = len(R), len(data.groups["gaussian"]), len(data.groups["poisson"])
            cont, weights = data.rows[:, qc:], data.counts
            mean = np.array([np.average(c[~np.isnan(c)], weights=weights[~np.isnan(c)]) for c in cont.T])
            var = np.array([np.average((c[~np.isnan(c)] - m) ** 2, weights=weights[~np.isnan(c)])
                            for c, m in zip(cont.T, mean)])
            sd = np.sqrt(np.maximum(var[:qn], 1e-12))
            start["means"] = mean[:qn] + rng.uniform(-1, 1, size=(K, qn)) * sd
            start["variances"] = np.tile(np.maximum(var[:qn], 1e-6), (K, 1))
            start["rates"] = mean[qn : qn + qp] * rng.uniform(0.5, 1.5, size=(K, qp))
            if data.block_covariance_type is not None:
                block = cont[:, qn + qp :]
                start["block_means"] = mean[qn + qp :] + rng.uniform(-1, 1, size=(K, block.shape[1])) * np.sqrt(
                    np.maximum(var[qn + qp :], 1e-12))
                start["block_covariances"] = gaussian_family.starting_covariances(block, weights, var[qn + qp :], K,
                                                          data.block_covariance_type)
        return start

    def _make_model(self, kind: str, params: Dict[str, Any], n_categories: List[int], p: Dict[str, Any]) -> Any:
        prior = p["prior"]
        item_prior = None if prior is None else prior["item_concentration"]
        weight_prior = 1.0 if prior is None else prior["weight_concentration"]
        fixed_weights = "weights" in p["fixed"]
        probs = np.ascontiguousarray(params["probs"])
        if kind == "regression":
            return _core.LatentClassRegressionModel(params["coef"], probs, n_categories, item_prior)
        if kind == "mixed":
            block = params.get("block_means") is not None
            return _core.MixedLatentClassModel(
                params["weights"], probs if probs.shape[1] else None, n_categories,
                np.ascontiguousarray(params["means"]), np.ascontiguousarray(params["variances"]),
                np.ascontiguousarray(params["rates"]), item_prior, weight_prior, fixed_weights, p["reg_covar"],
                block_means=np.ascontiguousarray(params["block_means"]) if block else None,
                block_covariances=np.ascontiguousarray(params["block_covariances"]) if block else None,
                block_covariance_type=p.get("block_covariance_type") or "full",
            )
        return _core.LatentClassModel(params["weights"], probs, n_categories, item_prior, weight_prior, fixed_weights)

    def _current_parameters(self) -> Dict[str, Any]:
        params: Dict[str, Any] = {"weights": self._weights, "probs": self._probs_flat}
        if self._coef is not None:
            params["coef"] = self._coef
        if self._kind == "mixed":
            params.update(means=self._means, variances=self._variances, rates=self._rates,
                          block_means=self._block_means, block_covariances=self._block_covariances)
        return params

    def _store(self, model: Any, data: layout.TrainingData, p: Dict[str, Any]) -> None:
        """The core model's parameters and the configuration as fitted attributes."""
        K = p["n_components"]
        self.encoding_ = data.encoding
        self.emission_ = list(data.emission)
        self.prior_ = p["prior"]
        self._config = {"kind": data.kind, "fixed": sorted(p["fixed"]), "reg_covar": p["reg_covar"],
                        "n_threads": p["n_threads"], "groups": data.groups,
                        "block_covariance_type": data.block_covariance_type}
        self._kind = data.kind
        self._n_threads = p["n_threads"]
        self._coef = None
        self._means = self._variances = self._rates = None
        self._block_means = self._block_covariances = None
        self._covariate_names = data.covariate_names
        self._update_from_model(model, K)
        if data.kind == "regression":
            design = cast(FloatArray, data.covariates)  # regression: the covariate design
            self._weights = _class_probs(design, self._coef).T @ data.counts / data.counts.sum()

    def _update_from_model(self, model: Any, K: int) -> None:
        if self._kind == "regression":
            self._coef = model.coef
        else:
            self._weights = model.weights
        probs = model.probs
        self._probs_flat = probs if probs is not None else np.zeros((K, 0))
        if self._kind == "mixed":
            self._means, self._variances, self._rates = (
                a if a.shape[0] else np.zeros((K, 0)) for a in (model.means, model.variances, model.rates)
            )
            self._block_means, self._block_covariances = model.block_means, model.block_covariances

    # ------------------------------------------------------------------ fitting
    def fit(self, X: Any, y: Any = None, sample_weight: Any = None, covariates: Any = None) -> LatentClass:
        """Fits the model (best of ``n_init`` runs); frequency weights allowed; with
        ``covariates`` (n × q), class membership is a multinomial logit in them. Returns self."""
        p, data, inits = self._prepare(X, sample_weight, covariates)
        warm = self._warm()
        if warm and (self._kind != data.kind or self._probs_flat.shape[0] != p["n_components"]):
            raise ValueError("warm_start: the previous fit has another form or n_components")
        R = data.encoding.n_categories

        def run(index: int, seed: int, callback: Any, n_threads: int) -> Tuple[Any, Dict[str, Any]]:
            start = self._current_parameters() if warm else self._start(data, p, inits, seed)
            model = self._make_model(data.kind, start, R, p)
            if data.kind == "regression":
                record = model.fit(data.rows, data.covariates, data.counts, p["max_iter"], p["tol"],
                                   n_threads, callback)
            else:
                record = model.fit(data.rows, data.counts, p["max_iter"], p["tol"], n_threads, callback)
            return model, record

        seeds = restart_seeds(self.random_state, 1 if warm else p["n_init"])
        model = self._fit_runs(seeds, run, p, float(data.counts.sum()), data.rows.shape[0])
        self._store(model, data, p)
        self.n_features_in_ = data.rows.shape[1]
        self._compute_statistics(data)
        if self.sort_classes == "size":
            self.reorder(np.argsort(-self._weights, kind="stable"))
        return self

    def fit_predict(self, X: Any, y: Any = None, sample_weight: Any = None, covariates: Any = None) -> NDArray[np.intp]:
        return self.fit(X, sample_weight=sample_weight, covariates=covariates).predict(X, covariates=covariates)

    # ------------------------------------------------------------------ the EM protocol
    def initialize(self, X: Any, sample_weight: Any = None, covariates: Any = None) -> LatentClass:
        """Sets the starting parameters of the first run (the start of ``fit`` with this
        ``random_state``) without fitting, for an external driver of ``e_step`` / ``m_step``."""
        p, data, inits = self._prepare(X, sample_weight, covariates)
        start = self._start(data, p, inits, restart_seeds(self.random_state, 1)[0])
        self._store(self._make_model(data.kind, start, data.encoding.n_categories, p), data, p)
        self.n_features_in_ = data.rows.shape[1]
        return self

    def _core_model(self) -> Any:
        self._check_fitted()
        p = {"prior": self.prior_, "fixed": frozenset(self._config["fixed"]), "reg_covar": self._config["reg_covar"],
             "block_covariance_type": self._config.get("block_covariance_type")}
        return self._make_model(self._kind, self._current_parameters(), self.encoding_.n_categories, p)

    def _rows(self, X: Any, covariates: Any) -> Tuple[NDArray[Any], Optional[FloatArray]]:
        """New data in the core's layout: (codes or the mixed matrix, covariate design or None)."""
        self._check_fitted()
        if self._kind == "mixed":
            if covariates is not None:
                raise ValueError("covariates: the model was fitted without covariates")
            return mixed_layout.mixed_matrix(X, self._config["groups"], encoding=self.encoding_)[0], None
        codes = encode_new(X, self.encoding_)
        if self._kind == "categorical":
            if covariates is not None:
                raise ValueError("covariates: the model was fitted without covariates")
            return codes, None
        if covariates is None:
            raise ValueError("covariates: required, the model was fitted with covariates")
        Z, _ = layout.check_covariates(covariates, codes.shape[0])
        if np.isnan(Z).any():
            raise ValueError("covariates: missing values are not accepted")
        Z = layout.design(Z, bool(self.fit_intercept))
        if Z.shape[1] != self._coef.shape[0]:
            raise ValueError(f"covariates: expected {self._coef.shape[0] - int(bool(self.fit_intercept))} columns")
        return codes, Z

    def e_step(self, X: Any, sample_weight: Any = None, covariates: Any = None) -> Any:
        """Expected sufficient statistics of the rows X (and their covariates) at the current
        parameters (:class:`emkit.Stats`: statistics of chunks add up with ``+``). While
        ``pending_pass`` (latent class regression's step-halving), the statistics of the line
        search instead: the change of the covariates' log-partition at the trial steps."""
        rows, Z = self._rows(X, covariates)
        w = check_sample_weight(sample_weight, rows.shape[0])
        pending = self.__dict__.get("_pending_model")
        if pending is not None:
            return self._stats(pending.line_search(Z, w, self._n_threads))
        model = self._core_model()
        if Z is None:
            return self._stats(model.e_step(rows, w, self._n_threads))
        return self._stats(model.e_step(rows, Z, w, self._n_threads))

    def m_step(self, stats: Any) -> LatentClass:
        """Updates the parameters from summed statistics (MAP when a prior is set). With
        covariates the class model's Newton step then waits for the line search's pass
        (``pending_pass``); ``m_step`` of that pass's statistics completes it."""
        core_stats = self._check_stats(stats)
        model = self.__dict__.get("_pending_model")
        if model is None:
            model = self._core_model()
        model.m_step(core_stats)
        self._update_from_model(model, self._probs_flat.shape[0])
        self._se = None  # the standard errors were fit's
        self.__dict__.pop("_se_training", None)
        if self._kind == "regression" and model.pending_pass:
            self._pending_model = model
        else:
            self.__dict__.pop("_pending_model", None)
        return self

    @property
    def pending_pass(self) -> bool:
        """True while the Newton step of latent class regression waits for its line search."""
        return self.__dict__.get("_pending_model") is not None

    def _complete_state(self) -> None:
        """The standard errors are part of the state: computed now if fit left them pending."""
        if self.__dict__.get("_se") is None and self.__dict__.get("_se_training") is not None:
            self._se_values()

    def log_prior(self) -> float:
        """log p(parameters) under the priors (0 without any)."""
        return float(self._core_model().log_prior())

    # ------------------------------------------------------------------ parameters
    means_ = _mixed_parameter("_means", "Means of the continuous (\"gaussian\") items, classes × items.")
    variances_ = _mixed_parameter("_variances", "Variances of the continuous items, classes × items.")
    rates_ = _mixed_parameter("_rates", "Rates of the count (\"poisson\") items, classes × items.")
    block_means_ = _mixed_parameter("_block_means", "Means of the Gaussian block's columns, classes × block columns.")
    block_covariances_ = _mixed_parameter(
        "_block_covariances", "Covariances of the Gaussian block in scikit-learn's layout for its covariance "
        "type: full (K, b, b), tied (b, b), spherical (K,).")

    @property
    def block_covariance_type_(self) -> Optional[str]:
        """"full", "tied" or "spherical" (the block's family), None without a Gaussian block."""
        self._check_fitted()
        value: Optional[str] = self._config.get("block_covariance_type")
        return value

    @property
    def coef_(self) -> FloatArray:
        """Multinomial-logit coefficients ((intercept +) covariates × classes 1..K-1; class 0 is
        the reference). Only with covariates."""
        self._check_fitted()
        if self._coef is None:
            raise AttributeError("coef_: the model was fitted without covariates")
        coef: FloatArray = self._coef[:, 1:]
        return coef

    # ------------------------------------------------------------------ parameters
    @property
    def weights_(self) -> FloatArray:
        self._check_fitted()
        return self._weights

    @property
    def probs_(self) -> List[Any]:
        """One ``n_classes × R_j`` array per item (a labelled DataFrame when fitted on one)."""
        self._check_fitted()
        return self._split(self._probs_flat)

    @property
    def categories_(self) -> List[NDArray[Any]]:
        self._check_fitted()
        return self.encoding_.categories

    def _split(self, flat: FloatArray) -> List[Any]:
        out: List[Any] = []
        start = 0
        labelled = self.encoding_.labelled
        for item, labels in zip(self.encoding_.item_names, self.encoding_.categories):
            block = flat[:, start : start + len(labels)]
            start += len(labels)
            if labelled:
                import pandas as pd

                block = pd.DataFrame(block, columns=list(labels), index=[f"class {k}" for k in range(flat.shape[0])])
                block.columns.name = item
            out.append(block)
        return out

    def reorder(self, order: Any) -> LatentClass:
        """Permutes the classes: class k becomes the old class ``order[k]`` (label switching)."""
        self._check_fitted()
        order = np.asarray(order)
        K = self._weights.shape[0]
        if order.shape != (K,) or sorted(order.tolist()) != list(range(K)):
            raise ValueError(f"order: expected a permutation of 0..{K - 1}, got {order!r}")
        self._weights = self._weights[order]
        self._probs_flat = np.ascontiguousarray(self._probs_flat[order])
        if self._kind == "mixed":
            self._means, self._variances, self._rates = (
                np.ascontiguousarray(a[order]) for a in (self._means, self._variances, self._rates)
            )
            if self._block_means is not None:
                self._block_means = np.ascontiguousarray(self._block_means[order])
                if self._config["block_covariance_type"] != "tied":
                    self._block_covariances = np.ascontiguousarray(self._block_covariances[order])
        if self._coef is not None:
            # Re-express the logit with the new class 0 as the reference.
            coef = self._coef[:, order]
            self._coef = np.ascontiguousarray(coef - coef[:, :1])
        se = self.__dict__.get("_se")
        if se is not None and self.__dict__.get("_se_training") is not None:
            self._se = None  # computed again when needed, at the permuted parameters
        elif se is not None:
            # Restored without the training data: the computed errors follow their classes; the
            # logit's refer to the old reference class.
            self._se = {name: None if value is None or name == "coef" else value[order]
                        for name, value in se.items()}
        return self

    # ------------------------------------------------------------------ inference
    def _posterior(self, X: Any, covariates: Any = None) -> Tuple[FloatArray, FloatArray]:
        rows, Z = self._rows(X, covariates)
        model = self._core_model()  # one of three core models (the form): typed Any
        posterior: Tuple[FloatArray, FloatArray]
        if Z is None:
            posterior = model.posterior(rows, self._n_threads)
            return posterior
        posterior = model.posterior(rows, Z, self._n_threads)
        return posterior

    def predict_proba(self, X: Any, covariates: Any = None) -> FloatArray:
        """Posterior class membership probabilities (missing items integrated out)."""
        return np.exp(self._posterior(X, covariates)[0])

    def predict(self, X: Any, covariates: Any = None) -> NDArray[np.intp]:
        """Modal class assignment."""
        labels: NDArray[np.intp] = self._posterior(X, covariates)[0].argmax(axis=1)  # numpy: Any
        return labels

    def score_samples(self, X: Any, covariates: Any = None) -> FloatArray:
        """log p(x_i) of every row (given its covariates)."""
        return self._posterior(X, covariates)[1]

    def score(self, X: Any, y: Any = None, sample_weight: Any = None, covariates: Any = None) -> float:
        """Average log-likelihood per row (weighted with sample_weight)."""
        log_prob = self.score_samples(X, covariates)
        w = check_sample_weight(sample_weight, log_prob.shape[0])
        return float(np.average(log_prob, weights=w if w.size else None))

    def sample(self, n_samples: int = 1) -> Tuple[NDArray[np.int32], NDArray[np.intp]]:
        """(codes, classes) of ``n_samples`` simulated respondents (seeded by random_state)."""
        n_samples = check_int(n_samples, "n_samples", 1)
        self._check_fitted()
        if self._kind != "categorical":
            raise ValueError("sample: available for categorical indicators without covariates only")
        codes, labels = self._core_model().sample(n_samples, restart_seeds(self.random_state, 1)[0])
        return codes, labels.astype(np.intp)

