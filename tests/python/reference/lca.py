"""Reference EM for latent class models with missing values (numpy + math only).

This module is written for clarity, not speed: it is meant to be run on small
data sets (up to a few thousand rows, about a dozen items) and its results are
compared with the production implementation to a tight relative tolerance.

Conventions
-----------
* ``X`` is an ``(n, J)`` array, one column per item (indicator).
  ``measurement`` is a list of J strings in ``MEASUREMENTS`` (``None`` means
  every item is categorical):

  - ``"categorical"``: category codes 0 .. R_j - 1 (integers, or floats holding
    integers); a negative code or ``NaN`` is missing;
  - ``"gaussian"``: real values, ``NaN`` is missing;
  - ``"poisson"``: nonnegative integer counts, ``NaN`` is missing.

* ``sample_weight`` is an ``(n,)`` nonnegative array (default: ones),
  ``N = sum(sample_weight)``.
* ``params`` is a list of J arrays, one per item: categorical ``(K, R_j)``
  class-conditional category probabilities (rows sum to 1); gaussian
  ``(K, 2)`` columns ``[mean, variance]``; poisson ``(K,)`` rates.
* Class probabilities are either ``weights`` ``(K,)`` or, with covariates
  ``Z`` ``(n, p)`` (already holding an intercept column if wanted), the
  multinomial logit pi_ik = softmax_k(z_i . beta_k) with ``beta`` ``(p, K)``
  whose column 0 is fixed at 0 (class 0 is the reference class).
* ``prior`` is ``None`` (maximum likelihood) or a dict with keys
  ``"weight_concentration"`` (alpha >= 1, symmetric Dirichlet on the weights)
  and ``"item_concentration"`` (beta >= 1, symmetric Dirichlet on each
  categorical item's probabilities in each class); both keys are required,
  ``"item_concentration": None`` meaning no prior on the items.
  The prior acts neither on gaussian/poisson items nor on ``beta``.

The E-step marginalises the missing items out (a row's density is the product
over its observed items).  The M-step is closed form, except for ``beta``
(covariates) which takes one Newton step with step-halving on the expected
complete-data log-likelihood of the class memberships, a generalised EM step.
"""

import math

import numpy as np

from .gmm import _as_data, _as_sample_weight  # the same input conventions

MEASUREMENTS = ("categorical", "gaussian", "poisson")

LOG_2PI = math.log(2.0 * math.pi)

# A (class, item) pair whose total responsibility over the rows observing the
# item is below this fraction of N is "empty": it keeps its previous
# parameters (categorical items: only under maximum likelihood).
EMPTY_CLASS_TOL = 1e-10

# Newton step on the covariate coefficients: maximal number of halvings.
MAX_STEP_HALVINGS = 30


# ---------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------

def _as_measurement(measurement, J):
    if measurement is None:
        return ["categorical"] * J
    measurement = list(measurement)
    if len(measurement) != J:
        raise ValueError("measurement must have one entry per column of X")
    for m in measurement:
        if m not in MEASUREMENTS:
            raise ValueError(f"measurement entries must be in {MEASUREMENTS!r}, got {m!r}")
    return measurement


def _as_params(params, measurement):
    out = []
    for j, m in enumerate(measurement):
        p = np.array(params[j], dtype=float)
        if m == "categorical" and p.ndim != 2:
            raise ValueError(f"categorical item {j}: params must be (K, R_j)")
        if m == "gaussian" and (p.ndim != 2 or p.shape[1] != 2):
            raise ValueError(f"gaussian item {j}: params must be (K, 2) [mean, variance]")
        if m == "poisson" and p.ndim != 1:
            raise ValueError(f"poisson item {j}: params must be (K,)")
        out.append(p)
    return out


def _observed(column, measurement_j):
    """Boolean mask of the rows where this item is observed."""
    if measurement_j == "categorical":
        with np.errstate(invalid="ignore"):
            return ~np.isnan(column) & (column >= 0)
    return ~np.isnan(column)


