"""emkit: Expectation-Maximization for latent-variable models.

A C++17/Eigen core (``emkit._core``) runs every E- and M-step; this package adds
scikit-learn-style estimators, restarts, numpy/pandas input and a command line.
"""

from ._base import ConvergenceWarning, EmptyComponentWarning, MonitorWarning, NotFittedError, RestartReport
from ._core import NumericalError, __version__
from .gaussian_mixture import GaussianMixture
from .hmm import GaussianHMM

__all__ = [
    "GaussianMixture",
    "GaussianHMM",
    "RestartReport",
    "ConvergenceWarning",
    "EmptyComponentWarning",
    "MonitorWarning",
    "NotFittedError",
    "NumericalError",
    "__version__",
]
