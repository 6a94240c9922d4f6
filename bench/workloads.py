"""The benchmark workloads of issue 5: their data, common starting values, how each library
fits them, and the floating-point work and memory traffic of one EM iteration (the cost model
behind the hardware bound).

Every workload is described by a :class:`Workload`; the functions below dispatch on its
``kind`` ("gmm", "hmm", "lca") and on the library ("emkit" or the workload's peer).
"""

from __future__ import annotations

import hashlib
import math
import warnings
from dataclasses import dataclass, field, replace
from typing import Any, Dict, Optional, Tuple

import numpy as np

DATA_SEED = 20240601
INIT_SEED = 7
#: Covariance regularisation of the Gaussian mixtures: emkit and scikit-learn both add it to the
#: diagonal after every M-step. The HMMs use 0 (hmmlearn has no such term; see fit_hmmlearn).
GMM_REG_COVAR = 1e-6
#: A vectorised exp or log costs about this many floating-point operations (range reduction and
#: a polynomial); the cost models charge it for every exp / log the E-step needs.
EXP_FLOPS = 10


@dataclass(frozen=True)
class Workload:
    """One row of the issue's table. ``size`` holds the dimensions: for "gmm" n, d, k, cov;
    for "hmm" n_seq, length, d (features, or symbols for a categorical HMM), K, cov (None:
    categorical), and M (components per state: a GMM-HMM) when given; for "lca" n, items,
    categories, classes. ``groups`` (gmm, hmm), when given, makes the components or states
    overlap: their means come in that many groups of nearly equal means (_overlap_data).
    ``iters`` are the two iteration counts (A, B) whose time difference gives s/iter, for emkit
    and for the peer."""

    name: str
    kind: str
    peer: str
    size: Dict[str, Any]
    iters: Dict[str, Tuple[int, int]]
    quick_size: Dict[str, Any] = field(default_factory=dict)
    quick_iters: Dict[str, Tuple[int, int]] = field(default_factory=dict)

    @property
    def title(self) -> str:
        """The workload as the issue's table describes it."""
        s = self.size
        overlap = f", {s['groups']} groups of nearly equal means" if s.get("groups") else ""
        if self.kind == "gmm":
            return f"GMM {s['cov']}, n={_count(s['n'])}, d={s['d']}, k={s['k']}{overlap}"
        if self.kind == "hmm":
            model = "categorical" if s["cov"] is None else f"Gaussian {s['cov']}"
            model = f"GMM-HMM {s['cov']}" if s.get("M") else f"{model} HMM"
            unit = f"{s['d']} symbols" if s["cov"] is None else f"d={s['d']}"
            K = f"K={s['K']}" + (f" x {s['M']} components" if s.get("M") else "")
            return f"{model}, {s['n_seq']}x{_count(s['length'])} steps, {unit}, {K}{overlap}"
        return (f"latent class, n={_count(s['n'])}, {s['items']} items x {s['categories']} "
                f"categories, {s['classes']} classes")

    def quick(self) -> Workload:
        """The --quick version: smaller data and iteration counts."""
        return replace(
            self,
            size={**self.size, **self.quick_size},
            iters={**self.iters, **self.quick_iters},
        )


def _count(n: int) -> str:
    """1000000 -> "1e6", 200000 -> "2e5", 1500 -> "1500"."""
    mantissa, exponent = f"{n:.0e}".split("e")
    return f"{mantissa}e{int(exponent)}" if float(f"{n:.0e}") == n and n >= 10_000 else str(n)


def _gmm(name, n, d, k, cov, quick_n, emkit_iters=(2, 12), quick_emkit_iters=(1, 6), **extra):
    return Workload(
        name=name,
        kind="gmm",
        peer="sklearn",
        size=dict(n=n, d=d, k=k, cov=cov, **extra),
        iters={"emkit": emkit_iters, "peer": (2, 7)},
        quick_size=dict(n=quick_n),
        quick_iters={"emkit": quick_emkit_iters, "peer": (1, 3)},
    )


def _hmm(name, n_seq, length, d, K, cov, quick_seq, quick_length, **extra):
    return Workload(
        name=name,
        kind="hmm",
        peer="hmmlearn",
        size=dict(n_seq=n_seq, length=length, d=d, K=K, cov=cov, **extra),
        iters={"emkit": (2, 7), "peer": (1, 3)},
        quick_size=dict(n_seq=quick_seq, length=quick_length),
        quick_iters={"emkit": (1, 5), "peer": (1, 2)},
    )


