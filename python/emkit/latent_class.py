"""Latent class analysis: mixtures of products of categorical distributions, fitted by EM in
the compiled core, with the fit statistics and standard errors LCA users publish."""

from __future__ import annotations

import math
from typing import Any, Dict, List, Optional

import numpy as np

from . import _core
from ._base import BaseEstimator, RestartReport, RestartRun, report_monitor
from ._categorical import compress_patterns, encode_fit, encode_new
from ._validation import (
    check_choice,
    check_float,
    check_int,
    check_n_threads,
    check_prior_spec,
    check_sample_weight,
    is_dataframe,
    restart_seeds,
)

PRIOR_KEYS = ("weight_concentration", "item_concentration")


class LatentClass(BaseEstimator):
    """Latent class model (poLCA, StepMix's categorical measurement model) fitted by EM.

    Parameters
    ----------
    n_classes : int
    n_categories : list of int, optional
        Number of categories of each item, for integer-coded input (default: max code + 1).
    measurement : None, str, list or dict
        The family of each column (StepMix's mixed measurement model): "categorical",
        "gaussian" (a normal item with its own mean and variance per class) or "poisson"
        (counts). A single string applies to every column; a dict maps column names (or
        indices) to families, unlisted columns being categorical. Default: all categorical.
        Missing values (NaN, negative codes) are integrated out in every family.
    reg_covar : float
        Added to the variance of every continuous item after each M-step.
    missing : {"fiml", "drop"}
        "fiml" integrates missing items out (full-information ML, poLCA's ``na.rm=FALSE``);
        "drop" drops incomplete rows.
    tol : float
        EM stops when the per-row average objective changes by less than ``tol``;
        ``tol=0`` runs exactly ``max_iter`` iterations.
    max_iter, n_init, random_state, n_threads, verbose
        As for ``GaussianMixture``. Random starts draw uniform weights and Dirichlet(1)
        response probabilities.
    weights_init : array (n_classes,), optional
    probs_init : list of arrays, optional
        One ``n_classes × R_j`` array per item.
    fixed_weights : bool
        Keep the class weights at their initial values (``weights_init``, else uniform).
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

    def __init__(
        self,
        n_classes: int = 2,
        *,
        n_categories: Optional[List[int]] = None,
        measurement: Any = None,
        missing: str = "fiml",
        tol: float = 1e-10,
        max_iter: int = 1000,
        n_init: int = 1,
        weights_init: Any = None,
        probs_init: Any = None,
        fixed_weights: bool = False,
        prior: Any = None,
        sort_classes: Optional[str] = None,
        fit_intercept: bool = True,
        reg_covar: float = 1e-6,
        random_state: Any = None,
        n_threads: Optional[int] = None,
        verbose: int = 0,
    ):
        self.n_classes = n_classes
        self.n_categories = n_categories
        self.measurement = measurement
        self.missing = missing
        self.tol = tol
        self.max_iter = max_iter
        self.n_init = n_init
        self.weights_init = weights_init
        self.probs_init = probs_init
        self.fixed_weights = fixed_weights
        self.prior = prior
        self.sort_classes = sort_classes
        self.fit_intercept = fit_intercept
        self.reg_covar = reg_covar
        self.random_state = random_state
        self.n_threads = n_threads
        self.verbose = verbose

    # ------------------------------------------------------------------ validation
    def _check_params(self) -> Dict[str, Any]:
        p = {
            "n_classes": check_int(self.n_classes, "n_classes", 1),
            "missing": check_choice(self.missing, "missing", ("fiml", "drop")),
            "tol": check_float(self.tol, "tol", 0.0),
            "max_iter": check_int(self.max_iter, "max_iter", 0),
            "n_init": check_int(self.n_init, "n_init", 1),
            "n_threads": check_n_threads(self.n_threads),
            "verbose": check_int(self.verbose, "verbose", 0),
        }
        if self.sort_classes is not None:
            check_choice(self.sort_classes, "sort_classes", ("size",))
        if not isinstance(self.fixed_weights, (bool, np.bool_)):
            raise TypeError(f"fixed_weights: expected a bool, got {self.fixed_weights!r}")
        if not isinstance(self.fit_intercept, (bool, np.bool_)):
            raise TypeError(f"fit_intercept: expected a bool, got {self.fit_intercept!r}")
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

    def _check_inits(self, K: int, n_categories: List[int]):
        weights = None
        if self.weights_init is not None:
            weights = np.asarray(self.weights_init, dtype=np.float64)
            if weights.shape != (K,):
                raise ValueError(f"weights_init: expected shape ({K},), got {weights.shape}")
            if not np.isfinite(weights).all() or (weights < 0).any() or not np.isclose(weights.sum(), 1.0, atol=1e-8):
                raise ValueError("weights_init: expected nonnegative values summing to 1")
        probs = None
        if self.probs_init is not None:
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

    # ------------------------------------------------------------------ data
    def _prepare(self, X: Any, sample_weight: Any, covariates: Any, p: Dict[str, Any]):
        codes, encoding = encode_fit(X, self.n_categories)
        n = codes.shape[0]
        w = check_sample_weight(sample_weight, n)
        weights = w if w.size else np.ones(n)
        Z = None
        if covariates is not None:
            Z, names = _check_covariates(covariates, n)
            missing_z = np.isnan(Z).any(axis=1)
            if missing_z.any() and p["missing"] != "drop":
                rows = np.nonzero(missing_z)[0][:5].tolist()
                raise ValueError(
                    f"covariates: rows {rows} have missing values; pass missing='drop' to drop them"
                )
            self._covariate_names = names
        keep = np.ones(n, dtype=bool)
        if p["missing"] == "drop":
            keep &= (codes >= 0).all(axis=1)
            if Z is not None:
                keep &= ~np.isnan(Z).any(axis=1)
            if not keep.any():
                raise ValueError("X: missing='drop' leaves no complete row")
            for j, item in enumerate(encoding.item_names):
                if (codes[keep, j] < 0).all():
                    raise ValueError(f"X: item {item!r} is entirely missing")
        codes, weights = np.ascontiguousarray(codes[keep]), weights[keep]
        if Z is not None:
            Z = self._design(Z[keep])
        n_positive = int((weights > 0).sum())
        if n_positive < p["n_classes"]:
            raise ValueError(
                f"X: expected at least n_classes={p['n_classes']} rows with positive weight, got {n_positive}"
            )
        return codes, weights, encoding, Z

    def _design(self, Z: np.ndarray) -> np.ndarray:
        if self.fit_intercept:
            Z = np.concatenate([np.ones((Z.shape[0], 1)), Z], axis=1)
        return np.ascontiguousarray(Z)

    # ------------------------------------------------------------------ fitting
    def fit(self, X: Any, y: Any = None, sample_weight: Any = None, covariates: Any = None) -> "LatentClass":
        """Fits the model (best of ``n_init`` runs); frequency weights allowed; with
        ``covariates`` (n × q), class membership is a multinomial logit in them. Returns self."""
        p = self._check_params()
        kinds = self._measurement_kinds(X)
        self._mixed = None
        if any(k != "categorical" for k in kinds):
            if covariates is not None:
                raise ValueError("covariates: not available with continuous or count indicators yet")
            return self._fit_mixed(X, sample_weight, kinds, p)
        codes, weights, encoding, Z = self._prepare(X, sample_weight, covariates, p)
        K = p["n_classes"]
        R = encoding.n_categories
        weights_init, probs_init = self._check_inits(K, R)
        if Z is not None and (self.fixed_weights or weights_init is not None):
            raise ValueError("fixed_weights/weights_init: not available with covariates (the class "
                             "probabilities are then a function of the covariates)")
        if Z is None:
            # EM over the distinct response patterns with their total weights: the same likelihood.
            rows, counts, _ = compress_patterns(codes, weights)
        else:
            rows, counts = codes, weights
        prior = p["prior"]
        seeds = restart_seeds(self.random_state, p["n_init"])
        report = RestartReport()
        best = None
        for run, seed in enumerate(seeds):
            rng = np.random.default_rng(seed)
            start_w = weights_init if weights_init is not None else np.full(K, 1.0 / K)
            if probs_init is not None:
                start_p = probs_init
            else:
                start_p = np.concatenate([rng.dirichlet(np.ones(r), size=K) for r in R], axis=1)
            item_prior = None if prior is None else prior["item_concentration"]
            if Z is None:
                model = _core.LatentClassModel(
                    start_w, start_p, R, item_prior,
                    1.0 if prior is None else prior["weight_concentration"], bool(self.fixed_weights),
                )
                record = model.fit(rows, counts, p["max_iter"], p["tol"], p["n_threads"], None)
            else:
                model = _core.LatentClassRegressionModel(np.zeros((Z.shape[1], K)), start_p, R, item_prior)
                record = model.fit(rows, Z, counts, p["max_iter"], p["tol"], p["n_threads"], None)
            objective = record["history"][-1]
            report.runs.append(RestartRun(seed, objective, record["loglik"][-1], record["n_iter"], record["converged"]))
            if p["verbose"]:
                print(f"run {run}: objective {objective:.6f} after {record['n_iter']} iterations")
            if best is None or objective > best[1]["history"][-1]:
                best = (model, record)
        model, record = best
        report_monitor(record, type(self).__name__, p["tol"], p["max_iter"])
        self.encoding_ = encoding
        self.prior_ = prior
        self._n_threads = p["n_threads"]
        self._probs_flat = model.probs
        if Z is None:
            self._coef = None
            self._weights = model.weights
        else:
            self._coef = model.coef
            self._weights = _class_probs(Z, self._coef).T @ counts / counts.sum()
        self._store_record(record, report)
        self.n_features_in_ = codes.shape[1]
        self._compute_statistics(rows, counts, Z)
        if self.sort_classes == "size":
            self.reorder(np.argsort(-self._weights, kind="stable"))
        return self

    def _store_record(self, record: Dict[str, Any], report: RestartReport) -> None:
        """The monitor's record of the chosen run as fitted attributes."""
        self.converged_ = bool(record["converged"])
        self.n_iter_ = int(record["n_iter"])
        self.history_ = np.asarray(record["history"])
        self.loglik_history_ = np.asarray(record["loglik"])
        self.loglik_ = float(record["loglik"][-1])
        self.restarts_ = report

    # ------------------------------------------------------------------ mixed indicators
    def _measurement_kinds(self, X: Any) -> List[str]:
        """The family of every column of X from ``measurement``."""
        if is_dataframe(X):
            names = [str(c) for c in X.columns]
        else:
            shape = np.shape(X)
            if len(shape) != 2:
                raise ValueError(f"X: expected a 2-D array of category codes, got {len(shape)}-D")
            names = [str(j) for j in range(shape[1])]
        families = ("categorical", "gaussian", "poisson")
        m = self.measurement
        if m is None:
            return ["categorical"] * len(names)
        if isinstance(m, str):
            check_choice(m, "measurement", families)
            return [m] * len(names)
        if isinstance(m, dict):
            kinds = ["categorical"] * len(names)
            for key, kind in m.items():
                name = str(key)
                if name not in names:
                    raise ValueError(f"measurement: column {key!r} is not in X")
                kinds[names.index(name)] = check_choice(kind, f"measurement[{key!r}]", families)
            return kinds
        if isinstance(m, (list, tuple)):
            if len(m) != len(names):
                raise ValueError(f"measurement: expected {len(names)} entries (one per column), got {len(m)}")
            return [check_choice(k, f"measurement[{j}]", families) for j, k in enumerate(m)]
        raise TypeError(f"measurement: expected None, a string, a list or a dict, got {type(m).__name__}")

    def _mixed_matrix(self, X: Any, fit: bool, kinds: Optional[List[str]] = None):
        """[categorical codes | continuous | counts] as one float array (NaN = missing)."""
        if fit:
            groups = {k: [j for j, kind in enumerate(kinds) if kind == k] for k in ("categorical", "gaussian", "poisson")}
        else:
            groups = self._mixed["groups"]
        df = is_dataframe(X)
        n_cols = len(X.columns) if df else np.shape(X)[1]
        expected = sum(len(v) for v in groups.values())
        if n_cols != expected:
            raise ValueError(f"X: expected {expected} columns (as in fit), got {n_cols}")

        def take(cols):
            if df:
                return X.iloc[:, cols]
            return np.asarray(X)[:, cols]

        cat_cols = groups["categorical"]
        if cat_cols:
            if fit:
                codes, encoding = encode_fit(take(cat_cols), None if self.n_categories is None else
                                             [self.n_categories[j] for j in cat_cols])
                if not df:
                    encoding.item_names = [f"item{c}" for c in cat_cols]
            else:
                codes, encoding = encode_new(take(cat_cols), self.encoding_), self.encoding_
        else:
            n = len(X) if df else np.shape(X)[0]
            codes = np.empty((n, 0), dtype=np.int32)
            from ._categorical import CategoricalEncoding

            encoding = CategoricalEncoding([], [], labelled=df)
        parts = [np.where(codes < 0, np.nan, codes.astype(np.float64))]
        for kind in ("gaussian", "poisson"):
            cols = groups[kind]
            values = take(cols)
            if df:
                bad = [str(c) for c, t in zip(values.columns, values.dtypes) if getattr(t, "kind", "O") not in "fiub"]
                if bad:
                    raise TypeError(f"X: {kind} columns must be numeric; {bad} are not")
                values = values.to_numpy(dtype=np.float64, na_value=np.nan)
            values = np.asarray(values, dtype=np.float64).reshape(codes.shape[0], len(cols))
            if np.isinf(values).any():
                raise ValueError(f"X: {kind} columns must be finite (NaN = missing)")
            if kind == "poisson":
                finite = values[~np.isnan(values)]
                if (finite < 0).any() or (finite != np.round(finite)).any():
                    raise ValueError("X: poisson columns must hold nonnegative integer counts")
            if fit:
                for j, c in enumerate(cols):
                    if np.isnan(values[:, j]).all():
                        raise ValueError(f"X: item {c!r} is entirely missing")
            parts.append(values)
        return np.ascontiguousarray(np.concatenate(parts, axis=1)), encoding, groups

    def _mixed_model(self, weights, probs, means, variances, rates):
        prior = self.prior_
        return _core.MixedLatentClassModel(
            weights, probs if probs.shape[1] else None, self.encoding_.n_categories, means, variances, rates,
            None if prior is None else prior["item_concentration"],
            1.0 if prior is None else prior["weight_concentration"], bool(self.fixed_weights),
            check_float(self.reg_covar, "reg_covar", 0.0),
        )

    def _fit_mixed(self, X: Any, sample_weight: Any, kinds: List[str], p: Dict[str, Any]) -> "LatentClass":
        X_all, encoding, groups = self._mixed_matrix(X, fit=True, kinds=kinds)
        n = X_all.shape[0]
        w = check_sample_weight(sample_weight, n)
        weights = w if w.size else np.ones(n)
        if p["missing"] == "drop":
            keep = ~np.isnan(X_all).any(axis=1)
            if not keep.any():
                raise ValueError("X: missing='drop' leaves no complete row")
            X_all, weights = np.ascontiguousarray(X_all[keep]), weights[keep]
        K = p["n_classes"]
        if int((weights > 0).sum()) < K:
            raise ValueError(f"X: expected at least n_classes={K} rows with positive weight")
        R = encoding.n_categories
        qc, qn = len(R), len(groups["gaussian"])
        weights_init, probs_init = self._check_inits(K, R) if R else (self._check_inits(K, [])[0], None)
        self.encoding_ = encoding
        self.prior_ = p["prior"]
        self._mixed = {"groups": groups, "normal": groups["gaussian"], "poisson": groups["poisson"]}
        cont = X_all[:, qc:]
        col_mean = np.array([np.average(c[~np.isnan(c)], weights=weights[~np.isnan(c)]) for c in cont.T])
        col_var = np.array([np.average((c[~np.isnan(c)] - m) ** 2, weights=weights[~np.isnan(c)])
                            for c, m in zip(cont.T, col_mean)])
        report = RestartReport()
        best = None
        for run, seed in enumerate(restart_seeds(self.random_state, p["n_init"])):
            rng = np.random.default_rng(seed)
            w0 = weights_init if weights_init is not None else np.full(K, 1.0 / K)
            if probs_init is not None:
                p0 = probs_init
            elif R:
                p0 = np.concatenate([rng.dirichlet(np.ones(r), size=K) for r in R], axis=1)
            else:
                p0 = np.zeros((K, 0))
            # Continuous items start at the data mean moved by up to one standard deviation, with
            # the data variance; counts at the data mean times a random factor in (0.5, 1.5).
            sd = np.sqrt(np.maximum(col_var[:qn], 1e-12))
            means0 = col_mean[:qn] + rng.uniform(-1, 1, size=(K, qn)) * sd
            vars0 = np.tile(np.maximum(col_var[:qn], 1e-6), (K, 1))
            rates0 = col_mean[qn:] * rng.uniform(0.5, 1.5, size=(K, len(groups["poisson"])))
            model = self._mixed_model(w0, np.ascontiguousarray(p0), means0, vars0, rates0)
            record = model.fit(X_all, weights, p["max_iter"], p["tol"], p["n_threads"], None)
            objective = record["history"][-1]
            report.runs.append(RestartRun(seed, objective, record["loglik"][-1], record["n_iter"], record["converged"]))
            if best is None or objective > best[1]["history"][-1]:
                best = (model, record)
        model, record = best
        report_monitor(record, type(self).__name__, p["tol"], p["max_iter"])
        self._n_threads = p["n_threads"]
        self._coef = None
        self._weights = model.weights
        self._probs_flat = model.probs if model.probs is not None else np.zeros((K, 0))
        self._means, self._variances, self._rates = model.means, model.variances, model.rates
        if self._means.shape[0] == 0:
            self._means = self._variances = np.zeros((K, 0))
        if self._rates.shape[0] == 0:
            self._rates = np.zeros((K, 0))
        self._store_record(record, report)
        self.n_features_in_ = X_all.shape[1]
        self.measurement_ = kinds
        self._mixed["train"] = X_all
        codes = np.where(np.isnan(X_all[:, :qc]), -1, X_all[:, :qc]).astype(np.int32)
        self._compute_statistics(codes, weights, None)
        del self._mixed["train"]
        if self.sort_classes == "size":
            self.reorder(np.argsort(-self._weights, kind="stable"))
        return self

    def _mixed_attr(self, name: str) -> np.ndarray:
        self._check_fitted()
        if self._mixed is None:
            raise AttributeError(f"{name}: the model has no continuous or count indicators")
        return {"means_": self._means, "variances_": self._variances, "rates_": self._rates}[name]

    @property
    def means_(self) -> np.ndarray:
        """Means of the continuous ("gaussian") items, classes × items."""
        return self._mixed_attr("means_")

    @property
    def variances_(self) -> np.ndarray:
        """Variances of the continuous items, classes × items."""
        return self._mixed_attr("variances_")

    @property
    def rates_(self) -> np.ndarray:
        """Rates of the count ("poisson") items, classes × items."""
        return self._mixed_attr("rates_")

    def fit_predict(self, X: Any, y: Any = None, sample_weight: Any = None, covariates: Any = None) -> np.ndarray:
        return self.fit(X, sample_weight=sample_weight, covariates=covariates).predict(X, covariates=covariates)

    @property
    def coef_(self) -> np.ndarray:
        """Multinomial-logit coefficients ((intercept +) covariates × classes 1..K-1; class 0 is
        the reference). Only with covariates."""
        self._check_fitted()
        if self._coef is None:
            raise AttributeError("coef_: the model was fitted without covariates")
        return self._coef[:, 1:]

    # ------------------------------------------------------------------ parameters
    @property
    def weights_(self) -> np.ndarray:
        self._check_fitted()
        return self._weights

    @property
    def probs_(self) -> list:
        """One ``n_classes × R_j`` array per item (a labelled DataFrame when fitted on one)."""
        self._check_fitted()
        return self._split(self._probs_flat)

    @property
    def categories_(self) -> List[np.ndarray]:
        self._check_fitted()
        return self.encoding_.categories

    def _split(self, flat: np.ndarray) -> list:
        out, start = [], 0
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

    def _check_fitted(self) -> None:
        if not hasattr(self, "loglik_"):
            from ._base import NotFittedError

            raise NotFittedError(f"This {type(self).__name__} is not fitted yet; call fit first")

    def _core_model(self):
        self._check_fitted()
        prior = self.prior_
        if self._mixed is not None:
            return self._mixed_model(self._weights, self._probs_flat, self._means, self._variances, self._rates)
        if self._coef is not None:
            return _core.LatentClassRegressionModel(
                self._coef, self._probs_flat, self.encoding_.n_categories,
                None if prior is None else prior["item_concentration"],
            )
        return _core.LatentClassModel(
            self._weights, self._probs_flat, self.encoding_.n_categories,
            None if prior is None else prior["item_concentration"],
            1.0 if prior is None else prior["weight_concentration"],
            bool(self.fixed_weights),
        )

    def reorder(self, order: Any) -> "LatentClass":
        """Permutes the classes: class k becomes the old class ``order[k]`` (label switching)."""
        self._check_fitted()
        order = np.asarray(order)
        K = self._weights.shape[0]
        if order.shape != (K,) or sorted(order.tolist()) != list(range(K)):
            raise ValueError(f"order: expected a permutation of 0..{K - 1}, got {order!r}")
        self._weights = self._weights[order]
        self._probs_flat = np.ascontiguousarray(self._probs_flat[order])
        if getattr(self, "_mixed", None) is not None:
            self._means, self._variances, self._rates = (
                np.ascontiguousarray(a[order]) for a in (self._means, self._variances, self._rates)
            )
        if self._coef is not None:
            # Re-express the logit with the new class 0 as the reference.
            coef = self._coef[:, order]
            self._coef = np.ascontiguousarray(coef - coef[:, :1])
            if hasattr(self, "_coef_se_full"):
                del self._coef_se_full  # standard errors refer to the old reference class
        for name in ("weights_se_", "_probs_se_flat", "means_se_", "variances_se_", "rates_se_"):
            value = getattr(self, name, None)
            if value is not None:
                setattr(self, name, value[order])
        return self

    # ------------------------------------------------------------------ inference
    def _posterior(self, X: Any, covariates: Any = None):
        self._check_fitted()
        if self._mixed is not None:
            if covariates is not None:
                raise ValueError("covariates: the model was fitted without covariates")
            return self._core_model().posterior(self._mixed_matrix(X, fit=False)[0], self._n_threads)
        codes = encode_new(X, self.encoding_)
        model = self._core_model()
        if self._coef is None:
            if covariates is not None:
                raise ValueError("covariates: the model was fitted without covariates")
            return model.posterior(codes, self._n_threads)
        if covariates is None:
            raise ValueError("covariates: required, the model was fitted with covariates")
        Z, _ = _check_covariates(covariates, codes.shape[0])
        if np.isnan(Z).any():
            raise ValueError("covariates: missing values are not accepted for prediction")
        Z = self._design(Z)
        if Z.shape[1] != self._coef.shape[0]:
            raise ValueError(f"covariates: expected {self._coef.shape[0] - self.fit_intercept} columns")
        return model.posterior(codes, Z, self._n_threads)

    def predict_proba(self, X: Any, covariates: Any = None) -> np.ndarray:
        """Posterior class membership probabilities (missing items integrated out)."""
        return np.exp(self._posterior(X, covariates)[0])

    def predict(self, X: Any, covariates: Any = None) -> np.ndarray:
        """Modal class assignment."""
        return self._posterior(X, covariates)[0].argmax(axis=1)

    def score_samples(self, X: Any, covariates: Any = None) -> np.ndarray:
        """log p(x_i) of every row (given its covariates)."""
        return self._posterior(X, covariates)[1]

    def score(self, X: Any, y: Any = None, sample_weight: Any = None, covariates: Any = None) -> float:
        """Average log-likelihood per row (weighted with sample_weight)."""
        log_prob = self.score_samples(X, covariates)
        w = check_sample_weight(sample_weight, log_prob.shape[0])
        return float(np.average(log_prob, weights=w if w.size else None))

    def sample(self, n_samples: int = 1):
        """(codes, classes) of ``n_samples`` simulated respondents (seeded by random_state)."""
        n_samples = check_int(n_samples, "n_samples", 1)
        if self._coef is not None or self._mixed is not None:
            raise ValueError("sample: available for categorical indicators without covariates only")
        codes, labels = self._core_model().sample(n_samples, restart_seeds(self.random_state, 1)[0])
        return codes, labels.astype(np.intp)

    # ------------------------------------------------------------------ fit statistics
    def _compute_statistics(self, rows: np.ndarray, counts: np.ndarray, Z: Optional[np.ndarray]) -> None:
        K = self._weights.shape[0]
        R = self.encoding_.n_categories
        model = self._core_model()
        if self._mixed is not None:
            log_resp, log_prob = model.posterior(self._mixed["train"], self._n_threads)
            n_class_par = 0 if self.fixed_weights else K - 1
        elif Z is None:
            log_resp, log_prob = model.posterior(rows, self._n_threads)
            n_class_par = 0 if self.fixed_weights else K - 1
        else:
            log_resp, log_prob = model.posterior(rows, Z, self._n_threads)
            n_class_par = (K - 1) * Z.shape[1]
        h = np.exp(log_resp)
        N = float(counts.sum())
        npar = n_class_par + sum(K * (r - 1) for r in R)
        if self._mixed is not None:
            npar += K * (2 * len(self._mixed["normal"]) + len(self._mixed["poisson"]))
        ll = self.loglik_
        self.n_parameters_ = npar
        self.n_observations_ = N
        self.aic_ = -2 * ll + 2 * npar
        self.bic_ = -2 * ll + npar * math.log(N)
        self.sabic_ = -2 * ll + npar * math.log((N + 2) / 24)
        self.caic_ = -2 * ll + npar * (math.log(N) + 1)
        # Relative entropy (Mplus): 1 - sum -h log h / (N log K).
        if K > 1:
            # (h log h = 0 where h = 0; log_resp is -inf there when a probability is exactly 0.)
            plogp = h * np.where(h > 0, log_resp, 0.0)
            self.entropy_ = float(1 + (counts @ plogp.sum(axis=1)) / (N * math.log(K)))
        else:
            self.entropy_ = 1.0
        self.df_ = int(min(N, np.prod(R, dtype=float) - 1) - npar) if self._mixed is None else None
        if Z is None and self._mixed is None:
            # Goodness of fit against the observed response patterns among complete rows
            # (poLCA): cells never observed contribute their expected count to Pearson's chi2.
            complete = (rows >= 0).all(axis=1)
            n_complete = counts[complete].sum()
            expected = n_complete * np.exp(log_prob[complete])
            observed = counts[complete]
            seen = observed > 0
            self.g_squared_ = float(2 * np.sum(observed[seen] * np.log(observed[seen] / expected[seen])))
            self.chi_squared_ = float(
                np.sum((observed[seen] - expected[seen]) ** 2 / expected[seen]) + n_complete - expected[seen].sum()
            )
        else:
            # With covariates the expected pattern frequencies depend on every row's covariates,
            # and continuous items have no finite set of patterns: not computed.
            self.g_squared_ = None
            self.chi_squared_ = None
        self._standard_errors(rows, counts, h, Z)

    def _standard_errors(self, patterns: np.ndarray, counts: np.ndarray, h: np.ndarray, Z: Optional[np.ndarray]) -> None:
        """Observed information from the per-case scores (poLCA): the scores of log p(x_i) in
        the log-ratio parameters, their weighted outer product, then the delta method."""
        K = self._weights.shape[0]
        R = self.encoding_.n_categories
        pi = self._weights
        probs = self._split_plain(self._probs_flat)
        # The scores of a block of rows (n_block × parameters) and the jacobians of the parameters;
        # the information is accumulated block by block so memory stays O(block × parameters).
        def scores_of(sl: slice):
            score_blocks, jac_blocks = [], []  # jacobians map log-ratio parameters to probabilities
            if Z is not None and K > 1:
                class_probs = _class_probs(Z[sl], self._coef)
                for k in range(1, K):
                    score_blocks.append((h[sl, k : k + 1] - class_probs[:, k : k + 1]) * Z[sl])
                    jac_blocks.append((("coef", k), np.eye(Z.shape[1])))
            elif not self.fixed_weights and K > 1:
                score_blocks.append(h[sl, 1:] - pi[1:])
                J = np.zeros((K, K - 1))
                for k in range(K):
                    for l in range(1, K):
                        J[k, l - 1] = pi[k] * ((k == l) - pi[l])
                jac_blocks.append(("weights", J))
            for j, r in enumerate(R):
                x = patterns[sl, j]
                observed = x >= 0
                onehot = np.zeros((x.shape[0], r))
                onehot[observed, x[observed]] = 1.0
                for k in range(K):
                    rho = probs[j][k]
                    s = h[sl, k : k + 1] * (onehot[:, 1:] - rho[1:]) * observed[:, None]
                    score_blocks.append(s)
                    J = np.zeros((r, r - 1))
                    for a in range(r):
                        for b in range(1, r):
                            J[a, b - 1] = rho[a] * ((a == b) - rho[b])
                    jac_blocks.append((("probs", j, k), J))
            if self._mixed is not None:
                X_all = self._mixed["train"]
                qc = len(R)
                for kind, start_col, loc, var in (
                    ("normal", qc, self._means, self._variances),
                    ("poisson", qc + len(self._mixed["normal"]), self._rates, None),
                ):
                    for j in range(loc.shape[1]):
                        x = X_all[sl, start_col + j]
                        obs = ~np.isnan(x)
                        xf = np.where(obs, x, 0.0)
                        for k in range(K):
                            if kind == "normal":
                                d = (xf - loc[k, j]) * obs
                                score_blocks.append((h[sl, k] * d / var[k, j])[:, None])
                                jac_blocks.append((("means", j, k), np.eye(1)))
                                score_blocks.append((h[sl, k] * 0.5 * (d**2 / var[k, j] - 1) * obs)[:, None])
                                jac_blocks.append((("variances", j, k), np.array([[var[k, j]]])))
                            else:
                                score_blocks.append((h[sl, k] * (xf - loc[k, j]) * obs)[:, None])
                                jac_blocks.append((("rates", j, k), np.array([[loc[k, j]]])))
            return np.concatenate(score_blocks, axis=1), jac_blocks

        info, jac_blocks = None, []
        for begin in range(0, patterns.shape[0], 4096):
            scores, jac_blocks = scores_of(slice(begin, begin + 4096))
            part = (scores * counts[begin : begin + 4096, None]).T @ scores
            info = part if info is None else info + part
        cov = _covariance_from_information(info)
        offset = 0
        self.weights_se_ = np.zeros(K)
        probs_se = np.zeros_like(self._probs_flat)
        if self._mixed is not None:
            self.means_se_ = np.zeros_like(self._means)
            self.variances_se_ = np.zeros_like(self._means)
            self.rates_se_ = np.zeros_like(self._rates)
        coef_se = np.zeros_like(self._coef) if self._coef is not None else None
        starts = np.concatenate([[0], np.cumsum(R)])
        for key, J in jac_blocks:
            m = J.shape[1]
            block = cov[offset : offset + m, offset : offset + m]
            se = np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", J, block, J), 0.0))
            if key == "weights":
                self.weights_se_ = se
            elif key[0] == "coef":
                coef_se[:, key[1]] = se
            elif key[0] in ("means", "variances", "rates"):
                getattr(self, f"{key[0]}_se_")[key[2], key[1]] = se[0]
            else:
                _, j, k = key
                probs_se[k, starts[j] : starts[j + 1]] = se
            offset += m
        self._probs_se_flat = probs_se
        if coef_se is not None:
            self._coef_se_full = coef_se
            self.weights_se_ = None  # the weights are not parameters with covariates: see coef_se_

    @property
    def coef_se_(self) -> np.ndarray:
        """Standard errors of ``coef_`` (observed information from per-case scores)."""
        self._check_fitted()
        if getattr(self, "_coef_se_full", None) is None:
            raise AttributeError("coef_se_: only for a model fitted with covariates (and not reordered since)")
        return self._coef_se_full[:, 1:]

    def _split_plain(self, flat: np.ndarray) -> List[np.ndarray]:
        starts = np.concatenate([[0], np.cumsum(self.encoding_.n_categories)])
        return [flat[:, starts[j] : starts[j + 1]] for j in range(len(starts) - 1)]

    @property
    def probs_se_(self) -> list:
        """Standard errors of ``probs_``, same layout."""
        self._check_fitted()
        return self._split(self._probs_se_flat)

    def bic(self, X: Any = None) -> float:
        """BIC of the fitted model on its training data (X is accepted for scikit-learn symmetry
        and, when given, scored instead)."""
        if X is None:
            return self.bic_
        ll = self.score_samples(X).sum()
        return float(-2 * ll + self.n_parameters_ * math.log(len(self.score_samples(X))))

    def aic(self, X: Any = None) -> float:
        if X is None:
            return self.aic_
        return float(-2 * self.score_samples(X).sum() + 2 * self.n_parameters_)

    def summary(self) -> str:
        """A readable report: weights and response probabilities with standard errors (and
        labels), fit statistics, restarts."""
        self._check_fitted()
        K = self._weights.shape[0]
        lines = [f"Latent class model: {K} classes, {len(self.encoding_.item_names)} items, "
                 f"N = {self.n_observations_:g}"]
        if self.weights_se_ is not None:
            lines.append("class weights (se):")
            lines.append("  " + "  ".join(f"{w:.4f} ({s:.4f})" for w, s in zip(self._weights, self.weights_se_)))
        else:
            lines.append("average class probabilities:")
            lines.append("  " + "  ".join(f"{w:.4f}" for w in self._weights))
            names = (["(intercept)"] if self.fit_intercept else []) + list(
                getattr(self, "_covariate_names", None) or [f"z{q}" for q in range(self._coef.shape[0] - self.fit_intercept)]
            )
            se = getattr(self, "_coef_se_full", None)
            lines.append("multinomial logit coefficients, class 0 = reference (se):")
            for k in range(1, K):
                cells = "  ".join(
                    f"{n}: {c:.4f}" + (f" ({se[q, k]:.4f})" if se is not None else "")
                    for q, (n, c) in enumerate(zip(names, self._coef[:, k]))
                )
                lines.append(f"  class {k}: {cells}")
        probs = self._split_plain(self._probs_flat)
        ses = self._split_plain(self._probs_se_flat)
        for item, labels, block, se in zip(self.encoding_.item_names, self.encoding_.categories, probs, ses):
            lines.append(f"item {item}: P(response | class) (se)")
            width = max(18, max(len(str(lbl)) for lbl in labels) + 2)
            lines.append("  " + " " * 9 + "".join(f"{str(lbl):>{width}}" for lbl in labels))
            for k in range(K):
                cells = "".join(f"{f'{p:.4f} ({s:.4f})':>{width}}" for p, s in zip(block[k], se[k]))
                lines.append(f"  class {k:<2}" + cells)
        if self._mixed is not None:
            for label, values, ses, cols in (
                ("mean", self._means, self.means_se_, self._mixed["normal"]),
                ("variance", self._variances, self.variances_se_, self._mixed["normal"]),
                ("rate", self._rates, self.rates_se_, self._mixed["poisson"]),
            ):
                for j, c in enumerate(cols):
                    cells = "  ".join(f"class {k}: {values[k, j]:.4f} ({ses[k, j]:.4f})" for k in range(K))
                    lines.append(f"column {c}: {label} (se)  {cells}")
        lines.append("fit statistics:")
        stats = [
            ("log-likelihood", self.loglik_), ("free parameters", self.n_parameters_),
            ("AIC", self.aic_), ("BIC", self.bic_), ("sample-size adjusted BIC", self.sabic_),
            ("CAIC", self.caic_), ("G-squared", self.g_squared_), ("Pearson chi-squared", self.chi_squared_),
            ("residual df", self.df_), ("relative entropy", self.entropy_),
        ]
        for name, value in stats:
            if value is None:
                lines.append(f"  {name:<26} {'(not computed)':>14}")
            elif isinstance(value, float):
                lines.append(f"  {name:<26} {value:>14.4f}")
            else:
                lines.append(f"  {name:<26} {value:>14}")
        lines.append(f"  {'iterations':<26} {self.n_iter_:>14}   converged={self.converged_}")
        lines.append("restarts:")
        lines.append("  " + self.restarts_.table().replace("\n", "\n  "))
        return "\n".join(lines)


