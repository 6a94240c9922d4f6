"""emkit: Expectation-Maximization for latent-variable models."""
from ._core import NumericalError, __version__
