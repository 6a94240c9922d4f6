#!/usr/bin/env python
"""Benchmark: emkit.GaussianMixture against scikit-learn's GaussianMixture.

Both estimators fit the same float64 data from the same starting point (weights_init,
means_init, and covariances_init for emkit / the inverse covariances as precisions_init for
scikit-learn), with tol=0 so that both run exactly max_iter EM iterations.

Measured per workload:

* seconds per EM iteration, initialisation excluded: (t(max_iter=b) - t(max_iter=a)) / (b - a),
  median over --repeats repetitions (each in a fresh process), for scikit-learn (BLAS with its
  default threads, and BLAS limited to 1 thread), emkit with n_threads=1 and emkit with all
  threads;
* the average log-likelihood per row after b iterations for both (they run the same EM from the
  same start, so they should agree to round-off), and whether emkit's result is bit-identical
  for 1 and all threads;
* the peak resident memory of one fit of each library, in a fresh subprocess (ru_maxrss after
  the fit minus ru_maxrss after loading the data).

Run ``python bench/bench_gmm.py --help`` for the options and see bench/README.md.
"""

from __future__ import annotations

import argparse
import hashlib
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
#: Cores used by other processes during a timing run above which the output warns.
BUSY_MACHINE = 0.2


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
        n_components=k,
        covariance_type=covariance_type,
        tol=0.0,
        reg_covar=REG_COVAR,
        max_iter=max_iter,
        n_init=1,
        weights_init=weights,
        means_init=means,
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
        n_components=k,
        covariance_type=covariance_type,
        tol=0.0,
        reg_covar=REG_COVAR,
        max_iter=max_iter,
        n_init=1,
        weights_init=weights,
        means_init=means,
        covariances_init=covariances,
        n_threads=n_threads,
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(X)
    model._bench_warnings = sorted({f"{w.category.__name__}: {w.message}" for w in caught})
    return model


# --------------------------------------------------------------------------- workers
# Every measurement runs in a fresh process that loads the data saved by the parent and imports
# only the library it measures (see _common.run_worker).
ARRAYS = ["X", "weights", "means", "covariances"]


def _load(args: argparse.Namespace):
    if args.library == "sklearn":
        import sklearn.mixture  # noqa: F401
    else:
        import emkit  # noqa: F401
    a = C.load_arrays(args.data_dir, ARRAYS)
    return a["X"], (a["weights"], a["means"], a["covariances"])


def _worker_fit(args: argparse.Namespace, X, init, max_iter: int):
    if args.library == "sklearn":
        blas = None if args.blas_threads == "default" else int(args.blas_threads)
        return fit_sklearn(X, init, args.k, args.covariance_type, max_iter, blas)
    n_threads = None if args.n_threads == "all" else int(args.n_threads)
    return fit_emkit(X, init, args.k, args.covariance_type, max_iter, n_threads)


def _digest(*arrays) -> str:
    h = hashlib.sha256()
    for x in arrays:
        h.update(np.ascontiguousarray(x, dtype=np.float64).tobytes())
    return h.hexdigest()


def _inspect(args: argparse.Namespace, X: np.ndarray, model: Any) -> Dict[str, Any]:
    """Facts about the model fitted with max_iter=b (outside the timed region)."""
    n = X.shape[0]
    info: Dict[str, Any] = {"n_iter": int(model.n_iter_)}
    if args.library == "sklearn":
        # lower_bound_: the mean log-likelihood at the parameters before the last M-step.
        info["lower_bound"] = float(model.lower_bound_)
        if args.score:  # one more E-step: the mean loglik at the final parameters
            info["loglik_per_row"] = float(model.score(X))
        return info
    info["loglik_per_row"] = float(model.loglik_) / n
    info["previous_loglik_per_row"] = (
        float(model.loglik_history_[-2]) / n if model.n_iter_ else None
    )
    secs = np.asarray(model.iteration_seconds_)
    info["internal_median_s_per_iter"] = float(np.median(secs)) if secs.size else None
    info["warnings"] = model._bench_warnings
    info["digest"] = _digest(model.weights_, model.means_, model.covariances_, [model.loglik_])
    return info


