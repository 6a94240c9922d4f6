"""Input validation shared by the estimators: every check runs before any work is done and
raises ``ValueError``/``TypeError`` naming the argument and what was expected."""

from __future__ import annotations

import numbers
from typing import Any, Dict, FrozenSet, List, Optional, Sequence, Tuple

import numpy as np

from ._typing import FloatArray, ObjectArray, RealArray


def is_dataframe(obj: Any) -> bool:
    """True for a pandas DataFrame, without importing pandas."""
    return type(obj).__name__ == "DataFrame" and hasattr(obj, "columns") and hasattr(obj, "dtypes")


def check_int(value: Any, name: str, minimum: int) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}: expected an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name}: expected an integer >= {minimum}, got {value}")
    return int(value)


def check_float(value: Any, name: str, minimum: float = -np.inf, *, strict: bool = False) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}: expected a real number, got {value!r}")
    number = float(value)
    if not np.isfinite(number):
        raise ValueError(f"{name}: expected a finite number, got {number}")
    if number < minimum or (strict and number == minimum):
        op = ">" if strict else ">="
        raise ValueError(f"{name}: expected a number {op} {minimum}, got {number}")
    return number


def check_choice(value: Any, name: str, choices: Sequence[str]) -> str:
    if not isinstance(value, str) or value not in choices:
        allowed = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{name}: expected one of {allowed}, got {value!r}")
    return value


def check_n_threads(value: Any) -> int:
    """None means OpenMP's default (all cores); the core takes 0 for that."""
    if value is None:
        return 0
    return check_int(value, "n_threads", 1)


def check_data(
    X: Any,
    name: str = "X",
    *,
    allow_nan: bool = True,
    n_features: Optional[int] = None,
    allow_unobserved_rows: bool = False,
    keep_float32: bool = False,
) -> Tuple[RealArray, Optional[ObjectArray]]:
    """A 2-D float64 C-contiguous array (no copy when X already is one) and its column names.

    Integer, unsigned and float32 inputs are converted to float64, except float32 with
    ``keep_float32`` (an array, or a DataFrame whose columns are all float32), which stays
    float32 for the kernels that compute in single precision. NaN marks a missing entry;
    +-inf, strings/objects, complex numbers and rows with nothing observed are errors (the
    latter are accepted with ``allow_unobserved_rows``: an HMM time step with nothing observed).
    """
    feature_names = None
    if is_dataframe(X):
        feature_names = np.asarray([str(c) for c in X.columns], dtype=object)
        bad = [str(c) for c, t in zip(X.columns, X.dtypes) if not _numeric_dtype(t)]
        if bad:
            raise TypeError(f"{name}: expected numeric columns; columns {bad} are not numeric")
        single = keep_float32 and all(
            getattr(t, "kind", None) == "f" and t.itemsize == 4 for t in X.dtypes
        )
        X = X.to_numpy(dtype=np.float32 if single else np.float64, na_value=np.nan)
    elif not isinstance(X, np.ndarray):
        try:
            X = np.asarray(X)
        except Exception as exc:  # ragged lists and the like
            raise TypeError(f"{name}: expected a 2-D array of numbers ({exc})") from None
    if X.dtype.kind not in "fiub":
        raise TypeError(f"{name}: expected an array of real numbers, got dtype {X.dtype}")
    if X.ndim != 2:
        hint = " (reshape a single feature with X.reshape(-1, 1))" if X.ndim == 1 else ""
        raise ValueError(f"{name}: expected a 2-D array, got {X.ndim}-D{hint}")
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"{name}: expected at least one row and one column, got shape {X.shape}")
    if n_features is not None and X.shape[1] != n_features:
        raise ValueError(f"{name}: expected {n_features} features (as in fit), got {X.shape[1]}")
    single = keep_float32 and X.dtype == np.float32
    X = np.ascontiguousarray(X, dtype=np.float32 if single else np.float64)
    if np.isinf(X).any():
        row = int(np.nonzero(np.isinf(X).any(axis=1))[0][0])
        raise ValueError(f"{name}: expected finite values or NaN for missing; row {row} has +-inf")
    missing = np.isnan(X)
    if missing.any():
        if not allow_nan:
            raise ValueError(f"{name}: missing values (NaN) are not accepted here")
        empty_rows = np.nonzero(missing.all(axis=1))[0]
        if empty_rows.size and not allow_unobserved_rows:
            raise ValueError(
                f"{name}: rows {empty_rows[:5].tolist()} are entirely missing (NaN); remove them"
            )
    return X, feature_names


