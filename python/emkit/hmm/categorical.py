"""HMMs with categorical emissions (the core's HMM over the Categorical family), on the shared
:class:`emkit.hmm.BaseHMM`; the categorical helpers the mixed-type HMM shares."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, FrozenSet, List, Optional, Tuple, Union

import numpy as np

from .. import _core
from .._categorical import CategoricalEncoding, encode_fit, encode_new
from .._typing import FloatArray, NDArray, ObjectArray
from .._validation import check_int
from .base import (
    BaseHMM,
    _as_2d,
    _check_concentration,
    _check_probabilities,
    _concat_sequences,
    check_lengths,
    check_sequence_weight,
)

CATEGORICAL_FIXED_GROUPS = ("startprob", "transmat", "emissionprob")


# ---------------------------------------------------------------------------------- helpers
def _check_emission_concentration(
    value: Any, K: int, n_categories: List[int], name: str = "emissionprob_prior"
) -> Optional[FloatArray]:
    """Dirichlet concentrations (>= 1) on the emission probabilities: a number (the same for every
    state, feature and category) or arrays shaped as ``emissionprob_`` (one (K, R) array for one
    feature, a list of (K, R_j) arrays for several). Returns the K x sum R_j matrix, or None when
    every concentration is 1 (maximum likelihood)."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name}: expected a number or arrays of Dirichlet concentrations, got {value!r}")
    if isinstance(value, (int, float, np.integer, np.floating)):
        v = float(value)
        if not np.isfinite(v) or v < 1.0:
            raise ValueError(f"{name}: expected a Dirichlet concentration >= 1 (1 = no prior), got {value!r}")
        if v == 1.0:
            return None
        if not n_categories:
            raise ValueError(f"{name}: the model has no categorical feature to put a prior on")
        return np.full((K, int(sum(n_categories))), v)
    if not n_categories:
        raise ValueError(f"{name}: the model has no categorical feature to put a prior on")
    if len(n_categories) == 1 and not isinstance(value, (list, tuple)):
        value = [value]
    if not isinstance(value, (list, tuple)) or len(value) != len(n_categories):
        raise ValueError(
            f"{name}: expected a number or {len(n_categories)} arrays (one (n_components, "
            "n_categories_j) array per feature, as emissionprob_)"
        )
    parts = [
        _check_concentration(v, name if len(n_categories) == 1 else f"{name}[{j}]", (K, R))
        for j, (v, R) in enumerate(zip(value, n_categories))
    ]
    flat = np.ascontiguousarray(np.concatenate(parts, axis=1))
    return None if (flat == 1.0).all() else flat


def _split_probs(flat: FloatArray, n_categories: List[int]) -> Union[FloatArray, List[FloatArray]]:
    """K x sum R_j -> one K x R array for one feature, else a list of K x R_j arrays."""
    flat = np.asarray(flat, dtype=np.float64)
    offsets = np.concatenate([[0], np.cumsum(n_categories)])
    parts = [flat[:, a:b].copy() for a, b in zip(offsets[:-1], offsets[1:])]
    return parts[0] if len(parts) == 1 else parts


def _flat_probs(value: Any, K: int, n_categories: List[int], name: str) -> FloatArray:
    """The K x sum R_j matrix from one K x R array (one feature) or a list of K x R_j arrays,
    every row a probability vector."""
    if len(n_categories) == 1 and not isinstance(value, (list, tuple)):
        value = [value]
    if not isinstance(value, (list, tuple)) or len(value) != len(n_categories):
        raise ValueError(
            f"{name}: expected {len(n_categories)} arrays (one (n_components, n_categories_j) array "
            "per feature)"
        )
    parts = [
        _check_probabilities(v, name if len(n_categories) == 1 else f"{name}[{j}]", (K, R))
        for j, (v, R) in enumerate(zip(value, n_categories))
    ]
    return np.ascontiguousarray(np.concatenate(parts, axis=1))


