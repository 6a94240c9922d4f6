"""What latent class users publish beside the parameters: fit statistics (AIC, BIC, G², χ²,
entropy), standard errors from the observed information of the per-case scores (as poLCA), and
a readable summary. A mixin of :class:`LatentClass`: it reads the estimator's own parameters."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple, cast

import numpy as np

from .._typing import FloatArray, NDArray, RealArray

if TYPE_CHECKING:
    from .._categorical import CategoricalEncoding
    from .._restarts import RestartReport


class LatentClassInference:
    """Fit statistics, standard errors and the summary of a fitted :class:`LatentClass`."""

    if TYPE_CHECKING:
        # What the mixin reads of LatentClass (its parameters, configuration and record).
        fit_intercept: Any
        encoding_: CategoricalEncoding
        loglik_: float
        n_iter_: int
        converged_: bool
        restarts_: RestartReport
        _weights: FloatArray
        _probs_flat: FloatArray
        # An array or None according to the model's form (_kind: covariates, mixed items); mypy
        # cannot follow that correlation, so these stay Any.
        _coef: Any
        _means: Any
        _variances: Any
        _rates: Any
        _block_means: Any
        _block_covariances: Any
        _kind: str
        _config: Dict[str, Any]
        _n_threads: int

        def _check_fitted(self) -> None: ...
        def _core_model(self) -> Any: ...
        def _split(self, flat: FloatArray) -> List[Any]: ...
        def score_samples(self, X: Any, covariates: Any = None) -> FloatArray: ...

        # What it computes.
        n_parameters_: int
        aic_: float
        bic_: float
        g_squared_: Optional[float]
        chi_squared_: Optional[float]
        df_: Optional[int]
        _se: Optional[Dict[str, Any]]

    def _compute_statistics(self, data: Any) -> None:
        """Fit statistics on the training data (a ``layout.TrainingData``), which is kept for the
        standard errors."""
        K = self._weights.shape[0]
        R = self.encoding_.n_categories
        model = self._core_model()
        counts, Z, mixed = data.counts, data.covariates, data.kind == "mixed"
        groups = data.groups
        fixed_weights = "weights" in self._config["fixed"]
        X_all = data.rows if mixed else None
        rows = (np.where(np.isnan(data.rows[:, : len(R)]), -1, data.rows[:, : len(R)]).astype(np.int32)
                if mixed else data.rows)
        if mixed:
            log_resp, log_prob = model.posterior(X_all, self._n_threads)
            n_class_par = 0 if fixed_weights else K - 1
        elif Z is None:
            log_resp, log_prob = model.posterior(rows, self._n_threads)
            n_class_par = 0 if fixed_weights else K - 1
        else:
            log_resp, log_prob = model.posterior(rows, Z, self._n_threads)
            n_class_par = (K - 1) * Z.shape[1]
        h = np.exp(log_resp)
        N = float(counts.sum())
        npar = n_class_par + sum(K * (r - 1) for r in R)
        block_type = self._config.get("block_covariance_type")
        if mixed:
            npar += K * (2 * len(groups["gaussian"]) + len(groups["poisson"]))
            b = len(groups["block"])
            npar += K * b + {"full": K * b * (b + 1) // 2, "tied": b * (b + 1) // 2, "spherical": K,
                             None: 0}[block_type]
        ll = self.loglik_
        self.n_parameters_ = npar
        self.n_observations_ = N
        self.aic_ = -2 * ll + 2 * npar
        self.bic_ = -2 * ll + npar * math.log(N)
        self.sabic_ = -2 * ll + npar * math.log((N + 2) / 24)
        self.caic_ = -2 * ll + npar * (math.log(N) + 1)
        # Relative entropy (Mplus): 1 - sum -h log h / (N log K).
        if K > 1:
            # 0 log 0 = 0: a posterior that underflowed to 0 has log_resp = -inf.
            plogp = np.multiply(h, log_resp, out=np.zeros_like(h), where=h > 0)
            self.entropy_ = float(1 + (counts @ plogp.sum(axis=1)) / (N * math.log(K)))
        else:
            self.entropy_ = 1.0
        self.df_ = int(min(N, np.prod(R, dtype=float) - 1) - npar) if not mixed else None
        if Z is None and not mixed:
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
        # Standard errors cost more than a short fit (the information matrix of every parameter):
        # computed on first use, from the training data kept until then (see _se_values).
        self._se = None
        self._se_training = data

    def _se_values(self) -> Dict[str, Any]:
        """The standard errors (computed once, at the current parameters, on fit's training
        data): "weights", "probs" (flat), "means", "variances", "rates", "coef" (full), each an
        array or None where the model has no such parameters or they are not computed."""
        self._check_fitted()
        se = self.__dict__.get("_se")
        if se is None:
            data = self.__dict__.get("_se_training")
            if data is None:
                raise AttributeError(
                    "standard errors: they are computed from fit's training data, which this model does not "
                    "have (it was initialised or changed by m_step since fit)"
                )
            se = self._standard_errors_on(data)
            self._se = se
        return se

    def _standard_errors_on(self, data: Any) -> Dict[str, Any]:
        none: Dict[str, Any] = dict.fromkeys(("weights", "probs", "means", "variances", "rates", "coef"))
        if self._config.get("block_covariance_type") is not None:
            # The scores of a covariance block with missing entries are not implemented: no
            # standard errors rather than ones that ignore the block's parameters.
            return none
        R = self.encoding_.n_categories
        model = self._core_model()
        Z, mixed = data.covariates, data.kind == "mixed"
        X_all = data.rows if mixed else None
        rows = (np.where(np.isnan(data.rows[:, : len(R)]), -1, data.rows[:, : len(R)]).astype(np.int32)
                if mixed else data.rows)
        if mixed:
            log_resp, _ = model.posterior(X_all, self._n_threads)
        elif Z is None:
            log_resp, _ = model.posterior(rows, self._n_threads)
        else:
            log_resp, _ = model.posterior(rows, Z, self._n_threads)
        return {**none, **self._standard_errors(rows, data.counts, np.exp(log_resp), Z, X_all, data.groups,
                                               "weights" in self._config["fixed"])}

    def _standard_errors(self, patterns: NDArray[Any], counts: FloatArray, h: FloatArray, Z: Optional[FloatArray],
                         X_all: Optional[FloatArray], groups: Any, fixed_weights: bool) -> Dict[str, Any]:
        """Observed information from the per-case scores (poLCA): the scores of log p(x_i) in
        the log-ratio parameters, their weighted outer product, then the delta method."""
        K = self._weights.shape[0]
        R = self.encoding_.n_categories
        pi = self._weights
        probs = self._split_plain(self._probs_flat)
        # The scores of a block of rows (n_block × parameters) and the jacobians of the parameters;
        # the information is accumulated block by block so memory stays O(block × parameters).
        def scores_of(sl: slice) -> Tuple[FloatArray, List[Tuple[Any, FloatArray]]]:
            score_blocks: List[FloatArray] = []
            jac_blocks: List[Tuple[Any, FloatArray]] = []  # map log-ratio parameters to probabilities
            if Z is not None and K > 1:
                class_probs = _class_probs(Z[sl], self._coef)
                for k in range(1, K):
                    score_blocks.append((h[sl, k : k + 1] - class_probs[:, k : k + 1]) * Z[sl])
                    jac_blocks.append((("coef", k), np.eye(Z.shape[1])))
            elif not fixed_weights and K > 1:
                score_blocks.append(h[sl, 1:] - pi[1:])
                J = np.zeros((K, K - 1))
                for k in range(K):
                    for other in range(1, K):
                        J[k, other - 1] = pi[k] * ((k == other) - pi[other])
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
            if X_all is not None:
                qc = len(R)
                var: Any  # the variances (normal items), None for the Poisson items
                for kind, start_col, loc, var in (
                    ("normal", qc, self._means, self._variances),
                    ("poisson", qc + len(groups["gaussian"]), self._rates, None),
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

        info: Optional[FloatArray] = None
        jac_blocks: List[Tuple[Any, FloatArray]] = []
        for begin in range(0, patterns.shape[0], 4096):
            scores, jac_blocks = scores_of(slice(begin, begin + 4096))
            part = (scores * counts[begin : begin + 4096, None]).T @ scores
            info = part if info is None else info + part
        cov = _covariance_from_information(cast(FloatArray, info))  # not None: at least one row
        offset = 0
        out: Dict[str, Any] = {"weights": np.zeros(K), "probs": np.zeros_like(self._probs_flat)}
        if X_all is not None:
            out.update(means=np.zeros_like(self._means), variances=np.zeros_like(self._means),
                       rates=np.zeros_like(self._rates))
        coef_se: Optional[FloatArray] = (
            np.zeros_like(self._coef) if self._coef is not None else None
        )
        starts = np.concatenate([[0], np.cumsum(R)])
        for key, J in jac_blocks:
            m = J.shape[1]
            block = cov[offset : offset + m, offset : offset + m]
            se = np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", J, block, J), 0.0))
            if key == "weights":
                out["weights"] = se
            elif key[0] == "coef":
                cast(FloatArray, coef_se)[:, key[1]] = se  # coef blocks only with covariates
            elif key[0] in ("means", "variances", "rates"):
                out[key[0]][key[2], key[1]] = se[0]
            else:
                _, j, k = key
                out["probs"][k, starts[j] : starts[j + 1]] = se
            offset += m
        if coef_se is not None:
            out["coef"] = coef_se
            out["weights"] = None  # the weights are not parameters with covariates: see coef_se_
        return out

    @property
    def weights_se_(self) -> Optional[FloatArray]:
        """Standard errors of ``weights_`` (observed information from the per-case scores, as
        poLCA); None with covariates (see ``coef_se_``) or a Gaussian block. Computed on first
        use of any standard error (or ``summary``, ``get_state``)."""
        value: Optional[FloatArray] = self._se_values()["weights"]
        return value

    @property
    def coef_se_(self) -> FloatArray:
        """Standard errors of ``coef_`` (observed information from per-case scores)."""
        coef = self._se_values()["coef"]
        if coef is None:
            raise AttributeError("coef_se_: only for a model fitted with covariates (and not reordered since)")
        value: FloatArray = coef[:, 1:]
        return value

    def _item_se(self, name: str) -> FloatArray:
        value: Optional[FloatArray] = self._se_values()[name]
        if value is None:
            raise AttributeError(f"{name}_se_: the model has no such parameters, or a Gaussian block (whose "
                                 "standard errors are not computed)")
        return value

    @property
    def means_se_(self) -> FloatArray:
        """Standard errors of ``means_``."""
        return self._item_se("means")

    @property
    def variances_se_(self) -> FloatArray:
        """Standard errors of ``variances_``."""
        return self._item_se("variances")

    @property
    def rates_se_(self) -> FloatArray:
        """Standard errors of ``rates_``."""
        return self._item_se("rates")

    def _split_plain(self, flat: FloatArray) -> List[FloatArray]:
        starts = np.concatenate([[0], np.cumsum(self.encoding_.n_categories)])
        return [flat[:, starts[j] : starts[j + 1]] for j in range(len(starts) - 1)]

    @property
    def probs_se_(self) -> List[Any]:
        """Standard errors of ``probs_``, same layout (not computed with a Gaussian block)."""
        flat = self._se_values()["probs"]
        if flat is None:
            raise AttributeError("probs_se_: standard errors are not computed for a model with a Gaussian block")
        return self._split(flat)

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
        se_of = self._se_values()
        with_se = se_of["probs"] is not None
        if not with_se:
            lines.append("(standard errors are not computed for a model with a Gaussian block)")
        if self._coef is None:
            se_w = se_of["weights"]
            lines.append("class weights" + (" (se):" if se_w is not None else ":"))
            lines.append("  " + "  ".join(f"{w:.4f}" + (f" ({se_w[k]:.4f})" if se_w is not None else "")
                                          for k, w in enumerate(self._weights)))
        else:
            lines.append("average class probabilities:")
            lines.append("  " + "  ".join(f"{w:.4f}" for w in self._weights))
            names = (["(intercept)"] if self.fit_intercept else []) + list(
                getattr(self, "_covariate_names", None) or [f"z{q}" for q in range(self._coef.shape[0] - self.fit_intercept)]
            )
            se = se_of["coef"]
            lines.append("multinomial logit coefficients, class 0 = reference (se):")
            for k in range(1, K):
                cells = "  ".join(
                    f"{n}: {c:.4f}" + (f" ({se[q, k]:.4f})" if se is not None else "")
                    for q, (n, c) in enumerate(zip(names, self._coef[:, k]))
                )
                lines.append(f"  class {k}: {cells}")

        def cell(value: float, se: Any) -> str:
            return f"{value:.4f}" + (f" ({se:.4f})" if se is not None else "")

        probs = self._split_plain(self._probs_flat)
        se_flat = se_of["probs"]
        ses: List[Any] = self._split_plain(se_flat) if se_flat is not None else [None] * len(probs)
        for item, labels, block, se in zip(self.encoding_.item_names, self.encoding_.categories, probs, ses):
            lines.append(f"item {item}: P(response | class)" + (" (se)" if with_se else ""))
            width = max(18, max(len(str(lbl)) for lbl in labels) + 2)
            lines.append("  " + " " * 9 + "".join(f"{str(lbl):>{width}}" for lbl in labels))
            for k in range(K):
                cells = "".join(f"{cell(p, None if se is None else se[k, r]):>{width}}" for r, p in enumerate(block[k]))
                lines.append(f"  class {k:<2}" + cells)
        if self._kind == "mixed":
            groups = self._config["groups"]
            for label, values, ses_of, cols in (
                ("mean", self._means, se_of["means"], groups["gaussian"]),
                ("variance", self._variances, se_of["variances"], groups["gaussian"]),
                ("rate", self._rates, se_of["rates"], groups["poisson"]),
            ):
                for j, c in enumerate(cols):
                    cells = "  ".join(f"class {k}: {cell(values[k, j], None if ses_of is None else ses_of[k, j])}"
                                      for k in range(K))
                    lines.append(f"column {c}: {label}" + (" (se)" if with_se else "") + f"  {cells}")
            if self._block_means is not None:
                lines.append(f"Gaussian block ({self._config['block_covariance_type']} covariance) over columns "
                             f"{groups['block']}:")
                for k in range(K):
                    lines.append(f"  class {k}: means " + np.array2string(self._block_means[k], precision=4))
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



def _class_probs(Z: FloatArray, coef: FloatArray) -> FloatArray:
    """pi_ik = softmax_k(z_i . coef_k)."""
    eta = Z @ coef
    eta -= eta.max(axis=1, keepdims=True)
    e = np.exp(eta)
    probs: FloatArray = e / e.sum(axis=1, keepdims=True)  # numpy types keepdims sums Any
    return probs


def _covariance_from_information(info: FloatArray) -> RealArray:
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
