"""EM for incomplete contingency tables."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from . import _core
from ._base import EMEstimator
from ._categorical import CategoricalEncoding, compress_patterns, encode_fit, encode_new
from ._typing import FloatArray, NDArray
from ._validation import check_float, check_int, check_n_threads, check_sample_weight


@dataclass(eq=False, repr=False, kw_only=True)
class CategoricalTable(EMEstimator):
    """The joint distribution of several categorical variables, estimated by maximum
    likelihood from records in which some variables are missing.

    Each EM iteration fills in the missing cells of every record by their expected values under
    the current table, then re-estimates the table from the completed counts (the classic "EM
    for incomplete contingency tables"). Input as for ``LatentClass``: integer codes (negative =
    missing) or a DataFrame of labels (NaN/None = missing).

    The likelihood of an incomplete table has no local optima to escape from by restarts when
    every cell is free, so there is one run, from ``probs_init`` (default uniform) or, with
    ``warm_start``, from the previous fit.

    Attributes: ``probs_`` (shape ``(R_1, ..., R_J)``, sums to 1), ``categories_``,
    ``loglik_``, ``history_``, ``converged_``, ``n_iter_``, ``lower_bound_``, ``restarts_``.

    Parameters
    ----------
    n_categories : list of int, optional
        Number of categories of each variable, for integer-coded input (default: max code + 1).
    tol : float
        EM stops when the per-record average log-likelihood changes by less than ``tol``;
        ``tol=0`` runs exactly ``max_iter`` iterations.
    max_iter : int
        Maximum number of EM iterations.
    probs_init : array, optional
        The starting table, shape ``(R_1, ..., R_J)``, nonnegative and summing to 1.
    warm_start, n_threads, verbose, verbose_interval
        As for ``GaussianMixture``.
    """

    _parameter_attributes = ("probs_",)

    n_categories: Optional[List[int]] = None
    tol: float = 1e-10
    max_iter: int = 1000
    probs_init: Any = None

    def _prepare(self, X: Any, sample_weight: Any) -> Tuple[
        Dict[str, Any], NDArray[np.int32], FloatArray, CategoricalEncoding, FloatArray
    ]:
        p: Dict[str, Any] = {
            "tol": check_float(self.tol, "tol", 0.0),
            "max_iter": check_int(self.max_iter, "max_iter", 0),
            "n_threads": check_n_threads(self.n_threads),
            "verbose": check_int(self.verbose, "verbose", 0),
            "verbose_interval": check_int(self.verbose_interval, "verbose_interval", 1),
        }
        self._warm()
        codes, encoding = encode_fit(X, self.n_categories)
        w = check_sample_weight(sample_weight, codes.shape[0])
        weights = w if w.size else np.ones(codes.shape[0])
        shape = tuple(encoding.n_categories)
        if self.probs_init is None:
            probs = np.full(shape, 1.0 / np.prod(shape))
        else:
            probs = np.asarray(self.probs_init, dtype=np.float64)
            if probs.shape != shape:
                raise ValueError(f"probs_init: expected shape {shape}, got {probs.shape}")
            if not np.isfinite(probs).all() or (probs < 0).any() or not np.isclose(probs.sum(), 1.0, atol=1e-8):
                raise ValueError("probs_init: expected nonnegative cell probabilities summing to 1")
        return p, codes, weights, encoding, probs

    def _store(
        self, model: _core.ContingencyTableModel, encoding: CategoricalEncoding, p: Dict[str, Any]
    ) -> None:
        shape = tuple(encoding.n_categories)
        self.encoding_ = encoding
        self.probs_ = model.probs.reshape(shape)
        self.n_parameters_ = int(np.prod(shape)) - 1
        self._n_threads = p["n_threads"]

    def fit(self, X: Any, y: Any = None, sample_weight: Any = None) -> CategoricalTable:
        p, codes, weights, encoding, probs = self._prepare(X, sample_weight)
        warm = self._warm()
        if warm and self.probs_.shape != probs.shape:
            raise ValueError("warm_start: the previous fit has other variables or categories")
        start = self.probs_ if warm else probs
        patterns, counts, _ = compress_patterns(codes, weights)

        def run(
            index: int, seed: int, callback: Any, n_threads: int
        ) -> Tuple[_core.ContingencyTableModel, Dict[str, Any]]:
            model = _core.ContingencyTableModel(list(probs.shape), np.ascontiguousarray(start.ravel()))
            return model, model.fit(patterns, counts, p["max_iter"], p["tol"], n_threads, callback)

        model = self._fit_runs([0], run, p, float(counts.sum()), patterns.shape[0])
        self._store(model, encoding, p)
        return self

    # ------------------------------------------------------------------ the EM protocol
    def initialize(self, X: Any, sample_weight: Any = None) -> CategoricalTable:
        """Sets the starting table (``probs_init``, else uniform) without fitting, for an external
        driver of ``e_step`` / ``m_step``."""
        p, _, _, encoding, probs = self._prepare(X, sample_weight)
        self._store(_core.ContingencyTableModel(list(probs.shape), np.ascontiguousarray(probs.ravel())), encoding, p)
        return self

    def _core_model(self) -> _core.ContingencyTableModel:
        self._check_fitted()
        return _core.ContingencyTableModel(list(self.probs_.shape), np.ascontiguousarray(self.probs_.ravel()))

    def e_step(self, X: Any, sample_weight: Any = None) -> Any:
        """Expected cell counts of the records X at the current table (:class:`emkit.Stats`)."""
        self._check_fitted()
        codes = encode_new(X, self.encoding_)
        w = check_sample_weight(sample_weight, codes.shape[0])
        return self._stats(self._core_model().e_step(codes, w, self._n_threads))

    def m_step(self, stats: Any) -> CategoricalTable:
        """The table of the summed expected counts."""
        core_stats = self._check_stats(stats)
        model = self._core_model()
        model.m_step(core_stats)
        self.probs_ = model.probs.reshape(self.probs_.shape)
        return self

    def log_prior(self) -> float:
        """0: the table has no prior."""
        self._check_fitted()
        return 0.0

    # ------------------------------------------------------------------ inference
    @property
    def categories_(self) -> List[NDArray[Any]]:
        self._check_fitted()
        return self.encoding_.categories

    def score_samples(self, X: Any) -> FloatArray:
        """log P(observed variables of each record) under the fitted table."""
        self._check_fitted()
        codes = encode_new(X, self.encoding_)
        return self._core_model().score(codes, self._n_threads)

    def score(self, X: Any, y: Any = None, sample_weight: Any = None) -> float:
        """Average log-likelihood per record (weighted with sample_weight)."""
        log_prob = self.score_samples(X)
        w = check_sample_weight(sample_weight, log_prob.shape[0])
        return float(np.average(log_prob, weights=w if w.size else None))
