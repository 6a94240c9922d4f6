"""The warnings and the not-fitted error every emkit estimator may raise."""

from __future__ import annotations


class ConvergenceWarning(UserWarning):
    """EM stopped at max_iter before the change of the objective fell below tol."""


class MonitorWarning(RuntimeWarning):
    """The objective decreased between two EM iterations beyond round-off (EM guarantees it
    never does: this signals a numerical problem)."""


class EmptyComponentWarning(RuntimeWarning):
    """A component lost (almost) all its weight during fitting; it kept its previous parameters."""


class NotFittedError(ValueError, AttributeError):
    """The estimator is used before fit."""
