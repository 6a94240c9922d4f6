"""EM for an incomplete contingency table: a hand-worked example and the numpy reference."""

import numpy as np
import pytest
from reference import lca as ref

import emkit


def test_hand_worked_two_by_two():
    # 7 records of (A, B); B is missing in 3 of them.
    #   complete: (0,0) (0,1) (1,1) (1,1)   incomplete: (0,?) (1,?) (1,?)
    X = np.array([[0, 0], [0, 1], [1, 1], [1, 1], [0, -1], [1, -1], [1, -1]])
    one = emkit.CategoricalTable(tol=0.0, max_iter=1).fit(X)
    # From the uniform table each (a,?) record splits half/half between (a,0) and (a,1).
    np.testing.assert_allclose(one.probs_, np.array([[1.5, 1.5], [1.0, 3.0]]) / 7, rtol=0, atol=1e-12)
    two = emkit.CategoricalTable(tol=0.0, max_iter=2).fit(X)
    # Second step: (0,?) splits 1.5:1.5, each (1,?) splits 1:3.
    np.testing.assert_allclose(two.probs_, np.array([[1.5, 1.5], [0.5, 3.5]]) / 7, rtol=0, atol=1e-12)
    # Log-likelihood of the uniform start: 4 complete records at 1/4, 3 margins at 1/2.
    assert two.history_[0] == pytest.approx(4 * np.log(0.25) + 3 * np.log(0.5), abs=1e-12)
    # The limit: within A=1 the complete records say B=1, so the table tends to [[1.5,1.5],[0,4]]/7.
    limit = emkit.CategoricalTable(tol=0.0, max_iter=2000).fit(X)
    np.testing.assert_allclose(limit.probs_, np.array([[1.5, 1.5], [0.0, 4.0]]) / 7, atol=1e-12)
    assert limit.probs_.sum() == pytest.approx(1.0, abs=1e-14)


def test_matches_reference_with_weights():
    rng = np.random.default_rng(0)
    X = np.stack([rng.integers(0, 3, 300), rng.integers(0, 2, 300), rng.integers(0, 4, 300)], axis=1)
    X[rng.uniform(size=X.shape) < 0.3] = -1
    X[(X < 0).all(axis=1), 0] = 0
    w = rng.uniform(0.5, 2.0, size=300)
    expected = ref.table_em(X, [3, 2, 4], 20, sample_weight=w)
    fit = emkit.CategoricalTable(n_categories=[3, 2, 4], tol=0.0, max_iter=20).fit(X, sample_weight=w)
    np.testing.assert_allclose(fit.probs_, expected["probs"], rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(fit.history_, expected["history"], rtol=1e-9)
    assert np.all(np.diff(fit.history_) >= -1e-10 * np.abs(fit.history_[:-1]))


def test_labels_and_scores():
    pd = pytest.importorskip("pandas", reason="pandas is part of the test extra")
    df = pd.DataFrame({"smoker": ["yes", "no", None, "no"], "sex": ["f", None, "m", "m"]})
    t = emkit.CategoricalTable(tol=1e-12).fit(df)
    assert [list(c) for c in t.categories_] == [["no", "yes"], ["f", "m"]]
    assert t.probs_.shape == (2, 2)
    assert t.score_samples(df).sum() == pytest.approx(t.loglik_, rel=1e-10)


def test_bad_input():
    with pytest.raises(ValueError, match=r"probs_init: expected shape \(2, 2\)"):
        emkit.CategoricalTable(probs_init=np.ones(4) / 4).fit(np.array([[0, 1], [1, 0]]))
    with pytest.raises(ValueError, match="item 'item1' is entirely missing"):
        emkit.CategoricalTable().fit(np.array([[0, -1], [1, -1]]))
