"""The ``emkit`` command line: ``emkit demo`` runs the main job on bundled data."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, List, Optional, TextIO, Tuple

import numpy as np

from . import __version__, _core
from ._typing import FloatArray, NDArray
from .datasets import load_iris
from .gaussian_mixture import GaussianMixture

if TYPE_CHECKING:
    from .hmm import GaussianHMM
    from .latent_class import LatentClass


def _matrix(a: FloatArray, indent: str = "    ") -> str:
    return "\n".join(indent + " ".join(f"{v:9.4f}" for v in row) for row in np.atleast_2d(a))


def demo_gaussian_mixture(
    n_init: int, seed: int, max_components: int, out: Optional[TextIO] = None
) -> GaussianMixture:
    out = sys.stdout if out is None else out
    X, species, names = load_iris()
    print("== Gaussian mixture: Fisher's iris (150 flowers, 4 measurements) ==", file=out)
    print(f"core: OpenMP {'on' if _core.openmp_enabled() else 'off'}, {_core.max_threads()} threads", file=out)
    print(f"\nChoosing the number of components by BIC ({n_init} restarts each, full covariances):", file=out)
    print(f"{'K':>3} {'log-lik':>12} {'BIC':>12} {'replicated':>11}", file=out)
    fits = {}
    for k in range(1, max_components + 1):
        gm = GaussianMixture(k, covariance_type="full", n_init=n_init, random_state=seed, tol=1e-8, max_iter=1000)
        gm.fit(X)
        fits[k] = gm
        rep = gm.restarts_
        print(f"{k:>3} {gm.loglik_:>12.4f} {gm.bic(X):>12.4f} {rep.n_replicated:>5} of {len(rep):<4}", file=out)
    best_k = min(fits, key=lambda k: fits[k].bic(X))
    gm = fits[best_k]
    print(f"\nBIC picks K = {best_k}.", file=out)
    print(f"weights: {np.array2string(gm.weights_, precision=4)}", file=out)
    print(f"means ({', '.join(names)}):\n{_matrix(gm.means_)}", file=out)
    for k in range(best_k):
        print(f"covariance of component {k}:\n{_matrix(gm.covariances_[k])}", file=out)
    hist = gm.history_
    print(f"\nlog-likelihood per iteration ({gm.n_iter_} iterations, converged={gm.converged_}):", file=out)
    shown = list(range(min(len(hist), 8))) + ([len(hist) - 1] if len(hist) > 8 else [])
    for i in shown:
        print(f"  iter {i:>4}: {hist[i]:.8f}", file=out)
    print("\nrestarts of the chosen model:", file=out)
    print(gm.restarts_.table(), file=out)
    labels = gm.predict(X)
    print("\ncomponents against species:", file=out)
    kinds = sorted(set(species))
    print("  " + " ".join(f"{s:>11}" for s in ["component"] + kinds), file=out)
    for k in range(best_k):
        counts = [int(((labels == k) & (species == s)).sum()) for s in kinds]
        print("  " + " ".join(f"{v:>11}" for v in [k] + counts), file=out)

    # The same model with 20% of the measurements deleted: the EM integrates them out.
    rng = np.random.default_rng(seed)
    X_missing = X.copy()
    X_missing[rng.uniform(size=X.shape) < 0.2] = np.nan
    X_missing[np.isnan(X_missing).all(axis=1), 0] = X[np.isnan(X_missing).all(axis=1), 0]
    gm_missing = GaussianMixture(best_k, n_init=n_init, random_state=seed, tol=1e-8, max_iter=1000).fit(X_missing)
    agree = (gm_missing.predict(X_missing) == labels).mean()
    agree = max(agree, 1 - agree) if best_k == 2 else agree
    print(
        f"\nWith 20% of the entries deleted ({int(np.isnan(X_missing).sum())} NaN), the missing values are "
        f"integrated out:\n  log-likelihood of the observed entries {gm_missing.loglik_:.4f}; "
        f"{100 * agree:.1f}% of the flowers get the same component as with complete data.",
        file=out,
    )
    return gm


def demo_latent_class(n_init: int, seed: int, out: Optional[TextIO] = None) -> LatentClass:
    """Latent class analysis of the GSS 1982 survey items (the classic poLCA example)."""
    out = sys.stdout if out is None else out
    from .datasets import load_gss82, load_gss82_frame
    from .latent_class import LatentClass

    try:
        X = load_gss82_frame()
    except ImportError:  # pandas is optional: integer codes, labels listed separately
        rows, names = load_gss82()
        labels = [sorted(set(col)) for col in zip(*rows)]
        X = np.array([[labels[j].index(v) for j, v in enumerate(r)] for r in rows])
    print("\n== Latent class analysis: GSS 1982 attitudes towards surveys (1202 respondents) ==", file=out)
    print(f"{'K':>3} {'log-lik':>12} {'BIC':>12} {'replicated':>11}", file=out)
    fits = {}
    for k in range(1, 5):
        fits[k] = LatentClass(k, n_init=n_init, random_state=seed, sort_classes="size", max_iter=5000).fit(X)
        rep = fits[k].restarts_
        print(f"{k:>3} {fits[k].loglik_:>12.4f} {fits[k].bic_:>12.4f} {rep.n_replicated:>5} of {len(rep):<4}", file=out)
    best = min(fits, key=lambda k: fits[k].bic_)
    print(f"BIC picks K = {best}.\n", file=out)
    print(fits[best].summary(), file=out)
    return fits[best]


def simulated_regimes(seed: int = 2024, n_steps: int = 1500) -> Tuple[FloatArray, NDArray[np.int_]]:
    """A simulated (not real) 2-D sensor series with three regimes, ~2% NaN readings: (X, truth).

    A sticky Markov chain (stay probability 0.97-0.985) switches between "calm" (low mean, low
    noise), "load" (both channels up, correlated) and "fault" (channel 2 drops, noisy). Fixed
    seed, so the demo prints the same numbers every time."""
    rng = np.random.default_rng(seed)
    transmat = np.array([[0.985, 0.010, 0.005], [0.015, 0.975, 0.010], [0.020, 0.010, 0.970]])
    means = np.array([[0.0, 0.0], [2.5, 1.5], [0.5, -3.0]])
    chol = [np.diag([0.5, 0.5]), np.array([[0.8, 0.0], [0.5, 0.6]]), np.diag([1.2, 1.0])]
    z: NDArray[np.int_] = np.empty(n_steps, dtype=int)
    z[0] = 0
    for t in range(1, n_steps):
        z[t] = rng.choice(3, p=transmat[z[t - 1]])
    X = means[z] + np.einsum("tij,tj->ti", np.stack([chol[k] for k in z]), rng.normal(size=(n_steps, 2)))
    X[rng.uniform(size=X.shape) < 0.02] = np.nan
    return X, z


def demo_hmm(n_init: int, seed: int, out: Optional[TextIO] = None) -> GaussianHMM:
    """A Gaussian HMM on a simulated three-regime sensor series: decoded states against the truth."""
    out = sys.stdout if out is None else out
    from .hmm import GaussianHMM

    X, truth = simulated_regimes()
    lengths = [500, 1000]  # two recordings
    print("\n== Hidden Markov model: simulated 2-D sensor series, 3 regimes (1500 steps, 2 sequences) ==",
          file=out)
    print(f"data: simulated with a fixed seed; {int(np.isnan(X).sum())} NaN readings are integrated out", file=out)
    hmm = GaussianHMM(3, covariance_type="full", n_init=n_init, random_state=seed, tol=1e-8, max_iter=500)
    hmm.fit(X, lengths)
    rep = hmm.restarts_
    print(f"log-likelihood {hmm.loglik_:.4f}; best optimum reached by {rep.n_replicated} of {len(rep)} restarts",
          file=out)
    states = hmm.predict(X, lengths)
    # Label the fitted states by the true regime they overlap most (the labels are arbitrary).
    table = np.array([[int(((truth == r) & (states == k)).sum()) for k in range(3)] for r in range(3)])
    order = [int(np.argmax(table[:, k])) for k in range(3)]
    names = ["calm", "load", "fault"]
    print("\nconfusion table (rows: true regime, columns: decoded state):", file=out)
    print("  " + f"{'':>8}" + "".join(f"{f'state {k}':>10}" for k in range(3)), file=out)
    for r in range(3):
        print("  " + f"{names[r]:>8}" + "".join(f"{v:>10}" for v in table[r]), file=out)
    mapped = np.array(order)[states]
    print(f"decoded regime correct at {100 * (mapped == truth).mean():.1f}% of the steps "
          f"(state k read as the regime it overlaps most: {[names[o] for o in order]})", file=out)
    print("\nfirst 60 steps (regime 0=calm 1=load 2=fault):", file=out)
    print("  truth:   " + "".join(str(v) for v in truth[:60]), file=out)
    print("  decoded: " + "".join(str(v) for v in mapped[:60]), file=out)
    print(f"\ntransition matrix (states 0-2):\n{_matrix(hmm.transmat_)}", file=out)
    hist = hmm.history_
    print(f"\nlog-likelihood per iteration ({hmm.n_iter_} iterations, converged={hmm.converged_}):", file=out)
    shown = list(range(min(len(hist), 8))) + ([len(hist) - 1] if len(hist) > 8 else [])
    for i in shown:
        print(f"  iter {i:>4}: {hist[i]:.8f}", file=out)
    return hmm


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="emkit", description="Expectation-Maximization for latent-variable models.")
    parser.add_argument("--version", action="version", version=f"emkit {__version__}")
    sub = parser.add_subparsers(dest="command")
    demo = sub.add_parser("demo", help="fit the bundled models to the bundled datasets and print summaries")
    demo.add_argument("--n-init", type=int, default=10, help="restarts per model (default 10)")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    demo.add_argument("--max-components", type=int, default=5, help="largest K tried by BIC (default 5)")
    args = parser.parse_args(argv)
    if args.command == "demo":
        demo_gaussian_mixture(args.n_init, args.seed, args.max_components)
        demo_latent_class(args.n_init, args.seed)
        demo_hmm(args.n_init, args.seed)
        return 0
    parser.print_help()
    return 1
