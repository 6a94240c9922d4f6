"""Helpers shared by emkit's benchmark scripts (bench_gmm.py, and the HMM and latent-class
benchmarks that reuse them).

What is here:

* timing: :func:`timed` (one wall-clock measurement), :func:`median_time` (median of repetitions)
  and :func:`seconds_per_iteration` / :func:`interleaved_seconds_per_iteration` (the EM cost of
  one iteration, initialisation excluded: the difference of the fit times at two iteration
  counts divided by the difference of the counts, median over repetitions), in this process;
* the same in fresh processes: :func:`subprocess_seconds_per_iteration` (parent) and
  :func:`timing_worker` (worker script) time each repetition of each configuration in its own
  process, so that one library's thread pools cannot disturb another's measurement;
  :func:`run_worker` runs any worker script and returns the JSON record it printed;
* peak memory: :func:`peak_rss_mb` (``ru_maxrss`` of this process), :func:`measure_peak_rss`
  (parent) and :func:`memory_worker` (worker script): the peak resident memory of one call in a
  fresh process above the baseline measured after the data are loaded (``ru_maxrss`` after the
  call minus ``ru_maxrss`` before it; a Linux VmHWM figure as a cross-check);
* data files: :func:`save_arrays` / :func:`load_arrays` (``.npy`` files, so that a worker
  process loads the data without the temporaries that generating them would leave in its peak);
* machine load: :class:`LoadMonitor` / :func:`machine_load` (how many cores other processes kept
  busy during a measurement: a shared machine inflates times, multi-threaded ones most);
* output: :func:`format_table` (plain-text table), :func:`environment` (versions, cores, BLAS
  and OpenMP thread pools) and :func:`write_results` (JSON under ``bench/results/``).

Only numpy and the standard library are required; threadpoolctl is used when installed.
"""

from __future__ import annotations

import datetime as _dt
import gc
import json
import math
import os
import platform
import resource
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"

#: Marker that prefixes the JSON line a worker process prints on stdout (see run_worker).
WORKER_MARKER = "@@EMKIT_BENCH_WORKER@@"


# --------------------------------------------------------------------------- timing
def timed(fn: Callable[[], Any]) -> Tuple[float, Any]:
    """(wall-clock seconds, result) of one call of ``fn``; garbage is collected before the call
    so that a previous measurement's garbage is not charged to this one."""
    gc.collect()
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def median_time(fn: Callable[[], Any], repeats: int = 3, warmup: int = 0) -> Dict[str, Any]:
    """Median wall-clock time of ``repeats`` calls of ``fn`` (after ``warmup`` untimed calls).

    Returns ``{"median": s, "times": [s, ...], "result": last result}``.
    """
    for _ in range(warmup):
        fn()
    times, result = [], None
    for _ in range(max(1, repeats)):
        t, result = timed(fn)
        times.append(t)
    return {"median": statistics.median(times), "times": times, "result": result}


def seconds_per_iteration(
    fit: Callable[[int], Any], a: int, b: int, repeats: int = 3
) -> Dict[str, Any]:
    """Seconds per EM iteration of ``fit(max_iter)``, initialisation excluded.

    ``fit`` must run exactly ``max_iter`` iterations (tol=0) from a fixed start. Each repetition
    times ``fit(a)`` and ``fit(b)`` (b > a) and takes ``(t_b - t_a) / (b - a)``: everything that
    does not depend on the iteration count (validation, initialisation, a final E-step, result
    conversion) cancels. The reported value is the median over the repetitions.

    Returns ``{"s_per_iter": median, "per_repeat": [...], "t_a": [...], "t_b": [...],
    "result_b": the result of the last fit(b)}``.
    """
    if not b > a >= 0:
        raise ValueError(f"expected b > a >= 0, got a={a}, b={b}")
    t_a, t_b, per, result_b = [], [], [], None
    for _ in range(max(1, repeats)):
        ta, _unused = timed(lambda: fit(a))
        del _unused
        tb, result_b = timed(lambda: fit(b))
        t_a.append(ta)
        t_b.append(tb)
        per.append((tb - ta) / (b - a))
    return {
        "s_per_iter": statistics.median(per),
        "per_repeat": per,
        "t_a": t_a,
        "t_b": t_b,
        "a": a,
        "b": b,
        "result_b": result_b,
    }


