"""Response patterns (patterns.hpp, emkit._core.compress_patterns): exactly numpy's
unique(codes, axis=0, return_inverse=True) and bincount(inverse, weights) — the same patterns in
the same order, the same inverse, the same counts bit for bit — and bad input refused."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numpy.testing import assert_array_equal

from emkit import _core
from emkit._categorical import compress_patterns

INT32 = np.iinfo(np.int32)


def numpy_patterns(codes, weights):
    patterns, inverse = np.unique(codes, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    counts = np.bincount(inverse, weights=weights if len(weights) else None, minlength=patterns.shape[0])
    return patterns, counts.astype(np.float64), inverse


def assert_as_numpy(codes, weights):
    patterns, counts, inverse = compress_patterns(codes, weights)
    expected = numpy_patterns(codes, weights)
    assert_array_equal(patterns, expected[0])
    assert_array_equal(counts, expected[1])
    assert_array_equal(inverse, expected[2])
    assert patterns.dtype == np.int32 and patterns.flags.c_contiguous
    assert patterns.shape == (expected[0].shape[0], codes.shape[1])
    assert counts.dtype == np.float64
    assert inverse.dtype == np.intp and inverse.shape == (codes.shape[0],)


def random_codes(n, J, categories, seed, missing=0.0):
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, categories, size=(n, J)).astype(np.int32)
    codes[rng.uniform(size=(n, J)) < missing] = -1
    return codes


def random_weights(n, seed):
    # Uniforms of different magnitudes: their sum depends on the order of addition.
    rng = np.random.default_rng(seed)
    return rng.uniform(0.0, 1.0, size=n) * 10.0 ** rng.integers(-8, 8, size=n)


CASES = {
    "one cell": random_codes(1, 1, 3, 0),
    "one row": random_codes(1, 6, 3, 1),
    "one item": random_codes(300, 1, 5, 2),
    "repeats, with missing": random_codes(2000, 5, 3, 3, missing=0.2),
    "nearly all distinct": random_codes(3000, 20, 4, 4),
    "table grows": random_codes(20_000, 9, 3, 5),
    "all rows equal": np.full((500, 4), 2, dtype=np.int32),
    "all rows distinct": np.arange(600, dtype=np.int32).reshape(200, 3)[::-1].copy(),
    "negative codes": random_codes(1000, 3, 7, 6) - 3,
    "extreme codes": np.random.default_rng(7).choice(
        np.array([INT32.min, INT32.min + 1, -1, 0, 1, INT32.max - 1, INT32.max], dtype=np.int32), size=(800, 3)
    ),
    "large codes": np.random.default_rng(8).integers(-(2**30), 2**30, size=(500, 2)).astype(np.int32) // 7,
    "no items": np.empty((5, 0), dtype=np.int32),
    "no rows": np.empty((0, 3), dtype=np.int32),
}


@pytest.mark.parametrize("weighting", ["ones", "none", "float", "zero", "some zero", "integer"])
@pytest.mark.parametrize("case", list(CASES))
def test_as_numpy(case, weighting):
    codes = CASES[case]
    n = codes.shape[0]
    weights = {
        "ones": np.ones(n),
        "none": np.empty(0),
        "float": random_weights(n, n),
        "zero": np.zeros(n),
        "some zero": np.where(np.arange(n) % 3 == 0, 0.0, random_weights(n, 1)),
        "integer": np.arange(n) % 4,
    }[weighting]
    assert_as_numpy(codes, weights)


@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int16, np.uint16, np.int64, np.uint32, np.uint64, bool])
def test_other_integer_dtypes_and_layouts(dtype):
    codes = random_codes(400, 4, 2, 9)
    wide = codes.astype(dtype)
    weights = random_weights(400, 2)
    expected = numpy_patterns(codes, weights)
    for layout in (wide, np.asfortranarray(wide), np.repeat(wide, 2, axis=1)[:, ::2]):
        patterns, counts, inverse = _core.compress_patterns(layout, weights)
        assert_array_equal(patterns, expected[0])
        assert_array_equal(counts, expected[1])
        assert_array_equal(inverse, expected[2])


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), n=st.integers(0, 60), J=st.integers(1, 5), weighted=st.booleans())
def test_as_numpy_on_random_matrices(data, n, J, weighted):
    values = st.integers(-2, 2) | st.sampled_from([INT32.min, INT32.max, 1000, -1000])
    codes = data.draw(hnp.arrays(np.int32, (n, J), elements=values))
    weights = np.empty(0)
    if weighted:
        weights = data.draw(hnp.arrays(np.float64, n, elements=st.floats(0.0, 1e9) | st.just(0.0)))
    assert_as_numpy(codes, weights)


@pytest.mark.parametrize(
    "codes, weights, error, match",
    [
        (np.zeros(4, dtype=np.int32), np.ones(4), ValueError, "codes: expected a 2-D array"),
        (np.zeros((2, 2, 2), dtype=np.int32), np.ones(2), ValueError, "codes: expected a 2-D array"),
        (np.zeros((4, 2)), np.ones(4), TypeError, "codes: expected integer codes"),
        (np.array([["a", "b"]]), np.ones(1), TypeError, "codes: expected integer codes"),
        (np.array([[2**31, 0]]), np.ones(1), ValueError, "codes: expected values that fit in int32"),
        (np.array([[-(2**31) - 1, 0]]), np.ones(1), ValueError, "codes: expected values that fit in int32"),
        (np.array([[2**63, 0]], dtype=np.uint64), np.ones(1), ValueError, "codes: expected values that fit"),
        (np.zeros((4, 2), dtype=np.int32), np.ones(3), ValueError, "weights: expected 4 values"),
        (np.zeros((4, 2), dtype=np.int32), np.ones((4, 1)), ValueError, "weights: expected a 1-D array"),
        (np.zeros((2, 2), dtype=np.int32), np.array([1.0, np.nan]), ValueError, "weights: expected finite"),
        (np.zeros((2, 2), dtype=np.int32), np.array([np.inf, 1.0]), ValueError, "weights: expected finite"),
        (np.zeros((2, 2), dtype=np.int32), np.array([1.0, -0.5]), ValueError, "weights: .* in row 1"),
        (np.zeros((2, 2), dtype=np.int32), np.array(["1", "2"]), TypeError, "weights: expected real numbers"),
        (np.zeros((2, 2), dtype=np.int32), np.array([1j, 1]), TypeError, "weights: expected real numbers"),
    ],
)
def test_bad_input_raises(codes, weights, error, match):
    with pytest.raises(error, match=match):
        _core.compress_patterns(codes, weights)