def _check_column(column, observed, measurement_j, j, n_categories=None):
    x = column[observed]
    if not np.all(np.isfinite(x)):
        raise ValueError(f"item {j}: values must be finite or NaN")
    if measurement_j == "categorical":
        if np.any(x != np.floor(x)) or np.any(x >= n_categories):
            raise ValueError(f"item {j}: codes must be integers in 0..{n_categories - 1}")
    elif measurement_j == "poisson":
        if np.any(x < 0) or np.any(x != np.floor(x)):
            raise ValueError(f"item {j}: counts must be nonnegative integers")


def _log(a):
    """Elementwise log with log(0) = -inf and no warning."""
    with np.errstate(divide="ignore"):
        return np.log(np.array(a, dtype=float))


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


def _log_class_probabilities(weights_or_beta, n, Z=None):
    """(n, K) array of log pi_ik: log weights, or log softmax(Z beta)."""
    if Z is None:
        log_weights = _log(weights_or_beta).reshape(-1)
        return np.tile(log_weights, (n, 1))
    Z = np.array(Z, dtype=float)
    beta = np.array(weights_or_beta, dtype=float)
    if Z.ndim != 2 or Z.shape[0] != n or beta.ndim != 2 or beta.shape[0] != Z.shape[1]:
        raise ValueError("Z must be (n, p) and beta (p, K)")
    eta = Z @ beta
    return eta - _logsumexp_rows(eta)[:, None]


def _concentrations(prior):
    """(alpha, beta) of the prior: alpha is 1 and beta None when prior is None.

    beta None means no prior on the categorical items (maximum likelihood,
    empty rule on).
    """
    if prior is None:
        return 1.0, None
    alpha = float(prior["weight_concentration"])
    beta = prior["item_concentration"]
    beta = None if beta is None else float(beta)
    if alpha < 1.0 or (beta is not None and beta < 1.0):
        raise ValueError("prior concentrations must be >= 1")
    return alpha, beta


def _sum_r_log(r, log_p):
    """sum r * log_p with 0 * log 0 = 0."""
    terms = np.where(r == 0.0, 0.0, r * log_p)
    return float(np.sum(terms))


# ---------------------------------------------------------------------------
# M-step pieces
# ---------------------------------------------------------------------------

def _m_step_weights(r, N, alpha):
    K = r.shape[1]
    nk = np.sum(r, axis=0)
    return (nk + alpha - 1.0) / (N + K * (alpha - 1.0))


def _m_step_item(x, observed, r, N, measurement_j, old, item_concentration, reg_covar):
    """New parameters of one item from the responsibilities r (n, K) = w * h."""
    K = r.shape[1]
    r_obs = r[observed]  # (n_obs, K)
    x_obs = x[observed]
    t = np.sum(r_obs, axis=0)  # (K,)
    empty = t < EMPTY_CLASS_TOL * N
    new = np.array(old, dtype=float)

    if measurement_j == "categorical":
        R = old.shape[1]
        codes = x_obs.astype(int)
        counts = np.zeros((K, R))
        for c in range(R):
            counts[:, c] = np.sum(r_obs[codes == c], axis=0)
        t = np.sum(counts, axis=1)
        b = 1.0 if item_concentration is None else item_concentration
        for k in range(K):
            denominator = t[k] + R * (b - 1.0)
            if item_concentration is None and t[k] < EMPTY_CLASS_TOL * N:
                continue  # empty: keep previous probabilities
            if denominator <= 0.0:
                continue  # prior with beta = 1 and no data at all: nothing to estimate
            new[k] = (counts[k] + b - 1.0) / denominator
        return new

    # Gaussian and Poisson items carry no prior: the empty rule always applies.
    for k in range(K):
        if empty[k]:
            continue
        rk = r_obs[:, k]
        mean = float(np.sum(rk * x_obs)) / t[k]
        if measurement_j == "gaussian":
            variance = float(np.sum(rk * (x_obs - mean) ** 2)) / t[k] + reg_covar
            new[k, 0] = mean
            new[k, 1] = variance
        else:  # poisson
            new[k] = mean
    return new


def _expected_class_loglik(beta, Z, r):
    """Q(beta) = sum_i sum_k r_ik log pi_ik(beta)."""
    log_pi = _log_class_probabilities(beta, Z.shape[0], Z)
    return _sum_r_log(r, log_pi)