def interleaved_seconds_per_iteration(
    fits: Dict[str, Callable[[int], Any]],
    a: int,
    b: int,
    repeats: int = 3,
    on_result: Optional[Callable[[str, int, Any], None]] = None,
) -> Dict[str, Dict[str, Any]]:
    """:func:`seconds_per_iteration` for several configurations, interleaved: repetition r runs
    every configuration's ``fit(a)`` and ``fit(b)`` before repetition r+1 starts, so a slow drift
    of the machine (thermal, another process) is shared rather than charged to one of them.

    ``on_result(name, repeat, result_of_fit_b)`` is called after every ``fit(b)`` (the result is
    then dropped, so at most one fitted model per configuration is alive at a time).
    """
    if not b > a >= 0:
        raise ValueError(f"expected b > a >= 0, got a={a}, b={b}")
    out = {name: {"t_a": [], "t_b": [], "per_repeat": [], "a": a, "b": b} for name in fits}
    for r in range(max(1, repeats)):
        for name, fit in fits.items():
            ta, res = timed(lambda fit=fit: fit(a))
            del res
            tb, res = timed(lambda fit=fit: fit(b))
            if on_result is not None:
                on_result(name, r, res)
            del res
            o = out[name]
            o["t_a"].append(ta)
            o["t_b"].append(tb)
            o["per_repeat"].append((tb - ta) / (b - a))
    for o in out.values():
        o["s_per_iter"] = statistics.median(o["per_repeat"])
    return out


# --------------------------------------------------------------------------- machine load
def _proc_stat_seconds() -> Optional[Tuple[float, float]]:
    """(busy, steal) CPU seconds of the whole machine since boot, from /proc/stat (Linux)."""
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    hz = os.sysconf("SC_CLK_TCK")
    user, nice, system, _idle, _iowait, irq, softirq = fields[:7]
    steal = fields[7] if len(fields) > 7 else 0
    return (user + nice + system + irq + softirq) / hz, steal / hz


def _own_cpu_seconds() -> float:
    """CPU seconds of this process and of its waited-for descendants."""
    me, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


class LoadMonitor:
    """How busy the machine was with *other* work during an interval (Linux; None elsewhere).

    ``other_cores`` = (CPU seconds the whole machine spent busy - those of this process and its
    finished children) / wall seconds: about 0 on an idle machine, 1 when another job kept one
    core busy. A benchmark whose ``other_cores`` is not near 0 shared the cores and its times
    are inflated (multi-threaded ones most). ``steal_cores`` is the time the hypervisor took.
    Use ``with LoadMonitor() as m: ...`` and read ``m.result`` (a dict) afterwards; children must
    have been waited for before the block ends.
    """

    def __init__(self) -> None:
        self.result: Dict[str, Optional[float]] = {"other_cores": None, "steal_cores": None}

    def __enter__(self) -> "LoadMonitor":
        self._t0 = time.perf_counter()
        self._stat0 = _proc_stat_seconds()
        self._own0 = _own_cpu_seconds()
        return self

    def __exit__(self, *exc) -> None:
        wall = time.perf_counter() - self._t0
        stat1 = _proc_stat_seconds()
        own = _own_cpu_seconds() - self._own0
        if self._stat0 is None or stat1 is None or wall <= 0:
            return
        busy = stat1[0] - self._stat0[0]
        self.result = {
            "other_cores": max(0.0, busy - own) / wall,
            "steal_cores": (stat1[1] - self._stat0[1]) / wall,
            "wall": wall,
        }


def machine_load() -> Dict[str, Any]:
    """Load averages and the other work's CPU use over a one-second sample (see LoadMonitor)."""
    out: Dict[str, Any] = {"loadavg": os.getloadavg() if hasattr(os, "getloadavg") else None}
    with LoadMonitor() as m:
        time.sleep(1.0)
    out.update(m.result)
    return out


# --------------------------------------------------------------------------- memory
def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MB (10^6 bytes).

    ``ru_maxrss`` is in kilobytes on Linux and in bytes on macOS."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    scale = 1.0 if sys.platform == "darwin" else 1024.0
    return peak * scale / 1e6


def current_rss_mb() -> Optional[float]:
    """Current resident set size in MB (Linux /proc only; None elsewhere)."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 1e6
    except (OSError, ValueError, IndexError):
        return None


def _vm_hwm_mb() -> Optional[float]:
    """VmHWM (peak RSS) from /proc/self/status in MB; None where unavailable."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024 / 1e6
    except (OSError, ValueError, IndexError):
        pass
    return None


