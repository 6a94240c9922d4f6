# Hand-written stub of emkit._core: the dispatcher (_core.py) and the names it re-exports from the
# compiled variant in use (cpp/bindings/*.cpp). Inputs are array-likes (pybind11 converts them,
# forcecast); outputs are fresh float64 arrays, labels and state paths C ints (int32).
# Keep in step with the bindings: a method bound there and used by the package is declared here.

from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import numpy.typing as npt

_Array = npt.NDArray[np.float64]
_Labels = npt.NDArray[np.int32]
# The driver's per-iteration callback: iteration, objective, loglik, change, seconds; True stops.
_Callback = Optional[Callable[[Dict[str, Any]], bool]]
# The monitor's record: converged, n_iter, history, loglik, seconds, decreases, empty_states,
# stopped_by_callback.
_FitRecord = Dict[str, Any]

# ---- the dispatcher (_core.py)
_PREFERENCE: Tuple[str, ...]
_REQUIRES: Dict[str, Tuple[str, ...]]

def supported_variants() -> List[str]: ...

# ---- module.cpp
__version__: str
isa: str

class NumericalError(ValueError): ...

def simd_instruction_sets() -> str: ...
def openmp_enabled() -> bool: ...
def max_threads() -> int: ...
def kmeans_plus_plus(
    X: npt.ArrayLike,
    sample_weight: npt.ArrayLike,
    n_clusters: int,
    seed: int,
    n_lloyd: int = 10,
    n_threads: int = 0,
) -> Tuple[_Array, _Labels, float]: ...

# ---- bind_patterns.cpp: (patterns, counts, inverse), as np.unique(axis=0) + np.bincount
def compress_patterns(
    codes: npt.ArrayLike, weights: npt.ArrayLike
) -> Tuple[npt.NDArray[np.int32], _Array, npt.NDArray[np.intp]]: ...

# ---- statistics: additive and picklable
class _PoissonArrays:
    """The Poisson family's statistics arrays (K × q), shared by its mixture and HMM."""
    @property
    def shift(self) -> _Array: ...
    @property
    def weight(self) -> _Array: ...
    @property
    def sum(self) -> _Array: ...

class _MixtureStats:
    @property
    def resp_sum(self) -> _Array: ...
    @property
    def loglik(self) -> float: ...
    @property
    def total_weight(self) -> float: ...

class GaussianMixtureStats(_MixtureStats):
    @property
    def shift(self) -> _Array: ...
    @property
    def sum(self) -> _Array: ...
    @property
    def scatter(self) -> _Array: ...
    def __add__(self, other: GaussianMixtureStats) -> GaussianMixtureStats: ...

class LatentClassStats(_MixtureStats):
    @property
    def counts(self) -> _Array: ...
    def __add__(self, other: LatentClassStats) -> LatentClassStats: ...

class MixedLatentClassStats(_MixtureStats):
    def __add__(self, other: MixedLatentClassStats) -> MixedLatentClassStats: ...

class PoissonMixtureStats(_MixtureStats, _PoissonArrays):
    def __add__(self, other: PoissonMixtureStats) -> PoissonMixtureStats: ...

class _HMMStats:
    @property
    def start_counts(self) -> _Array: ...
    @property
    def transition_counts(self) -> _Array: ...
    @property
    def emission_counts(self) -> _Array: ...
    @property
    def loglik(self) -> float: ...
    @property
    def total_weight(self) -> float: ...

class GaussianHMMStats(_HMMStats):
    @property
    def shift(self) -> _Array: ...
    @property
    def sum(self) -> _Array: ...
    @property
    def scatter(self) -> _Array: ...
    def __add__(self, other: GaussianHMMStats) -> GaussianHMMStats: ...

class GMMHMMStats(_HMMStats):
    def __add__(self, other: GMMHMMStats) -> GMMHMMStats: ...

class CategoricalHMMStats(_HMMStats):
    def __add__(self, other: CategoricalHMMStats) -> CategoricalHMMStats: ...

class ProductHMMStats(_HMMStats):
    def __add__(self, other: ProductHMMStats) -> ProductHMMStats: ...

class PoissonHMMStats(_HMMStats, _PoissonArrays):
    def __add__(self, other: PoissonHMMStats) -> PoissonHMMStats: ...

