"""LatentClass computes its standard errors on first use, not in fit: the same values as computed
from the training data at any later time (1e-10), following reorder, stored by get_state without
the training data, and refused once the parameters have moved away from fit's (m_step)."""

import numpy as np
import pytest

import emkit


def codes(n=800, items=(3, 3, 2, 4), K=2, seed=0):
    rng = np.random.default_rng(seed)
    z = rng.integers(0, K, n)
    cols = []
    for r in items:
        p = rng.dirichlet(np.full(r, 0.5), size=K)
        cols.append((rng.uniform(size=(n, 1)) > np.cumsum(p[z], axis=1)).sum(axis=1))
    X = np.stack(cols, axis=1)
    X[rng.uniform(size=X.shape) < 0.05] = -1
    return X


def errors(m):
    return [m.weights_se_, *m.probs_se_]


def test_fit_leaves_them_pending_and_first_use_computes_them():
    X = codes()
    m = emkit.LatentClass(2, random_state=0).fit(X)
    assert m.__dict__["_se"] is None  # fit did not compute them
    first = errors(m)
    assert m.__dict__["_se"] is not None
    # The kept training data give the same errors whenever they are computed: here after a
    # second model's fit (test_lca_behaviour checks their values against numerical scores).
    other = emkit.LatentClass(2, random_state=0).fit(X)
    for a, b in zip(first, errors(other)):
        np.testing.assert_allclose(a, b, rtol=1e-10)
    assert all(np.all(np.isfinite(a)) and np.all(a >= 0) for a in first)


def test_reorder_before_first_use_permutes_them():
    X = codes(seed=1)
    before = emkit.LatentClass(2, random_state=1).fit(X)
    want = errors(before)
    after = emkit.LatentClass(2, random_state=1).fit(X).reorder([1, 0])  # nothing computed yet
    got = errors(after)
    np.testing.assert_allclose(got[0], want[0][::-1], rtol=1e-10)
    for a, b in zip(got[1:], want[1:]):
        np.testing.assert_allclose(a, b[::-1], rtol=1e-10)


def test_state_holds_the_errors_not_the_training_data():
    X = codes(seed=2)
    m = emkit.LatentClass(2, random_state=2).fit(X)
    state = m.get_state()
    assert "_se_training" not in state["fitted"]
    restored = emkit.LatentClass().set_state(state)
    for a, b in zip(errors(restored), errors(m)):
        np.testing.assert_array_equal(a, b)
    restored.reorder([1, 0])  # without training data the stored errors follow their classes
    np.testing.assert_array_equal(restored.weights_se_, m.weights_se_[::-1])
    assert "class weights (se):" in restored.summary()


def test_refused_after_m_step_or_without_fit():
    X = codes(seed=3)
    m = emkit.LatentClass(2, random_state=3).fit(X)
    m.m_step(m.e_step(X))
    with pytest.raises(AttributeError, match="computed from fit's training data"):
        _ = m.weights_se_
    init = emkit.LatentClass(2, random_state=3).initialize(X)
    with pytest.raises(AttributeError, match="computed from fit's training data"):
        _ = init.probs_se_
