"""Synthetic sequences for the HMM tests: several sequences from a known Gaussian HMM, with
optional missing entries and time steps with nothing observed."""

import numpy as np
from conftest import start_params


def _draw_parameters(rng, d, K, spread):
    startprob = rng.dirichlet(np.ones(K))
    transmat = 0.7 * np.eye(K) + 0.3 * rng.dirichlet(np.ones(K), size=K)
    means = rng.normal(0.0, spread, size=(K, d))
    A = rng.normal(size=(K, d, d)) * 0.3 + np.eye(d)  # emission x = mean + A z
    return startprob, transmat, means, A


def generating_parameters(d=2, K=3, seed=0, spread=3.0):
    """(startprob, transmat, means, full covariances) make_sequences draws for these arguments."""
    startprob, transmat, means, A = _draw_parameters(np.random.default_rng(seed), d, K, spread)
    return startprob, transmat, means, np.einsum("kij,klj->kil", A, A)


def make_sequences(lengths=(40, 25, 55), d=2, K=3, seed=0, missing=0.0, unobserved=0.0, spread=3.0):
    """(X, lengths, true states): a sticky K-state chain with Gaussian emissions. A fraction
    `missing` of the entries is NaN, and a fraction `unobserved` of the rows entirely NaN (always
    including the first row of the second sequence and the last row of the last one, when there
    are such sequences and unobserved > 0)."""
    rng = np.random.default_rng(seed)
    lengths = np.asarray(lengths, dtype=np.int64)
    startprob, transmat, means, A = _draw_parameters(rng, d, K, spread)
    X, states = [], []
    for T in lengths:
        z = np.empty(T, dtype=int)
        z[0] = rng.choice(K, p=startprob)
        for t in range(1, T):
            z[t] = rng.choice(K, p=transmat[z[t - 1]])
        X.append(means[z] + np.einsum("tij,tj->ti", A[z], rng.normal(size=(T, d))))
        states.append(z)
    X, states = np.concatenate(X), np.concatenate(states)
    hide(X, lengths, rng, missing, unobserved)
    return X, lengths, states


def hide(X, lengths, rng, missing=0.0, unobserved=0.0):
    """Makes entries of X missing in place: each with probability ``missing`` (never a whole time
    step), and whole time steps with probability ``unobserved`` — always the first step of the
    second sequence and the last step."""
    if missing:
        mask = rng.uniform(size=X.shape) < missing
        mask[mask.all(axis=1), 0] = False
        X[mask] = np.nan
    if unobserved:
        rows = rng.uniform(size=X.shape[0]) < unobserved
        if len(lengths) > 1:
            rows[lengths[0]] = True
        rows[-1] = True
        X[rows] = np.nan


def hmm_start(X, K, covariance_type, seed=1):
    """Rough initial values: random start/transition probabilities (sticky), means from random
    rows, the data's variance (reference conftest.start_params)."""
    rng = np.random.default_rng(seed)
    observed = ~np.isnan(X).all(axis=1)
    _, means, cov = start_params(X[observed], K, covariance_type, seed=seed)
    startprob = rng.dirichlet(np.full(K, 2.0))
    transmat = 0.5 * np.eye(K) + 0.5 * rng.dirichlet(np.full(K, 2.0), size=K)
    return startprob, transmat, means, cov
