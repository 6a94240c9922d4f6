"""Encoding of categorical data: integer codes (negative = missing) or a DataFrame of labels
(NaN/None = missing) into an int32 code matrix, with the category labels kept for output.
Shared by LatentClass, CategoricalTable and the categorical HMMs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, List, Optional, Sequence, Tuple

import numpy as np

from . import _core
from ._typing import FloatArray, NDArray
from ._validation import is_dataframe


@dataclass
class CategoricalEncoding:
    """How the columns of the training data map to codes."""

    item_names: List[str]
    categories: List[NDArray[Any]]  # labels per item, in code order
    labelled: bool  # the input had labels (DataFrame): output is labelled too

    @property
    def n_categories(self) -> List[int]:
        return [len(c) for c in self.categories]


def _check_codes(X: NDArray[Any], name: str) -> NDArray[np.int64]:
    """Integer codes from an int array, or from a float array holding integral values and NaN."""
    if X.dtype.kind in "iu":
        return X.astype(np.int64)
    if X.dtype.kind == "b":
        return X.astype(np.int64)
    if X.dtype.kind == "f":
        missing = np.isnan(X)
        finite = np.where(missing, 0.0, X)
        if np.isinf(finite).any():
            raise ValueError(f"{name}: expected integer codes; found +-inf")
        bad = finite != np.round(finite)
        if bad.any():
            i, j = np.argwhere(bad)[0]
            raise ValueError(
                f"{name}: expected integer category codes; found {float(X[i, j])!r} in row {i}, item {j}"
            )
        codes = finite.astype(np.int64)
        codes[missing] = -1
        return codes
    raise TypeError(f"{name}: expected integer category codes or a DataFrame, got dtype {X.dtype}")


def encode_fit(
    X: Any, n_categories: Optional[Sequence[int]] = None, name: str = "X"
) -> Tuple[NDArray[np.int32], CategoricalEncoding]:
    """(codes int32 n×J, encoding) for training data; checks every item."""
    if is_dataframe(X):
        names = [str(c) for c in X.columns]
        columns, categories = [], []
        for col in X.columns:
            series = X[col]
            cat_dtype = getattr(series.dtype, "categories", None)
            if cat_dtype is not None:
                labels = np.asarray(cat_dtype)
                codes = series.cat.codes.to_numpy().astype(np.int64)
            else:
                values = series.to_numpy(dtype=object)
                missing = np.array([v is None or (isinstance(v, float) and np.isnan(v)) for v in values])
                present = values[~missing]
                try:
                    labels = np.array(sorted(set(present.tolist())), dtype=object)
                except TypeError:
                    raise TypeError(f"{name}: column {col!r} mixes values that cannot be ordered") from None
                lookup = {v: i for i, v in enumerate(labels.tolist())}
                codes = np.full(len(values), -1, dtype=np.int64)
                codes[~missing] = [lookup[v] for v in present.tolist()]
            columns.append(codes)
            categories.append(labels)
        if not columns:
            raise ValueError(f"{name}: expected at least one column")
        codes = np.stack(columns, axis=1) if len(X) else np.empty((0, len(columns)), dtype=np.int64)
        if n_categories is not None:
            raise ValueError("n_categories: not accepted with a DataFrame (the labels define the categories)")
        encoding = CategoricalEncoding(names, categories, labelled=True)
    else:
        arr = np.asarray(X)
        if arr.ndim != 2:
            raise ValueError(f"{name}: expected a 2-D array of category codes, got {arr.ndim}-D")
        codes = _check_codes(arr, name)
        J = codes.shape[1]
        if n_categories is None:
            observed_max = np.where(codes >= 0, codes, -1).max(axis=0) if codes.shape[0] else np.zeros(J)
            counts = [int(m) + 1 for m in observed_max]
        else:
            counts = list(n_categories)
            if len(counts) != J or not all(isinstance(r, (int, np.integer)) for r in counts):
                raise ValueError(f"n_categories: expected {J} integers (one per item), got {n_categories!r}")
        encoding = CategoricalEncoding(
            [f"item{j}" for j in range(J)], [np.arange(r) for r in counts], labelled=False
        )
    n, J = codes.shape
    if n == 0 or J == 0:
        raise ValueError(f"{name}: expected at least one row and one item, got shape {codes.shape}")
    for j, R in enumerate(encoding.n_categories):
        col = codes[:, j]
        item = encoding.item_names[j]
        if (col < 0).all():
            raise ValueError(f"{name}: item {item!r} is entirely missing")
        if R < 2:
            raise ValueError(
                f"{name}: item {item!r} has a single category; it carries no information (drop it)"
            )
        if col.max() >= R:
            raise ValueError(
                f"{name}: item {item!r} has code {int(col.max())}, but n_categories declares {R} categories "
                f"(codes 0..{R - 1})"
            )
    return np.ascontiguousarray(np.where(codes < 0, -1, codes), dtype=np.int32), encoding


def encode_new(X: Any, encoding: CategoricalEncoding, name: str = "X") -> NDArray[np.int32]:
    """Codes of new data under the encoding learnt in fit; unknown labels are errors."""
    J = len(encoding.categories)
    if is_dataframe(X):
        if not encoding.labelled:
            X = X.to_numpy()
        else:
            missing_cols = [c for c in encoding.item_names if c not in [str(x) for x in X.columns]]
            if missing_cols:
                raise ValueError(f"{name}: columns {missing_cols} seen in fit are missing")
            columns: List[NDArray[np.int64]] = []
            by_name = {str(c): c for c in X.columns}
            for item, labels in zip(encoding.item_names, encoding.categories):
                values = X[by_name[item]].to_numpy(dtype=object)
                lookup = {v: i for i, v in enumerate(labels.tolist())}
                codes: NDArray[np.int64] = np.full(len(values), -1, dtype=np.int64)
                for i, v in enumerate(values):
                    if v is None or (isinstance(v, float) and np.isnan(v)):
                        continue
                    if v not in lookup:
                        raise ValueError(f"{name}: item {item!r} has the label {v!r}, not seen in fit")
                    codes[i] = lookup[v]
                columns.append(codes)
            return np.ascontiguousarray(np.stack(columns, axis=1), dtype=np.int32)
    arr = np.asarray(X)
    if arr.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D array of category codes, got {arr.ndim}-D")
    if arr.shape[1] != J:
        raise ValueError(f"{name}: expected {J} items (as in fit), got {arr.shape[1]}")
    codes = _check_codes(arr, name)
    for j, R in enumerate(encoding.n_categories):
        if codes.shape[0] and codes[:, j].max() >= R:
            raise ValueError(
                f"{name}: item {encoding.item_names[j]!r} has code {int(codes[:, j].max())} >= its {R} categories"
            )
    return np.ascontiguousarray(np.where(codes < 0, -1, codes), dtype=np.int32)


def compress_patterns(
    codes: NDArray[np.integer[Any]], weights: FloatArray
) -> Tuple[NDArray[np.int32], FloatArray, NDArray[np.intp]]:
    """Distinct rows (in lexicographic order) and their total weights, with the map from rows to
    patterns: what np.unique(codes, axis=0, return_inverse=True) and np.bincount give, found by
    hashing in the core (patterns.hpp) rather than by sorting every row."""
    return _core.compress_patterns(codes, weights)
