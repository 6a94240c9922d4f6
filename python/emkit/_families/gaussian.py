"""The Gaussian family: covariance layouts, checks of user values, the conjugate prior's
data-scaled defaults, and seeding (k-means++ labels → the first M-step)."""

from __future__ import annotations

from typing import Any, Dict, Optional, Sequence, Tuple

import numpy as np

from .. import _core
from .._typing import FloatArray, IntArray, NDArray, RealArray
from .._validation import check_float, check_prior_spec

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")
#: Keys of the conjugate normal-inverse-Wishart prior (``prior=`` of the Gaussian estimators).
PRIOR_KEYS = ("mean", "shrinkage", "dof", "scale")


def covariance_shape(covariance_type: str, n_components: int, n_features: int) -> Tuple[int, ...]:
    """scikit-learn's layout of ``covariances_`` for each covariance type."""
    return {
        "full": (n_components, n_features, n_features),
        "tied": (n_features, n_features),
        "diag": (n_components, n_features),
        "spherical": (n_components,),
    }[covariance_type]


def full_covariances(covariances: FloatArray, covariance_type: str, K: int, d: int) -> FloatArray:
    """(K, d, d) matrices from any per-type layout (hmmlearn's ``covars_``)."""
    if covariance_type == "full":
        return np.array(covariances)
    if covariance_type == "tied":
        return np.repeat(np.asarray(covariances)[None], K, axis=0)
    if covariance_type == "diag":
        return np.stack([np.diag(v) for v in covariances])
    return np.stack([np.eye(d) * v for v in covariances])


def weighted_moments(
    X: FloatArray, w: FloatArray
) -> Tuple[FloatArray, FloatArray, Optional[FloatArray]]:
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


def precision_cholesky(covariances: FloatArray, covariance_type: str) -> FloatArray:
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


# ---------------------------------------------------------------------------------- user values
def _real_array(value: Any, name: str) -> FloatArray:
    a = np.asarray(value)
    if a.dtype.kind not in "fiu":
        raise TypeError(f"{name}: expected real numbers, got dtype {a.dtype}")
    a = np.array(a, dtype=np.float64)
    if not np.isfinite(a).all():
        raise ValueError(f"{name}: expected finite values")
    return a


def check_probabilities(value: Any, name: str, shape: Tuple[int, ...]) -> FloatArray:
    """Nonnegative probabilities of the given shape whose last axis sums to 1."""
    p = _real_array(value, name)
    if p.shape != shape:
        raise ValueError(f"{name}: expected shape {shape}, got {p.shape}")
    if (p < 0).any() or not np.allclose(p.sum(axis=-1), 1.0, rtol=0, atol=1e-8):
        raise ValueError(f"{name}: expected nonnegative values summing to 1")
    return np.ascontiguousarray(p / p.sum(axis=-1, keepdims=True))


def check_means(value: Any, name: str, shape: Tuple[int, ...]) -> FloatArray:
    m = _real_array(value, name)
    if m.shape != shape:
        raise ValueError(f"{name}: expected shape {shape}, got {m.shape}")
    return np.ascontiguousarray(m)


def check_covariances(value: Any, name: str, covariance_type: str, shape: Tuple[int, ...]) -> FloatArray:
    """Covariances in a per-type layout ``shape``: symmetric positive definite matrices for
    full/tied, positive variances otherwise."""
    c = _real_array(value, name)
    if c.shape != shape:
        raise ValueError(f"{name}: expected shape {shape} for covariance_type={covariance_type!r}, got {c.shape}")
    if covariance_type in ("full", "tied"):
        for index in np.ndindex(*shape[:-2]):
            sigma = c[index]
            where = f"{name}[{', '.join(str(i) for i in index)}]" if index else name
            if not np.allclose(sigma, sigma.T, rtol=1e-8, atol=1e-12):
                raise ValueError(f"{where}: expected a symmetric matrix")
            try:
                np.linalg.cholesky(sigma)
            except np.linalg.LinAlgError:
                raise ValueError(f"{where}: expected a positive definite matrix") from None
    elif (c <= 0).any():
        raise ValueError(f"{name}: expected positive variances")
    return np.ascontiguousarray(c)