def _reset_vm_hwm() -> bool:
    """Resets VmHWM to the current RSS (Linux >= 4.0: writing 5 to /proc/self/clear_refs)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def emit_worker_record(record: Dict[str, Any]) -> None:
    """Prints a worker's result as the JSON line that :func:`run_worker` looks for."""
    sys.stdout.flush()
    print(WORKER_MARKER + json.dumps(record, default=_json_default), flush=True)


def memory_worker(load: Callable[[], Any], run: Callable[[Any], Any]) -> None:
    """The worker side of :func:`measure_peak_rss`; call it from the worker process.

    ``load()`` imports what the run needs and loads the data; then the peak RSS is read (the
    baseline), ``run(loaded)`` is called once, the peak is read again and one JSON line is
    printed with ``baseline_mb``, ``peak_mb``, ``delta_mb`` (= peak - baseline), ``seconds`` and
    whatever JSON-able ``run`` returned as ``info``.
    """
    loaded = load()
    gc.collect()
    baseline = peak_rss_mb()
    rss_before = current_rss_mb()
    hwm_reset = _reset_vm_hwm()
    hwm_before = _vm_hwm_mb() if hwm_reset else None
    start = time.perf_counter()
    info = run(loaded)
    seconds = time.perf_counter() - start
    peak = peak_rss_mb()
    hwm_after = _vm_hwm_mb() if hwm_reset else None
    emit_worker_record(
        {
            "baseline_mb": baseline,
            "rss_before_mb": rss_before,
            "peak_mb": peak,
            "delta_mb": peak - baseline,
            # Cross-check, Linux only: VmHWM reset to the current RSS just before the call, so this
            # delta is not shortened when loading/importing peaked above the steady RSS.
            "hwm_delta_mb": None if hwm_after is None else hwm_after - hwm_before,
            "seconds": seconds,
            "info": info if _jsonable(info) else repr(info),
        }
    )


def timing_worker(
    load: Callable[[], Any],
    fit: Callable[[Any, int], Any],
    a: int,
    b: int,
    repeats: int = 1,
    warmup: Optional[Callable[[Any], Any]] = None,
    inspect: Optional[Callable[[Any, Any], Dict[str, Any]]] = None,
) -> None:
    """The worker side of :func:`subprocess_seconds_per_iteration`; call it from the worker.

    ``load()`` imports the library and loads the data; ``warmup(loaded)`` (optional, untimed)
    exercises the code paths and thread pools once; then, ``repeats`` times, ``fit(loaded, a)``
    and ``fit(loaded, b)`` are timed. ``inspect(loaded, result_of_first_fit_b)`` may return
    JSON-able facts about the fitted model (log-likelihood, a digest of the parameters...), and
    is called outside the timed region. Prints one record: ``t_a``, ``t_b``, ``per_repeat``
    ((t_b - t_a) / (b - a) per repetition), ``info`` and the process's thread pools.
    """
    loaded = load()
    if warmup is not None:
        warmup(loaded)
    t_a, t_b, per, info = [], [], [], None
    for r in range(max(1, repeats)):
        ta, res = timed(lambda: fit(loaded, a))
        del res
        tb, res = timed(lambda: fit(loaded, b))
        if r == 0 and inspect is not None:
            info = inspect(loaded, res)
        del res
        t_a.append(ta)
        t_b.append(tb)
        per.append((tb - ta) / (b - a))
    emit_worker_record(
        {
            "t_a": t_a,
            "t_b": t_b,
            "per_repeat": per,
            "a": a,
            "b": b,
            "info": info,
            "threadpools": threadpools(),
        }
    )


class WorkerError(RuntimeError):
    """A worker process failed, printed no record, or ran past its timeout."""