WORKLOADS: Dict[str, Workload] = {
    w.name: w
    for w in [
        _gmm("gmm-full", 1_000_000, 16, 16, "full", 30_000),
        _gmm("gmm-diag", 1_000_000, 16, 16, "diag", 30_000),
        # The same iterations as the peer: emkit's M-step skips exactly-zero responsibilities,
        # whose share grows as the states separate, so later iterations are cheaper.
        _gmm("gmm-full-d64", 200_000, 64, 32, "full", 10_000, (2, 7)),
        # Short iterations: more of them, so that the time difference stands out of the noise.
        _gmm("gmm-small", 100_000, 2, 3, "full", 20_000, (2, 402), (2, 402)),
        _hmm("hmm-diag", 100, 10_000, 8, 16, "diag", 20, 1_000),
        _hmm("hmm-full", 100, 10_000, 8, 16, "full", 20, 1_000),
        _hmm("hmm-cat", 1000, 1_000, 50, 32, None, 100, 500),
        Workload(
            name="lca",
            kind="lca",
            peer="stepmix",
            size=dict(n=100_000, items=20, categories=4, classes=6),
            # A LatentClass fit has ~1 s of fixed work (patterns, standard errors, fit statistics)
            # that varies by ~0.1 s: 1000 iterations of a few ms keep that below 0.1 ms/iter.
            iters={"emkit": (10, 1010), "peer": (5, 25)},
            quick_size=dict(n=20_000),
            quick_iters={"emkit": (5, 505), "peer": (2, 7)},
        ),
        # Overlapping components / states (issue 15): four groups of nearly equal means, so that
        # the posteriors stay spread over the states of a group and EM converges slowly.
        _gmm("gmm-diag-overlap", 1_000_000, 16, 16, "diag", 30_000, groups=4),
        _hmm("hmm-diag-overlap", 40, 10_000, 8, 16, "diag", 10, 1_000, groups=4),
        _hmm("hmm-full-overlap", 40, 10_000, 8, 16, "full", 10, 1_000, groups=4),
        _hmm("gmmhmm-overlap", 20, 10_000, 8, 4, "diag", 10, 1_000, groups=4, M=4),
    ]
}

#: The module each peer's worker imports before its baseline memory is read.
PEER_MODULES = {"sklearn": "sklearn.mixture", "hmmlearn": "hmmlearn.hmm",
                "stepmix": "stepmix.stepmix"}
PEER_LABELS = {"sklearn": "scikit-learn", "hmmlearn": "hmmlearn", "stepmix": "StepMix"}


