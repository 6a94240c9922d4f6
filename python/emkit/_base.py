"""What every emkit estimator shares: scikit-learn's parameter protocol, and the EM protocol
that every driver (the in-memory fit, a chunked or streaming driver, Dask) speaks.

The EM protocol, for every estimator:

- ``initialize(X, ...)`` sets the starting parameters of the first run (the same start as
  ``fit`` with that ``random_state``), without fitting;
- ``e_step(X_chunk, ...)`` returns the expected sufficient statistics of some rows (HMMs: whole
  sequences) at the current parameters, a :class:`~emkit.Stats` value; statistics of chunks add
  up with ``+`` and pickle; adding statistics computed at different parameters is refused;
- ``m_step(stats)`` re-estimates the parameters from summed statistics (MAP under a prior);
- ``log_prior()`` is log p(parameters), so that the objective of an iteration is
  ``stats.loglik + est.log_prior()``;
- ``pending_pass`` is True while the M-step needs one more additive pass of ``e_step`` over
  the rows (latent class regression's step-halving); a driver then calls ``m_step`` again with
  the summed statistics of that pass.

One EM iteration of any driver is therefore::

    stats = sum(est.e_step(chunk) for chunk in chunks)
    est.m_step(stats)
    while est.pending_pass:
        est.m_step(sum(est.e_step(chunk) for chunk in chunks))

``get_state()`` returns a plain dict (hyperparameters and numpy arrays, see ``_state``) that
fully determines the fitted model; ``set_state(state)`` restores it, predictions bit-identical.
"""

from __future__ import annotations

import hashlib
import inspect
import warnings
from dataclasses import dataclass, field
from typing import Any, ClassVar, Dict, List, Optional, Tuple

import numpy as np

from . import _core
from ._restarts import RestartReport, RestartRun, report_monitor, run_restarts
from ._state import from_plain, to_plain
from ._stats import Stats
from ._warnings import ConvergenceWarning, EmptyComponentWarning, MonitorWarning, NotFittedError

__all__ = [
    "BaseEstimator",
    "EMEstimator",
    "MixtureEstimator",
    "ConvergenceWarning",
    "EmptyComponentWarning",
    "MonitorWarning",
    "NotFittedError",
    "RestartReport",
    "RestartRun",
    "report_monitor",
    "run_restarts",
    "Stats",
]

#: The version of the layout of ``get_state``'s dict.
STATE_VERSION = 1


class BaseEstimator:
    """get_params/set_params and repr from the constructor's keyword arguments, as scikit-learn."""

    @classmethod
    def _param_names(cls) -> List[str]:
        sig = inspect.signature(cls.__init__)
        return [p.name for p in sig.parameters.values() if p.name != "self" and p.kind != p.VAR_KEYWORD]

    def get_params(self, deep: bool = True) -> Dict[str, Any]:
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> BaseEstimator:
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