def run_worker(
    argv: Sequence[str], timeout: Optional[float] = None, env: Optional[Dict[str, str]] = None
) -> Dict[str, Any]:
    """Runs ``[sys.executable, *argv]`` in a fresh process and returns the record it printed
    with :func:`emit_worker_record` (or :func:`memory_worker` / :func:`timing_worker`).

    The worker is forked by ``/bin/sh`` rather than spawned by this process: Linux keeps
    ``ru_maxrss`` across fork and exec, so a worker spawned directly by a (large) benchmark
    process would start with the parent's peak RSS as its own and hide everything below it; a
    worker forked by the shell (the trailing ``exit`` stops the shell from exec-ing it in place)
    starts from the shell's few MB. Raises :class:`WorkerError` on failure or timeout.
    """
    cmd = [sys.executable, *map(str, argv)]
    run_cmd = cmd
    if os.name == "posix" and os.path.exists("/bin/sh"):
        run_cmd = ["/bin/sh", "-c", '"$@"; exit $?', "sh", *cmd]
    # Own session (process group) so that a timeout can end the shell *and* the worker it forked.
    proc = subprocess.Popen(
        run_cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=None if env is None else {**os.environ, **env},
        start_new_session=os.name == "posix",
    )
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        if os.name == "posix":
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            proc.kill()
        proc.communicate()
        raise WorkerError(f"timed out after {timeout:g} s: {' '.join(cmd)}") from None
    for line in reversed(stdout.splitlines()):
        if line.startswith(WORKER_MARKER):
            return json.loads(line[len(WORKER_MARKER) :])
    raise WorkerError(
        f"worker failed (exit {proc.returncode}): {' '.join(cmd)}\n"
        f"stdout:\n{stdout[-2000:]}\nstderr:\n{stderr[-4000:]}"
    )


def measure_peak_rss(
    argv: Sequence[str], timeout: Optional[float] = None, env: Optional[Dict[str, str]] = None
) -> Dict[str, Any]:
    """Runs a script that ends in :func:`memory_worker` in a fresh process (see
    :func:`run_worker`) and returns its record: ``delta_mb`` is the peak RSS of the measured
    call above the baseline after loading."""
    return run_worker(argv, timeout=timeout, env=env)


def subprocess_seconds_per_iteration(
    argvs: Dict[str, Sequence[str]],
    repeats: int = 3,
    timeout: Optional[float] = None,
    progress: Optional[Callable[[str], None]] = None,
) -> Dict[str, Dict[str, Any]]:
    """Seconds per iteration of several configurations, each repetition in a fresh process.

    ``argvs[name]`` runs a script ending in :func:`timing_worker` with one repetition.
    Repetition r of every configuration runs before repetition r + 1 of any (interleaved, so a
    drift of the machine is shared), and each one in its own process, so that thread pools left
    spinning by one library (OpenMP, OpenBLAS) cannot slow down the next measurement. A
    configuration whose worker fails or times out is not run again; its entry gets ``error``.

    Returns {name: {"s_per_iter": median, "per_repeat", "t_a", "t_b", "a", "b", "info" (of the
    first repetition), "threadpools", "error", "other_cores" (per repetition: the CPU use of
    other processes during it, see LoadMonitor)}}.
    """
    out: Dict[str, Dict[str, Any]] = {
        name: {"t_a": [], "t_b": [], "per_repeat": [], "info": None, "error": None}
        for name in argvs
    }
    for r in range(max(1, repeats)):
        for name, argv in argvs.items():
            o = out[name]
            if o["error"]:
                continue
            start = time.perf_counter()
            try:
                with LoadMonitor() as load:
                    rec = run_worker(argv, timeout=timeout)
            except WorkerError as exc:
                o["error"] = str(exc)
                if progress:
                    progress(f"repeat {r + 1}/{repeats}: {name} FAILED: {str(exc).splitlines()[0]}")
                continue
            for key in ("t_a", "t_b", "per_repeat"):
                o[key].extend(rec[key])
            o.setdefault("other_cores", []).append(load.result["other_cores"])
            o["a"], o["b"] = rec["a"], rec["b"]
            if o["info"] is None:
                o["info"] = rec.get("info")
                o["threadpools"] = rec.get("threadpools")
            if progress:
                other = load.result["other_cores"]
                progress(
                    f"repeat {r + 1}/{repeats}: {name} {rec['per_repeat'][0]:.4g} s/iter "
                    f"(worker {time.perf_counter() - start:.1f} s"
                    + ("" if other is None else f", other load {other:.2f} cores")
                    + ")"
                )
    for o in out.values():
        o["s_per_iter"] = statistics.median(o["per_repeat"]) if o["per_repeat"] else None
    return out