# ---- mixtures (mixture_methods.hpp): m_step returns the components left empty
class _Mixture:
    @property
    def weights(self) -> _Array: ...
    @property
    def n_parameters(self) -> int: ...
    def set_fixed(self, fixed: List[str]) -> None: ...
    @property
    def fixed(self) -> List[str]: ...
    def log_prior(self) -> float: ...
    def fit(
        self,
        X: npt.ArrayLike,
        sample_weight: npt.ArrayLike,
        max_iter: int,
        tol: float,
        n_threads: int = 0,
        callback: _Callback = None,
    ) -> _FitRecord: ...
    def e_step(
        self, X: npt.ArrayLike, sample_weight: npt.ArrayLike, n_threads: int = 0
    ) -> _MixtureStats: ...
    def m_step(self, stats: Any) -> List[int]: ...
    def seed_from_responsibilities(
        self, X: npt.ArrayLike, sample_weight: npt.ArrayLike, resp: npt.ArrayLike, n_threads: int = 0
    ) -> List[int]: ...
    # (log responsibilities per row, log-likelihood per row); the HMMs' is the same per sequence.
    def posterior(self, X: npt.ArrayLike, n_threads: int = 0) -> Tuple[_Array, _Array]: ...

class GaussianMixtureModel(_Mixture):
    def __init__(
        self,
        weights: npt.ArrayLike,
        means: npt.ArrayLike,
        covariances: npt.ArrayLike,
        covariance_type: str,
        reg_covar: float = 1e-6,
        prior: Optional[Dict[str, Any]] = None,
    ) -> None: ...
    @property
    def means(self) -> _Array: ...
    @property
    def covariances(self) -> _Array: ...
    def e_step(
        self, X: npt.ArrayLike, sample_weight: npt.ArrayLike, n_threads: int = 0
    ) -> GaussianMixtureStats: ...
    def sample(self, n: int, seed: int) -> Tuple[_Array, _Labels]: ...

class LatentClassModel(_Mixture):
    def __init__(
        self,
        weights: npt.ArrayLike,
        probs: npt.ArrayLike,
        n_categories: Sequence[int],
        item_concentration: Optional[float] = None,
        weight_concentration: float = 1.0,
        fixed_weights: bool = False,
    ) -> None: ...
    @property
    def probs(self) -> _Array: ...
    def e_step(
        self, X: npt.ArrayLike, sample_weight: npt.ArrayLike, n_threads: int = 0
    ) -> LatentClassStats: ...
    def sample(self, n: int, seed: int) -> Tuple[npt.NDArray[np.int32], _Labels]: ...

class MixedLatentClassModel(_Mixture):
    def __init__(
        self,
        weights: npt.ArrayLike,
        probs: Optional[npt.ArrayLike],
        n_categories: Sequence[int],
        means: npt.ArrayLike,
        variances: npt.ArrayLike,
        rates: npt.ArrayLike,
        item_concentration: Optional[float] = None,
        weight_concentration: float = 1.0,
        fixed_weights: bool = False,
        reg_covar: float = 1e-6,
        *,
        block_means: Optional[npt.ArrayLike] = None,
        block_covariances: Optional[npt.ArrayLike] = None,
        block_covariance_type: str = "full",
    ) -> None: ...
    @property
    def probs(self) -> Optional[_Array]: ...
    @property
    def means(self) -> _Array: ...
    @property
    def variances(self) -> _Array: ...
    @property
    def rates(self) -> _Array: ...
    @property
    def block_means(self) -> Optional[_Array]: ...
    @property
    def block_covariances(self) -> Optional[_Array]: ...
    @property
    def block_covariance_type(self) -> Optional[str]: ...
    @property
    def n_columns(self) -> int: ...
    def e_step(
        self, X: npt.ArrayLike, sample_weight: npt.ArrayLike, n_threads: int = 0
    ) -> MixedLatentClassStats: ...

class PoissonMixtureModel(_Mixture):
    def __init__(
        self,
        weights: npt.ArrayLike,
        rates: npt.ArrayLike,
        weight_concentration: float = 1.0,
        fixed_weights: bool = False,
    ) -> None: ...
    @property
    def rates(self) -> _Array: ...
    def sample(self, n: int, seed: int) -> Tuple[_Array, _Labels]: ...
    def e_step(
        self, X: npt.ArrayLike, sample_weight: npt.ArrayLike, n_threads: int = 0
    ) -> PoissonMixtureStats: ...