def time_worker_main(args: argparse.Namespace) -> None:
    a, b = args.iters
    C.timing_worker(
        load=lambda: _load(args),
        # Warm-up: one iteration on a slice loads the code paths and starts the thread pools.
        warmup=lambda L: _worker_fit(args, L[0][: min(len(L[0]), 5000)], L[1], 1),
        fit=lambda L, it: _worker_fit(args, L[0], L[1], it),
        a=a,
        b=b,
        repeats=args.worker_repeats,
        inspect=lambda L, model: _inspect(args, L[0], model),
    )


def memory_worker_main(args: argparse.Namespace) -> None:
    def run(L):
        return {"n_iter": int(_worker_fit(args, L[0], L[1], args.max_iter).n_iter_)}

    C.memory_worker(lambda: _load(args), run)


def _worker_argv(
    kind: str, library: str, data_dir: str, k: int, covariance_type: str, extra: List[str]
) -> List[str]:
    return [
        __file__,
        kind,
        "--library",
        library,
        "--data-dir",
        data_dir,
        "--k",
        str(k),
        "--covariance-type",
        covariance_type,
        *extra,
    ]


# --------------------------------------------------------------------------- one workload
def run_workload(
    name: str, n: int, d: int, k: int, covariance_type: str, args, configs
) -> Dict[str, Any]:
    log = lambda msg: print(f"[{name}] {msg}", file=sys.stderr, flush=True)  # noqa: E731
    log(f"generating {n} x {d} data, k={k}, {covariance_type}")
    X = make_blobs(n, d, k, covariance_type)
    init = initial_values(X, k, covariance_type)
    data_mb = X.nbytes / 1e6
    a, b = args.iters
    tmp = tempfile.mkdtemp(prefix="emkit-bench-gmm-")
    try:
        C.save_arrays(tmp, X=X, weights=init[0], means=init[1], covariances=init[2])
        del X
        argvs = {}
        # sklearn's final log-likelihood (one more E-step) is needed once: preferably from a
        # configuration with limited BLAS threads (the quicker one where threaded BLAS is slow).
        sk_configs = [c for c in configs if c["library"] == "sklearn"]
        limited = [c for c in sk_configs if c["blas_threads"] != "default"]
        scored_key = (limited or sk_configs or [{"key": None}])[0]["key"]
        for cfg in configs:
            extra = ["--iters", str(a), str(b), "--worker-repeats", "1"]
            if cfg["library"] == "sklearn":
                extra += ["--blas-threads", cfg["blas_threads"]]
                if cfg["key"] == scored_key:
                    extra.append("--score")
            else:
                extra += ["--n-threads", cfg["n_threads"]]
            argvs[cfg["key"]] = _worker_argv(
                "--time-worker", cfg["library"], tmp, k, covariance_type, extra
            )
        log(f"timing max_iter={a} and {b}, {args.repeats} repeats, each in a fresh process")
        timing = C.subprocess_seconds_per_iteration(
            argvs, args.repeats, timeout=args.timeout, progress=log
        )

        memory = {}
        if not args.no_memory:
            for library in ("sklearn", "emkit"):
                if not any(c["library"] == library for c in configs):
                    continue
                log(f"peak memory of {library} (fresh process, max_iter={args.memory_iters})")
                argv = _worker_argv(
                    "--memory-worker",
                    library,
                    tmp,
                    k,
                    covariance_type,
                    [
                        "--max-iter",
                        str(args.memory_iters),
                        "--blas-threads",
                        "default",
                        "--n-threads",
                        "all",
                    ],
                )
                try:
                    memory[library] = C.measure_peak_rss(argv, timeout=args.timeout)
                except C.WorkerError as exc:  # report, keep going
                    memory[library] = {"error": str(exc)}
                    log(f"memory measurement of {library} failed: {str(exc).splitlines()[0]}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    # Correctness: sklearn vs emkit after b iterations; emkit 1 vs all threads.
    def info(key):
        return (timing.get(key) or {}).get("info") or {}

    sk_key = next(
        (
            c["key"]
            for c in configs
            if c["library"] == "sklearn" and info(c["key"]).get("loglik_per_row") is not None
        ),
        None,
    )
    em_keys = [c["key"] for c in configs if c["library"] == "emkit" and info(c["key"])]
    em_key = "emkit-all" if "emkit-all" in em_keys else (em_keys[0] if em_keys else None)
    checks: Dict[str, Any] = {
        "sklearn_loglik_per_row": info(sk_key).get("loglik_per_row") if sk_key else None,
        "emkit_loglik_per_row": info(em_key).get("loglik_per_row") if em_key else None,
        "iterations": info(em_key).get("n_iter")
        if em_key
        else (info(sk_key).get("n_iter") if sk_key else None),
    }
    ll_sk, ll_em = checks["sklearn_loglik_per_row"], checks["emkit_loglik_per_row"]
    checks["final_rel_diff"] = (
        abs(ll_sk - ll_em) / abs(ll_em) if ll_sk is not None and ll_em is not None else None
    )
    if sk_key and em_key and info(em_key).get("previous_loglik_per_row") is not None:
        prev = info(em_key)["previous_loglik_per_row"]
        checks["lower_bound_rel_diff"] = abs(info(sk_key)["lower_bound"] - prev) / abs(prev)
    digests = {info(key).get("digest") for key in em_keys}
    checks["emkit_threads_identical"] = (len(digests) == 1) if len(em_keys) >= 2 else None
    checks["n_iter"] = {key: info(key).get("n_iter") for key in timing}
    checks["emkit_warnings"] = {
        key: info(key).get("warnings") for key in em_keys if info(key).get("warnings")
    }

    return {
        "name": name,
        "n": n,
        "d": d,
        "k": k,
        "covariance_type": covariance_type,
        "data_mb": data_mb,
        "timing": timing,
        "checks": checks,
        "memory": memory,
    }


# --------------------------------------------------------------------------- report
def s_cell(timing: Dict[str, Any], key: str) -> Optional[str]:
    t = timing.get(key)
    if t is None:
        return None
    if t.get("error") and not t["per_repeat"]:
        return "timeout" if "timed out" in t["error"] else "failed"
    per, med = t["per_repeat"], t["s_per_iter"]
    cell = C.fmt_seconds(med)
    if len(per) > 1 and med > 0 and (max(per) - min(per)) / med > NOISY_SPREAD:
        cell += "*"
    if t.get("error"):
        cell += "!"
    return cell


def short_count(n: int) -> str:
    """1000000 -> "1e6", 200000 -> "2e5", 12345 -> "12,345"."""
    mantissa, exponent = f"{n:.0e}".split("e")
    if int(mantissa) * 10 ** int(exponent) == n and n >= 1000:
        return f"{mantissa}e{int(exponent)}"
    return f"{n:,}"


def other_load(timing: Dict[str, Any]) -> Optional[float]:
    values = [x for t in timing.values() for x in (t.get("other_cores") or []) if x is not None]
    return max(values) if values else None


def ratio(timing, num: str, den: str) -> Optional[float]:
    x = (timing.get(num) or {}).get("s_per_iter")
    y = (timing.get(den) or {}).get("s_per_iter")
    return x / y if x is not None and y is not None and y > 0 else None


def report(
    results: List[Dict[str, Any]],
    configs,
    n_threads_all: int,
    blas_default: str,
    repeats: int,
    iters,
) -> str:
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
    headers += [c[0] for c in ratio_cols] + ["other load"]
    rows = []
    for r in results:
        t = r["timing"]
        row = [r["name"], f"{short_count(r['n'])} x {r['d']}", r["k"], r["covariance_type"]]
        row += [s_cell(t, key) for key in keys]
        row += [C.fmt(ratio(t, num, den), ".2f") for _, num, den in ratio_cols]
        row.append(C.fmt(other_load(t), ".2f"))
        rows.append(row)
    a, b = iters
    out = [
        C.format_table(
            headers,
            rows,
            title=(
                f"Seconds per EM iteration ((t[max_iter={b}] - t[max_iter={a}]) / {b - a}, "
                "median of "
                f"{repeats} repeats, each in a fresh process; lower is better)"
            ),
        )
    ]
    notes = [f"  * per-repeat spread (max - min) above {NOISY_SPREAD:.0%} of the median: noisy"]
    if any((r["timing"].get(k) or {}).get("error") for r in results for k in keys):
        notes.append(
            "  ! some repeats failed or timed out (see the JSON); timeout/failed: none finished"
        )
    sk_notes = []
    if "sklearn" in keys:
        sk_notes.append(f"sklearn = scikit-learn with its default BLAS threads ({blas_default})")
    for c in configs:
        if c["library"] == "sklearn" and c["blas_threads"] != "default":
            sk_notes.append(
                f"{c['label']}: scikit-learn with BLAS limited to {c['blas_threads']} "
                "thread(s) (threadpoolctl)"
            )
    if sk_notes:
        notes.append("  " + "; ".join(sk_notes))
    notes.append(
        "  sk/em = sklearn s/iter divided by emkit s/iter (> 1: emkit faster); "
        "em speed-up = emkit(1 thread) / emkit(all threads)"
    )
    notes.append(
        "  other load = the most cores that other processes kept busy during any timing "
        "run of the workload (0 on a quiet machine)"
    )
    loaded = [r["name"] for r in results if (other_load(r["timing"]) or 0.0) > BUSY_MACHINE]
    if loaded:
        notes.append(
            f"  WARNING: other processes used more than {BUSY_MACHINE} cores while timing "
            f"{', '.join(loaded)}: those times are inflated and noisy (threaded ones most)"
        )
    out.extend(notes)

    headers2 = [
        "workload",
        "iters",
        "loglik/row sklearn",
        "loglik/row emkit",
        "rel. diff",
        "emkit 1 = all thr",
        "data MB",
        "peak MB sklearn",
        "peak MB emkit",
    ]
    rows2 = []
    for r in results:
        ch = r["checks"]
        ident = ch["emkit_threads_identical"]
        mem = r["memory"]

        def mb(lib, mem=mem):
            m = mem.get(lib)
            if not m:
                return None
            return "error" if "error" in m else f"{m['delta_mb']:.1f}"

        rows2.append(
            [
                r["name"],
                ch["iterations"],
                C.fmt(ch["sklearn_loglik_per_row"], ".10g"),
                C.fmt(ch["emkit_loglik_per_row"], ".10g"),
                C.fmt(ch["final_rel_diff"], ".1e"),
                None if ident is None else ("yes" if ident else "NO"),
                f"{r['data_mb']:.1f}",
                mb("sklearn"),
                mb("emkit"),
            ]
        )
    out.append("")
    out.append(
        C.format_table(
            headers2,
            rows2,
            title=(
                "Correctness and memory (mean log-likelihood per row after the same iterations "
                "from the "
                "same start; peak RSS of one fit above the loaded data, fresh process, MB)"
            ),
        )
    )
    warn_lines = sorted(
        {
            f"  {r['name']} {key}: {w}"
            for r in results
            for key, ws in r["checks"]["emkit_warnings"].items()
            for w in ws
        }
    )
    if warn_lines:
        out.append("emkit warnings during the fits:")
        out.extend(warn_lines)
    bad_iters = [
        f"{r['name']} {key}: {it}"
        for r in results
        for key, it in r["checks"]["n_iter"].items()
        if it is not None and it != b
    ]
    if bad_iters:
        out.append(
            f"WARNING: fits with max_iter={b} that did not run {b} iterations: "
            + ", ".join(bad_iters)
        )
    return "\n".join(out)


# --------------------------------------------------------------------------- main
def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--quick", action="store_true", help="divide every n by 10 (smoke run)")
    p.add_argument(
        "--workloads",
        nargs="+",
        metavar="NAME",
        help=f"subset of {', '.join(WORKLOADS)} (comma- or space-separated; default: all)",
    )
    p.add_argument("--repeats", type=int, default=3, help="repetitions per measurement (default 3)")
    p.add_argument(
        "--iters",
        type=int,
        nargs=2,
        default=(2, 7),
        metavar=("A", "B"),
        help="the two max_iter values whose time difference gives s/iter (default 2 7)",
    )
    p.add_argument(
        "--sklearn-blas",
        default="default,1",
        metavar="LIST",
        help="scikit-learn BLAS thread settings to time: 'default' (no limit) and/or a "
        "thread count (threadpoolctl limit); comma-separated, 'none' to skip "
        "scikit-learn (default: default,1)",
    )
    p.add_argument("--no-emkit-1", action="store_true", help="skip emkit with n_threads=1")
    p.add_argument("--no-memory", action="store_true", help="skip the peak-memory measurements")
    p.add_argument(
        "--memory-iters",
        type=int,
        default=2,
        help="max_iter of the fit whose peak memory is measured (default 2)",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=1800.0,
        help="seconds after which one worker process (one repetition of one "
        "configuration) is stopped and the configuration dropped (default 1800)",
    )
    p.add_argument(
        "--output",
        type=Path,
        default=C.RESULTS_DIR,
        help="directory of the JSON results (default bench/results)",
    )
    # Internal: the worker processes.
    p.add_argument("--time-worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--memory-worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--library", choices=("sklearn", "emkit"), help=argparse.SUPPRESS)
    p.add_argument("--data-dir", help=argparse.SUPPRESS)
    p.add_argument("--k", type=int, help=argparse.SUPPRESS)
    p.add_argument("--covariance-type", help=argparse.SUPPRESS)
    p.add_argument("--max-iter", type=int, help=argparse.SUPPRESS)
    p.add_argument("--blas-threads", default="default", help=argparse.SUPPRESS)
    p.add_argument("--n-threads", default="all", help=argparse.SUPPRESS)
    p.add_argument("--worker-repeats", type=int, default=1, help=argparse.SUPPRESS)
    p.add_argument("--score", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.memory_worker or args.time_worker:
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
        if s != "default" and not (s.isdigit() and int(s) >= 1):
            p.error(f"--sklearn-blas: expected 'default', a thread count or 'none', got {s!r}")
    args.sklearn_blas = blas
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.memory_worker:
        memory_worker_main(args)
        return 0
    if args.time_worker:
        time_worker_main(args)
        return 0

    import emkit

    if args.sklearn_blas:
        try:
            import scipy.linalg  # noqa: F401  (loads scipy's BLAS too, so threadpoolctl sees it)
            import sklearn.mixture  # noqa: F401
        except ImportError:
            print(
                "scikit-learn is not installed: pip install scikit-learn threadpoolctl "
                "(or pass --sklearn-blas none)",
                file=sys.stderr,
            )
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
    blas_default = (
        " / ".join(sorted({str(p["num_threads"]) for p in blas_pools})) + " threads"
        if blas_pools
        else "unknown: threadpoolctl not installed"
    )
    if (
        any(s != "default" for s in args.sklearn_blas)
        and env["packages"].get("threadpoolctl") is None
    ):
        print(
            "threadpoolctl is not installed: "
            "timing scikit-learn with its default BLAS threads only",
            file=sys.stderr,
        )
        args.sklearn_blas = [s for s in args.sklearn_blas if s == "default"]

    configs = []
    for s in args.sklearn_blas:
        if s == "default":
            configs.append(
                {
                    "key": "sklearn",
                    "library": "sklearn",
                    "blas_threads": "default",
                    "label": "sklearn",
                }
            )
        else:
            configs.append(
                {
                    "key": f"sklearn-blas{s}",
                    "library": "sklearn",
                    "blas_threads": s,
                    "label": f"sklearn BLAS={s}",
                }
            )
    if not args.no_emkit_1:
        configs.append(
            {"key": "emkit-1", "library": "emkit", "n_threads": "1", "label": "emkit 1 thr"}
        )
    configs.append(
        {
            "key": "emkit-all",
            "library": "emkit",
            "n_threads": "all",
            "label": f"emkit {n_threads_all} thr",
        }
    )

    pk = env["packages"]
    print(
        f"emkit {pk.get('emkit')} (OpenMP {'on' if openmp else 'off'}, {n_threads_all} threads), "
        f"scikit-learn {pk.get('sklearn')}, numpy {pk.get('numpy')}, scipy {pk.get('scipy')}, "
        f"threadpoolctl {pk.get('threadpoolctl')}, Python {env['python']}"
    )
    print(f"CPU: {env['processor']}, {env['cpu_count']} logical cores")
    print(
        "thread pools (threadpoolctl.threadpool_info): "
        + C.blas_threads_summary(env["threadpools"])
    )
    if env["thread_env"]:
        print(f"thread environment: {env['thread_env']}")
    load = C.machine_load()
    env["load_at_start"] = load
    if load.get("other_cores") is not None:
        print(
            "machine load at start: load average "
            + ", ".join(f"{x:.2f}" for x in load["loadavg"])
            + "; "
            f"other processes busy on {load['other_cores']:.2f} cores"
            + (
                " -- NOT QUIET: times will be inflated"
                if load["other_cores"] > BUSY_MACHINE
                else ""
            )
        )
    print(
        f"float64, tol=0, reg_covar={REG_COVAR:g}; s/iter from max_iter={args.iters[0]} and "
        f"{args.iters[1]}; {args.repeats} repeats{'; --quick: n / 10' if args.quick else ''}"
    )
    print(flush=True)

    results = []
    for name in args.workloads:
        n, d, k, cov = WORKLOADS[name]
        if args.quick:
            n //= 10
        results.append(run_workload(name, n, d, k, cov, args, configs))

    table = report(results, configs, n_threads_all, blas_default, args.repeats, args.iters)
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
