"""The compiled core, in the best instruction-set variant this CPU can run.

The extension is built several times (``_core_baseline``, ``_core_avx2``, ``_core_avx512``, and
``_core_native`` in a ``-march=native`` build); :mod:`emkit._cpu` says what the CPU supports and
this module re-exports the fastest variant that is both installed and supported. Set the
environment variable ``EMKIT_ISA`` to one of those names to choose a variant (an error if it is
not installed or not supported here). ``isa`` names the variant in use.
"""

import importlib
import importlib.util
import os
from typing import List

from . import _cpu

# Fastest first. A native build is compiled for the machine that built it.
_PREFERENCE = ("native", "avx512", "avx2", "baseline")
_REQUIRES = {
    "native": (),
    "avx512": ("avx2", "fma", "avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"),
    "avx2": ("avx2", "fma"),
    "baseline": (),
}


def _installed(variant: str) -> bool:
    return importlib.util.find_spec(f"{__package__}._core_{variant}") is not None


def supported_variants() -> List[str]:
    """The installed variants this CPU can run, fastest first."""
    features = _cpu.features()
    return [
        v for v in _PREFERENCE
        if _installed(v) and all(features.get(name, False) for name in _REQUIRES[v])
    ]


def _choose() -> str:
    usable = supported_variants()
    requested = os.environ.get("EMKIT_ISA", "").strip().lower()
    if requested:
        if requested not in _REQUIRES:
            raise ImportError(
                f"EMKIT_ISA: expected one of {', '.join(_PREFERENCE)}, got {requested!r}"
            )
        if requested not in usable:
            raise ImportError(
                f"EMKIT_ISA={requested!r}: that variant is not installed or this CPU cannot run it "
                f"(usable here: {', '.join(usable) or 'none'})"
            )
        return requested
    if not usable:
        raise ImportError("emkit: no variant of the compiled core is installed for this CPU")
    return usable[0]


_module = importlib.import_module(f"{__package__}._core_{_choose()}")
for _name, _value in vars(_module).items():
    if _name.startswith("__") and _name != "__version__":
        continue
    # Classes say they live in emkit._core, so that pickles load whatever variant is in use.
    if isinstance(_value, type) and _value.__module__ == _module.__name__:
        _value.__module__ = __name__
    globals()[_name] = _value
del _name, _value