def _newton_step_beta(beta, Z, r, w):
    """One Newton step with step-halving on Q(beta) over columns 1..K-1.

    The free coefficients are ordered class-major: [beta[:, 1], beta[:, 2], ...].
    gradient_k = sum_i (r_ik - w_i pi_ik) z_i,
    Hessian_kl = -sum_i w_i pi_ik (delta_kl - pi_il) z_i z_i^T.
    """
    n, p = Z.shape
    K = beta.shape[1]
    if K == 1:
        return beta.copy()
    pi = np.exp(_log_class_probabilities(beta, n, Z))  # (n, K)

    m = K - 1
    gradient = np.zeros(m * p)
    hessian = np.zeros((m * p, m * p))
    for a in range(m):
        k = a + 1
        gradient[a * p:(a + 1) * p] = Z.T @ (r[:, k] - w * pi[:, k])
        for b in range(m):
            k_b = b + 1
            delta = 1.0 if k == k_b else 0.0
            c = w * pi[:, k] * (delta - pi[:, k_b])  # (n,)
            hessian[a * p:(a + 1) * p, b * p:(b + 1) * p] = -(Z.T @ (c[:, None] * Z))

    try:
        L = np.linalg.cholesky(-hessian)
        step = np.linalg.solve(L.T, np.linalg.solve(L, gradient))
    except np.linalg.LinAlgError:
        return beta.copy()  # -H not positive definite (degenerate design): keep beta

    # Free block as a (p, K-1) array: column a is beta[:, a + 1].
    step_block = step.reshape(m, p).T

    q_old = _expected_class_loglik(beta, Z, r)
    t = 1.0
    halvings = 0
    while True:
        candidate = beta.copy()
        candidate[:, 1:] = beta[:, 1:] + t * step_block
        q_new = _expected_class_loglik(candidate, Z, r)
        if not q_new < q_old or halvings >= MAX_STEP_HALVINGS:
            break
        t /= 2.0
        halvings += 1
    if q_new < q_old:
        return beta.copy()
    return candidate


# ---------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------

def log_prob_components(X, params, measurement=None):
    """(n, K) array of log p(x_i | k), summing over the observed items only."""
    X = _as_data(X)
    n, J = X.shape
    measurement = _as_measurement(measurement, J)
    params = _as_params(params, measurement)
    K = params[0].shape[0]
    out = np.zeros((n, K))
    for j, m in enumerate(measurement):
        column = X[:, j]
        observed = _observed(column, m)
        n_categories = params[j].shape[1] if m == "categorical" else None
        _check_column(column, observed, m, j, n_categories)
        rows = np.flatnonzero(observed)
        x = column[rows]
        for k in range(K):
            if m == "categorical":
                log_probs = _log(params[j][k])
                out[rows, k] += log_probs[x.astype(int)]
            elif m == "gaussian":
                mean, variance = params[j][k]
                out[rows, k] += -0.5 * (LOG_2PI + math.log(variance)
                                        + (x - mean) ** 2 / variance)
            else:  # poisson
                rate = params[j][k]
                lgamma_terms = np.array([math.lgamma(v + 1.0) for v in x])
                # x log(rate) with 0 * log 0 = 0.
                x_log_rate = np.where(x == 0.0, 0.0, x * _log(rate))
                out[rows, k] += x_log_rate - rate - lgamma_terms
    return out


def posterior(X, weights_or_beta, params, measurement=None, Z=None):
    """Posterior class probabilities and per-row log-likelihoods.

    ``weights_or_beta`` is the weights ``(K,)``, or ``beta`` ``(p, K)`` when
    ``Z`` is given.  Returns ``(h, loglik_rows)``: ``h`` ``(n, K)`` and
    ``loglik_rows[i] = logsumexp_k(log pi_ik + log p(x_i | k))`` (not weighted).
    """
    X = _as_data(X)
    A = _log_class_probabilities(weights_or_beta, X.shape[0], Z) + log_prob_components(
        X, params, measurement)
    loglik_rows = _logsumexp_rows(A)
    with np.errstate(invalid="ignore"):
        h = np.exp(A - loglik_rows[:, None])
    return h, loglik_rows


