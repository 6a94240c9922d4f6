"""The array types of the package's annotations (numpy.typing)."""

from typing import Any

import numpy as np
from numpy.typing import NDArray

#: float64 arrays: parameters, statistics, responsibilities, log-probabilities.
FloatArray = NDArray[np.float64]
#: float64, or float32 where the Gaussian kernels compute in single precision.
RealArray = NDArray[np.floating[Any]]
#: Integer arrays: codes, labels, state paths, sequence lengths.
IntArray = NDArray[np.integer[Any]]
#: Object arrays (feature names, category labels).
ObjectArray = NDArray[np.object_]

__all__ = ["FloatArray", "IntArray", "NDArray", "ObjectArray", "RealArray"]
