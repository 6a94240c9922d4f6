"""What every emkit estimator shares: scikit-learn's parameter protocol, the restarts report,
the monitor's warnings."""

from __future__ import annotations

import inspect
import warnings
from dataclasses import dataclass, field
from typing import Any, Dict, List

import numpy as np

#: Two runs "replicate" the best optimum when their objectives agree to this relative tolerance.
REPLICATION_RTOL = 1e-6


class ConvergenceWarning(UserWarning):
    """EM stopped at max_iter before the change of the objective fell below tol."""


class MonitorWarning(RuntimeWarning):
    """The objective decreased between two EM iterations beyond round-off (EM guarantees it
    never does: this signals a numerical problem)."""


class EmptyComponentWarning(RuntimeWarning):
    """A component lost (almost) all its weight during fitting; it kept its previous parameters."""


class NotFittedError(ValueError, AttributeError):
    """The estimator is used before fit."""


class BaseEstimator:
    """get_params/set_params and repr from the constructor's keyword arguments, as scikit-learn."""

    @classmethod
    def _param_names(cls) -> List[str]:
        sig = inspect.signature(cls.__init__)
        return [p.name for p in sig.parameters.values() if p.name != "self" and p.kind != p.VAR_KEYWORD]

    def get_params(self, deep: bool = True) -> Dict[str, Any]:
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> "BaseEstimator":
        valid = self._param_names()
        for name, value in params.items():
            if name not in valid:
                raise ValueError(f"set_params: unknown parameter {name!r}; valid parameters are {valid}")
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        defaults = {
            p.name: p.default for p in inspect.signature(type(self).__init__).parameters.values()
        }
        changed = []
        for name in self._param_names():
            value = getattr(self, name)
            default = defaults.get(name, inspect.Parameter.empty)
            same = False
            try:
                same = value is default or (
                    not isinstance(value, np.ndarray) and bool(value == default)
                )
            except Exception:
                pass
            if not same:
                changed.append(f"{name}={value!r}" if not isinstance(value, np.ndarray) else f"{name}=array")
        return f"{type(self).__name__}({', '.join(changed)})"

    def _check_fitted(self) -> None:
        if not hasattr(self, "loglik_") and not getattr(self, "_initialized", False):
            raise NotFittedError(
                f"This {type(self).__name__} is not fitted yet; call fit (or initialize) first"
            )


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

    def __iter__(self):
        return iter(self.runs)

    def __getitem__(self, i: int) -> RestartRun:
        return self.runs[i]

    def to_frame(self):
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
            stacklevel=3,
        )
    empty = sorted({k for step in record["empty_states"] for k in step})
    if empty:
        warnings.warn(
            f"{model_name}: components {empty} lost all their weight and kept their previous "
            "parameters; consider fewer components or a prior",
            EmptyComponentWarning,
            stacklevel=3,
        )
    if not record["converged"] and tol > 0 and max_iter > 0 and not record["stopped_by_callback"]:
        warnings.warn(
            f"{model_name}: EM did not converge in max_iter={max_iter} iterations (tol={tol:g}); "
            "increase max_iter or tol",
            ConvergenceWarning,
            stacklevel=3,
        )


def progress_callback(verbose: int, interval: int, run: int):
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
