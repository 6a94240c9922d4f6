"""HMMs with Poisson emissions (hmmlearn's PoissonHMM): the mixed-type HMM's layout and seeding
with count columns only, over the core's HMM of the Poisson family (PoissonHMMModel)."""

from __future__ import annotations

from typing import Any, Dict, Optional, Tuple

import numpy as np

from .. import _core
from .._typing import FloatArray
from .mixed import HMM


class PoissonHMM(HMM):
    """Hidden Markov model with Poisson emissions (independent counts per feature given the
    state), fitted by EM: hmmlearn's ``PoissonHMM`` (attribute ``lambdas_``, (n_components,
    n_features)), plus missing values (NaN), sequence weights, restarts, fixed parameters and
    Dirichlet priors on the chain. ``lambdas_init``: initial rates (default: k-means++ clusters
    of the standardised counts). ``fixed``: any of "startprob", "transmat", "lambdas"."""

    _parameter_attributes = ("startprob_", "transmat_", "rates_")
    n_categories = None
    reg_covar = 1e-6
    emissionprob_init = None
    means_init = None
    variances_init = None
    emissionprob_prior = 1.0

    def __init__(
        self,
        n_components: int = 1,
        *,
        tol: float = 1e-3,
        max_iter: int = 100,
        n_init: int = 1,
        startprob_init: Any = None,
        transmat_init: Any = None,
        lambdas_init: Any = None,
        startprob_prior: Any = 1.0,
        transmat_prior: Any = 1.0,
        fixed: Any = None,
        algorithm: str = "viterbi",
        random_state: Any = None,
        warm_start: bool = False,
        n_threads: Optional[int] = None,
        verbose: int = 0,
        verbose_interval: int = 10,
    ):
        self._set_chain_parameters(locals())
        self.lambdas_init = lambdas_init

    @property
    def rates_init(self) -> Any:
        return self.lambdas_init

    def _measurement_spec(self) -> Any:
        return "poisson"

    def _fixed_spec(self) -> Any:
        fixed = self.fixed
        if fixed is None:
            return None
        if isinstance(fixed, str):
            fixed = (fixed,)
        names = list(fixed)
        for name in names:
            if name not in ("startprob", "transmat", "lambdas"):
                raise ValueError(
                    f"fixed: unknown parameter {name!r}; expected some of 'startprob', 'transmat', 'lambdas'"
                )
        return ["rates" if n == "lambdas" else n for n in names]

    def _new_model(
        self, startprob: Any, transmat: Any, arrays: Tuple[FloatArray, ...], config: Dict[str, Any]
    ) -> _core.PoissonHMMModel:
        rates = np.ascontiguousarray(arrays[3], dtype=np.float64)
        fixed = sorted(config["fixed"] | {"emission"} if "rates" in config["fixed"] else config["fixed"])
        return _core.PoissonHMMModel(
            startprob, transmat, rates, config["startprob_prior"], config["transmat_prior"], fixed
        )

    def _emission_arrays(self) -> Tuple[FloatArray, ...]:
        K = len(self.startprob_)
        return (np.zeros((K, 0)), np.zeros((K, 0)), np.zeros((K, 0)), self.rates_)

    def _read_emission(self, model: Any) -> None:
        self.rates_ = model.rates

    @property
    def lambdas_(self) -> FloatArray:
        """Poisson rates, (n_components, n_features) (hmmlearn's name)."""
        return self.rates_

    @lambdas_.setter
    def lambdas_(self, value: Any) -> None:
        self.rates_ = np.asarray(value, dtype=np.float64)