def log_prior(weights, params, measurement, prior):
    """Log prior density of the parameters; 0.0 if prior is None.

    Pass ``weights=None`` in a model with covariates (no prior on the weights).
    """
    if prior is None:
        return 0.0
    alpha, b = _concentrations(prior)
    measurement = _as_measurement(measurement, len(params))
    params = _as_params(params, measurement)
    K = params[0].shape[0]
    out = 0.0

    # Dirichlet(alpha, ..., alpha) on the weights.
    if weights is not None:
        out += math.lgamma(K * alpha) - K * math.lgamma(alpha)
        if alpha != 1.0:
            out += (alpha - 1.0) * float(np.sum(_log(weights)))

    # Dirichlet(b, ..., b) on each categorical item's probabilities in each class.
    for j, m in enumerate(measurement):
        if m != "categorical" or b is None:
            continue
        R = params[j].shape[1]
        for k in range(K):
            out += math.lgamma(R * b) - R * math.lgamma(b)
            if b != 1.0:
                out += (b - 1.0) * float(np.sum(_log(params[j][k])))
    return float(out)


def em_step(X, weights, params, measurement=None, sample_weight=None, fixed_weights=False,
            prior=None, reg_covar=1e-6, Z=None, beta=None):
    """One E-step on the given parameters followed by one M-step.

    Without covariates the class probabilities are ``weights``; with
    covariates (``Z`` given) they are given by ``beta`` and ``weights`` is
    ignored (returned as ``None``).  ``fixed_weights`` keeps the weights (or
    ``beta``) unchanged.

    Returns a dict with the new ``weights``, ``params`` and ``beta`` (``None``
    without covariates), and ``objective`` / ``loglik`` of the INPUT parameters.
    """
    X = _as_data(X)
    n, J = X.shape
    measurement = _as_measurement(measurement, J)
    params = _as_params(params, measurement)
    w = _as_sample_weight(sample_weight, n)
    N = float(np.sum(w))
    alpha, item_concentration = _concentrations(prior)

    if Z is not None:
        if beta is None:
            raise ValueError("beta is required when Z is given")
        Z = np.array(Z, dtype=float)
        beta = np.array(beta, dtype=float)
        weights = None
        structure = beta
    else:
        weights = np.array(weights, dtype=float)
        beta = None
        structure = weights

    # E-step.
    h, loglik_rows = posterior(X, structure, params, measurement, Z)
    loglik = float(np.sum(w * loglik_rows))
    objective = loglik + log_prior(weights, params, measurement, prior)
    r = w[:, None] * h  # sum_k r_ik = w_i

    # M-step: class probabilities.
    new_weights, new_beta = weights, beta
    if not fixed_weights:
        if Z is None:
            new_weights = _m_step_weights(r, N, alpha)
        else:
            new_beta = _newton_step_beta(beta, Z, r, w)
    if new_weights is not None:
        new_weights = np.array(new_weights, dtype=float)
    if new_beta is not None:
        new_beta = np.array(new_beta, dtype=float)

    # M-step: items.
    new_params = []
    for j, m in enumerate(measurement):
        observed = _observed(X[:, j], m)
        new_params.append(_m_step_item(X[:, j], observed, r, N, m, params[j],
                                       item_concentration, reg_covar))

    return dict(weights=new_weights, params=new_params, beta=new_beta,
                objective=objective, loglik=loglik)


def objective(X, weights, params, measurement=None, sample_weight=None, prior=None, Z=None,
              beta=None):
    """(objective, loglik) of the given parameters: loglik + log_prior."""
    X = _as_data(X)
    w = _as_sample_weight(sample_weight, X.shape[0])
    if Z is not None:
        _, loglik_rows = posterior(X, beta, params, measurement, Z)
        weights = None
    else:
        _, loglik_rows = posterior(X, weights, params, measurement)
    loglik = float(np.sum(w * loglik_rows))
    return loglik + log_prior(weights, params, measurement, prior), loglik


