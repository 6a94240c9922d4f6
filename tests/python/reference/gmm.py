"""Reference EM for Gaussian mixtures with missing values (numpy + math only).

This module is written for clarity, not speed: it is meant to be run on small
data sets (a few hundred rows, a handful of features) and its results are
compared with the production implementation to a tight relative tolerance.

Conventions
-----------
* ``X`` is an ``(n, d)`` float array; ``NaN`` marks a missing entry (a row is
  never entirely missing).
* ``sample_weight`` is an ``(n,)`` nonnegative array (default: ones),
  ``N = sum(sample_weight)``.
* Covariances use scikit-learn shapes: ``"full"`` ``(K, d, d)``, ``"tied"``
  ``(d, d)``, ``"diag"`` ``(K, d)``, ``"spherical"`` ``(K,)``.
* ``prior`` is ``None`` (maximum likelihood) or a dict with keys ``"mean"``
  (mu0, ``(d,)``), ``"shrinkage"`` (kappa > 0), ``"dof"`` (nu), ``"scale"``
  (full/tied: ``(d, d)`` SPD matrix; diag: ``(d,)`` vector; spherical: scalar)
  and ``"weight_concentration"`` (alpha >= 1).

The E-step marginalises the missing coordinates out (the density of a row is
the Gaussian density of its observed coordinates).  The M-step uses the
expected sufficient statistics: each row is completed by its conditional mean
under each component, and the conditional covariance of the missing block is
added to the scatter.
"""

import math

import numpy as np

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")

LOG_2PI = math.log(2.0 * math.pi)

# A component whose total responsibility n_k is below this fraction of N is
# "empty" under maximum likelihood: it keeps its previous mean (and, except
# for "tied", its previous covariance).
EMPTY_COMPONENT_TOL = 1e-10


# ---------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------

def _check_covariance_type(covariance_type):
    if covariance_type not in COVARIANCE_TYPES:
        raise ValueError(
            f"covariance_type must be one of {COVARIANCE_TYPES!r}, got {covariance_type!r}"
        )


def _as_data(X):
    X = np.array(X, dtype=float)
    if X.ndim != 2:
        raise ValueError("X must be a 2-D array")
    return X


def _as_sample_weight(sample_weight, n):
    if sample_weight is None:
        return np.ones(n)
    w = np.array(sample_weight, dtype=float).reshape(-1)
    if w.shape[0] != n:
        raise ValueError("sample_weight must have one entry per row of X")
    return w


def _component_covariance(covariances, covariance_type, k, d):
    """The d x d covariance matrix of component k."""
    if covariance_type == "full":
        return np.array(covariances[k], dtype=float)
    if covariance_type == "tied":
        return np.array(covariances, dtype=float)
    if covariance_type == "diag":
        return np.diag(np.array(covariances[k], dtype=float))
    if covariance_type == "spherical":
        return float(covariances[k]) * np.eye(d)
    _check_covariance_type(covariance_type)


def _missing_patterns(X):
    """Group the rows by missingness pattern.

    Returns a list of ``(observed, rows)`` with ``observed`` a boolean mask of
    length d and ``rows`` the indices of the rows having that pattern.
    """
    observed = ~np.isnan(X)
    groups = {}
    for i in range(X.shape[0]):
        key = tuple(bool(v) for v in observed[i])
        groups.setdefault(key, []).append(i)
    return [(np.array(key, dtype=bool), np.array(rows, dtype=int))
            for key, rows in groups.items()]


def _log_gaussian(diff, cov):
    """Log density of N(0, cov) at each row of ``diff`` (shape (r, p))."""
    p = cov.shape[0]
    L = np.linalg.cholesky(cov)
    z = np.linalg.solve(L, diff.T)  # (p, r)
    mahalanobis = np.sum(z ** 2, axis=0)
    logdet = 2.0 * np.sum(np.log(np.diag(L)))
    return -0.5 * (p * LOG_2PI + logdet + mahalanobis)


def _logsumexp_rows(A):
    """log(sum_k exp(A[i, k])) for each row i; entries may be -inf."""
    out = np.empty(A.shape[0])
    for i in range(A.shape[0]):
        m = np.max(A[i])
        if m == -np.inf:
            out[i] = -np.inf
        else:
            out[i] = m + math.log(np.sum(np.exp(A[i] - m)))
    return out


def _log_weights(weights):
    with np.errstate(divide="ignore"):
        return np.log(np.array(weights, dtype=float))


def _weighted_log_prob(X, weights, means, covariances, covariance_type):
    """(n, K) array of log(weights_k) + log p(x_i | k)."""
    return _log_weights(weights)[None, :] + log_prob_components(
        X, means, covariances, covariance_type)