# --------------------------------------------------------------------------- data files
def save_arrays(directory: os.PathLike, **arrays: np.ndarray) -> Dict[str, str]:
    """Saves each array to ``directory/<name>.npy``; returns {name: path}."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, arr in arrays.items():
        path = directory / f"{name}.npy"
        np.save(path, np.ascontiguousarray(arr))
        paths[name] = str(path)
    return paths


def load_arrays(directory: os.PathLike, names: Sequence[str]) -> Dict[str, np.ndarray]:
    """Loads ``directory/<name>.npy`` for each name (read straight into one array, so the peak
    RSS after loading is about the size of the data)."""
    directory = Path(directory)
    return {name: np.load(directory / f"{name}.npy") for name in names}


# --------------------------------------------------------------------------- output
def format_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[Any]],
    align: Optional[str] = None,
    title: Optional[str] = None,
) -> str:
    """A plain-text table. ``align`` has one character per column, "l" or "r" (default: the
    first column left, the others right). Cells are converted with str(); None prints as "-"."""
    n = len(headers)
    align = align or ("l" + "r" * (n - 1))
    cells = [[("-" if c is None else str(c)) for c in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]

    def line(values):
        parts = [v.ljust(w) if a == "l" else v.rjust(w) for v, w, a in zip(values, widths, align)]
        return "  ".join(parts).rstrip()

    out = []
    if title:
        out.append(title)
    out.append(line(list(headers)))
    out.append("  ".join("-" * w for w in widths))
    out.extend(line(r) for r in cells)
    return "\n".join(out)


def fmt(x: Optional[float], spec: str = ".3g") -> Optional[str]:
    """Formats a number for a table cell (None and NaN print as "-")."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return None
    return format(x, spec)


def fmt_seconds(s: Optional[float]) -> Optional[str]:
    """Seconds with 3 significant digits, in ms below 1 s."""
    if s is None or (isinstance(s, float) and math.isnan(s)):
        return None
    if abs(s) < 1.0:
        return f"{s * 1e3:.3g} ms"
    return f"{s:.3g} s"


def threadpools() -> List[Dict[str, Any]]:
    """threadpoolctl's description of the BLAS and OpenMP pools loaded in this process (empty
    when threadpoolctl is not installed)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    keep = (
        "user_api",
        "internal_api",
        "num_threads",
        "version",
        "prefix",
        "filepath",
        "threading_layer",
        "architecture",
    )
    return [{k: v for k, v in pool.items() if k in keep} for pool in threadpool_info()]


def blas_threads_summary(pools: Optional[List[Dict[str, Any]]] = None) -> str:
    """A one-line summary of the thread pools, such as
    ``blas: openblas 0.3.27 [libopenblas.so] (2 threads); openmp: ...``."""
    pools = threadpools() if pools is None else pools
    if not pools:
        return "threadpoolctl not installed: thread pools unknown"
    parts = []
    for p in pools:
        name = p.get("internal_api", "?")
        version = p.get("version") or ""
        lib = Path(p.get("filepath", "")).name
        parts.append(
            f"{p.get('user_api')}: {name} {version} [{lib}] ({p.get('num_threads')} threads)"
        )
    return "; ".join(parts)


def environment(packages: Sequence[str] = ()) -> Dict[str, Any]:
    """Machine, Python and package versions, and the thread pools (call it after importing the
    libraries being compared, so that their BLAS/OpenMP pools are loaded)."""
    env: Dict[str, Any] = {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "thread_env": {
            k: os.environ[k]
            for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
            if k in os.environ
        },
        "packages": {},
        "threadpools": threadpools(),
    }
    for name in ("numpy", *packages):
        try:
            mod = __import__(name)
            env["packages"][name] = getattr(mod, "__version__", "?")
        except ImportError:
            env["packages"][name] = None
    return env


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def timestamp() -> str:
    return _dt.datetime.now().strftime("%Y%m%d-%H%M%S")


def write_results(
    prefix: str, payload: Dict[str, Any], directory: os.PathLike = RESULTS_DIR
) -> Path:
    """Writes ``payload`` as ``<directory>/<prefix>-<timestamp>.json``; returns the path."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{prefix}-{timestamp()}.json"
    with open(path, "w") as f:
        json.dump(payload, f, indent=2, default=_json_default)
        f.write("\n")
    return path


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def _jsonable(x: Any) -> bool:
    try:
        json.dumps(x, default=_json_default)
        return True
    except (TypeError, ValueError):
        return False