# --------------------------------------------------------------------------- cost model
def cost(w: Workload) -> Tuple[float, float]:
    """(floating-point operations, bytes read from memory) of one EM iteration (E-step and
    M-step) of the workload, counted for the best known algorithm (see bench/README.md):

    * GMM full: E-step (X_block - mu_k) U_k as a GEMM per component, 2nkd^2, plus the squared
      row norms and the subtraction, 3nkd, plus one exp per row and component; M-step the
      weighted scatter as a GEMM (responsibility-scaled centred rows times the centred rows),
      2nkd^2, and the weighted means, 2nkd. Total 4nkd^2 + 5nkd + EXP*nk.
    * GMM diag: E-step (x - mu)^2 * precision summed, 3nkd, plus an exp per row and component;
      M-step weighted sums of x and x^2, 4nkd. Total 7nkd + EXP*nk.
    * Gaussian HMM (N = n_seq * length steps, K states): emissions as the GMM E-step (full: 2NKd^2
      + 3NKd, diag: 3NKd) and an exp per step and state; forward and backward recursions one
      GEMV each, 2K^2 per step each, and the transition statistics (outer product alpha_{t-1} x
      (b_t beta_t) accumulated) 2K^2 per step; M-step as the GMM's (full: 2NKd^2 + 2NKd, diag:
      4NKd). Total full 4NKd^2 + 5NKd + 6NK^2 + EXP*NK, diag 7NKd + 6NK^2 + EXP*NK.
    * GMM-HMM (M diagonal components per state): the Gaussian HMM's with the NK emission terms
      taken per component, 7NKMd + 6NK^2 + EXP*NKM (the state's mixture density is a sum of
      its components' exps).
    * Categorical HMM: the emission is a table lookup (no flops); forward, backward and
      transition statistics 6K^2 per step; state posteriors and emission counts 2NK. Total
      6NK^2 + 2NK.
    * Latent class (n rows, J items, C classes): E-step a table lookup and an add per row, item
      and class, nCJ, and an exp per row and class; M-step a count update per row, item and
      class, nCJ. Total 2nCJ + EXP*nC.

    Bytes: the input data, read once per iteration (E- and M-step fused per block of rows, the
    block's responsibilities staying in cache); the model parameters are small. This is a lower
    bound of the traffic: an implementation that reads the data twice, or writes the n x k
    responsibilities, moves more.
    """
    s = w.size
    if w.kind == "gmm":
        n, d, k = s["n"], s["d"], s["k"]
        if s["cov"] == "full":
            flops = 4 * n * k * d * d + 5 * n * k * d + EXP_FLOPS * n * k
        else:
            flops = 7 * n * k * d + EXP_FLOPS * n * k
        return float(flops), float(8 * n * d)
    if w.kind == "hmm":
        N, d, K = s["n_seq"] * s["length"], s["d"], s["K"]
        transitions = 6 * N * K * K
        if s["cov"] is None:
            return float(transitions + 2 * N * K), float(8 * N)
        if s.get("M"):
            K = K * s["M"]  # every Gaussian of every state: the GMM diag count below
        if s["cov"] == "full":
            emission_and_mstep = 4 * N * K * d * d + 5 * N * K * d
        else:
            emission_and_mstep = 7 * N * K * d
        return float(transitions + emission_and_mstep + EXP_FLOPS * N * K), float(8 * N * d)
    if w.kind == "lca":
        n, J, C = s["n"], s["items"], s["classes"]
        return float(2 * n * C * J + EXP_FLOPS * n * C), float(4 * n * J)
    raise ValueError(w.kind)


# --------------------------------------------------------------------------- data
def make_data(w: Workload) -> Dict[str, np.ndarray]:
    """The workload's data and the common starting values, as named arrays (saved to .npy files
    for the worker processes). Generated from fixed seeds."""
    if w.size.get("groups"):
        return _overlap_data(w.kind, **w.size)
    return {"gmm": _gmm_data, "hmm": _hmm_data, "lca": _lca_data}[w.kind](**w.size)


def _gmm_data(n, d, k, cov):
    """Gaussian blobs: component means ~ N(0, 3^2 I), random full covariances (A A^T / d + 0.1 I,
    randomly scaled) or random variances (diag). Start: equal weights, k distinct random rows as
    means, the data's covariance (variances for diag) for every component."""
    rng = np.random.default_rng(DATA_SEED)
    weights = rng.uniform(0.5, 1.5, size=k)
    labels = rng.choice(k, size=n, p=weights / weights.sum())
    X = np.empty((n, d))
    for j in range(k):
        rows = np.flatnonzero(labels == j)
        z = rng.standard_normal((rows.size, d))
        mean = rng.normal(0.0, 3.0, size=d)
        if cov == "diag":
            X[rows] = mean + z * np.sqrt(rng.uniform(0.2, 2.0, size=d))
        else:
            A = rng.normal(size=(d, d)) / math.sqrt(d)
            c = (A @ A.T + 0.1 * np.eye(d)) * rng.uniform(0.5, 1.5)
            X[rows] = mean + z @ np.linalg.cholesky(c).T
    return _gmm_start(X, k, cov)


def _gmm_start(X, k, cov):
    """The mixtures' common start: equal weights, k distinct random rows as means, the data's
    covariance (variances for diag) for every component."""
    n, d = X.shape
    rng = np.random.default_rng(INIT_SEED)
    means = X[np.sort(rng.choice(n, size=k, replace=False))]
    if cov == "full":
        covariances = np.repeat(np.cov(X, rowvar=False, bias=True).reshape(1, d, d), k, axis=0)
    else:
        covariances = np.repeat(X.var(axis=0)[None], k, axis=0)
    return {"X": X, "weights": np.full(k, 1.0 / k), "means": means, "covariances": covariances}


def _sticky_chain(K, rng, stay):
    return np.full(K, 1.0 / K), stay * np.eye(K) + (1 - stay) * rng.dirichlet(np.ones(K), size=K)