class LatentClassRegressionModel:
    def __init__(
        self,
        coef: npt.ArrayLike,
        probs: npt.ArrayLike,
        n_categories: Sequence[int],
        item_concentration: Optional[float] = None,
    ) -> None: ...
    @property
    def coef(self) -> _Array: ...
    @property
    def probs(self) -> _Array: ...
    @property
    def n_parameters(self) -> int: ...
    def log_prior(self) -> float: ...
    def fit(
        self,
        X: npt.ArrayLike,
        covariates: npt.ArrayLike,
        sample_weight: npt.ArrayLike,
        max_iter: int,
        tol: float,
        n_threads: int = 0,
        callback: _Callback = None,
    ) -> _FitRecord: ...
    def posterior(
        self, X: npt.ArrayLike, covariates: npt.ArrayLike, n_threads: int = 0
    ) -> Tuple[_Array, _Array]: ...
    def e_step(
        self,
        X: npt.ArrayLike,
        covariates: npt.ArrayLike,
        sample_weight: npt.ArrayLike,
        n_threads: int = 0,
    ) -> Any: ...
    def m_step(self, stats: Any) -> List[int]: ...
    def line_search(
        self, covariates: npt.ArrayLike, sample_weight: npt.ArrayLike, n_threads: int = 0
    ) -> Any: ...
    @property
    def pending_pass(self) -> bool: ...
    @property
    def pending_step(self) -> Optional[_Array]: ...
    @property
    def trial_steps(self) -> _Array: ...
    trial_steps_per_pass: int

class ContingencyTableModel:
    def __init__(self, n_categories: Sequence[int], probs: npt.ArrayLike) -> None: ...
    @property
    def probs(self) -> _Array: ...
    def fit(
        self,
        X: npt.ArrayLike,
        sample_weight: npt.ArrayLike,
        max_iter: int,
        tol: float,
        n_threads: int = 0,
        callback: _Callback = None,
    ) -> _FitRecord: ...
    @property
    def n_parameters(self) -> int: ...
    def log_prior(self) -> float: ...
    def e_step(self, X: npt.ArrayLike, sample_weight: npt.ArrayLike, n_threads: int = 0) -> Any: ...
    def m_step(self, stats: Any) -> List[int]: ...
    def score(self, X: npt.ArrayLike, n_threads: int = 0) -> _Array: ...

# ---- HMMs (hmm_methods.hpp): sequences as concatenated rows X and their lengths
class _HMM:
    @property
    def startprob(self) -> _Array: ...
    @property
    def transmat(self) -> _Array: ...
    @property
    def startprob_prior(self) -> _Array: ...
    @property
    def transmat_prior(self) -> _Array: ...
    @property
    def fixed(self) -> List[str]: ...
    @property
    def n_parameters(self) -> int: ...
    def log_prior(self) -> float: ...
    def fit(
        self,
        X: npt.ArrayLike,
        lengths: npt.ArrayLike,
        sample_weight: npt.ArrayLike,
        max_iter: int,
        tol: float,
        n_threads: int = 0,
        callback: _Callback = None,
    ) -> _FitRecord: ...
    def e_step(
        self,
        X: npt.ArrayLike,
        lengths: npt.ArrayLike,
        sample_weight: npt.ArrayLike,
        n_threads: int = 0,
    ) -> _HMMStats: ...
    def m_step(self, stats: Any) -> List[int]: ...
    # (log state posteriors per row, log-likelihood per sequence): the mixtures' convention.
    def posterior(
        self, X: npt.ArrayLike, lengths: npt.ArrayLike, n_threads: int = 0
    ) -> Tuple[_Array, _Array]: ...
    def score(self, X: npt.ArrayLike, lengths: npt.ArrayLike, n_threads: int = 0) -> _Array: ...
    def viterbi(
        self, X: npt.ArrayLike, lengths: npt.ArrayLike, n_threads: int = 0
    ) -> Tuple[_Array, _Labels]: ...

