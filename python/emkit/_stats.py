"""The value ``e_step`` returns: expected sufficient statistics of some rows, at some parameters."""

from __future__ import annotations

from typing import Any, Dict


class Stats:
    """Expected sufficient statistics of a set of rows (HMMs: of whole sequences), computed by an
    estimator's ``e_step`` at its current parameters.

    Statistics add up: ``a + b`` (and ``sum([...])``) are the statistics of both sets of rows, so
    any split of the data gives the same M-step. They pickle, so that workers can send them. They
    remember the parameters they were computed at (a fingerprint): adding statistics of different
    parameters, or M-stepping an estimator whose parameters have changed since, is refused.

    ``loglik`` (Σ weight · log p(x)) and ``total_weight`` are always present; the statistics of
    the model's core (``core``, e.g. ``resp_sum``) are readable as attributes of this object.
    """

    __slots__ = ("core", "fingerprint", "estimator")

    def __init__(self, core: Any, fingerprint: str, estimator: str):
        self.core = core
        self.fingerprint = fingerprint
        self.estimator = estimator

    @property
    def loglik(self) -> float:
        return float(self.core.loglik)

    @property
    def total_weight(self) -> float:
        return float(self.core.total_weight)

    def __add__(self, other: Any) -> Stats:
        if not isinstance(other, Stats):
            return NotImplemented
        if other.estimator != self.estimator or type(other.core) is not type(self.core):
            raise TypeError(
                f"stats: cannot add statistics of a {other.estimator} to those of a {self.estimator}"
            )
        if other.fingerprint != self.fingerprint:
            raise ValueError("stats: cannot add statistics computed at different parameters")
        return Stats(self.core + other.core, self.fingerprint, self.estimator)

    def __radd__(self, other: Any) -> Stats:
        if isinstance(other, int) and other == 0:  # sum() starts from 0
            return self
        return NotImplemented

    def __getattr__(self, name: str) -> Any:
        if name in Stats.__slots__ or name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.core, name)

    def __getstate__(self) -> Dict[str, Any]:
        return {"core": self.core, "fingerprint": self.fingerprint, "estimator": self.estimator}

    def __setstate__(self, state: Dict[str, Any]) -> None:
        self.core = state["core"]
        self.fingerprint = state["fingerprint"]
        self.estimator = state["estimator"]

    def __repr__(self) -> str:
        return (f"Stats({self.estimator}, {type(self.core).__name__}, loglik={self.loglik:.6g}, "
                f"total_weight={self.total_weight:.6g})")
