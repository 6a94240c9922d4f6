#!/usr/bin/env python
"""emkit's benchmark (issue 5): emkit against scikit-learn, hmmlearn and StepMix on the issue's
workloads, and against the machine's limits.

For every workload the data and a common starting point are generated once; emkit (1 thread and
all threads, and float32 input for the full-covariance mixtures when emkit supports it) and the
installed peer (its default BLAS threads, and 1 thread) fit them for fixed iteration counts
(tolerance 0). Seconds per iteration = (t(B iterations) - t(A iterations)) / (B - A), median
over the repeats, every repetition of every configuration in a fresh process; the same process
gives the peak resident memory and the final log-likelihood. The runner also measures the
float64 GEMM rate and the memory bandwidth, and reports emkit's fraction of the hardware bound.
Whole-fit rows (bench/whole_fit.py) time ``fit`` end to end with each library's default options
(its own initialisation, restarts and convergence), with iterations and final log-likelihoods.

    python bench/run.py --quick                   # about two minutes
    python bench/run.py                           # the issue's sizes (hours with the peers)
    python bench/run.py --workloads gmm-full,lca --repeats 5
    python bench/run.py --whole-fit-only --workloads lca,hmm-diag-overlap

Writes bench/results/latest.md and bench/results/latest.json. See bench/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.util
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402
import whole_fit as WF  # noqa: E402
import workloads as W  # noqa: E402

RESULTS_DIR = Path(__file__).resolve().parent / "results"
#: emkit and the peer must reach the same log-likelihood to this relative difference.
LOGLIK_RTOL = 1e-6
#: float32 input: the log-likelihood must agree with the float64 fit to this relative difference.
FLOAT32_RTOL = 1e-5
#: A per-repeat spread (max - min) above this fraction of the median marks the cell "*".
NOISY_SPREAD = 0.25
#: Other processes keeping more cores than this busy during a measurement make it "noisy".
BUSY_CORES = 0.2


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- emkit's build
def emkit_threads() -> int:
    import emkit

    try:
        return int(emkit._core.max_threads())
    except AttributeError:
        return os.cpu_count() or 1


def emkit_build_info() -> str:
    """The instruction-set variant of emkit's core chosen at import, and the installed variants
    this CPU can run (emkit._core.isa, supported_variants())."""
    import emkit

    core = emkit._core
    return (f"core variant {core.isa} (Eigen SIMD: {core.simd_instruction_sets()}); "
            f"installed and supported here: {', '.join(core.supported_variants())}")


def emkit_variants() -> List[str]:
    import emkit

    return list(emkit._core.supported_variants())


def emkit_float32_support() -> bool:
    """True when emkit's GaussianMixture fits float32 input in float32: the fitted model says so
    (a ``dtype_``-like attribute) or keeps float32 parameters. Today emkit converts float32
    input to float64, and this is False."""
    import emkit

    X = np.random.default_rng(0).standard_normal((500, 3)).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "did not converge"
        model = emkit.GaussianMixture(2, max_iter=2, random_state=0).fit(X)
    for name in ("dtype_", "compute_dtype_", "fit_dtype_"):
        value = getattr(model, name, None)
        if value is not None and np.dtype(value) == np.float32:
            return True
    return any(np.asarray(getattr(model, name, 0.0)).dtype == np.float32
               for name in ("means_", "covariances_", "precisions_cholesky_"))


# --------------------------------------------------------------------------- machine limits
def measure_machine(n_threads: int) -> Dict[str, Any]:
    """float64 GEMM rate (numpy matmul of 2000 x 2000 matrices, best of 3) and memory bandwidth
    (copy of a 256 MB array, split between Python threads, counting read + write bytes, best of
    5), on 1 and ``n_threads`` threads (BLAS threads limited with threadpoolctl). Runs in a
    worker process."""
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(0)
    m = 2000
    A, B = rng.standard_normal((m, m)), rng.standard_normal((m, m))
    src = np.ones(32_000_000)
    dst = np.empty_like(src)

    def copy(threads: int) -> None:
        edges = np.linspace(0, src.size, threads + 1).astype(int)
        jobs = [threading.Thread(target=np.copyto, args=(dst[lo:hi], src[lo:hi]))
                for lo, hi in zip(edges[:-1], edges[1:])]
        for j in jobs:
            j.start()
        for j in jobs:
            j.join()

    out: Dict[str, Any] = {"gemm_gflops": {}, "bandwidth_gbs": {}}
    for t in sorted({1, n_threads}):
        with threadpool_limits(limits=t, user_api="blas"):
            A @ B  # warm-up: starts the BLAS threads
            best = min(C.timed(lambda: A @ B)[0] for _ in range(3))
        out["gemm_gflops"][t] = 2 * m**3 / best / 1e9
        copy(t)
        best = min(C.timed(lambda: copy(t))[0] for _ in range(5))  # noqa: B023 - called here
        out["bandwidth_gbs"][t] = 2 * src.nbytes / best / 1e9
    return out


def hardware_bound(w: W.Workload, machine: Dict[str, Any], threads: int) -> float:
    """max(flops / GEMM rate, bytes / bandwidth) of one iteration, in seconds, with the rates of
    ``threads`` threads (a rate measured lower than the one-thread rate counts as the latter)."""
    flops, nbytes = W.cost(w)
    gemm = max(machine["gemm_gflops"][1], machine["gemm_gflops"][threads]) * 1e9
    bandwidth = max(machine["bandwidth_gbs"][1], machine["bandwidth_gbs"][threads]) * 1e9
    return max(flops / gemm, nbytes / bandwidth)


# --------------------------------------------------------------------------- the worker
def worker(spec: Dict[str, Any]) -> Dict[str, Any]:
    """One measurement in a fresh process: imports the library, loads the data, then (with the
    configuration's thread limits) fits a small slice once untimed, times fit(A) and fit(B),
    reads the peak RSS and, if asked, the log-likelihood of the fit(B) model. A whole-fit
    measurement (task "whole") times one default fit instead (whole_fit.measure)."""
    if spec["task"] == "machine":
        return measure_machine(spec["threads"])
    w = workload(spec["workload"], spec["quick"])
    library = spec["library"]
    if spec.get("isa"):  # read by emkit/_core.py when emkit is imported, just below
        os.environ["EMKIT_ISA"] = spec["isa"]
    importlib.import_module(W.PEER_MODULES.get(library, "emkit"))
    data = C.load_arrays(spec["data_dir"])
    if spec["dtype"] != "float64":
        data["X"] = data["X"].astype(spec["dtype"])
    one = spec["threads"] == 1
    limits = contextlib.nullcontext()
    if one:
        from threadpoolctl import threadpool_limits

        limits = threadpool_limits(limits=1)  # BLAS and OpenMP pools of the process
    n_threads = 1 if one else None
    if spec["task"] == "whole":
        with limits:
            return WF.measure(w, library, data, n_threads, spec["check"])
    a, b = spec["iters"]
    with limits:
        base = C.peak_rss_mb()
        W.fit(w, library, W.warmup_slice(w, data), 1, n_threads)
        t_a, model = C.timed(lambda: W.fit(w, library, data, a, n_threads))
        del model
        t_b, model = C.timed(lambda: W.fit(w, library, data, b, n_threads))
        peak = C.peak_rss_mb()
        record = {"t_a": t_a, "t_b": t_b, "s_per_iter": (t_b - t_a) / (b - a),
                  "peak_rss_mb": peak, "above_data_mb": peak - base, "n_iter": W.n_iter(model),
                  "threadpools": C.threadpools()}
        if spec["check"]:
            record["loglik"] = W.loglik(w, library, model, data, W.check_iters(w))
            if library == "emkit":
                record["digest"] = W.digest(model)
    return record


def workload(name: str, quick: bool) -> W.Workload:
    w = W.WORKLOADS[name]
    return w.quick() if quick else w


# --------------------------------------------------------------------------- one workload
def configurations(w: W.Workload, n_threads: int, peer: bool, float32: bool,
                   isa: List[str]) -> List[Dict]:
    """The measured configurations of a workload: key, library, threads (1 or "all"), dtype,
    iteration counts, and the core variant (None: the one emkit chooses)."""
    emkit = dict(task="fit", library="emkit", iters=w.iters["emkit"], dtype="float64", isa=None)
    configs = [dict(key="emkit-1", threads=1, **emkit),
               dict(key="emkit-all", threads="all", **emkit)]
    configs += [dict(key=f"emkit-isa-{v}", threads="all", **{**emkit, "isa": v}) for v in isa]
    if float32 and w.kind == "gmm" and w.size["cov"] == "full":
        configs.append(dict(key="emkit-f32", threads="all", **{**emkit, "dtype": "float32"}))
    if peer:
        theirs = dict(task="fit", library=w.peer, iters=w.iters["peer"], dtype="float64",
                      isa=None)
        configs += [dict(key="peer-default", threads="all", **theirs),
                    dict(key="peer-1", threads=1, **theirs)]
    return configs


def run_workload(w: W.Workload, args, configs: List[Dict]) -> Dict[str, Dict[str, Any]]:
    """Runs every configuration ``args.repeats`` times, each in a fresh process; repetition r of
    every configuration before repetition r + 1 of any, so a drift of the machine is shared. The
    first repetition also returns the log-likelihood. A configuration that fails or times out is
    not run again. Per-iteration results have ``s_per_iter``, whole-fit ones ``seconds``."""
    log(f"[{w.name}] generating the data: {w.title}")
    data = W.make_data(w)
    tmp = Path(tempfile.mkdtemp(prefix=f"emkit-bench-{w.name}-"))
    results = {c["key"]: {"config": c, "runs": [], "other_cores": [], "error": None}
               for c in configs}
    try:
        C.save_arrays(tmp, data)
        del data
        for r in range(args.repeats):
            for c in configs:
                res = results[c["key"]]
                if res["error"]:
                    continue
                spec = {"workload": w.name, "quick": args.quick, "data_dir": str(tmp),
                        "check": r == 0, **{k: c[k] for k in ("task", "library", "threads",
                                                              "dtype", "iters", "isa")}}
                try:
                    with C.LoadMonitor() as load:
                        rec = C.run_worker([__file__, "--worker", json.dumps(spec)], args.timeout)
                except C.WorkerError as exc:
                    res["error"] = str(exc)
                    log(f"[{w.name}] {c['key']} FAILED: {str(exc)[-500:]}")
                    continue
                res["runs"].append(rec)
                res["other_cores"].append(load.other_cores)
                time_text = (f"{rec['s_per_iter']:.4g} s/iter" if c["task"] == "fit" else
                             f"whole fit {rec['seconds']:.4g} s, {rec['n_iter']} iterations")
                log(f"[{w.name}] repeat {r + 1}/{args.repeats} {c['key']}: {time_text}, "
                    f"peak RSS {rec['peak_rss_mb']:.0f} MB, "
                    f"other load {C.fmt(load.other_cores, '.2f')} cores")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for res in results.values():
        runs = res["runs"]
        metric = C.time_field(res)
        per = [x[metric] for x in runs]
        res[metric] = statistics.median(per) if per else None
        res["per_repeat"] = per
        res["noisy"] = bool(per) and (
            (len(per) > 1 and (max(per) - min(per)) > NOISY_SPREAD * abs(res[metric]))
            or max(x or 0.0 for x in res["other_cores"]) > BUSY_CORES)
        for key in ("peak_rss_mb", "above_data_mb"):
            res[key] = statistics.median(x[key] for x in runs) if runs else None
        first = runs[0] if runs else {}
        for key in ("loglik", "digest", "n_iter", "converged"):  # the last two: whole fits
            res[key] = first.get(key)
    return results


def summarize(w: W.Workload, results: Dict[str, Dict], machine: Dict, n_threads: int) -> Dict:
    """Ratios, hardware bounds and checks of one workload."""
    s = {k: r["s_per_iter"] for k, r in results.items()}

    def ratio(x, y):
        return x / y if x is not None and y is not None and y > 0 and x > 0 else None

    peers = [s[k] for k in ("peer-default", "peer-1") if s.get(k) is not None and s[k] > 0]
    peer_best = min(peers) if peers else None
    flops, nbytes = W.cost(w)
    bound_1, bound_all = hardware_bound(w, machine, 1), hardware_bound(w, machine, n_threads)
    out = {
        "flops_per_iter": flops, "bytes_per_iter": nbytes,
        "bound_1": bound_1, "bound_all": bound_all,
        "fraction_of_bound_1": ratio(bound_1, s.get("emkit-1")),
        "fraction_of_bound_all": ratio(bound_all, s.get("emkit-all")),
        "peer_best": peer_best,
        "speedup_best": ratio(peer_best, s.get("emkit-all")),
        "speedup_1": ratio(s.get("peer-1"), s.get("emkit-1")),
        "thread_scaling": ratio(s.get("emkit-1"), s.get("emkit-all")),
    }
    ll = {k: r["loglik"] for k, r in results.items() if r["loglik"] is not None}
    ref = ll.get("emkit-all", ll.get("emkit-1"))
    diffs = [abs(v - ref) / abs(ref) for k, v in ll.items()
             if k.startswith("peer") and ref is not None]
    out["loglik"] = ll
    out["loglik_rel_diff"] = max(diffs) if diffs else None
    out["loglik_agree"] = None if not diffs else out["loglik_rel_diff"] <= LOGLIK_RTOL
    d1, d_all = results["emkit-1"]["digest"], results["emkit-all"]["digest"]
    out["threads_identical"] = None if d1 is None or d_all is None else d1 == d_all
    out["isa_s_per_iter"] = {k[len("emkit-isa-"):]: s[k] for k in results if k.startswith("emkit-isa-")}
    if "emkit-f32" in results:
        f32 = ll.get("emkit-f32")
        out["float32_speedup"] = ratio(s.get("emkit-all"), s.get("emkit-f32"))
        out["float32_loglik_rel_diff"] = (
            abs(f32 - ref) / abs(ref) if f32 is not None and ref is not None else None)
    return out


# --------------------------------------------------------------------------- report
def loglik_cell(summary: Dict) -> Optional[str]:
    if summary["loglik_rel_diff"] is None:
        return None
    mark = "ok" if summary["loglik_agree"] else "MISMATCH"
    return f"{summary['loglik_rel_diff']:.0e} {mark}"


def report(rows: List[Dict], header: List[str], n_threads: int, blas_threads: str) -> str:
    """The per-iteration table (rows with per-iteration results), its notes and side tables,
    then the whole-fit table (whole_fit.report)."""
    N = n_threads
    legend = [f"- `{row['workload']}`: {row['title']}; {row['peer_label']}"
              + (f"; iterations A -> B: emkit {'->'.join(map(str, row['iters']['emkit']))}, "
                 f"peer {'->'.join(map(str, row['iters']['peer']))}" if row["summary"] else "")
              + ("; loglik compared at the common start (bench/README.md, Agreement)"
                 if row["check_iters"] == 0 else "")
              for row in rows]
    whole = WF.report(rows, n_threads, blas_threads)
    rows = [row for row in rows if row["summary"]]
    if not rows:
        return "\n".join(header + [""] + legend + whole)

    def line(row):
        res, sm = row["results"], row["summary"]
        pair = " / ".join
        return [
            row["workload"], row["peer_label"],
            *[C.time_cell(res.get(k)) for k in ("peer-default", "peer-1", "emkit-1", "emkit-all")],
            C.fmt(sm["speedup_best"]), C.fmt(sm["speedup_1"]), C.fmt(sm["thread_scaling"], ".2f"),
            pair([C.fmt_seconds(sm["bound_1"]), C.fmt_seconds(sm["bound_all"])]),
            pair([C.fmt(sm["fraction_of_bound_1"], ".2f") or "-",
                  C.fmt(sm["fraction_of_bound_all"], ".2f") or "-"]),
            pair([_mb(row, "emkit", "peak_rss_mb"), _mb(row, "peer", "peak_rss_mb")]),
            pair([_mb(row, "emkit", "above_data_mb"), _mb(row, "peer", "above_data_mb")]),
            loglik_cell(sm), {True: "yes", False: "NO", None: None}[sm["threads_identical"]],
        ]

    table = C.markdown_table(
        ["workload", "peer", f"peer {blas_threads}T", "peer 1T", "emkit 1T", f"emkit {N}T",
         f"peer best / emkit {N}T", "peer 1T / emkit 1T", f"emkit {N}T / 1T",
         f"bound 1T / {N}T", f"of bound 1T / {N}T", f"peak RSS MB emkit {N}T / peer",
         "above data MB emkit / peer", "loglik rel diff", f"1T = {N}T"],
        [line(row) for row in rows],
    )
    notes = [
        "",
        "Seconds per EM iteration, (t(B iters) - t(A iters)) / (B - A), median of the repeats, "
        f"each in a fresh process. peer {blas_threads}T: the peer as installed (its default BLAS "
        "threads); 1T: BLAS and OpenMP limited to 1 thread (threadpoolctl). * = noisy: the "
        f"repeats spread over {NOISY_SPREAD:.0%} of the median, or other processes kept more than "
        f"{BUSY_CORES} cores busy.",
        f"peer best / emkit {N}T: the peer's faster setting over emkit with all threads; peer 1T / "
        f"emkit 1T: one thread each; emkit {N}T / 1T: emkit's thread speed-up (> 1: faster). "
        "bound: max(flops / GEMM rate, bytes / bandwidth) per iteration with 1 and all threads "
        "(bench/README.md); of bound = bound / emkit's s/iter (1 = at the machine's limit).",
        "peak RSS: of the measuring process (data loaded, library imported, fits run; the peer as "
        "installed); above data: that peak minus the peak before the fits. loglik rel diff: the "
        "largest relative difference of the log-likelihoods, peer vs emkit, after the peer's B "
        f"iterations from the same start (ok <= {LOGLIK_RTOL:g}). 1T = {N}T: emkit's fitted "
        "parameters bit-identical.",
    ]
    f32_rows = [[row["workload"], C.time_cell(row["results"]["emkit-all"]),
                 C.time_cell(row["results"]["emkit-f32"]),
                 C.fmt(row["summary"]["float32_speedup"], ".2f"),
                 C.fmt(row["summary"]["float32_loglik_rel_diff"], ".0e")]
                for row in rows if "emkit-f32" in row["results"]]
    if f32_rows:
        notes += ["", f"float32 input, emkit with {N} threads (loglik rel diff vs the float64 fit: "
                      f"goal <= {FLOAT32_RTOL:g}):", "",
                  C.markdown_table(["workload", "float64", "float32", "speed-up",
                                    "loglik rel diff"], f32_rows)]
    isa_names = sorted({v for row in rows for v in row["summary"]["isa_s_per_iter"]})
    if isa_names:
        isa_rows = [[row["workload"], C.time_cell(row["results"]["emkit-all"])]
                    + [C.time_cell(row["results"].get(f"emkit-isa-{v}")) for v in isa_names]
                    for row in rows]
        notes += ["", f"emkit with {N} threads: the variant chosen at import vs other installed "
                      "variants of the core (--isa; a `native` variant needs a build with "
                      "-Ccmake.define.EMKIT_ISA_VARIANTS=\"baseline;avx2;avx512;native\"):", "",
                  C.markdown_table(["workload", "chosen"] + isa_names, isa_rows)]
    return "\n".join(header + [""] + legend + ["", table] + notes + whole)


def _mb(row: Dict, library: str, field: str) -> str:
    """A memory figure of the library ("emkit" or "peer"): all threads, else 1 thread."""
    keys = ("emkit-all", "emkit-1") if library == "emkit" else ("peer-default", "peer-1")
    values = [row["results"][k][field] for k in keys
              if k in row["results"] and row["results"][k][field] is not None]
    return C.fmt(values[0], ".0f") if values else "-"


# --------------------------------------------------------------------------- main
def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true",
                   help="smaller data, fewer iterations and 1 repeat (about two minutes)")
    p.add_argument("--workloads", nargs="+", default=None, metavar="NAME",
                   help=f"subset (comma- or space-separated) of: {', '.join(W.WORKLOADS)}")
    p.add_argument("--repeats", type=int, default=None,
                   help="repetitions per configuration, median reported (default 3, --quick 1)")
    p.add_argument("--no-peers", action="store_true", help="time emkit only")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--no-whole-fit", action="store_true",
                       help="per-iteration rows only (no whole fits with default options)")
    which.add_argument("--whole-fit-only", action="store_true",
                       help="whole fits with default options only (no per-iteration rows)")
    p.add_argument("--float32", action="store_true",
                   help="time float32 input even if emkit does not seem to support it")
    p.add_argument("--isa", nargs="+", default=[], metavar="VARIANT",
                   help="also time emkit (all threads) with these installed core variants, e.g. "
                        "baseline native (see emkit._core.supported_variants())")
    p.add_argument("--timeout", type=float, default=None,
                   help="seconds after which one worker process is stopped and its configuration "
                        "dropped (default none; --quick 300)")
    p.add_argument("--output", type=Path, default=RESULTS_DIR,
                   help="directory of latest.md and latest.json (default bench/results)")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        return args
    names = [n for item in (args.workloads or W.WORKLOADS) for n in item.split(",") if n]
    unknown = [n for n in names if n not in W.WORKLOADS]
    if unknown:
        p.error(f"unknown workload(s) {unknown}; choose from {list(W.WORKLOADS)}")
    args.workloads = names
    if args.repeats is None:
        args.repeats = 1 if args.quick else 3
    if args.repeats < 1:
        p.error("--repeats must be >= 1")
    if args.timeout is None and args.quick:
        args.timeout = 300.0
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.worker:
        C.emit_worker_record(worker(json.loads(args.worker)))
        return 0
    if importlib.util.find_spec("threadpoolctl") is None:
        log("threadpoolctl is required: pip install threadpoolctl (or emkit[bench])")
        return 2
    started = time.time()
    n_threads = emkit_threads()
    build = emkit_build_info()
    isa = [v for item in args.isa for v in item.split(",") if v]
    missing = [v for v in isa if v not in emkit_variants()]
    if missing:
        log(f"--isa: {missing} not installed or not supported here "
            f"(available: {emkit_variants()})")
        return 2
    float32 = emkit_float32_support()
    peer_names = sorted({W.WORKLOADS[n].peer for n in args.workloads})
    installed = {p: importlib.util.find_spec(W.PEER_MODULES[p].split(".")[0]) is not None
                 for p in peer_names}
    versions = C.package_versions(["emkit", "numpy", "scikit-learn", "hmmlearn", "stepmix",
                                   "threadpoolctl"])
    pools = C.threadpools()  # numpy's BLAS (imported above): its default thread count
    blas_threads = "/".join(sorted({str(p["num_threads"]) for p in pools
                                    if p["user_api"] == "blas"})) or "?"
    other = C.other_load_now()
    log("measuring the machine: float64 GEMM rate and memory bandwidth")
    machine = C.run_worker([__file__, "--worker", json.dumps({"task": "machine",
                                                               "threads": n_threads})])
    machine = {k: {int(t): v for t, v in d.items()} for k, d in machine.items()}

    header = [
        f"# emkit benchmark{' (--quick)' if args.quick else ''}",
        "",
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(started))}; "
        + ", ".join(f"{k} {v}" for k, v in versions.items() if v)
        + f", Python {sys.version.split()[0]}",
        f"CPU: {C.cpu_model()}, {os.cpu_count()} logical cores; emkit threads: {n_threads}; "
        f"numpy BLAS threads: {blas_threads}; other load at start: "
        f"{C.fmt(other, '.2f')} cores",
        f"emkit build: {build}",
        "float32: " + ("supported (emkit keeps float32)" if float32 else "not supported")
        + (" (timed anyway: --float32)" if args.float32 and not float32 else ""),
        "machine: float64 GEMM "
        + ", ".join(f"{v:.1f} GFLOP/s ({t}T)" for t, v in machine["gemm_gflops"].items())
        + "; memory bandwidth (copy) "
        + ", ".join(f"{v:.1f} GB/s ({t}T)" for t, v in machine["bandwidth_gbs"].items()),
    ]
    for p, ok in installed.items():
        if not ok and not args.no_peers:
            header.append(f"note: {W.PEER_LABELS[p]} is not installed: its comparisons are "
                          f"skipped (pip install '.[bench]')")
    for line in header[2:]:
        log(line)

    rows = []
    for name in args.workloads:
        w = workload(name, args.quick)
        peer = installed[w.peer] and not args.no_peers
        configs = [] if args.whole_fit_only else configurations(
            w, n_threads, peer, float32 or args.float32, isa)
        configs += [] if args.no_whole_fit else WF.configurations(w, peer)
        results = run_workload(w, args, configs)
        whole = {k: r for k, r in results.items() if r["config"]["task"] == "whole"}
        results = {k: r for k, r in results.items() if k not in whole}
        rows.append({"workload": w.name, "title": w.title, "size": w.size, "iters": w.iters,
                     "check_iters": W.check_iters(w),
                     "peer": w.peer, "peer_label": W.PEER_LABELS[w.peer], "results": results,
                     "summary": summarize(w, results, machine, n_threads) if results else None,
                     "whole_fit": {"results": whole, "summary": WF.summarize(w, whole)}
                     if whole else None})
    header.append(f"repeats: {args.repeats}; total time {time.time() - started:.0f} s")
    text = report(rows, header, n_threads, blas_threads)
    print(text)
    args.output.mkdir(parents=True, exist_ok=True)
    (args.output / "latest.md").write_text(text + "\n")
    C.write_json(args.output / "latest.json", {
        "argv": sys.argv[1:], "quick": args.quick, "repeats": args.repeats,
        "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "versions": versions, "python": sys.version, "cpu": C.cpu_model(),
        "cpu_count": os.cpu_count(), "emkit_threads": n_threads, "emkit_build": build,
        "float32_supported": float32, "threadpools": pools, "other_load_at_start": other,
        "machine": machine, "loglik_rtol": LOGLIK_RTOL, "workloads": rows,
    })
    log(f"written: {args.output / 'latest.md'}, {args.output / 'latest.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
