"""An estimator's state as plain values: what ``get_state`` returns and ``set_state`` reads.

A state is built only of ``None``, ``bool``, ``int``, ``float``, ``str``, lists, dicts with string
keys and numpy arrays of numeric, boolean or string dtype. The few richer values an estimator
holds (its restarts report, the categorical encoding, a numpy dtype, a random Generator, object
arrays of strings such as ``feature_names_in_``) become dicts tagged ``{"__emkit__": kind, ...}``
with a kind from a fixed allow-list, so that reading a state back never constructs anything
else. Saving models (a manifest plus ``.npy`` arrays read with ``allow_pickle=False``),
checkpoints and shipping a fitted model to Dask workers all build on this.
"""

from __future__ import annotations

import numbers
from typing import Any, Callable, Dict

import numpy as np

from ._categorical import CategoricalEncoding
from ._restarts import RestartReport, RestartRun
from ._typing import NDArray

TAG = "__emkit__"

#: numpy bit generators a random Generator may use in a state (by name).
BIT_GENERATORS = ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")


def _plain_array(value: NDArray[Any], where: str) -> Any:
    if value.dtype.kind in "biufcU":
        return np.array(value, copy=True)
    if value.dtype.kind == "O" and all(isinstance(v, str) for v in value.flat):
        return {TAG: "object_array", "values": np.array(value.tolist(), dtype=str).reshape(value.shape)}
    raise TypeError(f"{where}: an array of dtype {value.dtype} has no plain representation")


def to_plain(value: Any, where: str = "state") -> Any:
    """``value`` as plain values (see the module docstring); TypeError naming ``where`` when it
    has no plain representation."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (np.bool_,)):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, np.ndarray):
        return _plain_array(value, where)
    if isinstance(value, np.dtype):
        return {TAG: "dtype", "name": value.str}
    if isinstance(value, RestartReport):
        runs = value.runs
        return {
            TAG: "RestartReport",
            "seed": np.array([r.seed for r in runs], dtype=np.int64),
            "objective": np.array([r.objective for r in runs], dtype=np.float64),
            "loglik": np.array([r.loglik for r in runs], dtype=np.float64),
            "n_iter": np.array([r.n_iter for r in runs], dtype=np.int64),
            "converged": np.array([r.converged for r in runs], dtype=bool),
        }
    if isinstance(value, CategoricalEncoding):
        return {
            TAG: "CategoricalEncoding",
            "item_names": list(value.item_names),
            "categories": [_plain_array(np.asarray(c), f"{where}.categories") for c in value.categories],
            "labelled": bool(value.labelled),
        }
    if isinstance(value, np.random.Generator):
        name = type(value.bit_generator).__name__
        if name not in BIT_GENERATORS:
            raise TypeError(f"{where}: a Generator over {name} has no plain representation")
        return {TAG: "Generator", "state": to_plain(value.bit_generator.state, where)}
    if isinstance(value, (set, frozenset)):
        items = sorted(value, key=repr)
        return {TAG: "frozenset", "items": [to_plain(v, f"{where}{{}}") for v in items]}
    if isinstance(value, tuple):
        return {TAG: "tuple", "items": [to_plain(v, f"{where}[{i}]") for i, v in enumerate(value)]}
    if isinstance(value, list):
        return [to_plain(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict):
        out = {}
        for key, v in value.items():
            if not isinstance(key, str) or key == TAG:
                raise TypeError(f"{where}: dict keys must be strings other than {TAG!r}, got {key!r}")
            out[key] = to_plain(v, f"{where}[{key!r}]")
        return out
    raise TypeError(f"{where}: a {type(value).__name__} has no plain representation")


def _report(d: Dict[str, Any]) -> RestartReport:
    fields = ("seed", "objective", "loglik", "n_iter", "converged")
    columns = [np.asarray(d[f]) for f in fields]
    if len({c.shape for c in columns}) != 1 or columns[0].ndim != 1:
        raise ValueError("state: a RestartReport needs five 1-D arrays of one length")
    runs = [
        RestartRun(int(s), float(o), float(ll), int(n), bool(c)) for s, o, ll, n, c in zip(*columns)
    ]
    return RestartReport(runs)


def _generator(d: Dict[str, Any]) -> np.random.Generator:
    state = from_plain(d["state"])
    name = state.get("bit_generator") if isinstance(state, dict) else None
    if name not in BIT_GENERATORS:
        raise ValueError(f"state: unknown bit generator {name!r}; expected one of {BIT_GENERATORS}")
    bit_generator = getattr(np.random, name)()
    bit_generator.state = state
    return np.random.Generator(bit_generator)


_READERS: Dict[str, Callable[[Dict[str, Any]], Any]] = {
    "object_array": lambda d: np.array(np.asarray(d["values"]).tolist(), dtype=object).reshape(
        np.asarray(d["values"]).shape
    ),
    "dtype": lambda d: np.dtype(str(d["name"])),
    "RestartReport": _report,
    "CategoricalEncoding": lambda d: CategoricalEncoding(
        [str(n) for n in d["item_names"]], [from_plain(c) for c in d["categories"]], bool(d["labelled"])
    ),
    "Generator": _generator,
    "tuple": lambda d: tuple(from_plain(v) for v in d["items"]),
    "frozenset": lambda d: frozenset(from_plain(v) for v in d["items"]),
}


def from_plain(value: Any) -> Any:
    """The inverse of :func:`to_plain`; a tag outside the allow-list is a ValueError."""
    if isinstance(value, dict):
        if TAG in value:
            kind = value[TAG]
            reader = _READERS.get(kind) if isinstance(kind, str) else None
            if reader is None:
                raise ValueError(f"state: unknown value kind {kind!r}; expected one of {sorted(_READERS)}")
            try:
                return reader(value)
            except KeyError as missing:
                raise ValueError(f"state: a {kind} value lacks {missing}") from None
        return {key: from_plain(v) for key, v in value.items()}
    if isinstance(value, list):
        return [from_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "biufcU":
            raise ValueError(f"state: arrays of dtype {value.dtype} are not accepted")
        return np.array(value, copy=True)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise ValueError(f"state: a {type(value).__name__} is not a plain value")
