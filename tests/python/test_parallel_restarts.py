"""Restarts side by side: on small data the runs of a multi-start fit go one per thread; the
restarts report, the chosen run and its parameters are those of running them one after another
(one thread), bit for bit, for the mixture, latent class and HMM estimators."""

import numpy as np
import pytest
from conftest import make_blobs
from hmm_data import make_sequences

import emkit
from emkit import _restarts


def _lca_codes(n=500, seed=0):
    rng = np.random.default_rng(seed)
    z = rng.integers(0, 3, n)
    probs = rng.dirichlet(np.full(3, 0.5), size=(3, 6))
    return (rng.uniform(size=(n, 6, 1)) > np.cumsum(probs[z], axis=2)).sum(axis=2)


CASES = {
    "GaussianMixture": (lambda **kw: emkit.GaussianMixture(3, n_init=5, random_state=0, **kw),
                        lambda: (make_blobs(n=400, d=2, K=3, seed=1)[0],), ("weights_", "means_", "covariances_")),
    "LatentClass": (lambda **kw: emkit.LatentClass(3, n_init=5, random_state=0, **kw),
                    lambda: (_lca_codes(),), ("weights_", "_probs_flat")),
    "GaussianHMM": (lambda **kw: emkit.GaussianHMM(3, n_init=4, random_state=0, **kw),
                    lambda: make_sequences((60, 40, 50), seed=2)[:2], ("startprob_", "transmat_", "means_")),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_side_by_side_equals_one_after_another(name, capsys):
    make, data, parameters = CASES[name]
    args = data()
    assert _restarts.side_by_side(5, 2, len(args[0]), verbose=1) == 2  # these data are small
    serial = make(n_threads=1, verbose=1).fit(*args)
    out_serial = capsys.readouterr().out
    parallel = make(n_threads=2, verbose=1).fit(*args)
    out_parallel = capsys.readouterr().out
    assert parallel.restarts_.runs == serial.restarts_.runs
    assert out_parallel == out_serial  # the runs are reported in order
    for attribute in parameters:
        np.testing.assert_array_equal(getattr(parallel, attribute), getattr(serial, attribute))
    np.testing.assert_array_equal(parallel.history_, serial.history_)


def test_when_runs_go_side_by_side():
    rows = _restarts.SIDE_BY_SIDE_ROWS_PER_CORE
    assert _restarts.side_by_side(4, 2, rows, verbose=0) == 2
    assert _restarts.side_by_side(4, 2, 2 * rows, verbose=0) == 1  # one run fills the cores
    assert _restarts.side_by_side(1, 2, 10, verbose=0) == 1
    assert _restarts.side_by_side(4, 1, 10, verbose=0) == 1
    assert _restarts.side_by_side(4, 8, 10, verbose=0) == 4
    assert _restarts.side_by_side(4, 2, 10, verbose=2) == 1  # per-iteration progress stays readable
