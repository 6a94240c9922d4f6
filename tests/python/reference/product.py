"""Reference EM for product emissions: item columns and one Gaussian block, independent given the
state (numpy + math only; for clarity, not speed).

A product's log-density is the sum of its parts' log-densities, its M-step each part's own, from
one E-step. It is composed from the other references:

* item columns (categorical, gaussian, poisson) are ``reference.lca``'s: ``items`` one array per
  item column in lca's layout, ``measurement`` their families; missing entries skipped;
* the block is ``reference.gmm``'s: ``block`` = ``(means (K, b), covariances, covariance_type)``
  (scikit-learn's covariance layouts) or ``None``; its missing entries are marginalised. A row
  whose block is entirely missing gets block log-density 0 and adds nothing to the block's
  statistics. The block's M-step is gmm's maximum-likelihood M-step over the rows observing at
  least one block entry, with their responsibilities: n_k = sum of those, N = sum_k n_k (the
  empty-component threshold and the tied covariance's divisor).

``X`` holds the item columns first, then the block's columns. Maximum likelihood only (no prior).
``fit`` is the mixture (weights); ``hmm_fit`` the HMM (``reference.hmm``'s chain).
"""

import numpy as np

from . import gmm, hmm, lca


def _split(X, measurement):
    X = np.asarray(X, dtype=float)
    J = len(measurement)
    return X[:, :J], X[:, J:]


def log_prob_components(X, items, measurement, block):
    """(n, K) array of log p(x_i | k): the items' plus the block's."""
    X_items, X_block = _split(X, measurement)
    out = lca.log_prob_components(X_items, items, measurement) if measurement else 0.0
    if block is None:
        return out
    means, covariances, covariance_type = block
    observed = ~np.isnan(X_block).all(axis=1)
    block_part = np.zeros((X_block.shape[0], np.asarray(means).shape[0]))
    block_part[observed] = gmm.log_prob_components(X_block[observed], means, covariances, covariance_type)
    return out + block_part


def m_step(X, resp, items, measurement, block, reg_covar=1e-6, N=None):
    """The parts' M-steps with the responsibilities resp (n, K) (sample weights included).
    N: the items' total weight (default resp.sum()). Returns (new items, new block)."""
    X_items, X_block = _split(X, measurement)
    N = float(resp.sum()) if N is None else N
    new_items = [
        lca._m_step_item(X_items[:, j], lca._observed(X_items[:, j], m), resp, N, m, np.asarray(items[j], float),
                         None, reg_covar)
        for j, m in enumerate(measurement)
    ]
    if block is None:
        return new_items, None
    means, covariances, covariance_type = block
    observed = ~np.isnan(X_block).all(axis=1)
    rows, r = X_block[observed], resp[observed]
    _, xhat, C_sum = gmm._expected_statistics(rows, r, np.ones(len(rows)), np.asarray(means, float),
                                              np.asarray(covariances, float), covariance_type)
    _, new_means, new_cov = gmm._m_step_ml(r, xhat, C_sum, float(r.sum()), np.asarray(means, float),
                                          np.asarray(covariances, float), covariance_type, reg_covar)
    return new_items, (new_means, new_cov, covariance_type)


def em_step(X, weights, items, measurement, block, sample_weight=None, reg_covar=1e-6):
    """One E-step on the given parameters, then one M-step: dict with the new ``weights``,
    ``items``, ``block`` and the ``objective`` (log-likelihood) of the INPUT parameters."""
    X = np.asarray(X, dtype=float)
    w = lca._as_sample_weight(sample_weight, X.shape[0])
    A = np.log(np.asarray(weights, float))[None, :] + log_prob_components(X, items, measurement, block)
    loglik_rows = lca._logsumexp_rows(A)
    r = w[:, None] * np.exp(A - loglik_rows[:, None])
    N = float(w.sum())
    new_items, new_block = m_step(X, r, items, measurement, block, reg_covar, N)
    return dict(weights=r.sum(axis=0) / N, items=new_items, block=new_block, objective=float(w @ loglik_rows))


def fit(X, weights, items, measurement, block, n_iter, sample_weight=None, reg_covar=1e-6):
    """``n_iter`` EM steps of the mixture: dict with ``history`` (the n_iter + 1 objectives of
    theta_0 ... theta_n) and ``steps`` (the n_iter + 1 dicts weights/items/block)."""
    current = dict(weights=np.asarray(weights, float), items=[np.asarray(p, float) for p in items], block=block)
    steps, history = [current], []
    for _ in range(n_iter):
        result = em_step(X, current["weights"], current["items"], measurement, current["block"], sample_weight,
                         reg_covar)
        history.append(result["objective"])
        current = dict(weights=result["weights"], items=result["items"], block=result["block"])
        steps.append(current)
    history.append(em_step(X, current["weights"], current["items"], measurement, current["block"], sample_weight,
                           reg_covar)["objective"])
    return dict(history=history, steps=steps)


def hmm_fit(X, lengths, params, measurement, n_iter, sample_weight=None, reg_covar=1e-6):
    """``n_iter`` Baum-Welch steps of an HMM with product emissions; ``params`` = (startprob,
    transmat, items, block). Dict with ``history`` and ``params`` (``reference.hmm.iterate``)."""
    X = np.asarray(X, dtype=float)

    def step(p):
        startprob, transmat, items, block = p
        log_b = log_prob_components(X, items, measurement, block)
        loglik, new_start, new_trans, resp = hmm.chain_em_step(log_b, lengths, np.asarray(startprob, float),
                                                               np.asarray(transmat, float), sample_weight)
        new_items, new_block = m_step(X, resp, items, measurement, block, reg_covar)
        return (new_start, new_trans, new_items, new_block), loglik

    def objective(p):
        logliks, _ = hmm.chain_posteriors(log_prob_components(X, p[2], measurement, p[3]), lengths, p[0], p[1])
        return hmm.weighted_total(logliks, sample_weight)

    return hmm.iterate(step, objective, params, n_iter)
