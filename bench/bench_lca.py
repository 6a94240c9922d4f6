#!/usr/bin/env python
"""Benchmark: emkit.LatentClass against StepMix (categorical measurement model).

Both libraries fit the same integer-coded data from the same starting point, with their
tolerances set so that both run exactly max_iter EM iterations:

* emkit: ``LatentClass(tol=0, max_iter=m, weights_init=..., probs_init=[K x R_j arrays])``;
* StepMix: ``StepMix(measurement="categorical", abs_tol=0, rel_tol=0, max_iter=m, n_init=1)``
  with its random initialisation replaced by the same weights and response probabilities (a
  subclass overrides ``StepMix._initialize_parameters``, which StepMix calls once per
  ``n_init`` before its EM loop; the loop itself, E-step and M-step, is StepMix's own).

Measured:

* seconds per EM iteration, initialisation excluded: (t(max_iter=B) - t(max_iter=A)) / (B - A),
  median over --repeats repetitions, each in a fresh process, for StepMix (BLAS with its default
  threads, and BLAS limited to 1 thread), emkit with n_threads=1 and emkit with all threads.
  A and B differ between the libraries (StepMix 5 -> 25, emkit 10 -> 410 by default): an emkit
  iteration is short next to the constant cost of its fit (fit statistics, standard errors), so
  it needs more iterations for the difference to stand out of the noise;
* the mean log-likelihood per row after the same number of iterations (--check-iters, default
  StepMix's B) for every configuration (the same EM from the same start: they should agree to
  round-off), the largest parameter difference, and whether emkit's result is bit-identical for
  1 and all threads;
* the peak resident memory of one fit of each configuration, in a fresh process, and of emkit's
  EM alone (its compiled core on the compressed patterns).

Run ``python bench/bench_lca.py --help`` for the options and see bench/README.md.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import statistics
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402

#: The workload of the project issue: categorical measurement, n rows, J items with R categories,
#: K classes. --quick divides n by 10.
N_ROWS = 100_000
N_ITEMS = 20
N_CATS = 4
N_CLASSES = 6

DATA_SEED = 20240611
INIT_SEED = 11
#: Per-repeat spread of s/iter, (max - min) / median, above which a table cell is marked "*".
NOISY_SPREAD = 0.25
#: Iterations of the cross-check run of emkit's compiled EM loop (median of its own timer).
CORE_TIMER_ITERS = 100
#: CPU cores kept busy by other processes above which the output warns (as bench_gmm.py).
BUSY_MACHINE = 0.2


# --------------------------------------------------------------------------- data
def make_lca_data(n: int, J: int, R: int, K: int, seed: int = DATA_SEED):
    """n rows of J items with R categories from a random K-class latent class model.

    Class weights ~ uniform(0.5, 1.5) normalised; each class's response probabilities for each
    item ~ Dirichlet(0.5, ..., 0.5) (fairly separated classes). Returns (codes int32 n x J,
    true weights, true probs K x J x R)."""
    rng = np.random.default_rng(seed)
    weights = rng.uniform(0.5, 1.5, size=K)
    weights /= weights.sum()
    probs = rng.dirichlet(np.full(R, 0.5), size=(K, J))  # K x J x R
    labels = rng.choice(K, size=n, p=weights)
    cum = np.cumsum(probs, axis=2)
    cum[..., -1] = 1.0
    codes = np.empty((n, J), dtype=np.int32)
    for j in range(J):
        u = rng.random(n)
        codes[:, j] = (u[:, None] > cum[labels, j, :]).sum(axis=1)
    return codes, weights, probs


def initial_values(J: int, R: int, K: int, seed: int = INIT_SEED):
    """The common starting point (emkit's own kind of random start): equal class weights and
    Dirichlet(1) response probabilities. Returns (weights (K,), probs K x J x R)."""
    rng = np.random.default_rng(seed)
    weights = np.full(K, 1.0 / K)
    probs = rng.dirichlet(np.ones(R), size=(K, J))
    return weights, probs


# --------------------------------------------------------------------------- fitting
def fit_emkit(X, init, K: int, R: int, max_iter: int, n_threads: Optional[int]):
    import emkit

    weights, probs = init
    J = X.shape[1]
    model = emkit.LatentClass(
        K,
        n_categories=[R] * J,
        tol=0.0,
        max_iter=max_iter,
        n_init=1,
        weights_init=weights,
        probs_init=[probs[:, j, :] for j in range(J)],
        n_threads=n_threads,
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(X)
    model._bench_warnings = sorted({f"{w.category.__name__}: {w.message}" for w in caught})
    return model


_STEPMIX_CLASS = None


def stepmix_class():
    """StepMix with its random start replaced by given parameters (``_bench_start``).

    StepMix.em() calls ``self._initialize_parameters(X, random_state)`` once per n_init, then
    runs its EM loop (E-step, M-step, stopping test). The override builds the measurement model
    without running its M-step on random responsibilities and sets the class weights and the
    categorical response probabilities ``pis`` (K x (J * max_n_outcomes), item-major one-hot
    columns, as StepMix's Multinoulli stores them)."""
    global _STEPMIX_CLASS
    if _STEPMIX_CLASS is None:
        from stepmix.stepmix import StepMix

        class StepMixFromStart(StepMix):
            def _initialize_parameters(self, X, random_state):
                weights, probs = self._bench_start
                K, J, R = probs.shape
                self.weights_ = np.array(weights, dtype=np.float64)
                self._initialize_parameters_measurement(X, random_state, init_emission=False)
                self._mm.set_parameters(
                    {
                        "pis": np.ascontiguousarray(probs.reshape(K, J * R), dtype=np.float64),
                        "max_n_outcomes": R,
                        "total_outcomes": J * R,
                    }
                )

        _STEPMIX_CLASS = StepMixFromStart
    return _STEPMIX_CLASS


def fit_stepmix(X, init, K: int, R: int, max_iter: int, blas_threads: Optional[int] = None):
    from sklearn.exceptions import ConvergenceWarning

    model = stepmix_class()(
        n_components=K,
        measurement="categorical",
        n_init=1,
        max_iter=max_iter,
        abs_tol=0.0,
        rel_tol=0.0,
        random_state=0,
        verbose=0,
        progress_bar=0,
    )
    model._bench_start = init
    with warnings.catch_warnings():
        # abs_tol=rel_tol=0 never converges: StepMix warns at every fit.
        warnings.simplefilter("ignore", ConvergenceWarning)
        if blas_threads is None:
            model.fit(X)
        else:
            from threadpoolctl import threadpool_limits

            with threadpool_limits(limits=blas_threads, user_api="blas"):
                model.fit(X)
    return model


# --------------------------------------------------------------------------- workers
# Every measurement runs in a fresh process that loads the data saved by the parent and imports
# only the library it measures (see _common.run_worker).
ARRAYS = ["X", "weights", "probs"]


def _load(args: argparse.Namespace):
    if args.library == "stepmix":
        import stepmix.stepmix  # noqa: F401
    else:
        import emkit  # noqa: F401
    a = C.load_arrays(args.data_dir, ARRAYS)
    return a["X"], (a["weights"], a["probs"])


def _worker_fit(args: argparse.Namespace, X, init, max_iter: int):
    K, R = init[1].shape[0], init[1].shape[2]
    if args.library == "stepmix":
        blas = None if args.blas_threads == "default" else int(args.blas_threads)
        return fit_stepmix(X, init, K, R, max_iter, blas)
    n_threads = None if args.n_threads == "all" else int(args.n_threads)
    return fit_emkit(X, init, K, R, max_iter, n_threads)


def _digest(*arrays) -> str:
    h = hashlib.sha256()
    for x in arrays:
        h.update(np.ascontiguousarray(x, dtype=np.float64).tobytes())
    return h.hexdigest()


def _facts(args: argparse.Namespace, X: np.ndarray, model: Any) -> Dict[str, Any]:
    """n_iter, mean log-likelihood per row at the final parameters and the parameters."""
    n = X.shape[0]
    info: Dict[str, Any] = {"n_iter": int(model.n_iter_)}
    if args.library == "stepmix":
        # lower_bound_: mean loglik at the parameters before the last M-step; score(X): one more
        # E-step, the mean loglik at the final parameters.
        info["lower_bound"] = float(model.lower_bound_)
        info["loglik_per_row"] = float(model.score(X))
        params = model.get_parameters()
        info["weights"] = np.asarray(params["weights"]).tolist()
        info["probs"] = np.asarray(params["measurement"]["pis"]).tolist()
        return info
    info["loglik_per_row"] = float(model.loglik_) / n
    info["previous_loglik_per_row"] = (
        float(model.loglik_history_[-2]) / n if model.n_iter_ else None
    )
    probs = np.concatenate([np.asarray(p) for p in model.probs_], axis=1)
    info["weights"] = np.asarray(model.weights_).tolist()
    info["probs"] = probs.tolist()
    info["warnings"] = model._bench_warnings
    info["digest"] = _digest(model.weights_, probs, [model.loglik_])
    return info


def _core_timer(
    args: argparse.Namespace, X: np.ndarray, init, max_iter: int
) -> Optional[Dict[str, Any]]:
    """emkit's own per-iteration timer (the core's ``seconds`` record), from the same EM run
    through the compiled core directly, without the estimator's pre- and post-processing.
    Best effort: it uses emkit internals, and returns None if they differ from what it expects."""
    try:
        from emkit import _core
        from emkit._categorical import compress_patterns

        weights, probs = init
        K, J, R = probs.shape
        rows, counts, _ = compress_patterns(
            np.ascontiguousarray(X, dtype=np.int32), np.ones(X.shape[0])
        )
        model = _core.LatentClassModel(
            weights, np.ascontiguousarray(probs.reshape(K, J * R)), [R] * J, None, 1.0, False
        )
        n_threads = 0 if args.n_threads == "all" else int(args.n_threads)
        record = model.fit(rows, counts, max_iter, 0.0, n_threads, None)
        secs = np.asarray(record["seconds"], dtype=float)
        return {
            "median_s_per_iter": float(np.median(secs)),
            "n_iter": int(record["n_iter"]),
            "loglik_per_row": float(record["loglik"][-1]) / X.shape[0],
        }
    except Exception as exc:  # noqa: BLE001 - a cross-check only
        return {"error": f"{type(exc).__name__}: {exc}"}


def _inspect(args: argparse.Namespace, X: np.ndarray, init, model: Any) -> Dict[str, Any]:
    """Facts about the model fitted with max_iter=b, and about a fit with max_iter=check_iters
    (the iteration count at which the libraries are compared), outside the timed region."""
    info = _facts(args, X, model)
    b = args.iters[1]
    if args.check_iters == b:
        info["check"] = {k: info[k] for k in info if k not in ("warnings", "digest")}
    else:
        info["check"] = _facts(args, X, _worker_fit(args, X, init, args.check_iters))
    if args.library == "emkit":
        info["core_timer"] = _core_timer(args, X, init, min(b, CORE_TIMER_ITERS))
    return info


def time_worker_main(args: argparse.Namespace) -> None:
    a, b = args.iters
    # Only the first repetition's facts are kept (subprocess_seconds_per_iteration): the later
    # worker processes of the configuration skip the untimed inspection fits.
    marker = Path(args.inspect_marker) if args.inspect_marker else None
    inspect = None
    if marker is None or not marker.exists():
        inspect = lambda L, model: _inspect(args, L[0], L[1], model)  # noqa: E731
        if marker is not None:
            marker.touch()
    C.timing_worker(
        load=lambda: _load(args),
        # Warm-up: one iteration on a slice loads the code paths and starts the thread pools.
        warmup=lambda L: _worker_fit(args, L[0][: min(len(L[0]), 5000)], L[1], 1),
        fit=lambda L, it: _worker_fit(args, L[0], L[1], it),
        a=a,
        b=b,
        repeats=args.worker_repeats,
        inspect=inspect,
    )


def memory_worker_main(args: argparse.Namespace) -> None:
    def run(L):
        if args.core_only:
            rec = _core_timer(args, L[0], L[1], args.max_iter)
            if "error" in rec:
                raise RuntimeError(rec["error"])
            return {"n_iter": rec["n_iter"]}
        return {"n_iter": int(_worker_fit(args, L[0], L[1], args.max_iter).n_iter_)}

    C.memory_worker(lambda: _load(args), run)


def _worker_argv(kind: str, cfg: Dict[str, Any], data_dir: str, extra: List[str]) -> List[str]:
    argv = [__file__, kind, "--library", cfg["library"], "--data-dir", data_dir, *extra]
    if cfg["library"] == "stepmix":
        argv += ["--blas-threads", cfg["blas_threads"]]
    else:
        argv += ["--n-threads", cfg["n_threads"]]
    return argv


# --------------------------------------------------------------------------- the run
def run_benchmark(n: int, J: int, R: int, K: int, args, configs) -> Dict[str, Any]:
    log = lambda msg: print(f"[lca] {msg}", file=sys.stderr, flush=True)  # noqa: E731
    log(f"generating {n} x {J} items ({R} categories), {K} classes")
    X, true_w, _true_p = make_lca_data(n, J, R, K)
    init = initial_values(J, R, K)
    n_patterns = int(np.unique(X, axis=0).shape[0])
    data_mb = X.nbytes / 1e6
    tmp = tempfile.mkdtemp(prefix="emkit-bench-lca-")
    try:
        C.save_arrays(tmp, X=X, weights=init[0], probs=init[1])
        del X
        argvs = {}
        for cfg in configs:
            a, b = cfg["iters"]
            extra = [
                "--iters",
                str(a),
                str(b),
                "--worker-repeats",
                "1",
                "--check-iters",
                str(args.check_iters),
                "--inspect-marker",
                os.path.join(tmp, f"inspected-{cfg['key']}"),
            ]
            argvs[cfg["key"]] = _worker_argv("--time-worker", cfg, tmp, extra)
        log(
            f"timing max_iter=A and B (StepMix {args.stepmix_iters}, emkit {args.emkit_iters}), "
            f"{args.repeats} repeats, each in a fresh process"
        )
        timing = C.subprocess_seconds_per_iteration(
            argvs, args.repeats, timeout=args.timeout, progress=log
        )
        annotate_quiet(timing)

        memory: Dict[str, Any] = {}
        if not args.no_memory:
            for cfg in configs:
                log(f"peak memory of {cfg['label']} (fresh process, max_iter={args.memory_iters})")
                argv = _worker_argv(
                    "--memory-worker", cfg, tmp, ["--max-iter", str(args.memory_iters)]
                )
                try:
                    memory[cfg["key"]] = C.measure_peak_rss(argv, timeout=args.timeout)
                except C.WorkerError as exc:  # report, keep going
                    memory[cfg["key"]] = {"error": str(exc)}
                    log(f"memory measurement of {cfg['label']} failed: {str(exc).splitlines()[0]}")
            em = [cfg for cfg in configs if cfg["library"] == "emkit"]
            if em:
                # emkit's EM alone (compiled core on the compressed patterns), without the
                # estimator's fit statistics and standard errors: where does the memory go?
                log(
                    f"peak memory of emkit's EM alone (compiled core, max_iter={args.memory_iters})"
                )
                argv = _worker_argv(
                    "--memory-worker",
                    em[-1],
                    tmp,
                    ["--max-iter", str(args.memory_iters), "--core-only"],
                )
                try:
                    memory["emkit-core"] = C.measure_peak_rss(argv, timeout=args.timeout)
                except C.WorkerError as exc:
                    memory["emkit-core"] = {"error": str(exc)}
                    log(
                        f"memory measurement of emkit's EM alone failed: {str(exc).splitlines()[0]}"
                    )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    def info(key):
        return (timing.get(key) or {}).get("info") or {}

    sm_keys = [c["key"] for c in configs if c["library"] == "stepmix" and info(c["key"])]
    em_keys = [c["key"] for c in configs if c["library"] == "emkit" and info(c["key"])]
    sm_key = sm_keys[0] if sm_keys else None
    em_key = "emkit-all" if "emkit-all" in em_keys else (em_keys[0] if em_keys else None)

    def check(key):
        return info(key).get("check") or {}

    checks: Dict[str, Any] = {
        "check_iters": args.check_iters,
        "stepmix_loglik_per_row": check(sm_key).get("loglik_per_row") if sm_key else None,
        "emkit_loglik_per_row": check(em_key).get("loglik_per_row") if em_key else None,
        "n_iter": {key: info(key).get("n_iter") for key in timing},
        "check_n_iter": {key: check(key).get("n_iter") for key in timing},
        "expected_n_iter": {c["key"]: c["iters"][1] for c in configs},
    }
    ll_sm, ll_em = checks["stepmix_loglik_per_row"], checks["emkit_loglik_per_row"]
    checks["final_rel_diff"] = (
        abs(ll_sm - ll_em) / abs(ll_em) if ll_sm is not None and ll_em is not None else None
    )
    checks["lower_bound_rel_diff"] = None
    checks["max_abs_param_diff"] = None
    if sm_key and em_key:
        prev = check(em_key).get("previous_loglik_per_row")
        if prev is not None:
            checks["lower_bound_rel_diff"] = abs(check(sm_key)["lower_bound"] - prev) / abs(prev)
        checks["max_abs_param_diff"] = max(
            float(
                np.max(
                    np.abs(
                        np.asarray(check(sm_key)["weights"]) - np.asarray(check(em_key)["weights"])
                    )
                )
            ),
            float(
                np.max(
                    np.abs(np.asarray(check(sm_key)["probs"]) - np.asarray(check(em_key)["probs"]))
                )
            ),
        )
    if len(sm_keys) >= 2:
        checks["stepmix_blas_settings_max_abs_param_diff"] = float(
            np.max(
                np.abs(
                    np.asarray(check(sm_keys[0])["probs"]) - np.asarray(check(sm_keys[1])["probs"])
                )
            )
        )
    digests = {info(key).get("digest") for key in em_keys}
    checks["emkit_threads_identical"] = (len(digests) == 1) if len(em_keys) >= 2 else None
    checks["emkit_warnings"] = {
        key: info(key).get("warnings") for key in em_keys if info(key).get("warnings")
    }

    return {
        "n": n,
        "items": J,
        "categories": R,
        "classes": K,
        "n_patterns": n_patterns,
        "data_mb": data_mb,
        "true_weights": true_w,
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


def quiet_s_per_iter(t: Dict[str, Any]) -> Tuple[Optional[float], int]:
    """(median s/iter over the repetitions during which other processes kept fewer than
    BUSY_MACHINE cores busy, number of such repetitions)."""
    per, other = t.get("per_repeat") or [], t.get("other_cores") or []
    quiet = [x for x, o in zip(per, other) if o is not None and o < BUSY_MACHINE]
    return (statistics.median(quiet) if quiet else None), len(quiet)


def annotate_quiet(timing: Dict[str, Dict[str, Any]]) -> None:
    for t in timing.values():
        t["quiet_s_per_iter"], t["quiet_repeats"] = quiet_s_per_iter(t)


def ratio(timing, num: str, den: str, field: str = "s_per_iter") -> Optional[float]:
    x = (timing.get(num) or {}).get(field)
    y = (timing.get(den) or {}).get(field)
    return x / y if x is not None and y is not None and y > 0 else None


def report(r: Dict[str, Any], configs, n_threads_all: int, repeats: int, args) -> str:
    t, ch, mem = r["timing"], r["checks"], r["memory"]

    def mb(key):
        m = mem.get(key)
        if not m:
            return None
        return "error" if "error" in m else f"{m['delta_mb']:.1f}"

    rows = []
    for cfg in configs:
        key = cfg["key"]
        a, b = cfg["iters"]
        info = t[key].get("info") or {}
        core = info.get("core_timer") or {}
        other = [x for x in (t[key].get("other_cores") or []) if x is not None]
        q = t[key].get("quiet_s_per_iter")
        rows.append(
            [
                cfg["label"],
                s_cell(t, key),
                f"{a} -> {b}",
                " ".join(C.fmt_seconds(x) for x in t[key]["per_repeat"]) or None,
                f"{C.fmt_seconds(q)} ({t[key].get('quiet_repeats', 0)})"
                if q is not None
                else "- (0)",
                C.fmt_seconds(core.get("median_s_per_iter")),
                info.get("n_iter"),
                mb(key),
                C.fmt(max(other), ".2f") if other else None,
            ]
        )
    out = [
        (
            f"Workload: n = {r['n']:,} rows, {r['items']} items x {r['categories']} categories, "
            f"{r['classes']} classes; {r['n_patterns']:,} distinct response patterns "
            f"({r['n_patterns'] / r['n']:.1%} of the rows); data {r['data_mb']:.1f} MB (int32)"
        ),
        "",
        C.format_table(
            [
                "configuration",
                "s/iter",
                "max_iter A -> B",
                "per repeat",
                "quiet (n)",
                "core timer",
                "n_iter(B)",
                "peak MB",
                "other load",
            ],
            rows,
            title=(
                f"Seconds per EM iteration ((t[max_iter=B] - t[max_iter=A]) / (B - A), median of "
                f"{repeats} repeats, each in a fresh process; lower is better)"
            ),
        ),
        (
            "  core timer: median of emkit's own per-iteration timer over a "
            f"{CORE_TIMER_ITERS}-iteration run of its compiled EM loop alone (cross-check, first "
            "repetition's process)"
        ),
        (
            f"  peak MB: peak RSS of one fit (max_iter={args.memory_iters}) above the loaded data, "
            "fresh process"
        ),
        f"  * per-repeat spread (max - min) above {NOISY_SPREAD:.0%} of the median: noisy",
        (
            "  other load: most CPU cores other processes kept busy during a timing run "
            "(near 0 = quiet)"
        ),
        (
            f"  quiet (n): median over the n repetitions during which other processes kept < "
            f"{BUSY_MACHINE} cores busy"
        ),
    ]
    core_mem = mem.get("emkit-core")
    if core_mem:
        out.insert(
            out.index(next(x for x in out if x.startswith("  peak MB:"))) + 1,
            "    emkit's EM alone (compiled core on the compressed patterns, no fit statistics or "
            "standard errors): "
            + ("error" if "error" in core_mem else f"{core_mem['delta_mb']:.1f} MB"),
        )
    others = [x for key in t for x in (t[key].get("other_cores") or []) if x is not None]
    if others and max(others) > BUSY_MACHINE:
        out.append(
            f"  WARNING: other processes kept up to {max(others):.2f} cores busy during the timing "
            "runs: the times are inflated, the multi-threaded ones most"
        )
    keys = [c["key"] for c in configs]
    ratio_rows = []
    if "stepmix-blas1" in keys and "emkit-1" in keys:
        ratio_rows.append(["StepMix / emkit, 1 thread each", "stepmix-blas1", "emkit-1"])
    if "stepmix" in keys and "emkit-all" in keys:
        ratio_rows.append(
            [f"StepMix / emkit, all cores ({n_threads_all}), as installed", "stepmix", "emkit-all"]
        )
    if "stepmix-blas1" in keys and "emkit-all" in keys:
        ratio_rows.append(
            [f"StepMix (BLAS=1) / emkit {n_threads_all} threads", "stepmix-blas1", "emkit-all"]
        )
    if "emkit-1" in keys and "emkit-all" in keys:
        ratio_rows.append([f"emkit speed-up, 1 -> {n_threads_all} threads", "emkit-1", "emkit-all"])
    if "stepmix-blas1" in keys and "stepmix" in keys:
        ratio_rows.append(
            ["StepMix speed-up, BLAS 1 -> default threads", "stepmix-blas1", "stepmix"]
        )
    if ratio_rows:
        out.append("")
        out.append(
            C.format_table(
                ["ratio of s/iter (> 1: the second is faster)", "all repeats", "quiet repeats"],
                [
                    [
                        name,
                        C.fmt(ratio(t, num, den), ".2f"),
                        C.fmt(ratio(t, num, den, "quiet_s_per_iter"), ".2f"),
                    ]
                    for name, num, den in ratio_rows
                ],
            )
        )

    def check(key):
        return ((t.get(key) or {}).get("info") or {}).get("check") or {}

    out.append("")
    rows2 = [
        [
            cfg["label"],
            check(cfg["key"]).get("n_iter"),
            C.fmt(check(cfg["key"]).get("loglik_per_row"), ".12g"),
        ]
        for cfg in configs
    ]
    out.append(
        C.format_table(
            ["configuration", "n_iter", "loglik/row"],
            rows2,
            title=(
                f"Mean log-likelihood per row after max_iter={ch['check_iters']} from the same "
                "start (the same EM: should agree to round-off)"
            ),
        )
    )
    out.append(
        f"  StepMix vs emkit: rel. diff of loglik/row {C.fmt(ch['final_rel_diff'], '.1e')}, "
        f"max |parameter difference| {C.fmt(ch['max_abs_param_diff'], '.1e')}; "
        "StepMix lower_bound_ vs emkit loglik one iteration earlier: rel. diff "
        f"{C.fmt(ch['lower_bound_rel_diff'], '.1e')}"
    )
    ident = ch["emkit_threads_identical"]
    if ident is not None:
        out.append(
            f"  emkit 1 thread and {n_threads_all} threads bit-identical: "
            + ("yes" if ident else "NO")
        )
    for key, ws in ch["emkit_warnings"].items():
        for w in ws:
            out.append(f"  emkit warning ({key}): {w}")
    bad = [
        f"{key}: {it} (expected {ch['expected_n_iter'][key]})"
        for key, it in ch["n_iter"].items()
        if it is not None and it != ch["expected_n_iter"][key]
    ]
    bad += [
        f"{key} check fit: {it} (expected {ch['check_iters']})"
        for key, it in ch["check_n_iter"].items()
        if it is not None and it != ch["check_iters"]
    ]
    if bad:
        out.append(f"WARNING: fits that did not run max_iter iterations: {', '.join(bad)}")
    return "\n".join(out)


# --------------------------------------------------------------------------- main
def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--quick", action="store_true", help="divide n by 10 (smoke run)")
    p.add_argument(
        "--n", type=int, default=N_ROWS, help=f"rows (default {N_ROWS:,}; --quick divides by 10)"
    )
    p.add_argument("--repeats", type=int, default=3, help="repetitions per measurement (default 3)")
    p.add_argument(
        "--stepmix-iters",
        type=int,
        nargs=2,
        default=(5, 25),
        metavar=("A", "B"),
        help="StepMix's two max_iter values whose time difference gives s/iter (default 5 25)",
    )
    p.add_argument(
        "--emkit-iters",
        type=int,
        nargs=2,
        default=(10, 410),
        metavar=("A", "B"),
        help="emkit's two max_iter values (default 10 410: more iterations because one "
        "emkit iteration is short next to the constant cost of its fit)",
    )
    p.add_argument(
        "--check-iters",
        type=int,
        default=None,
        help="iteration count at which the log-likelihoods and parameters of the two "
        "libraries are compared (default: StepMix's B)",
    )
    p.add_argument(
        "--stepmix-blas",
        default="default,1",
        metavar="LIST",
        help="StepMix BLAS thread settings to time: 'default' (no limit) and/or a thread "
        "count (threadpoolctl limit); comma-separated, 'none' to skip StepMix "
        "(default: default,1)",
    )
    p.add_argument("--no-emkit-1", action="store_true", help="skip emkit with n_threads=1")
    p.add_argument("--no-memory", action="store_true", help="skip the peak-memory measurements")
    p.add_argument(
        "--memory-iters",
        type=int,
        default=10,
        help="max_iter of the fit whose peak memory is measured (default 10)",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=1800.0,
        help="seconds after which one worker process is stopped and the configuration "
        "dropped (default 1800)",
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
    p.add_argument("--library", choices=("stepmix", "emkit"), help=argparse.SUPPRESS)
    p.add_argument("--data-dir", help=argparse.SUPPRESS)
    p.add_argument("--max-iter", type=int, help=argparse.SUPPRESS)
    p.add_argument("--blas-threads", default="default", help=argparse.SUPPRESS)
    p.add_argument("--n-threads", default="all", help=argparse.SUPPRESS)
    p.add_argument("--worker-repeats", type=int, default=1, help=argparse.SUPPRESS)
    p.add_argument("--iters", type=int, nargs=2, help=argparse.SUPPRESS)
    p.add_argument("--core-only", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--inspect-marker", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.memory_worker or args.time_worker:
        return args
    for name in ("stepmix_iters", "emkit_iters"):
        a, b = getattr(args, name)
        if not b > a >= 1:  # StepMix requires max_iter >= 1
            p.error(f"--{name.replace('_', '-')} A B: expected 1 <= A < B")
    if args.check_iters is None:
        args.check_iters = args.stepmix_iters[1]
    if args.check_iters < 1:
        p.error("--check-iters: expected >= 1")
    if args.repeats < 1:
        p.error("--repeats: expected >= 1")
    if args.n < N_CLASSES * 10:
        p.error(f"--n: expected at least {N_CLASSES * 10}")
    if args.memory_iters < 1:
        p.error("--memory-iters: expected >= 1")
    blas = [s.strip() for s in args.stepmix_blas.split(",") if s.strip()]
    if blas == ["none"]:
        blas = []
    for s in blas:
        if s != "default" and not (s.isdigit() and int(s) >= 1):
            p.error(f"--stepmix-blas: expected 'default', a thread count or 'none', got {s!r}")
    args.stepmix_blas = blas
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

    if args.stepmix_blas:
        try:
            # Loads numpy's/scipy's BLAS, so that threadpoolctl sees it.
            import stepmix.stepmix  # noqa: F401
        except ImportError:
            print(
                "StepMix is not installed: pip install stepmix (or pass --stepmix-blas none)",
                file=sys.stderr,
            )
            return 2
    env = C.environment(["emkit", "stepmix", "sklearn", "scipy", "threadpoolctl"])
    try:
        n_threads_all = int(emkit._core.max_threads())
        openmp = bool(emkit._core.openmp_enabled())
    except AttributeError:
        n_threads_all, openmp = os.cpu_count() or 1, None
    env["emkit_openmp"] = openmp
    env["emkit_max_threads"] = n_threads_all
    env["load_at_start"] = C.machine_load()
    blas_pools = [p for p in env["threadpools"] if p.get("user_api") == "blas"]
    blas_default = (
        " / ".join(sorted({str(p["num_threads"]) for p in blas_pools})) + " threads"
        if blas_pools
        else "unknown"
    )
    if (
        any(s != "default" for s in args.stepmix_blas)
        and env["packages"].get("threadpoolctl") is None
    ):
        print(
            "threadpoolctl is not installed: timing StepMix with its default BLAS threads only",
            file=sys.stderr,
        )
        args.stepmix_blas = [s for s in args.stepmix_blas if s == "default"]

    configs = []
    sm_iters, em_iters = list(args.stepmix_iters), list(args.emkit_iters)
    for s in args.stepmix_blas:
        if s == "default":
            configs.append(
                {
                    "key": "stepmix",
                    "library": "stepmix",
                    "blas_threads": "default",
                    "label": f"StepMix, BLAS default ({blas_default})",
                    "iters": sm_iters,
                }
            )
        else:
            configs.append(
                {
                    "key": f"stepmix-blas{s}",
                    "library": "stepmix",
                    "blas_threads": s,
                    "label": f"StepMix, BLAS={s}",
                    "iters": sm_iters,
                }
            )
    if not args.no_emkit_1:
        configs.append(
            {
                "key": "emkit-1",
                "library": "emkit",
                "n_threads": "1",
                "label": "emkit 1 thread",
                "iters": em_iters,
            }
        )
    configs.append(
        {
            "key": "emkit-all",
            "library": "emkit",
            "n_threads": "all",
            "label": f"emkit {n_threads_all} threads",
            "iters": em_iters,
        }
    )

    pk = env["packages"]
    print(
        f"emkit {pk.get('emkit')} (OpenMP {'on' if openmp else 'off'}, {n_threads_all} threads), "
        f"StepMix {pk.get('stepmix')}, scikit-learn {pk.get('sklearn')}, numpy {pk.get('numpy')}, "
        f"threadpoolctl {pk.get('threadpoolctl')}, Python {env['python']}"
    )
    print(f"CPU: {env['processor']}, {env['cpu_count']} logical cores")
    print(
        "thread pools (threadpoolctl.threadpool_info): "
        + C.blas_threads_summary(env["threadpools"])
    )
    if env["thread_env"]:
        print(f"thread environment: {env['thread_env']}")
    load = env["load_at_start"]
    if load.get("other_cores") is not None:
        print(
            "machine load at start: load average "
            + ", ".join(f"{x:.2f}" for x in load["loadavg"])
            + f"; other processes busy on {load['other_cores']:.2f} cores"
            + (
                " -- NOT QUIET: times will be inflated"
                if load["other_cores"] > BUSY_MACHINE
                else ""
            )
        )
    print(
        "tol=0 (emkit), abs_tol=rel_tol=0 (StepMix); the same start for both; "
        f"{args.repeats} repeats{'; --quick: n / 10' if args.quick else ''}"
    )
    print(flush=True)

    n = args.n // 10 if args.quick else args.n
    result = run_benchmark(n, N_ITEMS, N_CATS, N_CLASSES, args, configs)
    table = report(result, configs, n_threads_all, args.repeats, args)
    print(table)
    payload = {
        "benchmark": "lca",
        "argv": sys.argv[1:],
        "quick": args.quick,
        "repeats": args.repeats,
        "stepmix_iters": list(args.stepmix_iters),
        "emkit_iters": list(args.emkit_iters),
        "check_iters": args.check_iters,
        "memory_iters": args.memory_iters,
        "data_seed": DATA_SEED,
        "init_seed": INIT_SEED,
        "configs": configs,
        "environment": env,
        "result": result,
        "table": table,
    }
    path = C.write_results("lca", payload, args.output)
    print(f"\nresults written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
