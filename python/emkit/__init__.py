"""emkit: Expectation-Maximization for latent-variable models.

A C++17/Eigen core (``emkit._core``) runs every E- and M-step; this package adds
scikit-learn-style estimators, restarts, numpy/pandas input and a command line.
"""

from ._base import ConvergenceWarning, EmptyComponentWarning, MonitorWarning, NotFittedError, RestartReport
from ._core import NumericalError, __version__
from .categorical_table import CategoricalTable
from .gaussian_mixture import GaussianMixture
from .latent_class import LatentClass
from .hmm import GaussianHMM
from .hmm_discrete import HMM, CategoricalHMM, PoissonHMM
from .hmm_gmm import GMMHMM

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
    "ConvergenceWarning",
    "EmptyComponentWarning",
    "MonitorWarning",
    "NotFittedError",
    "NumericalError",
    "__version__",
]
