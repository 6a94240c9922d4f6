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
        random_state: Any = None,
        n_threads: Optional[int] = None,
        verbose: int = 0,
    ):
        self.n_classes = n_classes
        self.n_categories = n_categories
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
        prior = self.prior
        if prior is None:
            return None
        if isinstance(prior, str):
            if prior != "default":
                raise ValueError(f"prior: expected None, 'default' or a dict, got {prior!r}")
            prior = {}
        if not isinstance(prior, dict):
            raise TypeError(f"prior: expected None, 'default' or a dict, got {type(prior).__name__}")
        unknown = sorted(set(prior) - set(PRIOR_KEYS))
        if unknown:
            raise ValueError(f"prior: unknown keys {unknown}; expected some of {list(PRIOR_KEYS)}")
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
        self.converged_ = bool(record["converged"])
        self.n_iter_ = int(record["n_iter"])
        self.history_ = np.asarray(record["history"])
        self.loglik_history_ = np.asarray(record["loglik"])
        self.loglik_ = float(record["loglik"][-1])
        self.restarts_ = report
        self.n_features_in_ = codes.shape[1]
        self._compute_statistics(rows, counts, Z)
        if self.sort_classes == "size":
            self.reorder(np.argsort(-self._weights, kind="stable"))
        return self

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
        if self._coef is not None:
            # Re-express the logit with the new class 0 as the reference.
            coef = self._coef[:, order]
            self._coef = np.ascontiguousarray(coef - coef[:, :1])
            if hasattr(self, "_coef_se_full"):
                del self._coef_se_full  # standard errors refer to the old reference class
        for name in ("weights_se_", "_probs_se_flat"):
            value = getattr(self, name, None)
            if value is not None:
                setattr(self, name, value[order])
        return self

    # ------------------------------------------------------------------ inference
    def _posterior(self, X: Any, covariates: Any = None):
        self._check_fitted()
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
        if self._coef is not None:
            raise ValueError("sample: not available for a model with covariates")
        codes, labels = self._core_model().sample(n_samples, restart_seeds(self.random_state, 1)[0])
        return codes, labels.astype(np.intp)

    # ------------------------------------------------------------------ fit statistics
    def _compute_statistics(self, rows: np.ndarray, counts: np.ndarray, Z: Optional[np.ndarray]) -> None:
        K = self._weights.shape[0]
        R = self.encoding_.n_categories
        model = self._core_model()
        if Z is None:
            log_resp, log_prob = model.posterior(rows, self._n_threads)
            n_class_par = 0 if self.fixed_weights else K - 1
        else:
            log_resp, log_prob = model.posterior(rows, Z, self._n_threads)
            n_class_par = (K - 1) * Z.shape[1]
        h = np.exp(log_resp)
        N = float(counts.sum())
        npar = n_class_par + sum(K * (r - 1) for r in R)
        ll = self.loglik_
        self.n_parameters_ = npar
        self.n_observations_ = N
        self.aic_ = -2 * ll + 2 * npar
        self.bic_ = -2 * ll + npar * math.log(N)
        self.sabic_ = -2 * ll + npar * math.log((N + 2) / 24)
        self.caic_ = -2 * ll + npar * (math.log(N) + 1)
        # Relative entropy (Mplus): 1 - sum -h log h / (N log K).
        if K > 1:
            plogp = np.where(h > 0, h * log_resp, 0.0)
            self.entropy_ = float(1 + (counts @ plogp.sum(axis=1)) / (N * math.log(K)))
        else:
            self.entropy_ = 1.0
        self.df_ = int(min(N, np.prod(R, dtype=float) - 1) - npar)
        if Z is None:
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
            # With covariates the expected pattern frequencies depend on every row's covariates;
            # the pattern statistics are not computed.
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
        score_blocks, jac_blocks = [], []  # jacobians map log-ratio parameters to probabilities
        if Z is not None and K > 1:
            class_probs = _class_probs(Z, self._coef)
            for k in range(1, K):
                score_blocks.append((h[:, k : k + 1] - class_probs[:, k : k + 1]) * Z)
                jac_blocks.append((("coef", k), np.eye(Z.shape[1])))
        elif not self.fixed_weights and K > 1:
            score_blocks.append(h[:, 1:] - pi[1:])
            J = np.zeros((K, K - 1))
            for k in range(K):
                for l in range(1, K):
                    J[k, l - 1] = pi[k] * ((k == l) - pi[l])
            jac_blocks.append(("weights", J))
        for j, r in enumerate(R):
            x = patterns[:, j]
            observed = x >= 0
            onehot = np.zeros((patterns.shape[0], r))
            onehot[observed, x[observed]] = 1.0
            for k in range(K):
                rho = probs[j][k]
                s = h[:, k : k + 1] * (onehot[:, 1:] - rho[1:]) * observed[:, None]
                score_blocks.append(s)
                J = np.zeros((r, r - 1))
                for a in range(r):
                    for b in range(1, r):
                        J[a, b - 1] = rho[a] * ((a == b) - rho[b])
                jac_blocks.append((("probs", j, k), J))
        scores = np.concatenate(score_blocks, axis=1)
        info = (scores * counts[:, None]).T @ scores
        cov = _covariance_from_information(info)
        offset = 0
        self.weights_se_ = np.zeros(K)
        probs_se = np.zeros_like(self._probs_flat)
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
        lines.append("fit statistics:")
        stats = [
            ("log-likelihood", self.loglik_), ("free parameters", self.n_parameters_),
            ("AIC", self.aic_), ("BIC", self.bic_), ("sample-size adjusted BIC", self.sabic_),
            ("CAIC", self.caic_), ("G-squared", self.g_squared_), ("Pearson chi-squared", self.chi_squared_),
            ("residual df", self.df_), ("relative entropy", self.entropy_),
        ]
        for name, value in stats:
            if value is None:
                lines.append(f"  {name:<26} {'(not computed with covariates)':>14}")
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
