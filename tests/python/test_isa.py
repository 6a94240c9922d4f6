"""The instruction-set variants of the compiled core: each one the CPU supports gives the same fit."""

import json
import os
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest

from emkit import _core

FIT = r"""
import json, numpy as np, emkit
from emkit import _core
rng = np.random.default_rng(3)
X = np.concatenate([rng.normal(0, 1, (400, 5)), rng.normal(3, 0.5, (300, 5))])
X[rng.random(X.shape) < 0.05] = np.nan
gmm = emkit.GaussianMixture(2, max_iter=15, tol=0, random_state=0).fit(X)
codes = rng.integers(0, 3, (500, 6))
lca = emkit.LatentClass(2, max_iter=15, tol=0, random_state=0).fit(codes)
hmm = emkit.GaussianHMM(2, covariance_type="diag", max_iter=15, tol=0, random_state=0).fit(
    X, lengths=[350, 350])
print(json.dumps({"isa": _core.isa, "gmm": gmm.lower_bound_, "means": gmm.means_.tolist(),
                  "lca": lca.loglik_, "hmm": hmm.loglik_}))
"""


def run_variant(variant):
    env = dict(os.environ, EMKIT_ISA=variant)
    out = subprocess.run([sys.executable, "-c", FIT], env=env, capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout)


def test_the_chosen_variant_is_the_fastest_supported():
    assert _core.isa == _core.supported_variants()[0]
    assert "baseline" in _core.supported_variants()


@pytest.mark.slow
def test_every_supported_variant_gives_the_same_fit():
    variants = _core.supported_variants()
    results = {v: run_variant(v) for v in variants}
    base = results["baseline"]
    for v, r in results.items():
        assert r["isa"] == v
        # FMA contraction changes rounding, not the answer.
        assert r["gmm"] == pytest.approx(base["gmm"], rel=1e-9)
        assert r["lca"] == pytest.approx(base["lca"], rel=1e-9)
        assert r["hmm"] == pytest.approx(base["hmm"], rel=1e-9)
        np.testing.assert_allclose(r["means"], base["means"], rtol=1e-7, atol=1e-9)


def import_emkit_with(variant):
    env = dict(os.environ, EMKIT_ISA=variant)
    return subprocess.run([sys.executable, "-c", "import emkit"], env=env, capture_output=True,
                          text=True)


def test_unknown_variant_is_a_clear_error():
    out = import_emkit_with("native-x")
    assert out.returncode != 0
    expected = "EMKIT_ISA: expected one of native, avx512, avx2, baseline, got 'native-x'"
    assert f"ImportError: {expected}" in out.stderr


@pytest.mark.parametrize("variant", ["avx512", "avx2"])
def test_known_variant_the_cpu_cannot_run_is_a_clear_error(monkeypatch, variant):
    # The dispatcher asks _cpu what the CPU supports: a CPU without any of the features.
    monkeypatch.setattr(_core, "_cpu", SimpleNamespace(features=lambda: {}))
    monkeypatch.setenv("EMKIT_ISA", variant)
    assert variant not in _core.supported_variants()
    message = f"EMKIT_ISA='{variant}': that variant is not installed or this CPU cannot run it"
    with pytest.raises(ImportError, match=message):
        _core._choose()


def test_importing_with_a_known_variant_not_usable_here_fails():
    unusable = [v for v in _core._PREFERENCE if v not in _core.supported_variants()]
    if not unusable:
        pytest.skip("every known variant is installed and supported on this CPU")
    out = import_emkit_with(unusable[0])
    assert out.returncode != 0
    assert f"ImportError: EMKIT_ISA='{unusable[0]}': that variant is not installed" in out.stderr
