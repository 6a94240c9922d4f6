"""HMMs with Poisson emissions (hmmlearn's PoissonHMM): the mixed-type HMM's layout and seeding
with count columns only, over the core's HMM of the Poisson family (PoissonHMMModel)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Tuple

import numpy as np

from .. import _core
from .._typing import FloatArray
from .mixed import ProductEmissionHMM


@dataclass(eq=False, repr=False, kw_only=True)
class PoissonHMM(ProductEmissionHMM):
    """Hidden Markov model with Poisson emissions (independent counts per feature given the
    state), fitted by EM: hmmlearn's ``PoissonHMM`` (attribute ``lambdas_``, (n_components,
    n_features)), plus missing values (NaN), sequence weights, restarts, fixed parameters and
    Dirichlet priors on the chain. Parameters: the chain's (as :class:`GaussianHMM`) and
    ``lambdas_init``, initial rates (n_components, n_features) (default: k-means++ clusters of
    the standardised counts). ``fixed``: any of "startprob", "transmat", "lambdas"."""

    lambdas_init: Any = None

    _parameter_attributes = ("startprob_", "transmat_", "rates_")
    # The mixed-type HMM's emission settings, which a PoissonHMM does not take (not parameters):
    # count columns only, no categorical and no normal ones.
    n_categories = None
    reg_covar = 1e-6
    emissionprob_init = None
    means_init = None
    variances_init = None
    emissionprob_prior = 1.0

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