def _conditional_completion(X_rows, observed, mean, cov):
    """Complete rows sharing the observed mask ``observed`` under N(mean, cov).

    Returns ``(xhat, C)``: ``xhat`` (r, d) the rows with their missing entries
    replaced by the conditional mean mu_m + S_mo S_oo^{-1} (x_o - mu_o), and
    ``C`` (d, d) the conditional covariance (zero except the missing block
    S_mm - S_mo S_oo^{-1} S_om), which is the same for all these rows.
    """
    d = mean.shape[0]
    o = np.flatnonzero(observed)
    m = np.flatnonzero(~observed)
    xhat = np.array(X_rows, dtype=float)
    C = np.zeros((d, d))
    if m.size == 0:
        return xhat, C
    S_oo = cov[np.ix_(o, o)]
    S_mo = cov[np.ix_(m, o)]
    S_mm = cov[np.ix_(m, m)]
    diff = X_rows[:, o] - mean[o]  # (r, |o|)
    xhat[:, m] = mean[m] + (S_mo @ np.linalg.solve(S_oo, diff.T)).T
    C_mm = S_mm - S_mo @ np.linalg.solve(S_oo, S_mo.T)
    C[np.ix_(m, m)] = 0.5 * (C_mm + C_mm.T)
    return xhat, C


def _expected_statistics(X, resp, sample_weight, means, covariances, covariance_type):
    """Expected sufficient statistics under the current (old) parameters.

    Returns
    -------
    r : (n, K) array, r_ik = w_i * resp_ik
    xhat : (K, n, d) array, completed rows under each component
    C_sum : (K, d, d) array, sum_i r_ik C_ik
    """
    n, d = X.shape
    K = means.shape[0]
    r = sample_weight[:, None] * resp
    xhat = np.empty((K, n, d))
    C_sum = np.zeros((K, d, d))
    patterns = _missing_patterns(X)
    for k in range(K):
        cov = _component_covariance(covariances, covariance_type, k, d)
        for observed, rows in patterns:
            xhat_rows, C = _conditional_completion(X[rows], observed, means[k], cov)
            xhat[k, rows] = xhat_rows
            C_sum[k] += np.sum(r[rows, k]) * C
    return r, xhat, C_sum


def _centered_scatter(xhat_k, r_k, center):
    """sum_i r_ik (xhat_ik - center)(xhat_ik - center)^T."""
    centered = xhat_k - center
    return centered.T @ (r_k[:, None] * centered)


# ---------------------------------------------------------------------------
# M-steps
# ---------------------------------------------------------------------------

def _m_step_ml(r, xhat, C_sum, N, means, covariances, covariance_type, reg_covar):
    K, n, d = xhat.shape
    nk = np.sum(r, axis=0)
    new_weights = nk / N
    new_means = np.array(means, dtype=float)
    empty = nk < EMPTY_COMPONENT_TOL * N
    for k in range(K):
        if not empty[k]:
            new_means[k] = (r[:, k] @ xhat[k]) / nk[k]

    # scatter_k = sum_i r_ik [ (xhat_ik - mean_k)(...)^T + C_ik ] (new means)
    scatter = np.empty((K, d, d))
    for k in range(K):
        scatter[k] = _centered_scatter(xhat[k], r[:, k], new_means[k]) + C_sum[k]

    if covariance_type == "full":
        new_cov = np.array(covariances, dtype=float)
        for k in range(K):
            if not empty[k]:
                new_cov[k] = scatter[k] / nk[k] + reg_covar * np.eye(d)
    elif covariance_type == "tied":
        new_cov = np.sum(scatter, axis=0) / N + reg_covar * np.eye(d)
    elif covariance_type == "diag":
        new_cov = np.array(covariances, dtype=float)
        for k in range(K):
            if not empty[k]:
                new_cov[k] = np.diag(scatter[k]) / nk[k] + reg_covar
    elif covariance_type == "spherical":
        new_cov = np.array(covariances, dtype=float)
        for k in range(K):
            if not empty[k]:
                new_cov[k] = np.mean(np.diag(scatter[k]) / nk[k]) + reg_covar
    else:
        _check_covariance_type(covariance_type)
    return new_weights, new_means, new_cov


def _unpack_prior(prior, d):
    mu0 = np.broadcast_to(np.array(prior["mean"], dtype=float), (d,)).copy()
    kappa = float(prior["shrinkage"])
    nu = float(prior["dof"])
    scale = np.array(prior["scale"], dtype=float)
    alpha = float(prior["weight_concentration"])
    return mu0, kappa, nu, scale, alpha