def _state_paths(rng, n_seq, length, K):
    """The concatenated state paths of n_seq sequences of a "sticky" K-state chain (0.9 on the
    diagonal, the rest of each row Dirichlet(1)), and the sequence lengths."""
    startprob, transmat = _sticky_chain(K, rng, 0.9)
    cum = np.cumsum(transmat, axis=1)
    z = np.empty((n_seq, length), dtype=np.int64)
    z[:, 0] = rng.choice(K, size=n_seq, p=startprob)
    u = rng.uniform(size=(n_seq, length))
    for t in range(1, length):
        z[:, t] = np.minimum((u[:, t, None] > cum[z[:, t - 1]]).sum(axis=1), K - 1)
    return z.reshape(-1), np.full(n_seq, length, dtype=np.int64)


def _hmm_start(X, K, cov, n_mix=None):
    """The Gaussian HMMs' common start: a less sticky random chain (0.5 on the diagonal), K random
    time steps as means (K x n_mix for a GMM-HMM, with equal mixture weights) and the data's
    variances (diag) or their diagonal matrix (full) for every state (component)."""
    init = np.random.default_rng(INIT_SEED)
    start = dict(zip(("startprob", "transmat"), _sticky_chain(K, init, 0.5)))
    var = X.var(axis=0)
    if n_mix is not None:
        means = X[init.choice(X.shape[0], size=K * n_mix, replace=False)]
        return {**start, "weights": np.full((K, n_mix), 1.0 / n_mix),
                "means": means.reshape(K, n_mix, -1), "covariances": np.tile(var, (K, n_mix, 1))}
    means = X[init.choice(X.shape[0], size=K, replace=False)]
    covariances = np.tile(var, (K, 1)) if cov == "diag" else np.stack([np.diag(var)] * K)
    return {**start, "means": means, "covariances": covariances}


def _hmm_data(n_seq, length, d, K, cov):
    """Sequences from a "sticky" K-state chain (0.9 on the diagonal). Gaussian: state means ~
    N(0, 2^2 I), noise transformed by a random matrix per state; categorical: Dirichlet(0.3)
    emission distributions over d symbols. Start (_hmm_start): a less sticky random chain, K
    random time steps as means and the data's variances (diag) or their diagonal matrix (full)
    for every state; categorical: Dirichlet(2) emission distributions."""
    rng = np.random.default_rng(DATA_SEED)
    z, lengths = _state_paths(rng, n_seq, length, K)
    if cov is None:
        probs = rng.dirichlet(np.full(d, 0.3), size=K)
        X = np.empty((z.size, 1), dtype=np.int64)
        for k in range(K):
            rows = np.flatnonzero(z == k)
            X[rows, 0] = rng.choice(d, size=rows.size, p=probs[k])
        init = np.random.default_rng(INIT_SEED)
        chain = dict(zip(("startprob", "transmat"), _sticky_chain(K, init, 0.5)))
        return {"X": X, "lengths": lengths, **chain,
                "emissionprob": init.dirichlet(np.full(d, 2.0), size=K)}
    X = np.empty((z.size, d))
    for k in range(K):
        rows = np.flatnonzero(z == k)
        A = rng.normal(size=(d, d)) * 0.3 + np.eye(d)
        X[rows] = rng.normal(0.0, 2.0, size=d) + rng.standard_normal((rows.size, d)) @ A.T
    return {"X": X, "lengths": lengths, **_hmm_start(X, K, cov)}


#: Overlapping workloads: the means of a group are its centre plus N(0, OVERLAP_SPREAD^2 I), with
#: noise of about unit variance: two members of a group are ~0.35 sqrt(d) standard deviations
#: apart (1.4 at d = 16), so every row keeps a sizeable posterior on several of them.
OVERLAP_SPREAD = 0.25


def _overlap_means(rng, groups, members, d, scale):
    """(groups, members, d) means: group centres ~ N(0, scale^2 I), each member its group's
    centre plus N(0, OVERLAP_SPREAD^2 I)."""
    centres = rng.normal(0.0, scale, size=(groups, 1, d))
    return centres + rng.normal(0.0, OVERLAP_SPREAD, size=(groups, members, d))