@dataclass(eq=False, repr=False, kw_only=True)
class EMEstimator(BaseEstimator):
    """The EM protocol's shared half (see the module docstring). A subclass names its current
    parameters in ``_parameter_attributes`` (their presence means fitted or initialised; they
    fingerprint the statistics) and implements ``initialize``, ``e_step`` (through
    :meth:`_stats`), ``m_step`` (through :meth:`_check_stats`) and ``log_prior``.

    Constructors are dataclasses: every class that declares constructor parameters is decorated
    with ``@dataclass(eq=False, repr=False, kw_only=True)`` (identity equality and hash, the repr
    of :class:`BaseEstimator`, keyword-only parameters) and declares them as fields, each once, in
    the class it belongs to; a subclass redeclares a field only to change
    its default (``field(default=..., kw_only=False)`` for the positional ones). The generated
    ``__init__`` only stores the arguments, as scikit-learn's; fit checks them. The fields here
    are the fitting settings of every estimator (documented in each estimator's docstring)."""

    tol: float = 1e-3
    max_iter: int = 100
    warm_start: bool = False
    n_threads: Optional[int] = None
    verbose: int = 0
    verbose_interval: int = 10

    #: The attributes holding the current parameters (set by fit, initialize or set_state).
    _parameter_attributes: ClassVar[Tuple[str, ...]] = ()
    #: Parameters some configurations of the model have and others not (fingerprinted when set).
    _optional_parameter_attributes: ClassVar[Tuple[str, ...]] = ()
    #: Attributes left out of get_state (working data that the state does not need).
    _transient_attributes: ClassVar[Tuple[str, ...]] = ()

    # ------------------------------------------------------------------ fitted or not
    def _is_fitted(self) -> bool:
        return bool(self._parameter_attributes) and all(
            name in self.__dict__ for name in self._parameter_attributes
        )

    def _check_fitted(self) -> None:
        if not self._is_fitted():
            missing = [name for name in self._parameter_attributes if name not in self.__dict__]
            raise NotFittedError(
                f"This {type(self).__name__} is not fitted yet; call fit (or initialize) first "
                f"(it has no {', '.join(missing)})"
            )

    # ------------------------------------------------------------------ statistics
    def _fingerprint(self) -> str:
        """A digest of the current parameters: statistics remember the parameters they were
        computed at, so that statistics of other parameters are neither added nor M-stepped."""
        digest = hashlib.blake2b(type(self).__name__.encode(), digest_size=16)
        for name in self._parameter_attributes + self._optional_parameter_attributes:
            value = self.__dict__.get(name)
            digest.update(name.encode())
            if value is None:
                digest.update(b"none")
                continue
            if isinstance(value, (list, tuple)):
                parts = [np.ascontiguousarray(v) for v in value]
            else:
                parts = [np.ascontiguousarray(value)]
            for part in parts:
                digest.update(str(part.dtype).encode() + str(part.shape).encode())
                digest.update(part.tobytes())
        return digest.hexdigest()

    def _stats(self, core_stats: Any) -> Stats:
        """Wraps the core's statistics of an E-step with the current parameters' fingerprint."""
        return Stats(core_stats, self._fingerprint(), type(self).__name__)

    def _check_stats(self, stats: Any) -> Any:
        """The core statistics inside ``stats`` after checking that they were computed at the
        current parameters by an estimator of this kind."""
        self._check_fitted()
        if not isinstance(stats, Stats):
            raise TypeError(f"stats: expected the Stats of e_step, got {type(stats).__name__}")
        if stats.estimator != type(self).__name__:
            raise TypeError(f"stats: computed by a {stats.estimator}, not a {type(self).__name__}")
        if stats.fingerprint != self._fingerprint():
            raise ValueError("stats: computed at other parameters than the model's current ones")
        return stats.core

    @property
    def pending_pass(self) -> bool:
        """True while the M-step waits for one more pass of ``e_step`` (see the module docs)."""
        return False

    # ------------------------------------------------------------------ restarts and record
    def _fit_runs(
        self, seeds: List[int], run: Any, p: Dict[str, Any], total_weight: float, n_rows: int
    ) -> Any:
        """Runs the restarts (``_restarts.run_restarts``; ``run(index, seed, callback, n_threads)``,
        side by side on small data) and stores the best run's record as fitted attributes;
        returns the best run's core model."""
        model, record, report = run_restarts(
            type(self).__name__, seeds, run, verbose=p["verbose"],
            verbose_interval=p.get("verbose_interval", 10), tol=p["tol"], max_iter=p["max_iter"],
            n_threads=p["n_threads"] or _core.max_threads(), n_rows=n_rows,
        )
        self.converged_ = bool(record["converged"])
        self.n_iter_ = int(record["n_iter"])
        self.history_ = np.asarray(record["history"])
        self.loglik_history_ = np.asarray(record["loglik"])
        self.iteration_seconds_ = np.asarray(record["seconds"])
        self.loglik_ = float(record["loglik"][-1])
        #: The final objective per unit of sample weight (scikit-learn's lower_bound_).
        self.lower_bound_ = float(record["history"][-1]) / total_weight
        self.restarts_ = report
        return model

    def _warm(self) -> bool:
        """Whether fit continues from the current parameters (``warm_start`` and fitted)."""
        warm = self.warm_start
        if not isinstance(warm, (bool, np.bool_)):
            raise TypeError(f"warm_start: expected a bool, got {warm!r}")
        return bool(warm) and self._is_fitted()

    # ------------------------------------------------------------------ state
    def get_state(self) -> Dict[str, Any]:
        """The fitted model as a plain dict: ``estimator`` (class name), ``version``, ``params``
        (the constructor's arguments) and ``fitted`` (every fitted attribute), built only of
        plain values and numpy arrays. ``set_state`` restores it exactly."""
        self._check_fitted()
        if self.pending_pass:
            raise ValueError("get_state: the M-step waits for one more pass of e_step; finish it first")
        self._complete_state()
        params = self.get_params()
        fitted = {
            name: value for name, value in self.__dict__.items()
            if name not in params and name not in self._transient_attributes
        }
        return {
            "estimator": type(self).__name__,
            "version": STATE_VERSION,
            "params": to_plain(params, "params"),
            "fitted": to_plain(fitted, "fitted"),
        }

    def _complete_state(self) -> None:
        """Computes what get_state stores and the estimator still holds pending (a hook)."""

    def set_state(self, state: Dict[str, Any]) -> EMEstimator:
        """Restores a state of ``get_state`` (of an estimator of this class); returns self."""
        if not isinstance(state, dict):
            raise TypeError(f"state: expected the dict of get_state, got {type(state).__name__}")
        missing = [k for k in ("estimator", "version", "params", "fitted") if k not in state]
        if missing:
            raise ValueError(f"state: missing entries {missing}")
        if state["estimator"] != type(self).__name__:
            raise ValueError(f"state: of a {state['estimator']!r}, not a {type(self).__name__!r}")
        if state["version"] != STATE_VERSION:
            raise ValueError(f"state: layout version {state['version']!r}; this emkit reads {STATE_VERSION}")
        params = from_plain(state["params"])
        fitted = from_plain(state["fitted"])
        if not isinstance(params, dict) or not isinstance(fitted, dict):
            raise ValueError("state: 'params' and 'fitted' must be dicts")
        unknown = sorted(set(params) - set(self._param_names()))
        if unknown:
            raise ValueError(f"state: unknown parameters {unknown} for {type(self).__name__}")
        absent = [name for name in self._parameter_attributes if name not in fitted]
        if absent:
            raise ValueError(f"state: the fitted parameters {absent} are missing")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # deprecated aliases are stored too
            for name in list(self.__dict__):
                delattr(self, name)
            self.set_params(**params)
        for name, value in fitted.items():
            setattr(self, name, value)
        return self


@dataclass(eq=False, repr=False, kw_only=True)
class MixtureEstimator(EMEstimator):
    """The fields of the estimators of mixture models (GaussianMixture, LatentClass, the HMMs —
    an HMM is a mixture whose labels follow a Markov chain): ``n_components`` components
    (classes, states; the one positional parameter), fitted from ``n_init`` random starts seeded
    by ``random_state``, with the parameter groups named in ``fixed`` held at their initial
    values (which groups: the estimator's)."""

    n_components: int = field(default=1, kw_only=False)
    n_init: int = 1
    fixed: Any = None
    random_state: Any = None


def deprecated_alias(new_value: Any, new_name: str, old_value: Any, old_name: str, default: Any) -> Any:
    """The value of a parameter that has a deprecated old spelling: the old one (with a
    FutureWarning) when it was given, an error when both were."""
    if old_value is None:
        return new_value
    if new_value is not default and not (isinstance(new_value, type(default)) and new_value == default):
        raise ValueError(f"{old_name}: a deprecated alias of {new_name}; give only {new_name}")
    warnings.warn(
        f"{old_name} is deprecated and will be removed; use {new_name}", FutureWarning, stacklevel=4
    )
    return old_value
