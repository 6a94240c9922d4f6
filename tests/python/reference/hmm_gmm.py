"""The numpy reference for HMMs whose states emit Gaussian mixtures (GMMHMM), on the chain of
``reference.hmm``."""

import math

import numpy as np

from . import gmm
from .hmm import (  # noqa: F401 (the chain's helpers this emission is written with)
    EMPTY_COMPONENT_TOL,
    _chain_has_prior,
    _dirichlet_map,
    _gaussian_m_step,
    _log,
    _log_dirichlet,
    _lse,
    chain_decode,
    chain_em_step,
    chain_log_prior,
    chain_n_parameters,
    chain_posteriors,
    iterate,
    log_emission,
    log_prior,
    n_parameters,
    weighted_total,
)


# ---------------------------------------------------------------------------------------------
# Gaussian-mixture emissions (GMMHMM): state k emits sum_m w_km N(mu_km, Sigma_km).
#
# ``params`` = (startprob, transmat, weights (K, M), means (K, M, d), covariances) with the
# covariances in hmmlearn's GMMHMM layout: full (K, M, d, d), tied (K, d, d) (one covariance per
# state, shared by its M components), diag (K, M, d), spherical (K, M). State k's components are
# ``reference.gmm``'s mixture of M components with covariance_type as given (tied: within the
# state). A row's density marginalises its missing entries; a row with nothing observed has
# log-density 0 and adds nothing to the emission statistics.
#
# M-step of state k, with r_tkm = w_s gamma_tk p(m | x_t, k) on the observed rows and
# N_k = sum_tm r_tkm: without a Gaussian prior, a state with N_k < EMPTY_COMPONENT_TOL x (the
# emission weight sum_tk w_s gamma_tk) keeps all its parameters. Otherwise the Gaussian M-step of
# its components is ``_gaussian_m_step`` above with r (n, M) and N = N_k (so a tied covariance
# divides by N_k, and under the prior by N_k + M + nu + d + 1); the weights are
# ``_dirichlet_map``(w_k, sum_t r_tk., alpha_k) (on the support; a zero total keeps them).
#
# ``prior``: None or a dict with optional keys "startprob", "transmat", "weights" (K x M Dirichlet
# concentrations) and "gaussian". The objective adds, when any prior is given: the chain's
# Dirichlet densities, and when the emission has a prior ("weights" not all 1 or "gaussian"), the
# Dirichlet densities of every state's weights (over their supports) and the Gaussian prior of
# every state's components. ``fixed``: any of "startprob", "transmat", "weights", "means",
# "covariances".
# ---------------------------------------------------------------------------------------------
def _state_covariances(covariances, covariance_type, k):
    return np.asarray(covariances)[k]


def gmm_component_log_joint(X, weights, means, covariances, covariance_type):
    """(n, K, M) log w_km + log N(x_t; mu_km, Sigma_km) over the observed entries (0 + log w_km
    on rows with nothing observed)."""
    X = np.asarray(X, dtype=float)
    weights, means = np.asarray(weights, dtype=float), np.asarray(means, dtype=float)
    K, M = weights.shape
    out = np.zeros((X.shape[0], K, M))
    observed = ~np.isnan(X).all(axis=1)
    for k in range(K):
        if observed.any():
            out[observed, k, :] = gmm.log_prob_components(
                X[observed], means[k], _state_covariances(covariances, covariance_type, k), covariance_type
            )
        out[:, k, :] += _log(weights[k])[None, :]
    return out


def gmm_log_emission(X, weights, means, covariances, covariance_type):
    """(n, K) log p(x_t | k) = logsumexp_m of the joint; 0 on rows with nothing observed."""
    joint = gmm_component_log_joint(X, weights, means, covariances, covariance_type)
    out = _lse(joint, axis=2)
    out[np.isnan(np.asarray(X, dtype=float)).all(axis=1)] = 0.0
    return out


def gmm_posteriors(X, lengths, params, covariance_type):
    log_b = gmm_log_emission(X, *params[2:], covariance_type)
    return chain_posteriors(log_b, lengths, params[0], params[1])


def gmm_decode(X, lengths, params, covariance_type):
    log_b = gmm_log_emission(X, *params[2:], covariance_type)
    return chain_decode(log_b, lengths, params[0], params[1])


def _gmm_emission_has_prior(prior):
    if prior is None:
        return False
    return prior.get("gaussian") is not None or np.any(np.asarray(prior.get("weights", 1.0)) != 1.0)