# ---------------------------------------------------------------------------------- prior
def resolve_prior(
    prior: Any, X: RealArray, w: FloatArray, covariance_type: str, n_gaussians: int,
    keys: Sequence[str] = PRIOR_KEYS, hint: str = "",
) -> Optional[Dict[str, Any]]:
    """The conjugate prior's hyper-parameters (Fraley & Raftery 2007, mclust's ``priorControl``)
    with data-scaled defaults for the keys not given: mean = column means, shrinkage 0.01,
    dof d + 2, scale = the data's covariance / n_gaussians^(2/d) (its diagonal for "diag", the
    mean variance for "spherical"). None without a prior. ``keys``: what ``prior`` may hold
    (the mixture adds ``weight_concentration``); ``hint`` is appended to an unknown-key error."""
    if isinstance(prior, dict):
        unknown = sorted(set(prior) - set(keys))
        if unknown:
            raise ValueError(f"prior: unknown keys {unknown}; expected some of {list(keys)}{hint}")
    spec = check_prior_spec(prior, keys)
    if spec is None:
        return None
    d = X.shape[1]
    weights = w if w.size else np.ones(X.shape[0])
    mean, var, cov = weighted_moments(np.asarray(X, dtype=np.float64), weights)
    shrink = n_gaussians ** (2.0 / d)
    out: Dict[str, Any] = {}
    if "mean" in spec:
        m = np.asarray(spec["mean"], dtype=np.float64)
        if m.shape != (d,) or not np.isfinite(m).all():
            raise ValueError(f"prior['mean']: expected {d} finite values, got shape {m.shape}")
        out["mean"] = m
    else:
        out["mean"] = mean
    out["shrinkage"] = check_float(spec.get("shrinkage", 0.01), "prior['shrinkage']", 0.0, strict=True)
    min_dof = d - 1.0 if covariance_type in ("full", "tied") else 0.0
    out["dof"] = check_float(spec.get("dof", d + 2.0), "prior['dof']", min_dof, strict=True)
    if "weight_concentration" in keys:
        out["weight_concentration"] = check_float(
            spec.get("weight_concentration", 1.0), "prior['weight_concentration']", 1.0
        )
    if "scale" in spec:
        expected = {"full": (d, d), "tied": (d, d), "diag": (d,), "spherical": ()}[covariance_type]
        scale = check_covariances(spec["scale"], "prior['scale']", covariance_type, expected)
    else:
        if (var <= 0).any():
            col = int(np.nonzero(var <= 0)[0][0])
            raise ValueError(
                f"prior='default': column {col} of X is constant, so the data-scaled prior scale "
                "is singular; give prior['scale'] explicitly"
            )
        if covariance_type in ("full", "tied"):
            scale = (cov if cov is not None else np.diag(var)) / shrink
        elif covariance_type == "diag":
            scale = var / shrink
        else:
            scale = np.asarray(var.mean() / shrink)
    out["scale"] = np.array(scale, dtype=np.float64)  # 0-d for spherical
    return out


# ---------------------------------------------------------------------------------- seeding
def seeding_rows(X: RealArray, w: FloatArray) -> FloatArray:
    """The rows seeding sees: float64, missing entries imputed by the weighted column means."""
    rows = np.asarray(X, dtype=np.float64)
    missing = np.isnan(rows)
    if missing.any():
        rows = np.where(missing, weighted_moments(rows, w)[0], rows)
    return rows


def nearest(X: FloatArray, centers: FloatArray) -> NDArray[np.intp]:
    """Index of the nearest center of every row."""
    d2 = (X**2).sum(1)[:, None] - 2.0 * X @ centers.T + (centers**2).sum(1)[None, :]
    nearest_center: NDArray[np.intp] = d2.argmin(axis=1)  # numpy types argmin along an axis Any
    return nearest_center


def kmeans_labels(
    X: FloatArray, w: FloatArray, K: int, seed: int, n_threads: int
) -> NDArray[np.int32]:
    """k-means++ seeding and a few Lloyd iterations in the core: the cluster of every row."""
    return _core.kmeans_plus_plus(X, w, K, seed, 10, n_threads)[1]


def parameters_from_responsibilities(
    X: FloatArray, w: FloatArray, resp: FloatArray, covariance_type: str, reg_covar: float,
    n_threads: int = 0,
) -> Tuple[FloatArray, FloatArray, FloatArray]:
    """(weights, means, covariances) of one M-step from (soft or hard) responsibilities on
    complete rows, the starting point of a fit: the Gaussian family's own M-step in the core
    (``seed_from_responsibilities``), not a second implementation."""
    d = X.shape[1]
    K = resp.shape[1]
    # With reg_covar=0 a one-point cluster would start singular: the starting covariances (only
    # they) get a ridge of 1e-6 times the average variance instead.
    reg = reg_covar if reg_covar > 0 else 1e-6 * float(np.mean(np.var(X, axis=0))) or 1e-12
    placeholder = {
        "full": np.tile(np.eye(d), (K, 1, 1)),
        "tied": np.eye(d),
        "diag": np.ones((K, d)),
        "spherical": np.ones(K),
    }[covariance_type]
    model = _core.GaussianMixtureModel(np.full(K, 1.0 / K), np.zeros((K, d)), placeholder, covariance_type, reg)
    model.seed_from_responsibilities(np.ascontiguousarray(X, dtype=np.float64), w, np.ascontiguousarray(resp), n_threads)
    weights = model.weights
    # A component no row was assigned to would start with weight 0, a structural zero EM never
    # leaves: it starts with a negligible weight instead (and the placeholder mean and covariance).
    weights = np.maximum(weights, 10 * np.finfo(float).eps)
    return weights / weights.sum(), model.means, model.covariances


def one_hot(labels: IntArray, K: int) -> FloatArray:
    resp = np.zeros((labels.shape[0], K))
    resp[np.arange(labels.shape[0]), labels] = 1.0
    return resp


def starting_covariances(
    block: FloatArray, weights: FloatArray, variances: FloatArray, K: int, covariance_type: str
) -> FloatArray:
    """Starting covariances of K classes in the layout of ``covariance_type`` (full, tied,
    spherical): the weighted covariance of the rows observing every column (the columns'
    ``variances`` alone when no more rows than columns do), the same for every class."""
    b = block.shape[1]
    diagonal = np.maximum(variances, 1e-6)
    complete = ~np.isnan(block).any(axis=1) & (weights > 0)
    cov = np.diag(diagonal)
    if int(complete.sum()) > b:
        cov = np.cov(block[complete], rowvar=False, aweights=weights[complete], bias=True).reshape(b, b)
        cov[np.diag_indices(b)] = np.maximum(np.diag(cov), 1e-6)
    if covariance_type == "tied":
        return np.ascontiguousarray(cov)
    if covariance_type == "spherical":
        return np.full(K, float(np.mean(diagonal)))
    return np.ascontiguousarray(np.tile(cov, (K, 1, 1)))