def _sample_categorical(flat: FloatArray, n_categories: List[int], states: NDArray[np.intp],
                        rng: np.random.Generator) -> NDArray[np.int64]:
    offsets = np.concatenate([[0], np.cumsum(n_categories)])
    out = np.empty((states.shape[0], len(n_categories)), dtype=np.int64)
    for j, (a, b) in enumerate(zip(offsets[:-1], offsets[1:])):
        cum = np.cumsum(flat[:, a:b], axis=1)[states]
        # int(): numpy's stubs then pick the array overload of uniform.
        u = rng.uniform(size=int(states.shape[0]))[:, None] * cum[:, -1:]
        out[:, j] = np.minimum((u >= cum).sum(axis=1), b - a - 1)
    return out


# ---------------------------------------------------------------------------------- categorical
@dataclass(eq=False, repr=False, kw_only=True)
class CategoricalHMM(BaseHMM):
    """Hidden Markov model with categorical emissions, fitted by EM (Baum-Welch).

    hmmlearn's ``CategoricalHMM`` generalised to several categorical features per time step, each
    with its own alphabet (conditionally independent given the state). X is (n_samples,
    n_features) integer codes (a 1-D array is one feature; negative codes or NaN = missing, a
    time step with every feature missing advances the chain and adds nothing), a list of such
    arrays (one per sequence), or a DataFrame of labels (categories learnt as ``LatentClass``).

    Attributes: ``startprob_``, ``transmat_``, ``emissionprob_`` (for one feature an
    (n_components, n_categories) array as hmmlearn; for several a list of (n_components,
    n_categories_j) arrays), ``encoding_``, and the monitor's ``loglik_``, ``history_``,
    ``converged_``, ``n_iter_``, ``restarts_``. Same methods as :class:`GaussianHMM`.

    Parameters
    ----------
    n_components : int
        Number of hidden states.
    n_categories : None, int or list of int
        Alphabet size per feature (hmmlearn's ``n_features``); an int applies to every feature.
        None: the largest code seen in fit + 1.
    emissionprob_init : array or list of arrays, optional
        Initial emission probabilities; otherwise every state's distribution of every feature is
        drawn from a flat Dirichlet.
    emissionprob_prior : float
        Symmetric Dirichlet concentration (>= 1; 1 = no prior) on every state's distribution of
        every feature (MAP).
    fixed : set of str
        Any of "startprob", "transmat", "emissionprob".
    Other parameters as :class:`GaussianHMM`.
    """

    _parameter_attributes = ("startprob_", "transmat_", "emissionprob_")
    _fixed_groups = CATEGORICAL_FIXED_GROUPS

    n_categories: Any = None
    emissionprob_init: Any = None
    emissionprob_prior: float = 1.0

    # ------------------------------------------------------------------ validation
    def _n_categories_spec(self, n_features: int) -> Optional[List[int]]:
        nc = self.n_categories
        if nc is None:
            return None
        if isinstance(nc, (int, np.integer)) and not isinstance(nc, bool):
            return [int(nc)] * n_features
        return list(nc)

    def _prepare(self, X: Any, lengths: Any, sample_weight: Any) -> Tuple[
        NDArray[Any], NDArray[np.int64], Optional[ObjectArray], FloatArray, FloatArray,
        Dict[str, Any], Any,
    ]:
        X, lengths = _concat_sequences(X, lengths)
        X = _as_2d(X)
        codes, encoding = encode_fit(X, self._n_categories_spec(np.shape(X)[1]))
        lengths = check_lengths(lengths, codes.shape[0])
        K = check_int(self.n_components, "n_components", 1)
        p = self._check_chain_parameters(K)
        p["n_categories"] = encoding.n_categories
        p["encoding"] = encoding
        p["concentration"] = _check_emission_concentration(self.emissionprob_prior, K, encoding.n_categories)
        p["emissionprob_init"] = (
            None
            if self.emissionprob_init is None
            else _flat_probs(self.emissionprob_init, K, encoding.n_categories, "emissionprob_init")
        )
        w = check_sequence_weight(sample_weight, lengths.shape[0])
        row_weight = np.repeat(w, lengths) if w.size else np.ones(codes.shape[0])
        names = np.array(encoding.item_names, dtype=object) if encoding.labelled else None
        return codes, lengths, names, w, row_weight, p, None

    def _initial_parameters(
        self, X: NDArray[Any], row_weight: FloatArray, p: Dict[str, Any], seed: int
    ) -> Tuple[FloatArray, FloatArray, FloatArray]:
        K = p["n_components"]
        rng = np.random.default_rng(seed)
        startprob, transmat = self._initial_chain(p, rng)
        probs = p["emissionprob_init"]
        if probs is None:
            probs = np.concatenate([rng.dirichlet(np.ones(R), size=K) for R in p["n_categories"]], axis=1)
        return startprob, transmat, np.ascontiguousarray(probs)

    @staticmethod
    def _core_fixed(fixed: FrozenSet[str]) -> List[str]:
        return sorted(fixed | {"emission"} if "emissionprob" in fixed else fixed)

    def _make_model(self, start: Any, p: Dict[str, Any], prior: Any) -> _core.CategoricalHMMModel:
        return _core.CategoricalHMMModel(
            start[0], start[1], p["n_categories"], start[2], p["concentration"],
            p["startprob_prior"], p["transmat_prior"], self._core_fixed(p["fixed"]),
        )

    def _current_start(self) -> Tuple[Any, ...]:
        R = self._current_config()["n_categories"]
        return (self.startprob_, self.transmat_, _flat_probs(self.emissionprob_, len(self.startprob_), R, "emissionprob_"))

    def _store(self, model: _core.CategoricalHMMModel, p: Dict[str, Any], prior: Any) -> None:
        self.startprob_ = model.startprob
        self.transmat_ = model.transmat
        self.emissionprob_ = _split_probs(model.emissionprob, p["n_categories"])
        self.encoding_ = p["encoding"]
        self._config = {
            "n_categories": list(p["n_categories"]),
            "concentration": p["concentration"],
            **self._chain_config(p),
        }

    def _update_from_model(self, model: _core.CategoricalHMMModel) -> None:
        self.emissionprob_ = _split_probs(model.emissionprob, self._current_config()["n_categories"])

    # ------------------------------------------------------------------ parameters
    def _current_config(self) -> Dict[str, Any]:
        config: Optional[Dict[str, Any]] = getattr(self, "_config", None)
        if config is not None:
            return config
        K = check_int(self.n_components, "n_components", 1)
        e = self.emissionprob_
        parts = list(e) if isinstance(e, (list, tuple)) else [e]
        return {
            "n_categories": [int(np.shape(a)[1]) for a in parts],
            "concentration": _check_emission_concentration(
                self.emissionprob_prior, K, [int(np.shape(a)[1]) for a in parts]
            ),
            **self._chain_config_of_constructor(K),
        }

    def _core_model(self) -> _core.CategoricalHMMModel:
        self._check_fitted()
        c = self._current_config()
        startprob = np.asarray(self.startprob_, dtype=np.float64)
        probs = _flat_probs(self.emissionprob_, startprob.shape[0], c["n_categories"], "emissionprob_")
        return _core.CategoricalHMMModel(
            startprob, np.asarray(self.transmat_, dtype=np.float64), c["n_categories"], probs,
            c["concentration"], c["startprob_prior"], c["transmat_prior"], self._core_fixed(c["fixed"]),
        )

    def _sequences(self, X: Any, lengths: Any) -> Tuple[NDArray[Any], NDArray[np.int64]]:
        self._check_fitted()
        encoding = getattr(self, "encoding_", None)
        if encoding is None:
            R = self._current_config()["n_categories"]
            encoding = CategoricalEncoding([f"item{j}" for j in range(len(R))], [np.arange(r) for r in R], False)
        X, lengths = _concat_sequences(X, lengths)
        codes = encode_new(_as_2d(X), encoding)
        return codes, check_lengths(lengths, codes.shape[0])

    def sample(
        self, n_samples: int = 1, random_state: Any = None
    ) -> Tuple[NDArray[Any], NDArray[np.intp]]:
        """One sequence of ``n_samples`` time steps (integer codes, (n_samples, n_features)) and
        its states."""
        states, rng = self._sample_states(n_samples, random_state)
        c = self._current_config()
        flat = _flat_probs(self.emissionprob_, len(self.startprob_), c["n_categories"], "emissionprob_")
        return _sample_categorical(flat, c["n_categories"], states, rng), states