def gmm_log_prior(params, covariance_type, prior):
    """Normalised log-prior (0 without any prior)."""
    if not (_chain_has_prior(prior) or _gmm_emission_has_prior(prior)):
        return 0.0
    startprob, transmat, weights, means, covariances = params
    K, M = np.shape(weights)
    out = chain_log_prior(startprob, transmat, prior)
    if _gmm_emission_has_prior(prior):
        a_w = np.broadcast_to(np.asarray(prior.get("weights", 1.0), dtype=float), (K, M))
        for k in range(K):
            out += _log_dirichlet(np.asarray(weights)[k], a_w[k])
        if prior.get("gaussian") is not None:
            g = dict(prior["gaussian"], weight_concentration=1.0)
            for k in range(K):
                # reference.gmm's log-prior includes a flat Dirichlet on the weights: lgamma(M).
                out += gmm.log_prior(
                    np.full(M, 1.0 / M), np.asarray(means)[k],
                    _state_covariances(covariances, covariance_type, k), covariance_type, g,
                ) - math.lgamma(M)
    return float(out)


def gmm_em_step(X, lengths, params, covariance_type, sample_weight=None, reg_covar=1e-6, prior=None,
                fixed=frozenset()):
    """One E-step on params, then one M-step. Returns (new params, objective of params)."""
    X = np.asarray(X, dtype=float)
    startprob, transmat, weights, means, covariances = [np.array(p, dtype=float) for p in params]
    K, M = weights.shape
    joint = gmm_component_log_joint(X, weights, means, covariances, covariance_type)
    log_b = _lse(joint, axis=2)
    observed = ~np.isnan(X).all(axis=1)
    log_b[~observed] = 0.0
    loglik, new_start, new_trans, resp = chain_em_step(
        log_b, lengths, startprob, transmat, sample_weight, prior, fixed
    )
    objective = loglik + gmm_log_prior(
        (startprob, transmat, weights, means, covariances), covariance_type, prior
    )

    gaussian_prior = None if prior is None else prior.get("gaussian")
    a_w = np.broadcast_to(np.asarray((prior or {}).get("weights", 1.0), dtype=float), (K, M))
    total = resp[observed].sum()
    new_weights, new_means, new_cov = weights.copy(), means.copy(), covariances.copy()
    Xo = X[observed]
    for k in range(K):
        # Component responsibilities within state k.
        log_post = joint[observed, k, :] - _lse(joint[observed, k, :], axis=1)[:, None]
        r = resp[observed, k][:, None] * np.exp(log_post)
        if gaussian_prior is None and r.sum() < EMPTY_COMPONENT_TOL * total:
            continue  # an empty state keeps all its parameters
        if not {"means", "covariances"} <= fixed:
            cov_k = _state_covariances(covariances, covariance_type, k)
            r_k, xhat, C_sum = gmm._expected_statistics(
                Xo, r, np.ones(Xo.shape[0]), means[k], cov_k, covariance_type
            )
            new_means[k], new_cov[k] = _gaussian_m_step(
                r_k, xhat, C_sum, means[k], cov_k, covariance_type, reg_covar, gaussian_prior,
                "means" in fixed, "covariances" in fixed,
            )
        if "weights" not in fixed:
            new_weights[k] = _dirichlet_map(weights[k], r.sum(axis=0), a_w[k])
    return (new_start, new_trans, new_weights, new_means, new_cov), objective


def gmm_objective(X, lengths, params, covariance_type, sample_weight=None, prior=None):
    logliks, _ = gmm_posteriors(X, lengths, params, covariance_type)
    return weighted_total(logliks, sample_weight) + gmm_log_prior(params, covariance_type, prior)


def gmm_fit(X, lengths, params, covariance_type, n_iter, sample_weight=None, reg_covar=1e-6, prior=None,
            fixed=frozenset()):
    """``n_iter`` EM steps: dict with ``history`` (n_iter + 1 objectives) and ``params`` (the
    n_iter + 1 parameter tuples)."""
    return iterate(
        lambda p: gmm_em_step(
            X, lengths, p, covariance_type, sample_weight, reg_covar, prior, fixed
        ),
        lambda p: gmm_objective(X, lengths, p, covariance_type, sample_weight, prior),
        tuple(np.array(p, dtype=float) for p in params),
        n_iter,
    )


def gmm_n_parameters(params, covariance_type, fixed=frozenset()):
    """Free parameters: chain and weights on their supports, minus one per distribution; the
    Gaussian parameters of every component (tied: one covariance per state)."""
    startprob, transmat, weights, means, _ = params
    K, M, d = np.shape(means)
    n = chain_n_parameters(startprob, transmat, fixed)
    if "weights" not in fixed:
        n += sum(int(np.count_nonzero(row)) - 1 for row in np.asarray(weights))
    if "means" not in fixed:
        n += K * M * d
    if "covariances" not in fixed:
        n += K * {
            "full": M * d * (d + 1) // 2,
            "tied": d * (d + 1) // 2,
            "diag": M * d,
            "spherical": M,
        }[covariance_type]
    return n
