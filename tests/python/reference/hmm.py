"""Reference Baum-Welch EM and Viterbi for Gaussian HMMs with missing values (numpy + math only).

Written for clarity, not speed: log-space forward-backward with full lattices, one sequence at
a time, on small data. emkit's results are compared with it to a tight relative tolerance.

Conventions (the same as emkit's)
---------------------------------
* ``X`` is ``(n, d)``, the sequences concatenated; ``lengths`` their lengths. ``NaN`` marks a
  missing entry. The density of a row is the Gaussian density of its observed entries; a row
  with nothing observed has log-density 0 for every state (the chain advances through it) and
  adds nothing to the emission statistics.
* ``sample_weight``: one nonnegative weight per sequence (default ones); every expected count of
  a sequence is multiplied by its weight.
* Parameters ``(startprob, transmat, means, covariances)``, covariances in scikit-learn's layout
  per ``covariance_type``.
* ``prior``: ``None`` or a dict with optional keys ``"startprob"`` (K Dirichlet concentrations),
  ``"transmat"`` (K x K) and ``"gaussian"`` (``reference.gmm``'s prior dict without
  ``weight_concentration``). Concentrations are >= 1; the prior on a distribution applies to its
  support (its nonzero entries); zeros stay zero.
* M-step of a distribution: p_j ∝ counts_j + alpha_j - 1 on the support; with a zero total the
  previous value is kept. Gaussian M-step: ``reference.gmm``'s, on the rows with an observation,
  with the state posteriors as responsibilities and N = their sum; ``reg_covar`` added after.
* ``fixed``: a set of "startprob", "transmat", "means", "covariances" held fixed. Means fixed:
  the covariances are the maximisers given the fixed means (scatter taken about them).
* Objective: log-likelihood, plus the normalised log-prior (Dirichlet densities over the
  supports and the Gaussian prior) when any prior is given.
"""

import math

import numpy as np

from . import gmm

EMPTY_COMPONENT_TOL = gmm.EMPTY_COMPONENT_TOL


def _log(p):
    p = np.asarray(p, dtype=float)
    with np.errstate(divide="ignore"):
        return np.log(p)


def _lse(a, axis):
    """log(sum(exp(a))) along axis, -inf where every entry is -inf."""
    m = np.max(a, axis=axis, keepdims=True)
    safe = np.where(np.isfinite(m), m, 0.0)
    with np.errstate(divide="ignore"):
        out = np.log(np.sum(np.exp(a - safe), axis=axis, keepdims=True)) + safe
    return np.squeeze(out, axis=axis)


def _offsets(lengths, n):
    lengths = [n] if lengths is None else [int(v) for v in lengths]
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    assert offsets[-1] == n
    return offsets


def forward_backward(log_b, log_startprob, log_transmat):
    """Log-space forward-backward on one sequence: (log p(x), gamma (T, K), sum_t xi_t (K, K))."""
    T, K = log_b.shape
    la = np.empty((T, K))
    la[0] = log_startprob + log_b[0]
    for t in range(1, T):
        la[t] = log_b[t] + _lse(la[t - 1][:, None] + log_transmat, axis=0)
    loglik = float(_lse(la[-1], axis=0))
    lb = np.zeros((T, K))
    for t in range(T - 2, -1, -1):
        lb[t] = _lse(log_transmat + (log_b[t + 1] + lb[t + 1])[None, :], axis=1)
    gamma = np.exp(la + lb - loglik)
    xi = np.zeros((K, K))
    for t in range(T - 1):
        xi += np.exp(la[t][:, None] + log_transmat + (log_b[t + 1] + lb[t + 1])[None, :] - loglik)
    return loglik, gamma, xi


