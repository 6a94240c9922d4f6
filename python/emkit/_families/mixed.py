"""Mixed-type rows: the family of every column ("categorical", "gaussian", "poisson") and the
one float matrix [categorical codes | continuous | counts] the core's product family reads.
Shared by the mixed latent class model and the mixed-type HMM."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from .._categorical import CategoricalEncoding, encode_fit, encode_new
from .._typing import FloatArray
from .._validation import check_choice, is_dataframe

FAMILIES = ("categorical", "gaussian", "poisson")

#: Column indices of each family, in the order of X.
Groups = Dict[str, List[int]]


def column_names(X: Any) -> List[str]:
    if is_dataframe(X):
        return [str(c) for c in X.columns]
    shape = np.shape(X)
    if len(shape) != 2:
        raise ValueError(f"X: expected a 2-D array of category codes (or values), one column per item; got {len(shape)}-D")
    return [str(j) for j in range(shape[1])]


def emission_kinds(X: Any, spec: Any, name: str = "emission") -> List[str]:
    """The family of every column of X from ``spec``: None (all categorical), one family for
    all, a list (one per column) or a dict {column name or index: family} (others categorical)."""
    names = column_names(X)
    if spec is None:
        return ["categorical"] * len(names)
    if isinstance(spec, str):
        return [check_choice(spec, name, FAMILIES)] * len(names)
    if isinstance(spec, dict):
        kinds = ["categorical"] * len(names)
        for key, kind in spec.items():
            column = str(key)
            if column not in names:
                raise ValueError(f"{name}: column {key!r} is not in X")
            kinds[names.index(column)] = check_choice(kind, f"{name}[{key!r}]", FAMILIES)
        return kinds
    if isinstance(spec, (list, tuple)):
        if len(spec) != len(names):
            raise ValueError(f"{name}: expected {len(names)} entries (one per column), got {len(spec)}")
        return [check_choice(k, f"{name}[{j}]", FAMILIES) for j, k in enumerate(spec)]
    raise TypeError(f"{name}: expected None, a string, a list or a dict, got {type(spec).__name__}")


def groups_of(kinds: Sequence[str]) -> Groups:
    return {k: [j for j, kind in enumerate(kinds) if kind == k] for k in FAMILIES}


def mixed_matrix(
    X: Any, groups: Groups, *, encoding: Optional[CategoricalEncoding] = None,
    n_categories: Optional[Sequence[int]] = None,
) -> Tuple[FloatArray, CategoricalEncoding]:
    """[categorical codes | continuous | counts] as one float array (NaN = missing) and the
    categorical columns' encoding: learnt from X when ``encoding`` is None (training data; every
    column must have an observed value), else X is encoded with it (new data)."""
    fit = encoding is None
    df = is_dataframe(X)
    n_cols = len(X.columns) if df else np.shape(X)[1]
    expected = sum(len(v) for v in groups.values())
    if n_cols != expected:
        raise ValueError(f"X: expected {expected} columns (as in fit), got {n_cols}")

    def take(cols: List[int]) -> Any:
        return X.iloc[:, cols] if df else np.asarray(X)[:, cols]

    cat_cols = groups["categorical"]
    if cat_cols:
        if encoding is None:
            codes, encoding = encode_fit(take(cat_cols), n_categories)
            if not df:
                encoding.item_names = [f"item{c}" for c in cat_cols]
        else:
            codes = encode_new(take(cat_cols), encoding)
    else:
        n = len(X) if df else np.shape(X)[0]
        codes = np.empty((n, 0), dtype=np.int32)
        if encoding is None:
            encoding = CategoricalEncoding([], [], labelled=df)
    parts = [np.where(codes < 0, np.nan, codes.astype(np.float64))]
    for kind in ("gaussian", "poisson"):
        cols = groups[kind]
        values = take(cols)
        if df:
            bad = [str(c) for c, t in zip(values.columns, values.dtypes) if getattr(t, "kind", "O") not in "fiub"]
            if bad:
                raise TypeError(f"X: {kind} columns must be numeric; {bad} are not")
            values = values.to_numpy(dtype=np.float64, na_value=np.nan)
        values = np.asarray(values, dtype=np.float64).reshape(codes.shape[0], len(cols))
        if np.isinf(values).any():
            raise ValueError(f"X: {kind} columns must be finite (NaN = missing)")
        if kind == "poisson":
            finite = values[~np.isnan(values)]
            if (finite < 0).any() or (finite != np.round(finite)).any():
                raise ValueError("X: poisson columns must hold nonnegative integer counts")
        if fit:
            for j, c in enumerate(cols):
                if np.isnan(values[:, j]).all():
                    raise ValueError(f"X: item {c!r} is entirely missing")
        parts.append(values)
    return np.ascontiguousarray(np.concatenate(parts, axis=1)), encoding
