"""float32 input runs in float32 (the E-step and each block's sums), with the statistics added up
and the parameters estimated in float64: it agrees with the numpy reference EM run in float64 on
the same (float32-rounded) values to a relative 1e-5, and stays deterministic."""

import numpy as np
import pandas as pd
import pytest
from conftest import make_blobs, start_params
from reference import gmm as ref

import emkit

RTOL = 1e-5


def assert_close(actual, expected, what, rtol=RTOL):
    actual, expected = np.asarray(actual), np.asarray(expected)
    # Entries near zero (off-diagonal covariances) are compared to the size of the array.
    scale = np.maximum(np.abs(expected), np.abs(expected).max() * 1e-3)
    err = np.max(np.abs(actual - expected) / scale)
    assert err < rtol, f"{what}: max relative error {err:.3g}"


def assert_covariances_close(actual, expected, covariance_type, rtol=RTOL):
    """Covariance entries to a relative rtol of σ_i σ_j, the scale on which a covariance is
    precise (an off-diagonal entry near zero is as accurate as its variances allow, not relative
    to itself); variances (diag, spherical) relative to themselves, which is the same scale."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    if covariance_type in ("full", "tied"):
        sd = np.sqrt(np.diagonal(expected, axis1=-2, axis2=-1))
        scale = sd[..., :, None] * sd[..., None, :]
    else:
        scale = np.abs(expected)
    err = np.max(np.abs(actual - expected) / scale)
    assert err < rtol, f"covariances: max error {err:.3g} of σ_i σ_j"


def float32_blobs(n=1500, d=4, K=3, seed=21, missing=0.0, offset=0.0):
    """Blobs rounded to float32 (n > 256, so that several blocks of rows are summed), and the
    same values as float64."""
    X, _ = make_blobs(n=n, d=d, K=K, seed=seed, missing=missing)
    X32 = (X + offset).astype(np.float32)
    return X32, X32.astype(np.float64)


CASES = [
    pytest.param(dict(missing=0.0, weights=False, offset=0.0), id="plain"),
    # Far from the origin: the kernels centre the rows before any float32 arithmetic.
    pytest.param(dict(missing=0.0, weights=False, offset=500.0), id="offset"),
    pytest.param(dict(missing=0.1, weights=True, offset=0.0), id="missing+weights"),
    # 8 <= d < 32: full/tied statistics as one product of the rows' quadratic features with the
    # responsibilities, in float32 per block; the full E-step likewise when its cancellation
    # measure allows (Gaussian::kQuadraticCancellation32).
    pytest.param(dict(missing=0.0, weights=False, offset=0.0, d=12), id="d12"),
    pytest.param(dict(missing=0.1, weights=True, offset=500.0, d=16), id="d16-missing+weights+offset"),
]


@pytest.mark.parametrize("case", CASES)
def test_float32_fit_matches_float64_reference(covariance_type, case):
    K = 3
    X32, X64 = float32_blobs(d=case.get("d", 4), missing=case["missing"], offset=case["offset"])
    rng = np.random.default_rng(4)
    w = rng.uniform(0.2, 3.0, size=X32.shape[0]) if case["weights"] else None
    weights0, means0, cov0 = start_params(X64, K, covariance_type)
    expected = ref.fit(X64, weights0, means0, cov0, covariance_type, 15, sample_weight=w,
                       reg_covar=1e-6)

    gm = emkit.GaussianMixture(
        K, covariance_type=covariance_type, tol=0.0, max_iter=15, weights_init=weights0,
        means_init=means0, covariances_init=cov0, reg_covar=1e-6,
    ).fit(X32, sample_weight=w)
    assert gm.fit_dtype_ == np.float32
    assert gm.n_iter_ == 15
    assert_close(gm.history_, expected["history"], "objective history")
    assert_close(gm.weights_, expected["weights"], "weights")
    # Means relative to the data's spread (an offset of 500 is not precision to be proud of).
    spread = np.nanstd(X64, axis=0)
    err = np.max(np.abs(gm.means_ - expected["means"]) / spread)
    assert err < RTOL, f"means: max error {err:.3g} standard deviations"
    assert_covariances_close(gm.covariances_, expected["covariances"], covariance_type)



@pytest.mark.parametrize("spread", [4.0, 12.0], ids=["overlapping", "separated"])
def test_float32_many_features_statistics_match_float64(covariance_type, spread):
    # d >= 32: float32 rows gather the full/tied scatter over the rows whose responsibility is not
    # exactly zero; the full E-step is the quadratic-feature product where its cancellation
    # measure stays below Gaussian::kQuadraticCancellation32, else the triangular one. Statistics at the same parameters (a float64 fit started at the blobs' means)
    # rather than whole fits: the separated blobs lie far from their common centre, where float32
    # rows resolve a log-density to ~1e-3 only, below which EM's last steps climb.
    K = 8 if spread > 4.0 else 3
    X, labels = make_blobs(n=250 * K, d=40, K=K, seed=12, spread=spread)
    X32 = X.astype(np.float32)
    X64 = X32.astype(np.float64)
    weights0, _, cov0 = start_params(X64, K, covariance_type)
    means0 = np.array([X64[labels == k].mean(axis=0) for k in range(K)])
    gm = emkit.GaussianMixture(
        K, covariance_type=covariance_type, tol=0.0, max_iter=2, weights_init=weights0,
        means_init=means0, covariances_init=cov0, reg_covar=1e-6,
    ).fit(X64)
    if spread > 4.0:
        assert np.mean(gm.predict_proba(X64) == 0.0) > 0.3  # the case it is meant to be
    s32, s64 = gm.e_step(X32), gm.e_step(X64)
    assert s32.loglik == pytest.approx(s64.loglik, rel=1e-6)
    assert_close(s32.resp_sum, s64.resp_sum, "resp_sum")
    assert_close(s32.sum, s64.sum, "sum")
    assert_close(s32.scatter, s64.scatter, "scatter")

def test_float32_e_step_statistics_match_float64(covariance_type):
    X32, X64 = float32_blobs(n=3000, d=5, K=4, seed=3, missing=0.05)
    weights0, means0, cov0 = start_params(X64, 4, covariance_type)
    gm = emkit.GaussianMixture(4, covariance_type=covariance_type, weights_init=weights0,
                               means_init=means0, covariances_init=cov0).initialize(X64)
    s32, s64 = gm.e_step(X32), gm.e_step(X64)
    assert np.array_equal(s32.shift, s64.shift)
    assert s32.loglik == pytest.approx(s64.loglik, rel=1e-7)
    assert_close(s32.resp_sum, s64.resp_sum, "resp_sum")
    assert_close(s32.sum, s64.sum, "sum")
    assert_close(s32.scatter, s64.scatter, "scatter")
    # Statistics of float32 and float64 chunks add up.
    both = gm.e_step(X32[:1000]) + gm.e_step(X64[1000:])
    assert both.loglik == pytest.approx(s64.loglik, rel=1e-7)


def test_float32_posterior_and_scores_match_float64(covariance_type):
    X32, X64 = float32_blobs(n=800, missing=0.1)
    gm = emkit.GaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(X64)
    assert gm.fit_dtype_ == np.float64
    assert_close(gm.score_samples(X32), gm.score_samples(X64), "score_samples", rtol=1e-6)
    p32, p64 = gm.predict_proba(X32), gm.predict_proba(X64)
    assert np.max(np.abs(p32 - p64)) < 1e-5
    assert gm.score(X32) == pytest.approx(gm.score(X64), rel=1e-7)


def test_float32_results_do_not_depend_on_the_number_of_threads():
    X32, _ = float32_blobs(n=5000, d=6, K=4, seed=9)
    fits = [emkit.GaussianMixture(4, random_state=1, n_threads=t, tol=0.0, max_iter=10).fit(X32)
            for t in (1, 2, 4)]
    for other in fits[1:]:
        np.testing.assert_array_equal(other.means_, fits[0].means_)
        np.testing.assert_array_equal(other.covariances_, fits[0].covariances_)
        assert other.loglik_ == fits[0].loglik_


def test_float32_dataframe_stays_float32_and_mixed_columns_convert():
    X32, X64 = float32_blobs(n=600)
    frame = pd.DataFrame(X32, columns=list("abcd"))
    gm = emkit.GaussianMixture(3, random_state=0).fit(frame)
    assert gm.fit_dtype_ == np.float32
    assert list(gm.feature_names_in_) == list("abcd")
    mixed = frame.astype({"a": np.float64})
    gm64 = emkit.GaussianMixture(3, random_state=0).fit(mixed)
    assert gm64.fit_dtype_ == np.float64
    assert gm64.loglik_ == pytest.approx(gm.loglik_, rel=1e-5)


@pytest.mark.parametrize("dtype", [np.float16, np.int32])
def test_other_dtypes_are_converted_to_float64(dtype):
    X = np.random.default_rng(0).integers(0, 20, size=(300, 2)).astype(dtype)
    gm = emkit.GaussianMixture(2, random_state=0).fit(X)
    assert gm.fit_dtype_ == np.float64


def test_float32_rejects_inf_like_float64():
    X32, _ = float32_blobs(n=300)
    X32[7, 1] = np.inf
    with pytest.raises(ValueError, match="row 7 has"):
        emkit.GaussianMixture(2).fit(X32)
