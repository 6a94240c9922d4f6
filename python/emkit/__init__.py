"""emkit: Expectation-Maximization for latent-variable models.

A C++17/Eigen core (``emkit._core``) runs every E- and M-step; this package adds
scikit-learn-style estimators, restarts, numpy/pandas input and a command line.
"""

from ._core import NumericalError, __version__
from ._restarts import RestartReport
from ._stats import Stats
from ._warnings import ConvergenceWarning, EmptyComponentWarning, MonitorWarning, NotFittedError
from .categorical_table import CategoricalTable
from .gaussian_mixture import GaussianMixture
from .hmm import GMMHMM, HMM, CategoricalHMM, GaussianHMM, PoissonHMM
from .latent_class import LatentClass

__all__ = [
    "CategoricalTable",
    "GaussianMixture",
    "LatentClass",
    "GaussianHMM",
    "CategoricalHMM",
    "PoissonHMM",
    "GMMHMM",
    "HMM",
    "RestartReport",
    "Stats",
    "ConvergenceWarning",
    "EmptyComponentWarning",
    "MonitorWarning",
    "NotFittedError",
    "NumericalError",
    "__version__",
]