def viterbi(log_b, log_startprob, log_transmat):
    """(log p(x, z*), z*) on one sequence; ties go to the lowest state (np.argmax)."""
    T, K = log_b.shape
    delta = log_startprob + log_b[0]
    back = np.zeros((T, K), dtype=int)
    for t in range(1, T):
        scores = delta[:, None] + log_transmat
        back[t] = np.argmax(scores, axis=0)
        delta = scores[back[t], np.arange(K)] + log_b[t]
    path = np.empty(T, dtype=int)
    path[-1] = int(np.argmax(delta))
    for t in range(T - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    return float(np.max(delta)), path


# ---------------------------------------------------------------------------------------------
# The chain, whatever the emission: every emission below computes log_b (n, K), the log-density
# of every row under every state, and leaves the rest to these.
# ---------------------------------------------------------------------------------------------
def _sequence_weights(sample_weight, n_sequences):
    if sample_weight is None:
        return np.ones(n_sequences)
    return np.asarray(sample_weight, dtype=float)


def chain_posteriors(log_b, lengths, startprob, transmat):
    """(log p(x_s) per sequence, gamma (n, K)) from the emission log-densities."""
    off = _offsets(lengths, log_b.shape[0])
    out, logliks = np.empty_like(log_b), []
    for a, b in zip(off[:-1], off[1:]):
        ll, gamma, _ = forward_backward(log_b[a:b], _log(startprob), _log(transmat))
        out[a:b] = gamma
        logliks.append(ll)
    return np.array(logliks), out


def chain_decode(log_b, lengths, startprob, transmat):
    """(Viterbi log-probability per sequence, state path (n,)) from the emission log-densities."""
    off = _offsets(lengths, log_b.shape[0])
    states, logprobs = np.empty(log_b.shape[0], dtype=int), []
    for a, b in zip(off[:-1], off[1:]):
        lp, path = viterbi(log_b[a:b], _log(startprob), _log(transmat))
        states[a:b] = path
        logprobs.append(lp)
    return np.array(logprobs), states


def _concentrations(prior, K):
    prior = prior or {}
    a_start = np.broadcast_to(np.asarray(prior.get("startprob", 1.0), dtype=float), (K,))
    a_trans = np.broadcast_to(np.asarray(prior.get("transmat", 1.0), dtype=float), (K, K))
    return a_start, a_trans


def _dirichlet_map(previous, counts, alpha):
    p = np.where(previous > 0, counts + alpha - 1.0, 0.0)
    total = p.sum()
    return previous.copy() if not total > 0 else p / total


def chain_em_step(log_b, lengths, startprob, transmat, sample_weight=None, prior=None,
                  fixed=frozenset()):
    """The chain's part of one Baum-Welch step: forward-backward on every sequence (weighted),
    then the MAP start and transition probabilities. Returns (weighted log-likelihood, new
    startprob, new transmat, resp (n, K) = w_s gamma_t: the emission M-step's responsibilities)."""
    K = len(startprob)
    off = _offsets(lengths, log_b.shape[0])
    w = _sequence_weights(sample_weight, len(off) - 1)
    loglik, start_counts, trans_counts = 0.0, np.zeros(K), np.zeros((K, K))
    resp = np.zeros((log_b.shape[0], K))
    for s, (a, b) in enumerate(zip(off[:-1], off[1:])):
        if w[s] == 0:
            continue
        ll, gamma, xi = forward_backward(log_b[a:b], _log(startprob), _log(transmat))
        loglik += w[s] * ll
        start_counts += w[s] * gamma[0]
        trans_counts += w[s] * xi
        resp[a:b] = w[s] * gamma

    a_start, a_trans = _concentrations(prior, K)
    new_start = (
        startprob if "startprob" in fixed else _dirichlet_map(startprob, start_counts, a_start)
    )
    new_trans = transmat.copy()
    if "transmat" not in fixed:
        for i in range(K):
            new_trans[i] = _dirichlet_map(transmat[i], trans_counts[i], a_trans[i])
    return loglik, new_start, new_trans, resp


def _chain_has_prior(prior):
    return prior is not None and (
        np.any(np.asarray(prior.get("startprob", 1.0)) != 1.0)
        or np.any(np.asarray(prior.get("transmat", 1.0)) != 1.0)
    )


def _log_dirichlet(p, alpha):
    support = p > 0
    a, q = alpha[support], p[support]
    return (
        math.lgamma(a.sum()) - sum(math.lgamma(v) for v in a) + float(np.sum((a - 1.0) * np.log(q)))
    )


def chain_log_prior(startprob, transmat, prior):
    """The Dirichlet log-densities of startprob and of every row of transmat (over supports)."""
    K = len(startprob)
    a_start, a_trans = _concentrations(prior, K)
    out = _log_dirichlet(np.asarray(startprob), a_start)
    for i in range(K):
        out += _log_dirichlet(np.asarray(transmat)[i], a_trans[i])
    return out


def chain_n_parameters(startprob, transmat, fixed=frozenset()):
    """Free parameters of the chain: nonzero entries per distribution minus one."""
    n = 0
    if "startprob" not in fixed:
        n += int(np.count_nonzero(startprob)) - 1
    if "transmat" not in fixed:
        n += sum(int(np.count_nonzero(row)) - 1 for row in np.asarray(transmat))
    return n


def weighted_total(logliks, sample_weight=None):
    """Σ_s w_s log p(x_s)."""
    return float(np.sum(_sequence_weights(sample_weight, len(logliks)) * logliks))


def iterate(em_step, objective, params, n_iter):
    """``n_iter`` EM steps from params (``em_step(params)`` -> (new params, objective of params)):
    dict with ``history`` (the n_iter + 1 objectives of theta_0 ... theta_n_iter) and ``params``
    (the n_iter + 1 parameters)."""
    history, trail = [], [params]
    for _ in range(n_iter):
        new, obj = em_step(trail[-1])
        history.append(obj)
        trail.append(new)
    history.append(objective(trail[-1]))
    return dict(history=history, params=trail)


# ---------------------------------------------------------------------------------------------
# Gaussian emissions (GaussianHMM).
# ---------------------------------------------------------------------------------------------
def log_emission(X, means, covariances, covariance_type):
    """(n, K) log p(x_t | k): missing entries marginalised, 0 for rows with nothing observed."""
    X = np.asarray(X, dtype=float)
    K = np.asarray(means).shape[0]
    out = np.zeros((X.shape[0], K))
    observed = ~np.isnan(X).all(axis=1)
    if observed.any():
        out[observed] = gmm.log_prob_components(X[observed], means, covariances, covariance_type)
    return out


def posteriors(X, lengths, params, covariance_type):
    """(log p(x_s) per sequence, gamma (n, K))."""
    startprob, transmat, means, covariances = params
    log_b = log_emission(X, means, covariances, covariance_type)
    return chain_posteriors(log_b, lengths, startprob, transmat)


def decode(X, lengths, params, covariance_type):
    """(Viterbi log-probability per sequence, state path (n,))."""
    startprob, transmat, means, covariances = params
    log_b = log_emission(X, means, covariances, covariance_type)
    return chain_decode(log_b, lengths, startprob, transmat)


def log_prior(params, covariance_type, prior):
    """Normalised log-prior of the parameters (0 when no prior is given)."""
    if not (_chain_has_prior(prior) or (prior is not None and prior.get("gaussian") is not None)):
        return 0.0
    startprob, transmat, means, covariances = params
    K = len(startprob)
    out = chain_log_prior(startprob, transmat, prior)
    if prior.get("gaussian") is not None:
        # reference.gmm's log-prior includes a flat Dirichlet on mixture weights: lgamma(K).
        g = dict(prior["gaussian"], weight_concentration=1.0)
        out += gmm.log_prior(
            np.full(K, 1.0 / K), means, covariances, covariance_type, g
        ) - math.lgamma(K)
    return float(out)


def _gaussian_m_step(
    r,
    xhat,
    C_sum,
    means,
    covariances,
    covariance_type,
    reg_covar,
    prior,
    fix_means,
    fix_covariances,
):
    """M-step of the Gaussian parameters from r (n, K) and the completed rows xhat (K, n, d)."""
    K, _, d = xhat.shape
    means = np.array(means, dtype=float)
    covariances = np.array(covariances, dtype=float)
    if fix_means and fix_covariances:
        return means, covariances
    nk = r.sum(axis=0)
    N = nk.sum()
    empty = nk < EMPTY_COMPONENT_TOL * N if prior is None else np.zeros(K, dtype=bool)
    if prior is not None:
        mu0, kappa, nu, scale, _ = gmm._unpack_prior(dict(prior, weight_concentration=1.0), d)
    new_means = means.copy()
    if not fix_means:
        for k in range(K):
            if empty[k]:
                continue
            s1 = r[:, k] @ xhat[k]
            new_means[k] = s1 / nk[k] if prior is None else (s1 + kappa * mu0) / (nk[k] + kappa)
    if fix_covariances:
        return new_means, covariances
    # B_k: the scatter about the (new or fixed) mean, plus the prior's term.
    B = np.empty((K, d, d))
    for k in range(K):
        B[k] = gmm._centered_scatter(xhat[k], r[:, k], new_means[k]) + C_sum[k]
        if prior is not None:
            dev = new_means[k] - mu0
            B[k] += kappa * np.outer(dev, dev)
    new_cov = covariances.copy()
    if covariance_type == "tied":
        if prior is None:
            new_cov = B.sum(axis=0) / N
        else:
            new_cov = (scale + B.sum(axis=0)) / (N + K + nu + d + 1.0)
        return new_means, new_cov + reg_covar * np.eye(d)
    for k in range(K):
        if empty[k]:
            continue
        if covariance_type == "full":
            c = B[k] / nk[k] if prior is None else (scale + B[k]) / (nk[k] + nu + d + 2.0)
            new_cov[k] = c + reg_covar * np.eye(d)
        elif covariance_type == "diag":
            lam = np.broadcast_to(scale, (d,)) if prior is not None else None
            c = (
                np.diag(B[k]) / nk[k]
                if prior is None
                else (lam + np.diag(B[k])) / (nk[k] + nu + 3.0)
            )
            new_cov[k] = c + reg_covar
        else:
            if prior is None:
                c = np.trace(B[k]) / (d * nk[k])
            else:
                c = (float(scale) + np.trace(B[k])) / (nk[k] * d + d + nu + 2.0)
            new_cov[k] = c + reg_covar
    return new_means, new_cov


def em_step(
    X,
    lengths,
    params,
    covariance_type,
    sample_weight=None,
    reg_covar=1e-6,
    prior=None,
    fixed=frozenset(),
):
    """One E-step on params, then one M-step. Returns (new params, objective of params)."""
    X = np.asarray(X, dtype=float)
    startprob, transmat, means, covariances = [np.array(p, dtype=float) for p in params]
    log_b = log_emission(X, means, covariances, covariance_type)
    loglik, new_start, new_trans, resp = chain_em_step(
        log_b, lengths, startprob, transmat, sample_weight, prior, fixed
    )
    objective = loglik + log_prior(
        (startprob, transmat, means, covariances), covariance_type, prior
    )

    observed = ~np.isnan(X).all(axis=1)
    r, xhat, C_sum = gmm._expected_statistics(
        X[observed],
        resp[observed],
        np.ones(int(observed.sum())),
        means,
        covariances,
        covariance_type,
    )
    new_means, new_cov = _gaussian_m_step(
        r,
        xhat,
        C_sum,
        means,
        covariances,
        covariance_type,
        reg_covar,
        None if prior is None else prior.get("gaussian"),
        "means" in fixed,
        "covariances" in fixed,
    )
    return (new_start, new_trans, new_means, new_cov), objective


def objective(X, lengths, params, covariance_type, sample_weight=None, prior=None):
    """Σ_s w_s log p(x_s) + log-prior."""
    logliks, _ = posteriors(X, lengths, params, covariance_type)
    return weighted_total(logliks, sample_weight) + log_prior(params, covariance_type, prior)


def fit(
    X,
    lengths,
    params,
    covariance_type,
    n_iter,
    sample_weight=None,
    reg_covar=1e-6,
    prior=None,
    fixed=frozenset(),
):
    """``n_iter`` EM steps from params: dict with ``history`` (the n_iter + 1 objectives of
    theta_0 ... theta_n_iter) and ``params`` (the n_iter + 1 parameter tuples)."""
    return iterate(
        lambda p: em_step(X, lengths, p, covariance_type, sample_weight, reg_covar, prior, fixed),
        lambda p: objective(X, lengths, p, covariance_type, sample_weight, prior),
        tuple(np.array(p, dtype=float) for p in params),
        n_iter,
    )


def n_parameters(params, covariance_type, fixed=frozenset()):
    """Free parameters: nonzero entries per distribution minus one, and the Gaussian ones."""
    startprob, transmat, means, _ = params
    K, d = np.shape(means)
    n = chain_n_parameters(startprob, transmat, fixed)
    if "means" not in fixed:
        n += K * d
    if "covariances" not in fixed:
        n += {
            "full": K * d * (d + 1) // 2,
            "tied": d * (d + 1) // 2,
            "diag": K * d,
            "spherical": K,
        }[covariance_type]
    return n


# ---------------------------------------------------------------------------------------------
# Item emissions: categorical, normal and Poisson columns, independent given the state.
#
# ``items`` is a list with one array per column of X in ``reference.lca``'s layout
# (categorical (K, R_j), gaussian (K, 2) [mean, variance], poisson (K,) rates) and ``measurement``
# the family of every column; the emission log-density of a row is ``reference.lca``'s (missing
# entries, NaN or negative codes, skipped; a row with nothing observed has log-density 0). The
# M-step of every item is ``reference.lca``'s, with the weighted state posteriors as
# responsibilities. ``prior``: None or a dict with optional keys "startprob", "transmat" (as
# above) and "emission" (a symmetric Dirichlet concentration on every categorical item's
# probabilities, or a list with one (K, R_j) array of concentrations per categorical column in
# their order, or None). The MAP of a categorical item under an array a_k: (counts_k + a_k - 1) /
# (t_k + sum(a_k - 1)), previous value kept when the denominator is <= 0; its log-density
# lgamma(sum a_k) - sum lgamma(a_k) + sum_{a != 1} (a - 1) log p over every category. ``fixed``: any of "startprob", "transmat", "emissionprob" (the
# categorical items), "means", "variances" (the gaussian items; means fixed: the variances are
# the scatter about them), "rates" (the Poisson items).
# ---------------------------------------------------------------------------------------------
from . import lca  # noqa: E402


def items_log_prior(params, measurement, prior):
    """Normalised log-prior of (startprob, transmat, items) (0 without any prior)."""
    if not (_chain_has_prior(prior) or (prior is not None and prior.get("emission") is not None)):
        return 0.0
    startprob, transmat, items = params
    K = len(startprob)
    out = chain_log_prior(startprob, transmat, prior)
    b = prior.get("emission")
    if b is not None and not isinstance(b, (list, tuple)):
        out += lca.log_prior(None, items, measurement, {"weight_concentration": 1.0, "item_concentration": b})
    elif b is not None:
        categorical = [j for j, m in enumerate(measurement) if m == "categorical"]
        for alpha, j in zip(b, categorical):
            alpha, p = np.asarray(alpha, dtype=float), np.asarray(items[j], dtype=float)
            for k in range(K):
                out += math.lgamma(alpha[k].sum()) - sum(math.lgamma(a) for a in alpha[k])
                prior_terms = alpha[k] != 1.0
                out += float(np.sum((alpha[k][prior_terms] - 1.0) * np.log(p[k][prior_terms])))
    return float(out)


def _categorical_map(x, observed, resp, old, alpha):
    """Dirichlet MAP of one categorical item with a (K, R) array of concentrations."""
    K, R = old.shape
    codes, r = x[observed].astype(int), resp[observed]
    counts = np.stack([r[codes == c].sum(axis=0) for c in range(R)], axis=1)
    new = np.array(old, dtype=float)
    for k in range(K):
        denominator = counts[k].sum() + np.sum(alpha[k] - 1.0)
        if denominator > 0:
            new[k] = (counts[k] + alpha[k] - 1.0) / denominator
    return new


def items_posteriors(X, lengths, params, measurement):
    """(log p(x_s) per sequence, gamma (n, K))."""
    startprob, transmat, items = params
    log_b = lca.log_prob_components(X, items, measurement)
    return chain_posteriors(log_b, lengths, startprob, transmat)


def items_decode(X, lengths, params, measurement):
    """(Viterbi log-probability per sequence, state path (n,))."""
    startprob, transmat, items = params
    log_b = lca.log_prob_components(X, items, measurement)
    return chain_decode(log_b, lengths, startprob, transmat)


def items_em_step(X, lengths, params, measurement, sample_weight=None, prior=None, fixed=frozenset(),
                  reg_covar=1e-6):
    """One E-step on params, then one M-step. Returns (new params, objective of params)."""
    X = np.asarray(X, dtype=float)
    startprob, transmat = np.array(params[0], dtype=float), np.array(params[1], dtype=float)
    items = [np.array(p, dtype=float) for p in params[2]]
    K = len(startprob)
    log_b = lca.log_prob_components(X, items, measurement)
    loglik, new_start, new_trans, resp = chain_em_step(
        log_b, lengths, startprob, transmat, sample_weight, prior, fixed
    )
    objective = loglik + items_log_prior((startprob, transmat, items), measurement, prior)

    N = float(resp.sum())
    b = None if prior is None else prior.get("emission")
    categorical = [j for j, m in enumerate(measurement) if m == "categorical"]
    new_items = []
    for j, m in enumerate(measurement):
        old = items[j]
        observed = lca._observed(X[:, j], m)
        if (m == "categorical" and "emissionprob" in fixed) or (m == "poisson" and "rates" in fixed):
            new_items.append(old.copy())
        elif m == "categorical" and isinstance(b, (list, tuple)):
            alpha = np.asarray(b[categorical.index(j)], dtype=float)
            new_items.append(_categorical_map(X[:, j], observed, resp, old, alpha))
        elif m == "gaussian" and fixed & {"means", "variances"}:
            new = old.copy()
            r, x = resp[observed], X[observed, j]
            t = r.sum(axis=0)
            for k in range(K):
                if t[k] < lca.EMPTY_CLASS_TOL * N:
                    continue
                mean = old[k, 0] if "means" in fixed else float(r[:, k] @ x) / t[k]
                new[k, 0] = mean
                if "variances" not in fixed:
                    new[k, 1] = float(r[:, k] @ (x - mean) ** 2) / t[k] + reg_covar
            new_items.append(new)
        else:
            new_items.append(lca._m_step_item(X[:, j], observed, resp, N, m, old, b, reg_covar))
    return (new_start, new_trans, new_items), objective


def items_objective(X, lengths, params, measurement, sample_weight=None, prior=None):
    logliks, _ = items_posteriors(X, lengths, params, measurement)
    return weighted_total(logliks, sample_weight) + items_log_prior(params, measurement, prior)


def items_fit(X, lengths, params, measurement, n_iter, sample_weight=None, prior=None, fixed=frozenset(),
              reg_covar=1e-6):
    """``n_iter`` EM steps: dict with ``history`` (n_iter + 1 objectives) and ``params``."""
    return iterate(
        lambda p: items_em_step(X, lengths, p, measurement, sample_weight, prior, fixed, reg_covar),
        lambda p: items_objective(X, lengths, p, measurement, sample_weight, prior),
        params,
        n_iter,
    )


# The Gaussian-mixture emissions live in hmm_gmm.py (a file that reads in one sitting); their
# functions are part of this module's interface.
from .hmm_gmm import *  # noqa: E402,F401,F403