def _class_probs(Z: np.ndarray, coef: np.ndarray) -> np.ndarray:
    """pi_ik = softmax_k(z_i . coef_k)."""
    eta = Z @ coef
    eta -= eta.max(axis=1, keepdims=True)
    e = np.exp(eta)
    return e / e.sum(axis=1, keepdims=True)


def _check_covariates(covariates: Any, n_rows: int):
    """A float (n, q) covariate matrix (NaN = missing) and its column names."""
    from ._validation import check_data

    names = None
    if is_dataframe(covariates):
        names = [str(c) for c in covariates.columns]
    Z = covariates
    if not is_dataframe(Z):
        Z = np.asarray(Z)
        if Z.ndim == 1:
            Z = Z.reshape(-1, 1)
    if not is_dataframe(Z) and Z.dtype.kind not in "fiub":
        raise TypeError(f"covariates: expected real numbers, got dtype {Z.dtype}")
    Z = np.asarray(Z.to_numpy(dtype=np.float64, na_value=np.nan) if is_dataframe(Z) else Z, dtype=np.float64)
    if Z.ndim != 2 or Z.shape[0] != n_rows:
        raise ValueError(f"covariates: expected {n_rows} rows (one per row of X), got shape {Z.shape}")
    if np.isinf(Z).any():
        raise ValueError("covariates: expected finite values")
    return np.ascontiguousarray(Z), names


def _covariance_from_information(info: np.ndarray) -> np.ndarray:
    """The inverse of the information matrix by Cholesky solves; a singular information (a
    parameter on the boundary) falls back to the pseudo-inverse."""
    n = info.shape[0]
    try:
        L = np.linalg.cholesky(info)
        identity = np.eye(n)
        Y = np.linalg.solve(L, identity)
        return Y.T @ Y
    except np.linalg.LinAlgError:
        return np.linalg.pinv(info, hermitian=True)