def _m_step_map(r, xhat, C_sum, N, covariance_type, reg_covar, prior):
    K, n, d = xhat.shape
    mu0, kappa, nu, scale, alpha = _unpack_prior(prior, d)
    nk = np.sum(r, axis=0)
    new_weights = (nk + alpha - 1.0) / (N + K * (alpha - 1.0))

    new_means = np.empty((K, d))
    B = np.zeros((K, d, d))
    for k in range(K):
        nk_ = nk[k]
        s1 = r[:, k] @ xhat[k]  # sum_i r_ik xhat_ik
        new_means[k] = (s1 + kappa * mu0) / (nk_ + kappa)
        if nk_ > 0:
            xbar = s1 / nk_
            W = _centered_scatter(xhat[k], r[:, k], xbar) + C_sum[k]
            dev = xbar - mu0
            B[k] = W + (nk_ * kappa / (nk_ + kappa)) * np.outer(dev, dev)
        # else: W_k = 0, shrink term = 0 -> B_k = 0 and mean_k = mu0

    if covariance_type == "full":
        new_cov = np.empty((K, d, d))
        for k in range(K):
            new_cov[k] = (scale + B[k]) / (nk[k] + nu + d + 2.0) + reg_covar * np.eye(d)
    elif covariance_type == "tied":
        new_cov = (scale + np.sum(B, axis=0)) / (N + K + nu + d + 1.0) + reg_covar * np.eye(d)
    elif covariance_type == "diag":
        lam = np.broadcast_to(scale, (d,))
        new_cov = np.empty((K, d))
        for k in range(K):
            new_cov[k] = (lam + np.diag(B[k])) / (nk[k] + nu + 3.0) + reg_covar
    elif covariance_type == "spherical":
        lam = float(scale)
        new_cov = np.empty(K)
        for k in range(K):
            new_cov[k] = (lam + np.trace(B[k])) / (nk[k] * d + d + nu + 2.0) + reg_covar
    else:
        _check_covariance_type(covariance_type)
    return new_weights, new_means, new_cov


# ---------------------------------------------------------------------------
# Log prior
# ---------------------------------------------------------------------------

def _log_multigamma(a, p):
    """log Gamma_p(a) = p(p-1)/4 log(pi) + sum_{j=1..p} lgamma(a + (1-j)/2)."""
    out = p * (p - 1) / 4.0 * math.log(math.pi)
    for j in range(1, p + 1):
        out += math.lgamma(a + (1.0 - j) / 2.0)
    return out


def _logdet_spd(A):
    sign, logdet = np.linalg.slogdet(A)
    if sign <= 0:
        raise ValueError("matrix is not positive definite")
    return float(logdet)


def _log_inverse_wishart(S, nu, L):
    """log IW(S | nu, L) (full normalised density); S, L scalars or p x p."""
    S = np.atleast_2d(np.array(S, dtype=float))
    L = np.atleast_2d(np.array(L, dtype=float))
    p = S.shape[0]
    return (nu / 2.0 * _logdet_spd(L)
            - nu * p / 2.0 * math.log(2.0)
            - _log_multigamma(nu / 2.0, p)
            - (nu + p + 1.0) / 2.0 * _logdet_spd(S)
            - 0.5 * float(np.trace(np.linalg.solve(S, L))))


# ---------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------

def log_prob_components(X, means, covariances, covariance_type):
    """(n, K) array of log p(x_i | k), marginalising the missing entries."""
    _check_covariance_type(covariance_type)
    X = _as_data(X)
    means = np.array(means, dtype=float)
    n, d = X.shape
    K = means.shape[0]
    out = np.empty((n, K))
    patterns = _missing_patterns(X)
    for k in range(K):
        cov = _component_covariance(covariances, covariance_type, k, d)
        for observed, rows in patterns:
            o = np.flatnonzero(observed)
            diff = X[np.ix_(rows, o)] - means[k, o]
            out[rows, k] = _log_gaussian(diff, cov[np.ix_(o, o)])
    return out


def log_likelihood(X, weights, means, covariances, covariance_type, sample_weight=None):
    """sum_i w_i logsumexp_k(log weights_k + log p(x_i | k))."""
    X = _as_data(X)
    w = _as_sample_weight(sample_weight, X.shape[0])
    lse = _logsumexp_rows(_weighted_log_prob(X, weights, means, covariances, covariance_type))
    return float(np.sum(w * lse))