class GaussianHMMModel(_HMM):
    def __init__(
        self,
        startprob: npt.ArrayLike,
        transmat: npt.ArrayLike,
        means: npt.ArrayLike,
        covariances: npt.ArrayLike,
        covariance_type: str,
        reg_covar: float = 1e-6,
        prior: Optional[Dict[str, Any]] = None,
        startprob_prior: Optional[npt.ArrayLike] = None,
        transmat_prior: Optional[npt.ArrayLike] = None,
        fixed: Sequence[str] = ...,
    ) -> None: ...
    @property
    def means(self) -> _Array: ...
    @property
    def covariances(self) -> _Array: ...
    @property
    def covariance_type(self) -> str: ...
    def sample(self, n: int, seed: int) -> Tuple[_Array, _Labels]: ...

class GMMHMMModel(_HMM):
    def __init__(
        self,
        startprob: npt.ArrayLike,
        transmat: npt.ArrayLike,
        weights: npt.ArrayLike,
        means: npt.ArrayLike,
        covariances: npt.ArrayLike,
        covariance_type: str,
        reg_covar: float = 1e-6,
        prior: Optional[Dict[str, Any]] = None,
        weights_prior: Optional[npt.ArrayLike] = None,
        startprob_prior: Optional[npt.ArrayLike] = None,
        transmat_prior: Optional[npt.ArrayLike] = None,
        fixed: Sequence[str] = ...,
    ) -> None: ...
    @property
    def weights(self) -> _Array: ...
    @property
    def means(self) -> _Array: ...
    @property
    def covariances(self) -> _Array: ...
    @property
    def covariance_type(self) -> str: ...
    @property
    def weights_prior(self) -> _Array: ...
    def sample(self, n: int, seed: int) -> Tuple[_Array, _Labels]: ...

class CategoricalHMMModel(_HMM):
    def __init__(
        self,
        startprob: npt.ArrayLike,
        transmat: npt.ArrayLike,
        n_categories: Sequence[int],
        emissionprob: npt.ArrayLike,
        concentration: Optional[npt.ArrayLike] = None,
        startprob_prior: Optional[npt.ArrayLike] = None,
        transmat_prior: Optional[npt.ArrayLike] = None,
        fixed: Sequence[str] = ...,
    ) -> None: ...
    @property
    def emissionprob(self) -> _Array: ...
    @property
    def n_categories(self) -> List[int]: ...

class ProductHMMModel(_HMM):
    def __init__(
        self,
        startprob: npt.ArrayLike,
        transmat: npt.ArrayLike,
        emissionprob: Optional[npt.ArrayLike],
        n_categories: Sequence[int],
        means: npt.ArrayLike,
        variances: npt.ArrayLike,
        rates: npt.ArrayLike,
        concentration: Optional[npt.ArrayLike] = None,
        reg_covar: float = 1e-6,
        startprob_prior: Optional[npt.ArrayLike] = None,
        transmat_prior: Optional[npt.ArrayLike] = None,
        fixed: Sequence[str] = ...,
        *,
        block_means: Optional[npt.ArrayLike] = None,
        block_covariances: Optional[npt.ArrayLike] = None,
        block_covariance_type: str = "full",
    ) -> None: ...
    @property
    def emissionprob(self) -> Optional[_Array]: ...
    @property
    def means(self) -> _Array: ...
    @property
    def variances(self) -> _Array: ...
    @property
    def rates(self) -> _Array: ...
    @property
    def block_means(self) -> Optional[_Array]: ...
    @property
    def block_covariances(self) -> Optional[_Array]: ...
    @property
    def block_covariance_type(self) -> Optional[str]: ...
    @property
    def n_columns(self) -> int: ...
    def sample(self, n: int, seed: int) -> Tuple[_Array, _Labels]: ...

class PoissonHMMModel(_HMM):
    def __init__(
        self,
        startprob: npt.ArrayLike,
        transmat: npt.ArrayLike,
        rates: npt.ArrayLike,
        startprob_prior: Optional[npt.ArrayLike] = None,
        transmat_prior: Optional[npt.ArrayLike] = None,
        fixed: Sequence[str] = ...,
    ) -> None: ...
    @property
    def rates(self) -> _Array: ...
    def sample(self, n: int, seed: int) -> Tuple[_Array, _Labels]: ...
    def e_step(
        self,
        X: npt.ArrayLike,
        lengths: npt.ArrayLike,
        sample_weight: npt.ArrayLike,
        n_threads: int = 0,
    ) -> PoissonHMMStats: ...
