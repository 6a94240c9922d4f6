#!/usr/bin/env python
"""Benchmark: emkit's HMMs against hmmlearn (Baum-Welch), seconds per iteration.

Workloads (``--quick`` divides the sizes by 10: each sequence is 10 times shorter):

* ``gaussian-diag``: 100 sequences x 10,000 steps, 8 features, 16 states, diagonal covariances;
* ``gaussian-full``: the same with full covariances;
* ``categorical``: 100 sequences x 1,000 steps, one feature with 50 symbols, 32 states.

Both libraries fit the same float64 data from the same starting values (``init_params=""`` for
hmmlearn, the ``*_init`` arguments for emkit) and run exactly ``max_iter`` / ``n_iter``
iterations (emkit ``tol=0``, hmmlearn ``tol=-inf``). Seconds per iteration, initialisation
excluded: (t(b iterations) - t(a iterations)) / (b - a), median over --repeats repetitions
(bench/_common.py's interleaved_seconds_per_iteration), for hmmlearn, emkit with 1 thread and
emkit with all threads. Check: the log-likelihoods of the final parameters agree to ~1e-6
relative (the same EM from the same start).

Run ``python bench/bench_hmm.py --help``; see bench/README.md.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path
from typing import Dict, Tuple

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402

#: name -> (kind, n_sequences, length, n_features or n_symbols, n_states, covariance_type)
WORKLOADS: Dict[str, tuple] = {
    "gaussian-diag": ("gaussian", 100, 10_000, 8, 16, "diag"),
    "gaussian-full": ("gaussian", 100, 10_000, 8, 16, "full"),
    "categorical": ("categorical", 100, 1_000, 50, 32, None),
}
DATA_SEED = 20240601
INIT_SEED = 7
LOGLIK_RTOL = 1e-6


def sticky_chain(K: int, rng: np.random.Generator, stay: float = 0.9) -> Tuple[np.ndarray, np.ndarray]:
    transmat = stay * np.eye(K) + (1 - stay) * rng.dirichlet(np.ones(K), size=K)
    return np.full(K, 1.0 / K), transmat


def sample_states(n_seq: int, T: int, startprob, transmat, rng) -> np.ndarray:
    """(n_seq, T) state paths, vectorised over the sequences."""
    K = len(startprob)
    cum = np.cumsum(transmat, axis=1)
    z = np.empty((n_seq, T), dtype=np.int64)
    z[:, 0] = rng.choice(K, size=n_seq, p=startprob)
    u = rng.uniform(size=(n_seq, T))
    for t in range(1, T):
        z[:, t] = np.minimum((u[:, t, None] > cum[z[:, t - 1]]).sum(axis=1), K - 1)
    return z


def make_data(kind: str, n_seq: int, T: int, q: int, K: int):
    rng = np.random.default_rng(DATA_SEED)
    startprob, transmat = sticky_chain(K, rng)
    z = sample_states(n_seq, T, startprob, transmat, rng).reshape(-1)
    if kind == "gaussian":
        means = rng.normal(0.0, 2.0, size=(K, q))
        A = rng.normal(size=(K, q, q)) * 0.3 + np.eye(q)
        X = means[z] + np.einsum("nij,nj->ni", A[z], rng.normal(size=(z.size, q)))
    else:
        P = rng.dirichlet(np.full(q, 0.3), size=K)
        cum = np.cumsum(P, axis=1)
        X = np.minimum((rng.uniform(size=z.size)[:, None] > cum[z]).sum(axis=1), q - 1).reshape(-1, 1)
    return np.ascontiguousarray(X), np.full(n_seq, T, dtype=np.int64)


def start_values(kind: str, X: np.ndarray, q: int, K: int, covariance_type):
    rng = np.random.default_rng(INIT_SEED)
    startprob, transmat = sticky_chain(K, rng, stay=0.5)
    if kind == "gaussian":
        means = X[rng.choice(X.shape[0], size=K, replace=False)].copy()
        var = X.var(axis=0)
        cov = np.tile(var, (K, 1)) if covariance_type == "diag" else np.stack([np.diag(var)] * K)
        return startprob, transmat, means, cov
    return startprob, transmat, rng.dirichlet(np.full(q, 2.0), size=K)


def emkit_fit(kind, X, lengths, start, K, covariance_type, n_threads):
    import emkit

    def fit(n_iter: int):
        if kind == "gaussian":
            m = emkit.GaussianHMM(
                K, covariance_type=covariance_type, tol=0.0, max_iter=n_iter, reg_covar=0.0 + 1e-6,
                startprob_init=start[0], transmat_init=start[1], means_init=start[2],
                covariances_init=start[3], n_threads=n_threads,
            )
        else:
            m = emkit.CategoricalHMM(
                K, n_categories=[start[2].shape[1]], tol=0.0, max_iter=n_iter, startprob_init=start[0],
                transmat_init=start[1], emissionprob_init=start[2], n_threads=n_threads,
            )
        m.fit(X, lengths)
        return m.loglik_

    return fit


def hmmlearn_fit(kind, X, lengths, start, K, covariance_type):
    from hmmlearn import hmm

    def fit(n_iter: int):
        if kind == "gaussian":
            m = hmm.GaussianHMM(K, covariance_type=covariance_type, n_iter=n_iter, tol=-np.inf,
                                init_params="", params="stmc", min_covar=1e-6, implementation="scaling")
            m.startprob_, m.transmat_, m.means_, m.covars_ = start
        else:
            m = hmm.CategoricalHMM(K, n_features=start[2].shape[1], n_iter=n_iter, tol=-np.inf,
                                   init_params="", params="ste", implementation="scaling")
            m.startprob_, m.transmat_, m.emissionprob_ = start
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m.fit(X, lengths)
        return m.score(X, lengths)

    return fit


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="sizes divided by 10 (sequence length)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--iters", type=int, nargs=2, default=(1, 3), metavar=("A", "B"))
    parser.add_argument("--workloads", nargs="*", default=list(WORKLOADS))
    args = parser.parse_args(argv)
    a, b = args.iters
    rows, checks, payload = [], [], {"workloads": {}}
    import emkit  # noqa: F401

    for name in args.workloads:
        kind, n_seq, T, q, K, cov = WORKLOADS[name]
        if args.quick:
            T //= 10
        print(f"[{name}] generating {n_seq} x {T} steps ...", file=sys.stderr)
        X, lengths = make_data(kind, n_seq, T, q, K)
        start = start_values(kind, X, q, K, cov)
        fits = {
            "hmmlearn": hmmlearn_fit(kind, X, lengths, start, K, cov),
            "emkit 1 thread": emkit_fit(kind, X, lengths, start, K, cov, 1),
            "emkit all threads": emkit_fit(kind, X, lengths, start, K, cov, None),
        }
        ll: Dict[str, float] = {}
        res = C.interleaved_seconds_per_iteration(
            fits, a, b, args.repeats, on_result=lambda name, r, value: ll.__setitem__(name, float(value))
        )
        s = {k: v["s_per_iter"] for k, v in res.items()}
        rel = abs(ll["emkit all threads"] - ll["hmmlearn"]) / abs(ll["hmmlearn"])
        rows.append([
            name, f"{n_seq}x{T}", q, K, C.fmt_seconds(s["hmmlearn"]), C.fmt_seconds(s["emkit 1 thread"]),
            C.fmt_seconds(s["emkit all threads"]), f"{s['hmmlearn'] / s['emkit 1 thread']:.1f}x",
            f"{s['hmmlearn'] / s['emkit all threads']:.1f}x",
        ])
        checks.append([name, f"{ll['hmmlearn']:.10g}", f"{ll['emkit all threads']:.10g}", f"{rel:.1e}",
                       "ok" if rel < LOGLIK_RTOL else "MISMATCH",
                       "yes" if ll["emkit 1 thread"] == ll["emkit all threads"] else "no"])
        payload["workloads"][name] = {
            "config": dict(kind=kind, n_sequences=n_seq, length=T, q=q, K=K, covariance_type=cov),
            "s_per_iter": s, "loglik": ll, "loglik_rel_diff": rel,
            "per_repeat": {k: v["per_repeat"] for k, v in res.items()},
        }
    print(C.format_table(
        ["workload", "seqs x steps", "q", "K", "hmmlearn", "emkit 1T", "emkit allT", "speed-up 1T", "speed-up allT"],
        rows, title=f"seconds per Baum-Welch iteration (median of {args.repeats}; iterations {a} -> {b})"))
    print()
    print(C.format_table(
        ["workload", "hmmlearn loglik", "emkit loglik", "rel. diff", "check", "1T == allT"], checks,
        title=f"log-likelihood after {b} iterations from the same start"))
    payload["environment"] = C.environment(["numpy", "hmmlearn", "emkit"])
    path = C.write_results("hmm", payload)
    print(f"\nresults: {path}", file=sys.stderr)
    return 0 if all(c[4] == "ok" for c in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