def _overlap_data(kind, d, cov, groups, n=None, k=None, n_seq=None, length=None, K=None,
                  M=None):
    """Components or states that overlap: their means come in ``groups`` groups of nearly equal
    means (_overlap_means; centres ~ N(0, 3^2 I) for mixtures, N(0, 2^2 I) for HMMs).

    * Mixture ("gmm"): k components, k / groups per group, weights ~ U(0.5, 1.5) normalised,
      variances ~ U(0.8, 1.2) per feature (diag) or covariance (I + 0.1 G)(I + 0.1 G)^T with G
      standard normal (full). Start: as the other mixtures (_gmm_start).
    * Gaussian HMM: the sticky K-state chain of the other HMMs (_state_paths), K / groups states
      per group, noise transformed by I + 0.1 G per state (nearly equal covariances). Start:
      _hmm_start.
    * GMM-HMM (M components per state, diagonal covariances): the groups are the components:
      component m of every state has a mean near centre m, so the K states emit nearly the same
      M-modal mixture and differ in their mixture weights (Dirichlet(2) per state) and small
      offsets; variances ~ U(0.8, 1.2). Start: _hmm_start with equal mixture weights.
    """
    rng = np.random.default_rng(DATA_SEED)
    if kind == "gmm":
        weights = rng.uniform(0.5, 1.5, size=k)
        labels = rng.choice(k, size=n, p=weights / weights.sum())
        means = _overlap_means(rng, groups, k // groups, d, 3.0).reshape(k, d)
        X = np.empty((n, d))
        for j in range(k):
            rows = np.flatnonzero(labels == j)
            z = rng.standard_normal((rows.size, d))
            if cov == "diag":
                X[rows] = means[j] + z * np.sqrt(rng.uniform(0.8, 1.2, size=d))
            else:
                X[rows] = means[j] + z @ (np.eye(d) + 0.1 * rng.normal(size=(d, d))).T
        return _gmm_start(X, k, cov)
    z, lengths = _state_paths(rng, n_seq, length, K)
    X = np.empty((z.size, d))
    if M is None:
        means = _overlap_means(rng, groups, K // groups, d, 2.0).reshape(K, d)
        for j in range(K):
            rows = np.flatnonzero(z == j)
            A = np.eye(d) + 0.1 * rng.normal(size=(d, d))
            X[rows] = means[j] + rng.standard_normal((rows.size, d)) @ A.T
        return {"X": X, "lengths": lengths, **_hmm_start(X, K, cov)}
    if groups != M or cov != "diag":
        raise ValueError("GMM-HMM overlap data: one group per component, diagonal covariances")
    means = _overlap_means(rng, M, K, d, 2.0).transpose(1, 0, 2)  # (K, M, d)
    weights = rng.dirichlet(np.full(M, 2.0), size=K)
    var = rng.uniform(0.8, 1.2, size=(K, M, d))
    for j in range(K):
        rows = np.flatnonzero(z == j)
        c = rng.choice(M, size=rows.size, p=weights[j])
        X[rows] = means[j, c] + rng.standard_normal((rows.size, d)) * np.sqrt(var[j, c])
    return {"X": X, "lengths": lengths, **_hmm_start(X, K, cov, M)}


def _lca_data(n, items, categories, classes):
    """n rows of item responses (int32 codes) from a random latent class model: class weights ~
    U(0.5, 1.5) normalised, response probabilities ~ Dirichlet(0.5). Start: equal weights and
    Dirichlet(1) response probabilities (classes x items x categories)."""
    rng = np.random.default_rng(DATA_SEED)
    weights = rng.uniform(0.5, 1.5, size=classes)
    labels = rng.choice(classes, size=n, p=weights / weights.sum())
    cum = np.cumsum(rng.dirichlet(np.full(categories, 0.5), size=(classes, items)), axis=2)
    X = np.empty((n, items), dtype=np.int32)
    for j in range(items):
        X[:, j] = (rng.random(n)[:, None] > cum[labels, j, :-1]).sum(axis=1)
    init = np.random.default_rng(INIT_SEED)
    probs = init.dirichlet(np.ones(categories), size=(classes, items))
    return {"X": X, "weights": np.full(classes, 1.0 / classes), "probs": probs}


def warmup_slice(w: Workload, a: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
    """A small piece of the data (the first rows or the first sequences, shortened) for an
    untimed warm-up fit that loads the code paths and starts the thread pools."""
    if w.kind != "hmm":
        return {**a, "X": a["X"][:5000]}
    m = min(len(a["lengths"]), 4)
    L = min(int(a["lengths"][0]), 500)
    X = a["X"][: m * int(a["lengths"][0])].reshape(m, -1, a["X"].shape[1])[:, :L]
    return {**a, "X": np.ascontiguousarray(X.reshape(m * L, -1)), "lengths": np.full(m, L)}


# --------------------------------------------------------------------------- fitting
def fit(w: Workload, library: str, a: Dict[str, np.ndarray], max_iter: int,
        n_threads: Optional[int] = None, dtype=None) -> Any:
    """Fits the workload with ``library`` for exactly ``max_iter`` EM iterations from the common
    start. ``n_threads`` (emkit only): None = all cores. ``dtype`` (emkit only): the dtype the
    data are passed in (e.g. float32)."""
    X = a["X"] if dtype is None else a["X"].astype(dtype)
    if library == "emkit":
        model = _emkit_model(w, a, max_iter, n_threads)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if w.kind == "hmm":
                model.fit(X, a["lengths"])
            else:
                model.fit(X)
        return model
    return {"sklearn": _fit_sklearn, "hmmlearn": _fit_hmmlearn, "stepmix": _fit_stepmix}[library](
        w, a, max_iter
    )


def check_iters(w: Workload) -> int:
    """The iteration count after which the libraries' log-likelihoods are compared: the peer's
    B (emkit's B is at least as large; its history holds the earlier values). For a GMM-HMM 0,
    the common start: hmmlearn's GMMHMM centres its covariance statistics on the previous
    iteration's means rather than the updated ones (hmmlearn issue 410, pull request 516), so
    from the first M-step on its iterates are not EM's; at the start both evaluate the same
    parameters (emission densities and forward recursion)."""
    return 0 if w.size.get("M") else min(w.iters["emkit"][1], w.iters["peer"][1])


def loglik(w: Workload, library: str, model: Any, a: Dict[str, np.ndarray],
           iters: int) -> float:
    """Total log-likelihood of the data at the parameters after ``iters`` iterations: emkit's
    history holds it for every iteration; a peer's model must have run exactly ``iters``
    (its score at the final parameters), except for iters = 0 with hmmlearn, whose convergence
    monitor holds the log-likelihood at the start."""
    if library == "emkit":
        return float(model.loglik_history_[iters])
    if iters == 0 and library == "hmmlearn":
        return float(model.monitor_.history[0])
    if n_iter(model) != iters:
        raise RuntimeError(f"{library} ran {n_iter(model)} iterations, expected {iters}")
    if library == "hmmlearn":
        return float(model.score(a["X"], a["lengths"]))
    return float(model.score(a["X"])) * a["X"].shape[0]  # sklearn, StepMix: mean per row


def n_iter(model: Any) -> int:
    """Iterations the fitted model ran (hmmlearn keeps them in its convergence monitor)."""
    if hasattr(model, "n_iter_"):
        return int(model.n_iter_)
    return int(model.monitor_.iter)


def digest(model: Any) -> str:
    """A hash of an emkit model's fitted parameters and log-likelihood (to check that 1 and all
    threads give bit-identical results)."""
    h = hashlib.sha256(repr(float(model.loglik_)).encode())
    for name in ("weights_", "means_", "covariances_", "startprob_", "transmat_",
                 "emissionprob_", "probs_"):
        value = getattr(model, name, None)
        for arr in value if isinstance(value, list) else [value]:
            if arr is not None:
                h.update(np.ascontiguousarray(arr, dtype=np.float64).tobytes())
    return h.hexdigest()


def _emkit_model(w, a, max_iter, n_threads):
    import emkit

    common = dict(tol=0.0, max_iter=max_iter, n_init=1, n_threads=n_threads)
    if w.kind == "gmm":
        return emkit.GaussianMixture(
            w.size["k"], covariance_type=w.size["cov"], reg_covar=GMM_REG_COVAR,
            weights_init=a["weights"], means_init=a["means"],
            covariances_init=a["covariances"], **common,
        )
    if w.kind == "hmm" and w.size.get("M"):
        return emkit.GMMHMM(
            w.size["K"], w.size["M"], covariance_type=w.size["cov"], reg_covar=0.0,
            startprob_init=a["startprob"], transmat_init=a["transmat"], weights_init=a["weights"],
            means_init=a["means"], covariances_init=a["covariances"], **common,
        )
    if w.kind == "hmm" and w.size["cov"] is None:
        return emkit.CategoricalHMM(
            w.size["K"], n_categories=[w.size["d"]], startprob_init=a["startprob"],
            transmat_init=a["transmat"], emissionprob_init=a["emissionprob"], **common,
        )
    if w.kind == "hmm":
        return emkit.GaussianHMM(
            w.size["K"], covariance_type=w.size["cov"], reg_covar=0.0,
            startprob_init=a["startprob"], transmat_init=a["transmat"], means_init=a["means"],
            covariances_init=a["covariances"], **common,
        )
    probs = a["probs"]
    return emkit.LatentClass(
        w.size["classes"], n_categories=[probs.shape[2]] * probs.shape[1],
        weights_init=a["weights"], probs_init=[probs[:, j, :] for j in range(probs.shape[1])],
        **common,
    )


def _fit_sklearn(w, a, max_iter):
    from sklearn.mixture import GaussianMixture

    cov = a["covariances"]
    model = GaussianMixture(
        w.size["k"], covariance_type=w.size["cov"], tol=0.0, reg_covar=GMM_REG_COVAR,
        max_iter=max_iter, n_init=1, weights_init=a["weights"], means_init=a["means"],
        precisions_init=np.linalg.inv(cov) if w.size["cov"] == "full" else 1.0 / cov,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tol=0 never converges: a warning at every fit
        return model.fit(a["X"])


def _fit_hmmlearn(w, a, max_iter):
    """hmmlearn (scaling implementation) without its priors, so that its M-step is the same
    maximum-likelihood step as emkit's: covars_prior=0 (default 1e-2 is added to every
    covariance numerator), transition and start priors 1 (no prior); tol=-inf runs exactly
    n_iter iterations. GMMHMM's default priors (diag: covars_prior -1.5, covars_weight 0, means
    and weights without prior) add nothing; its covariance statistics are centred on the
    previous means, though (see check_iters)."""
    from hmmlearn import hmm

    common = dict(n_iter=max_iter, tol=-np.inf, init_params="", implementation="scaling")
    if w.size.get("M"):
        model = hmm.GMMHMM(w.size["K"], n_mix=w.size["M"], covariance_type=w.size["cov"],
                           params="stmcw", **common)
        model.weights_, model.means_, model.covars_ = a["weights"], a["means"], a["covariances"]
    elif w.size["cov"] is None:
        model = hmm.CategoricalHMM(w.size["K"], n_features=w.size["d"], params="ste", **common)
        model.emissionprob_ = a["emissionprob"]
    else:
        model = hmm.GaussianHMM(w.size["K"], covariance_type=w.size["cov"], params="stmc",
                                covars_prior=0.0, covars_weight=1.0, **common)
        model.means_, model.covars_ = a["means"], a["covariances"]
    model.startprob_, model.transmat_ = a["startprob"], a["transmat"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(a["X"], a["lengths"])


_STEPMIX_FROM_START = None


def _fit_stepmix(w, a, max_iter):
    """StepMix with its random start replaced by the common one: StepMix.em() calls
    ``_initialize_parameters`` once per n_init before its own EM loop; the override builds the
    categorical measurement model without its initial M-step and sets the class weights and
    the response probabilities (K x (J * R), item-major, as StepMix stores them)."""
    global _STEPMIX_FROM_START
    if _STEPMIX_FROM_START is None:
        from stepmix.stepmix import StepMix

        class StepMixFromStart(StepMix):
            def _initialize_parameters(self, X, random_state):
                weights, probs = self._bench_start
                K, J, R = probs.shape
                self.weights_ = np.array(weights, dtype=np.float64)
                self._initialize_parameters_measurement(X, random_state, init_emission=False)
                self._mm.set_parameters({"pis": np.ascontiguousarray(probs.reshape(K, J * R)),
                                         "max_n_outcomes": R, "total_outcomes": J * R})

        _STEPMIX_FROM_START = StepMixFromStart
    model = _STEPMIX_FROM_START(
        n_components=w.size["classes"], measurement="categorical", n_init=1, max_iter=max_iter,
        abs_tol=0.0, rel_tol=0.0, random_state=0, verbose=0, progress_bar=0,
    )
    model._bench_start = (a["weights"], a["probs"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zero tolerances never converge: a warning per fit
        return model.fit(a["X"])
