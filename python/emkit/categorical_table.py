"""EM for incomplete contingency tables."""

from __future__ import annotations

from typing import Any, List, Optional

import numpy as np

from . import _core
from ._base import BaseEstimator, NotFittedError, report_monitor
from ._categorical import compress_patterns, encode_fit, encode_new
from ._validation import check_float, check_int, check_n_threads, check_sample_weight


class CategoricalTable(BaseEstimator):
    """The joint distribution of several categorical variables, estimated by maximum
    likelihood from records in which some variables are missing.

    Each EM iteration fills in the missing cells of every record by their expected values under
    the current table, then re-estimates the table from the completed counts (the classic "EM
    for incomplete contingency tables"). Input as for ``LatentClass``: integer codes (negative =
    missing) or a DataFrame of labels (NaN/None = missing).

    Attributes: ``probs_`` (shape ``(R_1, ..., R_J)``, sums to 1), ``categories_``,
    ``loglik_``, ``history_``, ``converged_``, ``n_iter_``.
    """

    def __init__(
        self,
        *,
        n_categories: Optional[List[int]] = None,
        tol: float = 1e-10,
        max_iter: int = 1000,
        probs_init: Any = None,
        n_threads: Optional[int] = None,
    ):
        self.n_categories = n_categories
        self.tol = tol
        self.max_iter = max_iter
        self.probs_init = probs_init
        self.n_threads = n_threads

    def fit(self, X: Any, y: Any = None, sample_weight: Any = None) -> "CategoricalTable":
        tol = check_float(self.tol, "tol", 0.0)
        max_iter = check_int(self.max_iter, "max_iter", 0)
        n_threads = check_n_threads(self.n_threads)
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
        patterns, counts, _ = compress_patterns(codes, weights)
        model = _core.ContingencyTableModel(list(shape), np.ascontiguousarray(probs.ravel()))
        record = model.fit(patterns, counts, max_iter, tol, n_threads)
        report_monitor(record, type(self).__name__, tol, max_iter)
        self.encoding_ = encoding
        self.probs_ = model.probs.reshape(shape)
        self.loglik_ = float(record["loglik"][-1])
        self.history_ = np.asarray(record["history"])
        self.converged_ = bool(record["converged"])
        self.n_iter_ = int(record["n_iter"])
        self.n_parameters_ = int(np.prod(shape)) - 1
        return self

    @property
    def categories_(self) -> list:
        if not hasattr(self, "encoding_"):
            raise NotFittedError("This CategoricalTable is not fitted yet; call fit first")
        return self.encoding_.categories

    def score_samples(self, X: Any) -> np.ndarray:
        """log P(observed variables of each record) under the fitted table."""
        if not hasattr(self, "encoding_"):
            raise NotFittedError("This CategoricalTable is not fitted yet; call fit first")
        codes = encode_new(X, self.encoding_)
        out = np.empty(codes.shape[0])
        for i, row in enumerate(codes):
            index = tuple(slice(None) if c < 0 else int(c) for c in row)
            out[i] = np.log(self.probs_[index].sum())
        return out
