"""The data a latent class model reads: categorical codes (patterns compressed when there are no
covariates), the mixed matrix of categorical, continuous and count columns, and the covariate
design of latent class regression."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from .._categorical import CategoricalEncoding, compress_patterns, encode_fit
from .._families import mixed as mixed_layout
from .._typing import FloatArray, NDArray
from .._validation import check_sample_weight, is_dataframe

#: The three forms of the model: categorical items only, with covariates, with mixed items.
KINDS = ("categorical", "regression", "mixed")


@dataclass
class TrainingData:
    """Training data in the core's layout."""

    kind: str
    rows: NDArray[Any]  # int32 codes (categorical, regression) or the mixed float matrix
    counts: FloatArray  # the rows' weights (pattern counts when compressed)
    encoding: CategoricalEncoding
    covariates: Optional[FloatArray] = None  # the design (intercept included)
    covariate_names: Optional[List[str]] = None
    groups: Dict[str, List[int]] = field(default_factory=dict)  # mixed: column indices per family
    emission: List[str] = field(default_factory=list)  # the family of every column
    block_covariance_type: Optional[str] = None  # mixed: the Gaussian block's, None without one


def check_covariates(covariates: Any, n_rows: int) -> Tuple[FloatArray, Optional[List[str]]]:
    """A float (n, q) covariate matrix (NaN = missing) and its column names."""

    names = None
    if is_dataframe(covariates):
        names = [str(c) for c in covariates.columns]
    Z = covariates
    if not is_dataframe(Z):
        Z = np.asarray(Z)
        if Z.ndim == 1:
            Z = Z.reshape(-1, 1)
    if not is_dataframe(Z) and Z.dtype.kind not in "fiub":
        raise TypeError(f"covariates: expected real numbers, got dtype {Z.dtype}")
    Z = np.asarray(Z.to_numpy(dtype=np.float64, na_value=np.nan) if is_dataframe(Z) else Z, dtype=np.float64)
    if Z.ndim != 2 or Z.shape[0] != n_rows:
        raise ValueError(f"covariates: expected {n_rows} rows (one per row of X), got shape {Z.shape}")
    if np.isinf(Z).any():
        raise ValueError("covariates: expected finite values")
    return np.ascontiguousarray(Z), names


def design(Z: FloatArray, fit_intercept: bool) -> FloatArray:
    """The covariates with an intercept column first when fit_intercept."""
    if fit_intercept:
        Z = np.concatenate([np.ones((Z.shape[0], 1)), Z], axis=1)
    return np.ascontiguousarray(Z)


def prepare(
    X: Any, sample_weight: Any, covariates: Any, *, emission: List[str], n_categories: Any,
    missing: str, fit_intercept: bool, n_components: int,
) -> TrainingData:
    """Checks and converts the training data (before any work)."""
    if any(kind != "categorical" for kind in emission):
        if covariates is not None:
            raise ValueError("covariates: not available with continuous or count indicators yet")
        return _prepare_mixed(X, sample_weight, emission, n_categories, missing, n_components)
    codes, encoding = encode_fit(X, n_categories)
    n = codes.shape[0]
    w = check_sample_weight(sample_weight, n)
    weights = w if w.size else np.ones(n)
    Z, names = None, None
    if covariates is not None:
        Z, names = check_covariates(covariates, n)
        if np.isnan(Z).any(axis=1).any() and missing != "drop":
            rows = np.nonzero(np.isnan(Z).any(axis=1))[0][:5].tolist()
            raise ValueError(f"covariates: rows {rows} have missing values; pass missing='drop' to drop them")
    keep = np.ones(n, dtype=bool)
    if missing == "drop":
        keep &= (codes >= 0).all(axis=1)
        if Z is not None:
            keep &= ~np.isnan(Z).any(axis=1)
        if not keep.any():
            raise ValueError("X: missing='drop' leaves no complete row")
        for j, item in enumerate(encoding.item_names):
            if (codes[keep, j] < 0).all():
                raise ValueError(f"X: item {item!r} is entirely missing")
    codes, weights = np.ascontiguousarray(codes[keep]), weights[keep]
    _check_enough_rows(weights, n_components)
    if Z is None:
        # EM over the distinct response patterns with their total weights: the same likelihood.
        rows, counts, _ = compress_patterns(codes, weights)
        return TrainingData("categorical", rows, counts, encoding, emission=emission)
    return TrainingData("regression", codes, weights, encoding, design(Z[keep], fit_intercept), names,
                        emission=emission)


def _prepare_mixed(X: Any, sample_weight: Any, emission: List[str], n_categories: Any, missing: str,
                   n_components: int) -> TrainingData:
    groups = mixed_layout.groups_of(emission)
    per_item = None if n_categories is None else [n_categories[j] for j in groups["categorical"]]
    M, encoding = mixed_layout.mixed_matrix(X, groups, n_categories=per_item)
    w = check_sample_weight(sample_weight, M.shape[0])
    weights = w if w.size else np.ones(M.shape[0])
    if missing == "drop":
        keep = ~np.isnan(M).any(axis=1)
        if not keep.any():
            raise ValueError("X: missing='drop' leaves no complete row")
        M, weights = np.ascontiguousarray(M[keep]), weights[keep]
    _check_enough_rows(weights, n_components)
    return TrainingData("mixed", M, weights, encoding, groups=groups, emission=emission,
                        block_covariance_type=mixed_layout.block_covariance_type(emission))


def _check_enough_rows(weights: FloatArray, n_components: int) -> None:
    n_positive = int((weights > 0).sum())
    if n_positive < n_components:
        raise ValueError(
            f"X: expected at least n_components={n_components} rows with positive weight, got {n_positive}"
        )
