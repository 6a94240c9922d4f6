"""Mixed-type rows: the family of every column and the one float matrix [categorical codes |
continuous | counts | Gaussian block] the core's product family reads. Shared by the mixed latent
class model and the mixed-type HMM.

Item families ("categorical", "gaussian", "poisson") are independent given the class; the block
families ("gaussian_full", "gaussian_tied", "gaussian_spherical", StepMix's names) put all their
columns in one multivariate normal block with that covariance type (a diagonal block is the
"gaussian" items)."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from .._categorical import CategoricalEncoding, encode_fit, encode_new
from .._typing import FloatArray
from .._validation import check_choice, is_dataframe

ITEM_FAMILIES = ("categorical", "gaussian", "poisson")
BLOCK_FAMILIES = ("gaussian_full", "gaussian_tied", "gaussian_spherical")
FAMILIES = ITEM_FAMILIES + BLOCK_FAMILIES
#: The groups of columns in the core's order; "block" holds the Gaussian block's columns.
GROUPS = ITEM_FAMILIES + ("block",)

#: Column indices of each family, in the order of X.
Groups = Dict[str, List[int]]


def column_names(X: Any) -> List[str]:
    if is_dataframe(X):
        return [str(c) for c in X.columns]
    shape = np.shape(X)
    if len(shape) != 2:
        raise ValueError(f"X: expected a 2-D array of category codes (or values), one column per item; got {len(shape)}-D")
    return [str(j) for j in range(shape[1])]


def emission_kinds(X: Any, spec: Any, name: str = "emission", blocks: bool = True) -> List[str]:
    """The family of every column of X from ``spec``: None (all categorical), one family for
    all, a list (one per column) or a dict {column name or index: family} (others categorical).
    At most one block family; none when ``blocks`` is False."""
    names = column_names(X)
    families = FAMILIES if blocks else ITEM_FAMILIES
    if spec is None:
        kinds = ["categorical"] * len(names)
    elif isinstance(spec, str):
        kinds = [check_choice(spec, name, families)] * len(names)
    elif isinstance(spec, dict):
        kinds = ["categorical"] * len(names)
        for key, kind in spec.items():
            column = str(key)
            if column not in names:
                raise ValueError(f"{name}: column {key!r} is not in X")
            kinds[names.index(column)] = check_choice(kind, f"{name}[{key!r}]", families)
    elif isinstance(spec, (list, tuple)):
        if len(spec) != len(names):
            raise ValueError(f"{name}: expected {len(names)} entries (one per column), got {len(spec)}")
        kinds = [check_choice(k, f"{name}[{j}]", families) for j, k in enumerate(spec)]
    else:
        raise TypeError(f"{name}: expected None, a string, a list or a dict, got {type(spec).__name__}")
    used = sorted({k for k in kinds if k in BLOCK_FAMILIES})
    if len(used) > 1:
        raise ValueError(f"{name}: one Gaussian block at most (its columns share one family); got {used}")
    return kinds


def block_covariance_type(kinds: Sequence[str]) -> Optional[str]:
    """The covariance type of the Gaussian block ("full", "tied", "spherical"), None without one."""
    for kind in kinds:
        if kind in BLOCK_FAMILIES:
            return kind[len("gaussian_"):]
    return None


def groups_of(kinds: Sequence[str]) -> Groups:
    groups = {k: [j for j, kind in enumerate(kinds) if kind == k] for k in ITEM_FAMILIES}
    groups["block"] = [j for j, kind in enumerate(kinds) if kind in BLOCK_FAMILIES]
    return groups


def mixed_matrix(
    X: Any, groups: Groups, *, encoding: Optional[CategoricalEncoding] = None,
    n_categories: Optional[Sequence[int]] = None,
) -> Tuple[FloatArray, CategoricalEncoding]:
    """[categorical codes | continuous | counts | Gaussian block] as one float array (NaN =
    missing) and the categorical columns' encoding: learnt from X when ``encoding`` is None
    (training data; every column must have an observed value), else X is encoded with it (new
    data)."""
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
    for kind in GROUPS[1:]:
        cols = groups.get(kind, [])
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