def log_prior(weights, means, covariances, covariance_type, prior):
    """Log prior density of the (stored) parameters; 0.0 if prior is None."""
    _check_covariance_type(covariance_type)
    if prior is None:
        return 0.0
    weights = np.array(weights, dtype=float)
    means = np.array(means, dtype=float)
    K, d = means.shape
    mu0, kappa, nu, scale, alpha = _unpack_prior(prior, d)

    # Dirichlet(alpha, ..., alpha) on the weights.
    out = math.lgamma(K * alpha) - K * math.lgamma(alpha)
    if alpha != 1.0:
        out += (alpha - 1.0) * float(np.sum(_log_weights(weights)))

    # Normal(mu0, Sigma_k / kappa) on each mean.
    for k in range(K):
        cov = _component_covariance(covariances, covariance_type, k, d)
        out += float(_log_gaussian((means[k] - mu0)[None, :], cov / kappa)[0])

    # Inverse-Wishart on the covariances.
    if covariance_type == "full":
        for k in range(K):
            out += _log_inverse_wishart(covariances[k], nu, scale)
    elif covariance_type == "tied":
        out += _log_inverse_wishart(covariances, nu, scale)
    elif covariance_type == "diag":
        lam = np.broadcast_to(scale, (d,))
        cov = np.array(covariances, dtype=float)
        for k in range(K):
            for j in range(d):
                out += _log_inverse_wishart(cov[k, j], nu, lam[j])
    elif covariance_type == "spherical":
        lam = float(scale)
        cov = np.array(covariances, dtype=float)
        for k in range(K):
            out += _log_inverse_wishart(cov[k], nu, lam)
    return float(out)


def objective(X, weights, means, covariances, covariance_type, sample_weight=None, prior=None):
    """log_likelihood + log_prior."""
    return (log_likelihood(X, weights, means, covariances, covariance_type, sample_weight)
            + log_prior(weights, means, covariances, covariance_type, prior))


def responsibilities(X, weights, means, covariances, covariance_type):
    """(n, K) posterior probabilities of the components for each row."""
    X = _as_data(X)
    A = _weighted_log_prob(X, weights, means, covariances, covariance_type)
    lse = _logsumexp_rows(A)
    with np.errstate(invalid="ignore"):
        log_resp = A - lse[:, None]
    return np.exp(log_resp)


def em_step(X, weights, means, covariances, covariance_type, sample_weight=None,
            reg_covar=1e-6, prior=None):
    """One E-step on the given parameters followed by one M-step.

    Returns ``(weights, means, covariances, objective_before)`` where
    ``objective_before`` is the objective of the INPUT parameters.
    """
    _check_covariance_type(covariance_type)
    X = _as_data(X)
    n, d = X.shape
    w = _as_sample_weight(sample_weight, n)
    weights = np.array(weights, dtype=float)
    means = np.array(means, dtype=float)
    covariances = np.array(covariances, dtype=float)
    N = float(np.sum(w))

    # E-step.
    A = _weighted_log_prob(X, weights, means, covariances, covariance_type)
    lse = _logsumexp_rows(A)
    resp = np.exp(A - lse[:, None])
    objective_before = float(np.sum(w * lse)) + log_prior(
        weights, means, covariances, covariance_type, prior)

    # M-step.
    r, xhat, C_sum = _expected_statistics(X, resp, w, means, covariances, covariance_type)
    if prior is None:
        new = _m_step_ml(r, xhat, C_sum, N, means, covariances, covariance_type, reg_covar)
    else:
        new = _m_step_map(r, xhat, C_sum, N, covariance_type, reg_covar, prior)
    return new[0], new[1], new[2], objective_before


def fit(X, weights, means, covariances, covariance_type, n_iter, sample_weight=None,
        reg_covar=1e-6, prior=None):
    """Run ``n_iter`` EM steps from the given initial parameters.

    Returns a dict with the final ``weights``, ``means``, ``covariances``,
    ``history`` (the n_iter + 1 objectives of theta_0, ..., theta_n_iter) and
    ``params`` (the n_iter + 1 parameter tuples, including the initial one).
    """
    params = [(np.array(weights, dtype=float), np.array(means, dtype=float),
               np.array(covariances, dtype=float))]
    history = []
    for _ in range(n_iter):
        new_w, new_m, new_c, obj = em_step(
            X, *params[-1], covariance_type, sample_weight=sample_weight,
            reg_covar=reg_covar, prior=prior)
        history.append(obj)
        params.append((new_w, new_m, new_c))
    history.append(objective(X, *params[-1], covariance_type,
                             sample_weight=sample_weight, prior=prior))
    final_w, final_m, final_c = params[-1]
    return dict(weights=final_w, means=final_m, covariances=final_c,
                history=history, params=params)


def n_parameters(K, d, covariance_type):
    """Number of free parameters, counted as scikit-learn does."""
    _check_covariance_type(covariance_type)
    if covariance_type == "full":
        cov_params = K * d * (d + 1) // 2
    elif covariance_type == "tied":
        cov_params = d * (d + 1) // 2
    elif covariance_type == "diag":
        cov_params = K * d
    else:
        cov_params = K
    return int(cov_params + K * d + K - 1)
