#!/usr/bin/env python
"""Benchmark: emkit.GaussianMixture against scikit-learn's GaussianMixture.

Both estimators fit the same float64 data from the same starting point (weights_init,
means_init, and covariances_init for emkit / the inverse covariances as precisions_init for
scikit-learn), with tol=0 so that both run exactly max_iter EM iterations.

Measured per workload:

* seconds per EM iteration, initialisation excluded: (t(max_iter=b) - t(max_iter=a)) / (b - a),
  median over --repeats repetitions, for scikit-learn (BLAS with its default threads, and BLAS
  limited to 1 thread), emkit with n_threads=1 and emkit with all threads;
* the average log-likelihood per row after b iterations for both (they run the same EM from the
  same start, so they should agree to round-off), and whether emkit's result is bit-identical
  for 1 and all threads;
* the peak resident memory of one fit of each library, in a fresh subprocess (ru_maxrss after
  the fit minus ru_maxrss after loading the data).

Run ``python bench/bench_gmm.py --help`` for the options and see bench/README.md.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402

#: name -> (n, d, k, covariance_type)
WORKLOADS: Dict[str, tuple] = {
    "full-1e6": (1_000_000, 16, 16, "full"),
    "diag-1e6": (1_000_000, 16, 16, "diag"),
    "full-2e5-d64": (200_000, 64, 32, "full"),
    "small": (100_000, 2, 3, "full"),
}

DATA_SEED = 20240601
INIT_SEED = 7
REG_COVAR = 1e-6  # both libraries' default, passed explicitly
#: Per-repeat spread of s/iter, (max - min) / median, above which a table cell is marked "*".
NOISY_SPREAD = 0.25


# --------------------------------------------------------------------------- data
def make_blobs(n: int, d: int, k: int, covariance_type: str, seed: int = DATA_SEED) -> np.ndarray:
    """n rows from a k-component Gaussian mixture in d dimensions (float64, rows in random
    component order). Component means ~ N(0, 3^2 I); covariances random full matrices
    (A A^T / d + 0.1 I, times a random scale) for "full", random variances for "diag"."""
    rng = np.random.default_rng(seed)
    weights = rng.uniform(0.5, 1.5, size=k)
    weights /= weights.sum()
    means = rng.normal(0.0, 3.0, size=(k, d))
    labels = rng.choice(k, size=n, p=weights)
    X = np.empty((n, d))
    for j in range(k):
        rows = np.flatnonzero(labels == j)
        z = rng.standard_normal((rows.size, d))
        if covariance_type == "diag":
            sd = np.sqrt(rng.uniform(0.2, 2.0, size=d))
            X[rows] = means[j] + z * sd
        else:
            A = rng.normal(size=(d, d)) / math.sqrt(d)
            cov = (A @ A.T + 0.1 * np.eye(d)) * rng.uniform(0.5, 1.5)
            X[rows] = means[j] + z @ np.linalg.cholesky(cov).T
    return X


def initial_values(X: np.ndarray, k: int, covariance_type: str, seed: int = INIT_SEED):
    """The common starting point: equal weights, k distinct random rows as means, and the data's
    covariance (full) or variances (diag) for every component."""
    rng = np.random.default_rng(seed)
    n, d = X.shape
    weights = np.full(k, 1.0 / k)
    means = X[np.sort(rng.choice(n, size=k, replace=False))].copy()
    if covariance_type == "full":
        cov = np.cov(X, rowvar=False, bias=True).reshape(d, d)
        covariances = np.repeat(cov[None], k, axis=0)
    elif covariance_type == "diag":
        covariances = np.repeat(X.var(axis=0)[None], k, axis=0)
    else:
        raise ValueError(f"unsupported covariance_type {covariance_type!r}")
    return weights, means, covariances


def sklearn_precisions(covariances: np.ndarray, covariance_type: str) -> np.ndarray:
    """scikit-learn's precisions_init for the same starting covariances."""
    if covariance_type == "full":
        return np.linalg.inv(covariances)
    if covariance_type == "diag":
        return 1.0 / covariances
    raise ValueError(f"unsupported covariance_type {covariance_type!r}")


