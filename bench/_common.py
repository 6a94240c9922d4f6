"""Helpers of the benchmark runner (bench/run.py): fresh worker processes, wall-clock timing,
peak resident memory, machine load, data files, the environment and the output tables.

Only numpy and the standard library are needed here; threadpoolctl is used when installed.
"""

from __future__ import annotations

import gc
import json
import os
import platform
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

#: Prefixes the JSON line a worker process prints on stdout (see run_worker).
WORKER_MARKER = "@@EMKIT_BENCH_WORKER@@"


# --------------------------------------------------------------------------- timing, memory
def timed(fn: Callable[[], Any]) -> Tuple[float, Any]:
    """(wall-clock seconds, result) of one call of ``fn``; garbage is collected first so that a
    previous measurement's garbage is not charged to this one."""
    gc.collect()
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far (``ru_maxrss``), in MB (10^6 bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak * (1.0 if sys.platform == "darwin" else 1024.0) / 1e6


# --------------------------------------------------------------------------- machine load
def _busy_cpu_seconds() -> Optional[float]:
    """CPU seconds the whole machine spent busy since boot, from /proc/stat (Linux)."""
    try:
        with open("/proc/stat") as f:
            user, nice, system, _idle, _iowait, irq, softirq = map(int, f.readline().split()[1:8])
    except (OSError, ValueError):
        return None
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def _own_cpu_seconds() -> float:
    """CPU seconds of this process and of its waited-for children."""
    me, kids = (resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


class LoadMonitor:
    """How many cores *other* processes kept busy during a ``with`` block (Linux; None
    elsewhere): (machine-wide busy CPU seconds - this process's and its finished children's) /
    wall seconds. About 0 on a quiet machine; a shared machine inflates the times, the
    multi-threaded ones most. Read ``other_cores`` after the block."""

    other_cores: Optional[float] = None

    def __enter__(self) -> LoadMonitor:
        self._t0 = time.perf_counter()
        self._busy0, self._own0 = _busy_cpu_seconds(), _own_cpu_seconds()
        return self

    def __exit__(self, *exc) -> None:
        wall, busy = time.perf_counter() - self._t0, _busy_cpu_seconds()
        if busy is not None and self._busy0 is not None and wall > 0:
            own = _own_cpu_seconds() - self._own0
            self.other_cores = max(0.0, busy - self._busy0 - own) / wall


def other_load_now(seconds: float = 1.0) -> Optional[float]:
    """Cores kept busy by other processes over a short sample."""
    with LoadMonitor() as m:
        time.sleep(seconds)
    return m.other_cores


# --------------------------------------------------------------------------- worker processes
class WorkerError(RuntimeError):
    """A worker process failed, printed no record, or ran past its timeout."""


def emit_worker_record(record: Dict[str, Any]) -> None:
    """Prints a worker's result as the JSON line that :func:`run_worker` looks for."""
    sys.stdout.flush()
    print(WORKER_MARKER + json.dumps(record, default=json_default), flush=True)


def run_worker(argv: Sequence[str], timeout: Optional[float] = None) -> Dict[str, Any]:
    """Runs ``[sys.executable, *argv]`` in a fresh process and returns the record it printed
    with :func:`emit_worker_record`; raises :class:`WorkerError` on failure or timeout.

    The worker is forked by ``/bin/sh`` rather than by this process: Linux keeps ``ru_maxrss``
    across fork and exec, so a worker started directly by the (large) benchmark process would
    inherit its peak RSS; one forked by the shell (``exit`` keeps the shell from exec-ing it in
    place) starts from the shell's few MB.
    """
    cmd = [sys.executable, *map(str, argv)]
    run_cmd = ["/bin/sh", "-c", '"$@"; exit $?', "sh", *cmd] if os.path.exists("/bin/sh") else cmd
    # Own process group, so that a timeout ends the shell and the worker it forked.
    proc = subprocess.Popen(
        run_cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise WorkerError(f"timed out after {timeout:g} s") from None
    for line in reversed(stdout.splitlines()):
        if line.startswith(WORKER_MARKER):
            return json.loads(line[len(WORKER_MARKER):])
    raise WorkerError(f"worker failed (exit {proc.returncode}):\n{stderr[-3000:]}")


# --------------------------------------------------------------------------- data files
def save_arrays(directory: Path, arrays: Dict[str, np.ndarray]) -> None:
    """Saves each array to ``directory/<name>.npy``."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, arr in arrays.items():
        np.save(directory / f"{name}.npy", np.ascontiguousarray(arr))


def load_arrays(directory: Path) -> Dict[str, np.ndarray]:
    """Loads every ``directory/*.npy`` (read straight into one array each, so the peak RSS after
    loading is about the size of the data)."""
    return {p.stem: np.load(p) for p in sorted(Path(directory).glob("*.npy"))}


# --------------------------------------------------------------------------- environment
def threadpools() -> List[Dict[str, Any]]:
    """threadpoolctl's description of the BLAS and OpenMP pools loaded in this process."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    keep = ("user_api", "internal_api", "num_threads", "version", "filepath", "architecture")
    return [{k: v for k, v in pool.items() if k in keep} for pool in threadpool_info()]


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def package_versions(modules: Sequence[str]) -> Dict[str, Optional[str]]:
    """Installed version of each distribution / module (None: not installed)."""
    from importlib import metadata

    out: Dict[str, Optional[str]] = {}
    for name in modules:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


# --------------------------------------------------------------------------- output
def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table padded to aligned columns (readable as plain text too); None -> "-"."""
    cells = [[("-" if c is None else str(c)) for c in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]

    def line(values, left_first=True):
        parts = [v.ljust(w) if (i == 0 and left_first) else v.rjust(w)
                 for i, (v, w) in enumerate(zip(values, widths))]
        return "| " + " | ".join(parts) + " |"

    rule = "|" + "|".join(":" + "-" * (w + 1) if i == 0 else "-" * (w + 1) + ":"
                          for i, w in enumerate(widths)) + "|"
    return "\n".join([line(list(headers)), rule] + [line(r) for r in cells])


def fmt(x: Optional[float], spec: str = ".3g") -> Optional[str]:
    """A number for a table cell (None and NaN print as "-")."""
    if x is None or x != x:
        return None
    return format(x, spec)


def fmt_seconds(s: Optional[float]) -> Optional[str]:
    """Seconds with 3 significant digits, in ms below 1 s, in µs below 1 ms."""
    if s is None or s != s:
        return None
    if abs(s) >= 1.0:
        return f"{s:.3g} s"
    if abs(s) >= 1e-3:
        return f"{s * 1e3:.3g} ms"
    return f"{s * 1e6:.3g} µs"


def time_field(res: Dict[str, Any]) -> str:
    """The time a configuration's results hold: "s_per_iter" (per-iteration rows) or
    "seconds" (whole fits)."""
    return "seconds" if res["config"].get("task") == "whole" else "s_per_iter"


def time_cell(res: Optional[Dict[str, Any]]) -> Optional[str]:
    """A configuration's median time for a table ("*" when noisy), or why it has none."""
    if res is None:
        return None
    value = res[time_field(res)]
    if value is None:
        return "timeout" if "timed out" in (res["error"] or "") else "failed"
    return fmt_seconds(value) + ("*" if res["noisy"] else "")


def json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def write_json(path: Path, payload: Dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        json.dump(payload, f, indent=2, default=json_default)
        f.write("\n")
