"""Restarts and their record: every estimator's ``fit`` runs its EM runs through
:func:`run_restarts`, which keeps the report of every run, prints progress, picks the best run and
turns the core monitor's record into warnings. On small data, where one run cannot keep the cores
busy, the runs go side by side (one thread each): the core's results do not depend on the number
of threads, so the report and the chosen run are those of running them one after another."""

from __future__ import annotations

import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from ._warnings import ConvergenceWarning, EmptyComponentWarning, MonitorWarning

#: Below this many rows (per core) one run cannot keep the cores busy: restarts go side by side.
SIDE_BY_SIDE_ROWS_PER_CORE = 20_000

#: Two runs "replicate" the best optimum when their objectives agree to this relative tolerance.
REPLICATION_RTOL = 1e-6


@dataclass
class RestartRun:
    """One EM run of a multi-start fit."""

    seed: int
    objective: float
    loglik: float
    n_iter: int
    converged: bool


@dataclass
class RestartReport:
    """Every run of a multi-start fit and whether the best optimum replicated.

    ``n_replicated`` counts the runs whose final objective is within a relative
    ``REPLICATION_RTOL`` of the best one (the best run included): LCA practice is to trust a
    maximum only when it is reached from several starts.
    """

    runs: List[RestartRun] = field(default_factory=list)

    @property
    def best(self) -> int:
        """Index of the run with the highest objective."""
        return int(np.argmax([r.objective for r in self.runs]))

    @property
    def best_objective(self) -> float:
        return self.runs[self.best].objective

    @property
    def n_replicated(self) -> int:
        best = self.best_objective
        scale = max(abs(best), 1e-300)
        return sum(abs(r.objective - best) <= REPLICATION_RTOL * scale for r in self.runs)

    @property
    def replicated(self) -> bool:
        """True when at least two runs reached the best objective."""
        return self.n_replicated >= 2

    def __len__(self) -> int:
        return len(self.runs)

    def __iter__(self) -> Iterator[RestartRun]:
        return iter(self.runs)

    def __getitem__(self, i: int) -> RestartRun:
        return self.runs[i]

    def to_frame(self) -> Any:
        """The runs as a pandas DataFrame (requires pandas)."""
        import pandas as pd

        return pd.DataFrame([r.__dict__ for r in self.runs])

    def table(self) -> str:
        lines = [f"{'run':>4} {'seed':>20} {'objective':>16} {'iter':>5} {'converged':>9}"]
        best = self.best
        for i, r in enumerate(self.runs):
            mark = " *" if i == best else ""
            lines.append(f"{i:>4} {r.seed:>20} {r.objective:>16.6f} {r.n_iter:>5} {str(r.converged):>9}{mark}")
        lines.append(
            f"best objective {self.best_objective:.6f} reached by {self.n_replicated} of "
            f"{len(self.runs)} runs (relative tolerance {REPLICATION_RTOL:g})"
        )
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()


def report_monitor(record: Dict[str, Any], model_name: str, tol: float, max_iter: int) -> None:
    """Turns the core monitor's record of the chosen run into warnings."""
    for it in record["decreases"]:
        warnings.warn(
            f"{model_name}: the objective decreased at iteration {it} "
            f"({record['history'][it - 1]:.10g} -> {record['history'][it]:.10g}); "
            "EM never decreases it, so this signals a numerical problem",
            MonitorWarning,
            stacklevel=4,
        )
    empty = sorted({k for step in record["empty_states"] for k in step})
    if empty:
        warnings.warn(
            f"{model_name}: components {empty} lost all their weight and kept their previous "
            "parameters; consider fewer components or a prior",
            EmptyComponentWarning,
            stacklevel=4,
        )
    if not record["converged"] and tol > 0 and max_iter > 0 and not record["stopped_by_callback"]:
        warnings.warn(
            f"{model_name}: EM did not converge in max_iter={max_iter} iterations (tol={tol:g}); "
            "increase max_iter or tol",
            ConvergenceWarning,
            stacklevel=4,
        )


def progress_callback(
    verbose: int, interval: int, run: int
) -> Optional[Callable[[Dict[str, Any]], bool]]:
    """The driver callback that prints every ``interval``-th iteration when ``verbose >= 2``
    (None otherwise, so the core runs without calling back into Python)."""
    if verbose < 2:
        return None

    def callback(info: Dict[str, Any]) -> bool:
        if info["iteration"] % interval == 0:
            print(
                f"  run {run} iteration {info['iteration']}: objective {info['objective']:.6f} "
                f"change {info['change']:.3g} ({info['seconds']:.3f}s)"
            )
        return True

    return callback


#: One EM run: (run index, seed, progress callback or None, threads) -> (core model, monitor record).
RunFunction = Callable[
    [int, int, Optional[Callable[[Dict[str, Any]], bool]], int], Tuple[Any, Dict[str, Any]]
]


def side_by_side(n_runs: int, n_threads: int, n_rows: int, verbose: int) -> int:
    """How many runs go side by side: up to one per thread when the data are small (fewer than
    ``SIDE_BY_SIDE_ROWS_PER_CORE`` rows per thread) and no per-iteration progress is printed."""
    if n_runs < 2 or n_threads < 2 or verbose >= 2 or n_rows >= SIDE_BY_SIDE_ROWS_PER_CORE * n_threads:
        return 1
    return min(n_runs, n_threads)


def run_restarts(
    name: str, seeds: Sequence[int], run: RunFunction, *, verbose: int, verbose_interval: int,
    tol: float, max_iter: int, n_threads: int = 1, n_rows: int = 0,
) -> Tuple[Any, Dict[str, Any], RestartReport]:
    """Runs ``run`` once per seed; returns the best run's (model, record) and the report of all.

    ``verbose >= 1`` prints each run's result, ``verbose >= 2`` also every ``verbose_interval``-th
    iteration (through the core driver's callback). The best run's monitor record becomes
    warnings (decreases, empty components, no convergence). ``n_threads`` (>= 1, resolved) and
    ``n_rows`` decide whether runs go side by side (:func:`side_by_side`)."""
    report = RestartReport()
    best: Optional[Tuple[Any, Dict[str, Any]]] = None

    def keep(index: int, seed: int, model: Any, record: Dict[str, Any]) -> None:
        nonlocal best
        objective = float(record["history"][-1])
        report.runs.append(
            RestartRun(int(seed), objective, float(record["loglik"][-1]), int(record["n_iter"]),
                       bool(record["converged"]))
        )
        if verbose:
            print(
                f"run {index}: objective {objective:.6f} after {record['n_iter']} iterations, "
                f"converged={record['converged']}"
            )
        if best is None or objective > best[1]["history"][-1]:
            best = (model, record)

    workers = side_by_side(len(seeds), n_threads, n_rows, verbose)
    if workers > 1:
        threads = max(1, n_threads // workers)
        with ThreadPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(lambda i: run(i, seeds[i], None, threads), range(len(seeds))))
        for index, (model, record) in enumerate(results):
            keep(index, seeds[index], model, record)
    else:
        for index, seed in enumerate(seeds):
            keep(index, seed, *run(index, seed, progress_callback(verbose, verbose_interval, index), n_threads))
    assert best is not None, "run_restarts: expected at least one seed"
    report_monitor(best[1], name, tol, max_iter)
    return best[0], best[1], report