# --------------------------------------------------------------------------- fitting
def fit_sklearn(X, init, k, covariance_type, max_iter, blas_threads: Optional[int] = None):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.mixture import GaussianMixture

    weights, means, covariances = init
    model = GaussianMixture(
        n_components=k, covariance_type=covariance_type, tol=0.0, reg_covar=REG_COVAR,
        max_iter=max_iter, n_init=1, weights_init=weights, means_init=means,
        precisions_init=sklearn_precisions(covariances, covariance_type),
    )
    with warnings.catch_warnings():
        # tol=0 never converges: sklearn warns at every fit.
        warnings.simplefilter("ignore", ConvergenceWarning)
        if blas_threads is None:
            model.fit(X)
        else:
            from threadpoolctl import threadpool_limits

            with threadpool_limits(limits=blas_threads, user_api="blas"):
                model.fit(X)
    return model


def fit_emkit(X, init, k, covariance_type, max_iter, n_threads: Optional[int]):
    import emkit

    weights, means, covariances = init
    model = emkit.GaussianMixture(
        n_components=k, covariance_type=covariance_type, tol=0.0, reg_covar=REG_COVAR,
        max_iter=max_iter, n_init=1, weights_init=weights, means_init=means,
        covariances_init=covariances, n_threads=n_threads,
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(X)
    model._bench_warnings = sorted({f"{w.category.__name__}: {w.message}" for w in caught})
    return model


# --------------------------------------------------------------------------- memory worker
def memory_worker_main(args: argparse.Namespace) -> None:
    """Runs in a fresh process: loads the saved data, then fits once (see _common.memory_worker)."""

    def load():
        if args.library == "sklearn":
            import sklearn.mixture  # noqa: F401
        else:
            import emkit  # noqa: F401
        arrays = C.load_arrays(args.data_dir, ["X", "weights", "means", "covariances"])
        return arrays

    def run(a):
        init = (a["weights"], a["means"], a["covariances"])
        if args.library == "sklearn":
            m = fit_sklearn(a["X"], init, args.k, args.covariance_type, args.max_iter)
        else:
            m = fit_emkit(a["X"], init, args.k, args.covariance_type, args.max_iter, None)
        return {"n_iter": int(m.n_iter_)}

    C.memory_worker(load, run)


def measure_memory(library: str, data_dir: str, k: int, covariance_type: str, max_iter: int) -> Dict[str, Any]:
    argv = [
        __file__, "--memory-worker", "--library", library, "--data-dir", data_dir,
        "--k", str(k), "--covariance-type", covariance_type, "--max-iter", str(max_iter),
    ]
    return C.measure_peak_rss(argv)


# --------------------------------------------------------------------------- one workload
def run_workload(name: str, n: int, d: int, k: int, covariance_type: str, args, configs) -> Dict[str, Any]:
    log = lambda msg: print(f"[{name}] {msg}", file=sys.stderr, flush=True)  # noqa: E731
    log(f"generating {n} x {d} data, k={k}, {covariance_type}")
    X = make_blobs(n, d, k, covariance_type)
    init = initial_values(X, k, covariance_type)
    a, b = args.iters

    fits = {}
    for cfg in configs:
        if cfg["library"] == "sklearn":
            fits[cfg["key"]] = (lambda bt: lambda it: fit_sklearn(X, init, k, covariance_type, it, bt))(
                cfg["blas_threads"])
        else:
            fits[cfg["key"]] = (lambda nt: lambda it: fit_emkit(X, init, k, covariance_type, it, nt))(
                cfg["n_threads"])

    # Warm-up on a slice: loads the libraries' code paths and thread pools before timing.
    m = min(n, 5000)
    for cfg in configs:
        if cfg["library"] == "sklearn":
            fit_sklearn(X[:m], init, k, covariance_type, 1, cfg["blas_threads"])
        else:
            fit_emkit(X[:m], init, k, covariance_type, 1, cfg["n_threads"])

    checks: Dict[str, Any] = {}

    def on_result(key: str, repeat: int, model: Any) -> None:
        log(f"repeat {repeat + 1}/{args.repeats}: {key} done")
        if repeat != 0:
            return
        entry: Dict[str, Any] = {"n_iter": int(model.n_iter_)}
        if key.startswith("sklearn"):
            if "sklearn" not in checks:  # one extra E-step, outside the timed region
                checks["sklearn"] = {
                    "n_iter": int(model.n_iter_),
                    "loglik_per_row": float(model.score(X)),
                    "lower_bound": float(model.lower_bound_),
                }
            return
        entry["loglik_per_row"] = model.loglik_ / n
        entry["previous_loglik_per_row"] = float(model.loglik_history_[-2]) / n if model.n_iter_ else None
        entry["internal_median_s_per_iter"] = (
            float(np.median(model.iteration_seconds_)) if len(model.iteration_seconds_) else None)
        entry["warnings"] = model._bench_warnings
        entry["params"] = (model.weights_.copy(), model.means_.copy(), model.covariances_.copy(), model.loglik_)
        checks[key] = entry

    log(f"timing max_iter={a} and {b}, {args.repeats} repeats")
    timing = C.interleaved_seconds_per_iteration(fits, a, b, args.repeats, on_result=on_result)

    # Correctness: sklearn vs emkit after b iterations; emkit 1 vs all threads.
    em_keys = [c["key"] for c in configs if c["library"] == "emkit"]
    ll_em = checks[em_keys[-1]]["loglik_per_row"] if em_keys else None
    ll_sk = checks.get("sklearn", {}).get("loglik_per_row")
    rel = abs(ll_sk - ll_em) / abs(ll_em) if ll_sk is not None and ll_em is not None else None
    identical = None
    if len(em_keys) >= 2:
        p0, p1 = checks[em_keys[0]]["params"], checks[em_keys[-1]]["params"]
        identical = all(np.array_equal(x, y) for x, y in zip(p0[:3], p1[:3])) and p0[3] == p1[3]
    for key in em_keys:
        checks[key].pop("params", None)
    if "sklearn" in checks and em_keys:
        e = checks[em_keys[-1]]
        checks["sklearn_vs_emkit"] = {
            "final_rel_diff": rel,
            "lower_bound_rel_diff": (
                abs(checks["sklearn"]["lower_bound"] - e["previous_loglik_per_row"]) / abs(e["previous_loglik_per_row"])
                if e.get("previous_loglik_per_row") is not None else None),
        }

    memory = {}
    if not args.no_memory:
        tmp = tempfile.mkdtemp(prefix="emkit-bench-gmm-")
        try:
            C.save_arrays(tmp, X=X, weights=init[0], means=init[1], covariances=init[2])
            for library in ("sklearn", "emkit"):
                if not any(c["library"] == library for c in configs):
                    continue
                log(f"peak memory of {library} (subprocess, max_iter={args.memory_iters})")
                try:
                    memory[library] = measure_memory(library, tmp, k, covariance_type, args.memory_iters)
                except Exception as exc:  # report, keep going
                    memory[library] = {"error": str(exc)}
                    log(f"memory measurement of {library} failed: {exc}")
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    return {
        "name": name, "n": n, "d": d, "k": k, "covariance_type": covariance_type,
        "data_mb": X.nbytes / 1e6,
        "timing": timing,
        "checks": checks,
        "emkit_threads_identical": identical,
        "memory": memory,
    }


# --------------------------------------------------------------------------- report
def s_cell(timing: Dict[str, Any], key: str) -> Optional[str]:
    t = timing.get(key)
    if t is None:
        return None
    per = t["per_repeat"]
    cell = C.fmt_seconds(t["s_per_iter"])
    med = t["s_per_iter"]
    if len(per) > 1 and med > 0 and (max(per) - min(per)) / med > NOISY_SPREAD:
        cell += "*"
    return cell


def ratio(timing, num: str, den: str) -> Optional[float]:
    if num not in timing or den not in timing:
        return None
    x, y = timing[num]["s_per_iter"], timing[den]["s_per_iter"]
    return x / y if y > 0 else None


def report(results: List[Dict[str, Any]], configs, n_threads_all: int, blas_default: str) -> str:
    keys = [c["key"] for c in configs]
    labels = {c["key"]: c["label"] for c in configs}
    headers = ["workload", "n x d", "k", "cov"] + [labels[k] for k in keys]
    ratio_cols = []
    if "sklearn-blas1" in keys and "emkit-1" in keys:
        ratio_cols.append(("sk(1)/em(1)", "sklearn-blas1", "emkit-1"))
    if "sklearn" in keys and "emkit-all" in keys:
        ratio_cols.append((f"sk/em({n_threads_all})", "sklearn", "emkit-all"))
    if "sklearn-blas1" in keys and "emkit-all" in keys:
        ratio_cols.append((f"sk(1)/em({n_threads_all})", "sklearn-blas1", "emkit-all"))
    if "emkit-1" in keys and "emkit-all" in keys:
        ratio_cols.append(("em speed-up", "emkit-1", "emkit-all"))
    headers += [c[0] for c in ratio_cols]
    rows = []
    for r in results:
        t = r["timing"]
        row = [r["name"], f"{r['n']:g} x {r['d']}", r["k"], r["covariance_type"]]
        row += [s_cell(t, key) for key in keys]
        row += [C.fmt(ratio(t, num, den), ".2f") for _, num, den in ratio_cols]
        rows.append(row)
    a, b = results[0]["timing"][keys[0]]["a"], results[0]["timing"][keys[0]]["b"]
    out = [C.format_table(headers, rows, title=(
        f"Seconds per EM iteration ((t[max_iter={b}] - t[max_iter={a}]) / {b - a}, median of "
        f"{len(results[0]['timing'][keys[0]]['per_repeat'])} repeats; lower is better)"))]
    out.append(f"  * per-repeat spread (max - min) above {NOISY_SPREAD:.0%} of the median: noisy")
    out.append(f"  sklearn = scikit-learn with its default BLAS threads ({blas_default}); "
               "sklearn BLAS=1: BLAS limited to 1 thread (threadpoolctl)")
    out.append("  sk/em = sklearn s/iter divided by emkit s/iter (> 1: emkit faster); "
               "em speed-up = emkit(1 thread) / emkit(all threads)")

    headers2 = ["workload", "iters", "loglik/row sklearn", "loglik/row emkit", "rel. diff",
                "emkit 1 = all thr", "data MB", "peak MB sklearn", "peak MB emkit"]
    rows2 = []
    for r in results:
        ch = r["checks"]
        em_key = "emkit-all" if "emkit-all" in ch else ("emkit-1" if "emkit-1" in ch else None)
        ll_sk = ch.get("sklearn", {}).get("loglik_per_row")
        ll_em = ch[em_key]["loglik_per_row"] if em_key else None
        rel = ch.get("sklearn_vs_emkit", {}).get("final_rel_diff")
        ident = r["emkit_threads_identical"]
        mem = r["memory"]

        def mb(lib):
            m = mem.get(lib)
            if not m:
                return None
            return "error" if "error" in m else f"{m['delta_mb']:.1f}"

        iters = ch.get("sklearn", {}).get("n_iter") or (ch[em_key]["n_iter"] if em_key else None)
        rows2.append([
            r["name"], iters, C.fmt(ll_sk, ".10g"), C.fmt(ll_em, ".10g"), C.fmt(rel, ".1e"),
            None if ident is None else ("yes" if ident else "NO"),
            f"{r['data_mb']:.1f}", mb("sklearn"), mb("emkit"),
        ])
    out.append("")
    out.append(C.format_table(headers2, rows2, title=(
        "Correctness and memory (log-likelihood per row after the same iterations, same start; "
        "peak RSS of one fit above the loaded data, fresh process)")))
    warn_lines = []
    for r in results:
        for key, ch in r["checks"].items():
            for w in (ch.get("warnings") or []) if isinstance(ch, dict) else []:
                warn_lines.append(f"  {r['name']} {key}: {w}")
    if warn_lines:
        out.append("emkit warnings during the fits:")
        out.extend(sorted(set(warn_lines)))
    return "\n".join(out)


# --------------------------------------------------------------------------- main
def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="divide every n by 10 (smoke run)")
    p.add_argument("--workloads", nargs="+", metavar="NAME",
                   help=f"subset of {', '.join(WORKLOADS)} (comma- or space-separated; default: all)")
    p.add_argument("--repeats", type=int, default=3, help="repetitions per measurement (default 3)")
    p.add_argument("--iters", type=int, nargs=2, default=(2, 7), metavar=("A", "B"),
                   help="the two max_iter values whose time difference gives s/iter (default 2 7)")
    p.add_argument("--sklearn-blas", default="default,1", metavar="LIST",
                   help="scikit-learn BLAS thread settings to time: 'default' (no limit) and/or 1 "
                        "(threadpoolctl limit); comma-separated, 'none' to skip sklearn's timing "
                        "(default: default,1)")
    p.add_argument("--no-emkit-1", action="store_true", help="skip emkit with n_threads=1")
    p.add_argument("--no-memory", action="store_true", help="skip the peak-memory subprocesses")
    p.add_argument("--memory-iters", type=int, default=2,
                   help="max_iter of the fit whose peak memory is measured (default 2)")
    p.add_argument("--output", type=Path, default=C.RESULTS_DIR,
                   help="directory of the JSON results (default bench/results)")
    # Internal: the memory worker.
    p.add_argument("--memory-worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--library", choices=("sklearn", "emkit"), help=argparse.SUPPRESS)
    p.add_argument("--data-dir", help=argparse.SUPPRESS)
    p.add_argument("--k", type=int, help=argparse.SUPPRESS)
    p.add_argument("--covariance-type", help=argparse.SUPPRESS)
    p.add_argument("--max-iter", type=int, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.memory_worker:
        return args
    if args.workloads:
        names = [w for item in args.workloads for w in item.split(",") if w]
        unknown = [w for w in names if w not in WORKLOADS]
        if unknown:
            p.error(f"unknown workloads {unknown}; choose from {list(WORKLOADS)}")
        args.workloads = names
    else:
        args.workloads = list(WORKLOADS)
    a, b = args.iters
    if not b > a >= 1:
        p.error("--iters A B: expected 1 <= A < B")
    if args.repeats < 1:
        p.error("--repeats: expected >= 1")
    blas = [s.strip() for s in args.sklearn_blas.split(",") if s.strip()]
    if blas == ["none"]:
        blas = []
    for s in blas:
        if s != "default" and not s.isdigit():
            p.error(f"--sklearn-blas: expected 'default', a thread count or 'none', got {s!r}")
    args.sklearn_blas = blas
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.memory_worker:
        memory_worker_main(args)
        return 0

    import emkit

    try:
        import sklearn  # noqa: F401
        import sklearn.mixture  # noqa: F401
        import scipy.linalg  # noqa: F401  (loads scipy's BLAS too, so threadpoolctl sees it)
    except ImportError:
        print("scikit-learn is not installed: pip install scikit-learn threadpoolctl", file=sys.stderr)
        return 2
    env = C.environment(["emkit", "sklearn", "scipy", "threadpoolctl"])
    try:
        n_threads_all = int(emkit._core.max_threads())
        openmp = bool(emkit._core.openmp_enabled())
    except AttributeError:
        n_threads_all, openmp = os.cpu_count() or 1, None
    env["emkit_openmp"] = openmp
    env["emkit_max_threads"] = n_threads_all
    blas_pools = [p for p in env["threadpools"] if p.get("user_api") == "blas"]
    blas_default = ", ".join(sorted({f"{p['num_threads']}" for p in blas_pools})) + " threads" if blas_pools else "unknown"
    if "1" in args.sklearn_blas and not blas_pools and not env["packages"].get("threadpoolctl"):
        print("threadpoolctl is not installed: skipping sklearn with BLAS=1", file=sys.stderr)
        args.sklearn_blas = [s for s in args.sklearn_blas if s == "default"]

    configs = []
    for s in args.sklearn_blas:
        if s == "default":
            configs.append({"key": "sklearn", "library": "sklearn", "blas_threads": None,
                            "label": "sklearn"})
        else:
            t = int(s)
            configs.append({"key": f"sklearn-blas{t}", "library": "sklearn", "blas_threads": t,
                            "label": f"sklearn BLAS={t}"})
    if not args.no_emkit_1:
        configs.append({"key": "emkit-1", "library": "emkit", "n_threads": 1, "label": "emkit 1 thr"})
    configs.append({"key": "emkit-all", "library": "emkit", "n_threads": None,
                    "label": f"emkit {n_threads_all} thr"})

    pk = env["packages"]
    print(f"emkit {pk.get('emkit')} (OpenMP {'on' if openmp else 'off'}, {n_threads_all} threads), "
          f"scikit-learn {pk.get('sklearn')}, numpy {pk.get('numpy')}, scipy {pk.get('scipy')}, "
          f"Python {env['python']}")
    print(f"CPU: {env['processor']}, {env['cpu_count']} logical cores")
    print(f"thread pools: {C.blas_threads_summary(env['threadpools'])}")
    if env["thread_env"]:
        print(f"thread environment: {env['thread_env']}")
    print(f"float64, tol=0, reg_covar={REG_COVAR:g}; s/iter from max_iter={args.iters[0]} and "
          f"{args.iters[1]}; {args.repeats} repeats{'; --quick: n / 10' if args.quick else ''}")
    print(flush=True)

    results = []
    for name in args.workloads:
        n, d, k, cov = WORKLOADS[name]
        if args.quick:
            n //= 10
        results.append(run_workload(name, n, d, k, cov, args, configs))

    table = report(results, configs, n_threads_all, blas_default)
    print(table)
    payload = {
        "benchmark": "gmm",
        "argv": sys.argv[1:],
        "quick": args.quick,
        "repeats": args.repeats,
        "iters": list(args.iters),
        "reg_covar": REG_COVAR,
        "data_seed": DATA_SEED,
        "init_seed": INIT_SEED,
        "configs": configs,
        "environment": env,
        "results": results,
        "table": table,
    }
    path = C.write_results("gmm", payload, args.output)
    print(f"\nresults written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