def _numeric_dtype(dtype: Any) -> bool:
    kind = getattr(dtype, "kind", None)
    if kind is not None:
        return kind in "fiub"
    # pandas extension dtypes (nullable Int64, Float64, boolean)
    return getattr(dtype, "_is_numeric", False)


def check_sample_weight(sample_weight: Any, n_rows: int, unit: str = "row") -> FloatArray:
    """Nonnegative finite weights, one per row (or per ``unit``: "sequence"), with a positive
    sum. Empty array = all ones."""
    if sample_weight is None:
        return np.empty(0)
    w = np.asarray(sample_weight)
    if w.dtype.kind not in "fiub":
        raise TypeError(f"sample_weight: expected real numbers, got dtype {w.dtype}")
    w = np.ascontiguousarray(w, dtype=np.float64)
    if w.ndim != 1 or w.shape[0] != n_rows:
        raise ValueError(f"sample_weight: expected one weight per {unit} (a 1-D array of {n_rows} values), "
                         f"got shape {w.shape}")
    if not np.isfinite(w).all():
        raise ValueError("sample_weight: expected finite values")
    if (w < 0).any():
        raise ValueError("sample_weight: expected values >= 0")
    if w.sum() <= 0:
        raise ValueError("sample_weight: expected a positive total weight")
    return w


def restart_seeds(random_state: Any, n_init: int) -> List[int]:
    """One 63-bit seed per restart, drawn from random_state (None, int, Generator, RandomState)."""
    if random_state is None or isinstance(random_state, (numbers.Integral, np.random.SeedSequence)):
        if isinstance(random_state, numbers.Integral) and random_state < 0:
            raise ValueError(f"random_state: expected an integer >= 0, got {random_state}")
        # numbers.Integral (np.int64, ...) seeds at runtime; the stubs name only int and arrays.
        rng = np.random.default_rng(random_state)  # type: ignore[arg-type]
    elif isinstance(random_state, np.random.Generator):
        rng = random_state
    elif isinstance(random_state, np.random.RandomState):
        rng = np.random.default_rng(random_state.randint(0, 2**31 - 1))
    else:
        raise TypeError(
            f"random_state: expected None, an int, or a numpy Generator/RandomState, got {random_state!r}"
        )
    return [int(s) for s in rng.integers(0, 2**63 - 1, size=n_init, dtype=np.int64)]


def check_prior_spec(prior: Any, keys: Sequence[str]) -> Optional[Dict[str, Any]]:
    """None (no prior), "default" (every hyper-parameter at its default: an empty dict) or a dict
    whose keys are all among ``keys``."""
    if prior is None:
        return None
    if isinstance(prior, str):
        if prior != "default":
            raise ValueError(f"prior: expected None, 'default' or a dict, got {prior!r}")
        return {}
    if not isinstance(prior, dict):
        raise TypeError(f"prior: expected None, 'default' or a dict, got {type(prior).__name__}")
    unknown = sorted(set(prior) - set(keys))
    if unknown:
        raise ValueError(f"prior: unknown keys {unknown}; expected some of {list(keys)}")
    return prior


def check_fixed(fixed: Any, groups: Sequence[str]) -> FrozenSet[str]:
    """``fixed``: None, a name or an iterable of names of parameter groups, each among ``groups``."""
    if fixed is None:
        return frozenset()
    if isinstance(fixed, str):
        fixed = (fixed,)
    try:
        names = list(fixed)
    except TypeError:
        raise TypeError(f"fixed: expected a set of parameter names, got {fixed!r}") from None
    for name in names:
        if not isinstance(name, str):
            raise TypeError(f"fixed: expected parameter names (str), got {name!r}")
        if name not in groups:
            allowed = ", ".join(repr(g) for g in groups)
            raise ValueError(f"fixed: unknown parameter {name!r}; expected some of {allowed}")
    return frozenset(names)
