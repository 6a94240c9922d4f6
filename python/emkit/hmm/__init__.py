"""Hidden Markov models: the shared chain (``base``) and one estimator per emission family."""

from .base import CHAIN_PARAMETERS, BaseHMM, check_lengths, check_sequence_weight, check_sequences
from .categorical import CategoricalHMM
from .gaussian import GaussianHMM
from .gmm import GMMHMM
from .mixed import HMM
from .poisson import PoissonHMM

__all__ = [
    "BaseHMM",
    "CHAIN_PARAMETERS",
    "CategoricalHMM",
    "GMMHMM",
    "GaussianHMM",
    "HMM",
    "PoissonHMM",
    "check_lengths",
    "check_sequence_weight",
    "check_sequences",
]