def fit(X, weights, params, measurement, n_iter, sample_weight=None, fixed_weights=False,
        prior=None, reg_covar=1e-6, Z=None, beta=None):
    """Run ``n_iter`` EM steps from the given initial parameters.

    Returns a dict with the final ``weights``, ``params``, ``beta``,
    ``history`` (the n_iter + 1 objectives of theta_0, ..., theta_n_iter),
    ``loglik_history`` (the same for the log-likelihood) and ``steps`` (the
    n_iter + 1 dicts ``weights``/``params``/``beta``, including the initial).
    """
    measurement = _as_measurement(measurement, len(params))
    current = dict(
        weights=None if Z is not None else np.array(weights, dtype=float),
        params=_as_params(params, measurement),
        beta=None if Z is None else np.array(beta, dtype=float),
    )
    steps = [current]
    history = []
    loglik_history = []
    for _ in range(n_iter):
        result = em_step(X, current["weights"], current["params"], measurement,
                         sample_weight=sample_weight, fixed_weights=fixed_weights,
                         prior=prior, reg_covar=reg_covar, Z=Z, beta=current["beta"])
        history.append(result["objective"])
        loglik_history.append(result["loglik"])
        current = dict(weights=result["weights"], params=result["params"],
                       beta=result["beta"])
        steps.append(current)
    final_objective, final_loglik = objective(
        X, current["weights"], current["params"], measurement, sample_weight=sample_weight,
        prior=prior, Z=Z, beta=current["beta"])
    history.append(final_objective)
    loglik_history.append(final_loglik)
    return dict(weights=current["weights"], params=current["params"], beta=current["beta"],
                history=history, loglik_history=loglik_history, steps=steps)


def n_parameters(items, K, p=None, measurement=None):
    """Number of free parameters.

    ``items`` lists the items: an int R_j for a categorical item with R_j
    categories, or the string ``"gaussian"`` / ``"poisson"``.  Alternatively
    pass ``measurement`` and, in ``items``, R_j for the categorical entries
    (other entries are ignored).  ``p`` is the number of covariates (columns
    of Z, intercept included) or ``None`` without covariates.
    """
    items = list(items)
    if measurement is None:
        measurement = ["categorical" if not isinstance(v, str) else v for v in items]
    measurement = _as_measurement(measurement, len(items))
    count = (K - 1) * p if p is not None else K - 1
    for j, m in enumerate(measurement):
        if m == "categorical":
            count += K * (int(items[j]) - 1)
        elif m == "gaussian":
            count += 2 * K
        else:
            count += K
    return int(count)


# ---------------------------------------------------------------------------
# Incomplete contingency table (no latent classes)
# ---------------------------------------------------------------------------

def _compatible_cells(row):
    """Index into the table selecting the cells compatible with a row's codes."""
    index = []
    for v in row:
        if np.isnan(v) or v < 0:
            index.append(slice(None))  # missing: every category
        else:
            index.append(int(v))
    return tuple(index)


def table_em(X, n_categories, n_iter, sample_weight=None, probs=None):
    """EM for the cell probabilities of a J-way table from incomplete rows.

    ``X`` ``(n, J)``: codes 0..R_j - 1, negative or ``NaN`` missing.
    ``probs`` ``(R_1, ..., R_J)`` summing to 1 (default uniform).  Each
    iteration distributes each row's weight over its compatible cells in
    proportion to the current probabilities, then ``probs = counts / N``.

    Returns a dict with the final ``probs`` and ``history`` (the n_iter + 1
    log-likelihoods sum_i w_i log(sum of probs over row i's compatible cells)).
    """
    X = _as_data(X)
    n, J = X.shape
    shape = tuple(int(R) for R in n_categories)
    if len(shape) != J:
        raise ValueError("n_categories must have one entry per column of X")
    w = _as_sample_weight(sample_weight, n)
    N = float(np.sum(w))
    if probs is None:
        probs = np.full(shape, 1.0 / float(np.prod(shape)))
    probs = np.array(probs, dtype=float)
    if probs.shape != shape:
        raise ValueError(f"probs must have shape {shape!r}")
    cells = [_compatible_cells(X[i]) for i in range(n)]

    def loglik(probs):
        total = 0.0
        for i in range(n):
            mass = float(np.sum(probs[cells[i]]))
            if w[i] != 0.0:
                total += w[i] * (math.log(mass) if mass > 0.0 else -math.inf)
        return float(total)

    history = [loglik(probs)]
    for _ in range(n_iter):
        counts = np.zeros(shape)
        for i in range(n):
            compatible = probs[cells[i]]
            mass = float(np.sum(compatible))
            if w[i] != 0.0 and mass > 0.0:
                counts[cells[i]] += w[i] * compatible / mass
        probs = counts / N
        history.append(loglik(probs))
    return dict(probs=probs, history=history)
