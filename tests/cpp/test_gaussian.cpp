// The Gaussian emission family and the mixture EM over it, specified against closed forms.
#include <emkit/emkit.hpp>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "check.hpp"
#include "family_blocks.hpp"

using namespace emkit;

namespace {

const double kNaN = std::numeric_limits<double>::quiet_NaN();
const CovarianceType kAllTypes[] = {CovarianceType::Full, CovarianceType::Tied, CovarianceType::Diag,
                                    CovarianceType::Spherical};

// log p(x_i | state k) for every row, block by block as the E-step calls it.
RowMatrix log_prob(const Gaussian& g, const RowMatrix& X, bool cache_conditionals = true) {
  const GaussianData data(X.data(), X.rows(), X.cols());
  return emkit_test::log_prob_by_blocks(g, data, g.prepare(data, 1, cache_conditionals));
}

// Three well-separated clusters in d dimensions; a fraction of the entries set to NaN (never a
// whole row).
RowMatrix clustered_data(Index n, Index d, std::uint64_t seed, double missing_fraction) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  RowMatrix X(n, d);
  for (Index i = 0; i < n; ++i) {
    const Index k = i % 3;
    for (Index j = 0; j < d; ++j) {
      const double centre = j == k % d ? 6.0 * static_cast<double>(k) : 0.0;
      X(i, j) = centre + normal(rng) * (1.0 + 0.3 * static_cast<double>(j));
    }
    for (Index j = 0; j < d - 1; ++j)  // column d-1 is always observed
      if (uniform(rng) < missing_fraction) X(i, j) = kNaN;
  }
  return X;
}

// A model with K states whose covariances are the identity (scaled per state).
Gaussian identity_gaussian(CovarianceType type, const RowMatrix& means) {
  const Index K = means.rows(), d = means.cols();
  RowMatrix cov;
  switch (type) {
    case CovarianceType::Full:
      cov = RowMatrix::Zero(K, d * d);
      for (Index k = 0; k < K; ++k)
        for (Index j = 0; j < d; ++j) cov(k, j * d + j) = 1.0 + static_cast<double>(k);
      break;
    case CovarianceType::Tied:
      cov = RowMatrix::Zero(1, d * d);
      for (Index j = 0; j < d; ++j) cov(0, j * d + j) = 1.0;
      break;
    case CovarianceType::Diag:
      cov = RowMatrix::Ones(K, d);
      break;
    case CovarianceType::Spherical:
      cov = RowMatrix::Ones(K, 1);
      break;
  }
  return Gaussian(type, means, cov, 1e-6);
}

bool same(const RowMatrix& a, const RowMatrix& b) {
  return a.rows() == b.rows() && a.cols() == b.cols() && a == b;
}

// K states in d dimensions with random full covariances B Bᵀ/d + 0.2 I and means spread ~ N(0, spread²).
Gaussian random_full_gaussian(Index K, Index d, double spread, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  RowMatrix means(K, d), cov(K, d * d);
  for (Index k = 0; k < K; ++k) {
    Matrix B(d, d);
    for (Index i = 0; i < B.size(); ++i) B.data()[i] = normal(rng);
    const Matrix c = B * B.transpose() / static_cast<double>(d) + 0.2 * Matrix::Identity(d, d);
    for (Index a = 0; a < d; ++a) {
      means(k, a) = spread * normal(rng);
      for (Index b = 0; b < d; ++b) cov(k, a * d + b) = c(a, b);
    }
  }
  return Gaussian(CovarianceType::Full, means, cov, 0.0);
}

// n rows around the states' means (state i % K, unit noise).
RowMatrix rows_near_means(const Gaussian& g, Index n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  RowMatrix X(n, g.n_features());
  for (Index i = 0; i < n; ++i)
    for (Index j = 0; j < g.n_features(); ++j) X(i, j) = g.means()(i % g.n_states(), j) + normal(rng);
  return X;
}

}  // namespace

TEST(log_prob_of_full_gaussian_matches_hand_computed_value) {
  // mean (1, 2), Sigma = [[2, .5], [.5, 1]], x = (2, 1): |Sigma| = 1.75,
  // (x-mu)^T Sigma^{-1} (x-mu) = 4 / 1.75.
  RowMatrix means(1, 2), cov(1, 4), X(1, 2);
  means << 1.0, 2.0;
  cov << 2.0, 0.5, 0.5, 1.0;
  X << 2.0, 1.0;
  const double expected = -3.2605421032341995;  // -0.5 (2 log 2pi + log 1.75 + 4/1.75)
  CHECK_NEAR(log_prob(Gaussian(CovarianceType::Full, means, cov, 0.0), X)(0, 0), expected, 1e-13);
  CHECK_NEAR(log_prob(Gaussian(CovarianceType::Tied, means, cov, 0.0), X)(0, 0), expected, 1e-13);
}

TEST(log_prob_of_diagonal_and_spherical_gaussians_match_hand_computed_values) {
  RowMatrix means = RowMatrix::Zero(1, 3), var(1, 3), X(1, 3);
  var << 1.0, 4.0, 0.25;
  X << 1.0, 2.0, -0.5;
  // Each standardised coordinate is +-1 and log|Sigma| = log(1 * 4 * 0.25) = 0.
  CHECK_NEAR(log_prob(Gaussian(CovarianceType::Diag, means, var, 0.0), X)(0, 0), -4.2568155996140185, 1e-13);
  RowMatrix sphere(1, 1);
  sphere << 2.0;
  X << 1.0, 1.0, 1.0;
  // -0.5 (3 log 2pi + 3 log 2 + 3/2)
  CHECK_NEAR(log_prob(Gaussian(CovarianceType::Spherical, means, sphere, 0.0), X)(0, 0), -4.546536370453936,
             1e-13);
}

TEST(row_with_one_missing_entry_gets_the_marginal_density) {
  RowMatrix means(1, 2), cov(1, 4), X(3, 2);
  means << 1.0, 2.0;
  cov << 2.0, 0.5, 0.5, 1.0;
  X << 2.0, kNaN,  // x0 ~ N(1, 2)
      kNaN, 1.0,   // x1 ~ N(2, 1)
      2.0, 1.0;    // a complete row in the same block
  const double marginal_x0 = -1.5155121234846454;  // -0.5 (log 2pi + log 2 + 1/2)
  const double marginal_x1 = -1.4189385332046727;  // -0.5 (log 2pi + 1)
  for (const CovarianceType type : {CovarianceType::Full, CovarianceType::Tied}) {
    const Gaussian g(type, means, cov, 0.0);
    const RowMatrix cached = log_prob(g, X, true);
    CHECK_NEAR(cached(0, 0), marginal_x0, 1e-13);
    CHECK_NEAR(cached(1, 0), marginal_x1, 1e-13);
    CHECK_NEAR(cached(2, 0), -3.2605421032341995, 1e-13);
    // Conditionals computed per row instead of cached: the same arithmetic, the same bits.
    CHECK(same(log_prob(g, X, false), cached));
  }
  RowMatrix var(1, 2);
  var << 2.0, 1.0;
  const RowMatrix diag = log_prob(Gaussian(CovarianceType::Diag, means, var, 0.0), X);
  CHECK_NEAR(diag(0, 0), marginal_x0, 1e-13);
  CHECK_NEAR(diag(1, 0), marginal_x1, 1e-13);
}

TEST(m_step_equals_the_weighted_closed_form) {
  RowMatrix X(6, 2), resp(6, 2);
  X << 1.0, 2.0,  //
      2.5, 1.5,   //
      0.5, 3.0,   //
      7.0, 8.0,   //
      8.5, 6.5,   //
      6.0, 9.5;
  resp << 0.9, 0.1,  //
      0.8, 0.2,      //
      0.7, 0.3,      //
      0.2, 0.8,      //
      0.1, 0.9,      //
      0.4, 0.6;
  const double reg = 1e-6, N = 6.0;
  const Index K = 2, d = 2;
  const Vector resp_sum = resp.colwise().sum().transpose();
  // Closed form: mu_k = sum_i r_ik x_i / n_k, Sigma_k = sum_i r_ik (x_i - mu_k)(x_i - mu_k)^T / n_k.
  RowMatrix mu(K, d);
  std::vector<Matrix> scatter(K, Matrix::Zero(d, d));
  for (Index k = 0; k < K; ++k) {
    mu.row(k) = (resp.col(k).transpose() * X) / resp_sum[k];
    for (Index i = 0; i < 6; ++i) {
      const Vector z = (X.row(i) - mu.row(k)).transpose();
      scatter[k] += resp(i, k) * z * z.transpose();
    }
  }
  RowMatrix start_means(K, d);
  start_means << -3.0, 4.0, 12.0, 1.0;  // far from the data: exercises the centring shift
  const GaussianData data(X.data(), X.rows(), X.cols());
  for (const CovarianceType type : kAllTypes) {
    Gaussian g = identity_gaussian(type, start_means);
    GaussianStats stats = g.make_stats();
    g.accumulate(data, g.prepare(data, 1), 0, X.rows(), resp, stats);
    const std::vector<Index> empty = g.maximize(stats, resp_sum, N);
    CHECK(empty.empty());
    CHECK((g.means() - mu).cwiseAbs().maxCoeff() < 1e-13);
    for (Index k = 0; k < K; ++k) {
      Matrix expected;
      switch (type) {
        case CovarianceType::Full: expected = scatter[k] / resp_sum[k]; break;
        case CovarianceType::Tied: expected = (scatter[0] + scatter[1]) / N; break;
        case CovarianceType::Diag: expected = Matrix((scatter[k] / resp_sum[k]).diagonal().asDiagonal()); break;
        case CovarianceType::Spherical:
          expected = Matrix::Identity(d, d) * scatter[k].trace() / (resp_sum[k] * static_cast<double>(d));
          break;
      }
      expected.diagonal().array() += reg;
      CHECK((g.covariance_matrix(k) - expected).cwiseAbs().maxCoeff() < 1e-13);
    }
    // The mixture's M-step: weights are the expected counts over the total weight.
    Mixture<Gaussian> mixture(Vector::Constant(K, 1.0 / static_cast<double>(K)), identity_gaussian(type, start_means));
    MixtureStats<Gaussian> mixture_stats = mixture.make_stats();
    mixture_stats.resp_sum = resp_sum;
    mixture_stats.total_weight = N;
    mixture_stats.emission = stats;
    mixture.m_step(mixture_stats);
    CHECK((mixture.weights() - resp_sum / N).cwiseAbs().maxCoeff() < 1e-15);
    CHECK(same(mixture.emission().means(), g.means()));
  }
}

TEST(e_step_statistics_are_additive_over_rows) {
  const Index n = 1000, split = 437, d = 3;  // the split is not on a block boundary
  const RowMatrix X = clustered_data(n, d, 7, 0.1);
  Vector weight(n);
  for (Index i = 0; i < n; ++i) weight[i] = 0.5 + static_cast<double>(i % 7) / 4.0;
  RowMatrix means(3, d);
  means << 0.0, 0.0, 0.0, 3.0, 3.0, 0.0, 0.0, 0.0, 9.0;
  for (const CovarianceType type : kAllTypes) {
    const Mixture<Gaussian> model(Vector::Constant(3, 1.0 / 3.0), identity_gaussian(type, means));
    const MixtureData<Gaussian> all{GaussianData(X.data(), n, d), weight};
    const MixtureData<Gaussian> head{GaussianData(X.data(), split, d), weight.head(split)};
    const MixtureData<Gaussian> tail{GaussianData(X.data() + split * d, n - split, d), weight.tail(n - split)};
    const auto whole = model.e_step(all, 1);
    auto parts = model.e_step(head, 1);
    parts += model.e_step(tail, 1);
    const double scale = whole.emission.scatter.cwiseAbs().maxCoeff();
    CHECK_NEAR(parts.total_weight, whole.total_weight, 1e-12 * whole.total_weight);
    CHECK_NEAR(parts.loglik, whole.loglik, 1e-12 * std::abs(whole.loglik));
    CHECK((parts.resp_sum - whole.resp_sum).cwiseAbs().maxCoeff() < 1e-12 * whole.total_weight);
    CHECK((parts.emission.sum - whole.emission.sum).cwiseAbs().maxCoeff() < 1e-12 * scale);
    CHECK((parts.emission.scatter - whole.emission.scatter).cwiseAbs().maxCoeff() < 1e-12 * scale);
  }
}

TEST(small_products_equal_the_plain_triple_loop) {
  // Every tile shape and remainder: m over a few tiles, n over 1..5 packets, both stride layouts.
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> uniform(-1.0, 1.0);
  const Index P = small_products::kPacket;
  for (const Index m : {1, 2, 3, 4, 5, 7, 13})
    for (Index packets = 1; packets <= 5; ++packets)
      for (const Index depth : {1, 2, 9, 33}) {
        const Index n = packets * P;
        CHECK(small_products::applies(n));
        const Index L = std::max(m, depth);
        Eigen::MatrixXd A(L + 2, L + 1);  // column-major, a leading dimension above both m and depth
        for (Index i = 0; i < A.size(); ++i) A.data()[i] = uniform(rng);
        RowMatrix B(depth, n + 3);  // rows longer than n
        for (Index i = 0; i < B.size(); ++i) B.data()[i] = uniform(rng);
        for (const bool transposed : {false, true}) {
          // A(a, t) = A[a + t·ld] or, transposed, A[t + a·ld].
          const Index sa = transposed ? A.outerStride() : 1, st = transposed ? 1 : A.outerStride();
          RowMatrix C = RowMatrix::Constant(m, n + 1, kNaN);
          small_products::multiply(m, n, depth, A.data(), sa, st, B.data(), B.outerStride(), C.data(),
                                   C.outerStride());
          double worst = 0.0;
          for (Index a = 0; a < m; ++a)
            for (Index b = 0; b < n; ++b) {
              double expected = 0.0;
              for (Index t = 0; t < depth; ++t) expected += A.data()[a * sa + t * st] * B(t, b);
              worst = std::max(worst, std::abs(C(a, b) - expected));
            }
          CHECK(worst < 1e-13 * static_cast<double>(depth));
          CHECK(std::isnan(C(0, n)));  // nothing written beyond column n
        }
      }
}

TEST(e_step_statistics_do_not_depend_on_the_block_cache) {
  // Mixture::e_step hands the E-step's centred block to accumulate (Gaussian::BlockCache): the
  // statistics must equal those accumulated from the rows alone, with and without missing entries,
  // for a number of states that takes small_products (8) and one that does not (3).
  const Index d = 5;
  for (const double missing : {0.0, 0.05})
    for (const Index K : {3, 8}) {
      const RowMatrix X = clustered_data(1500, d, 17, missing);
      RowMatrix means(K, d);
      for (Index k = 0; k < K; ++k)
        for (Index j = 0; j < d; ++j) means(k, j) = static_cast<double>((k * 7 + j * 3) % 11) - 3.0;
      for (const CovarianceType type : kAllTypes) {
        const Mixture<Gaussian> model(Vector::Constant(K, 1.0 / static_cast<double>(K)),
                                      identity_gaussian(type, means));
        const MixtureData<Gaussian> data{GaussianData(X.data(), X.rows(), d), Vector()};
        const auto cached = model.e_step(data, 1);
        // The same E-step by hand, without the cache.
        const Gaussian& g = model.emission();
        const auto ws = g.prepare(data.emission, 1);
        Gaussian::Stats plain = g.make_stats();
        const RowMatrix lp = log_prob(g, X);
        for (Index i = 0; i < X.rows(); ++i) {
          RowMatrix r(1, K);
          for (Index k = 0; k < K; ++k) r(0, k) = lp(i, k) + std::log(model.weights()[k]);
          r = (r.array() - log_sum_exp(r.row(0))).exp().matrix();
          g.accumulate(data.emission, ws, i, i + 1, r, plain);
        }
        const double scale = cached.emission.scatter.cwiseAbs().maxCoeff();
        CHECK((cached.emission.sum - plain.sum).cwiseAbs().maxCoeff() < 1e-10 * scale);
        CHECK((cached.emission.scatter - plain.scatter).cwiseAbs().maxCoeff() < 1e-10 * scale);
      }
    }
}

TEST(fit_is_bit_identical_for_1_2_and_4_threads) {
  std::printf("    (OpenMP %s)\n", openmp_enabled() ? "enabled" : "disabled: trivially identical");
  const RowMatrix X = clustered_data(3000, 3, 11, 0.05);  // 12 blocks, 12 chunks
  for (const CovarianceType type : kAllTypes) {
    FitOptions options;
    options.max_iter = 25;
    options.tol = 0.0;
    options.n_threads = 1;
    const GaussianMixtureFit reference = fit_gaussian_mixture(X, 3, type, 5, options);
    for (const int threads : {2, 4}) {
      options.n_threads = threads;
      const GaussianMixtureFit fit = fit_gaussian_mixture(X, 3, type, 5, options);
      CHECK(fit.result.history == reference.result.history);
      CHECK(fit.result.loglik == reference.result.loglik);
      CHECK(fit.model.weights() == reference.model.weights());
      CHECK(same(fit.model.emission().means(), reference.model.emission().means()));
      CHECK(same(fit.model.emission().covariances(), reference.model.emission().covariances()));
    }
  }
}

TEST(objective_history_never_decreases) {
  // reg_covar = 0: the M-step is then an exact maximisation, so EM's monotonicity holds with
  // missing entries too; allow only round-off.
  const RowMatrix X = clustered_data(600, 3, 3, 0.1);
  for (const CovarianceType type : kAllTypes) {
    FitOptions options;
    options.max_iter = 60;
    options.tol = 0.0;
    const GaussianMixtureFit fit = fit_gaussian_mixture(X, 3, type, 1, options, 0.0);
    const auto& history = fit.result.history;
    CHECK(fit.result.n_iter == 60);
    CHECK(history.size() == 61);
    CHECK(fit.result.decreases.empty());
    for (std::size_t i = 1; i < history.size(); ++i)
      CHECK(history[i] >= history[i - 1] - 1e-12 * std::abs(history[i - 1]));
    CHECK(history.back() > history.front());
  }
}

TEST(invalid_parameters_are_rejected_with_invalid_argument) {
  RowMatrix means(1, 2), cov(1, 4);
  means << 0.0, 0.0;
  cov << 1.0, 2.0, 2.0, 1.0;  // symmetric, not positive definite
  CHECK_THROWS(Gaussian(CovarianceType::Full, means, cov, 0.0), InvalidArgument);
  CHECK_THROWS(parse_covariance_type("fulll"), InvalidArgument);
  const RowMatrix X = clustered_data(10, 2, 1, 0.0);
  CHECK_THROWS(fit_gaussian_mixture(X, 11), InvalidArgument);
}

// log N_k(x_i) by the direct form: -½(d log 2π + log|Σ_k|) - ½‖L_k⁻¹(x_i - μ_k)‖² (triangular solve).
double direct_log_density(const Gaussian& g, const RowMatrix& X, Index i, Index k) {
  const Matrix& L = g.cholesky(k);
  const double log_det = 2.0 * L.diagonal().array().log().sum();
  const Vector diff = (X.row(i) - g.means().row(k)).transpose();
  const double quad = L.triangularView<Eigen::Lower>().solve(diff).squaredNorm();
  return -0.5 * (static_cast<double>(X.cols()) * kLog2Pi + log_det + quad);
}

TEST(quadratic_feature_e_step_matches_the_direct_quadratic_form) {
  // d >= kQuadraticEStep, full covariances: the E-step is one product of the rows' quadratic
  // features with the precisions (gaussian::quadratic_weights). Checked against
  // -½(d log 2π + log|Σ|) - ½‖L⁻¹(x - μ)‖² by triangular solves, for state counts that are and are
  // not a whole number of SIMD packets (padding), d a multiple of 8 or not; and states ~10⁴
  // standard deviations from their centre, where the expansion would cancel too many digits and
  // the triangular E-step is used instead.
  for (const Index d : {Gaussian::kQuadraticEStep, Index(16), Index(45)})
    for (const Index K : {3, 8})
      for (const double spread : {2.0, 3e4}) {
        const Gaussian g = random_full_gaussian(K, d, spread, 100 + d + K);
        const RowMatrix X = rows_near_means(g, 300, 7);
        const GaussianData data(X.data(), X.rows(), d);
        const Gaussian::Workspace ws = g.prepare(data, 1);
        CHECK((ws.f64.quadratic.size() > 0) == (spread < 10.0));
        const RowMatrix lp = log_prob(g, X);
        double worst = 0.0;
        for (Index k = 0; k < K; ++k)
          for (Index i = 0; i < X.rows(); ++i) {
            const double expected = direct_log_density(g, X, i, k);
            worst = std::max(worst, std::abs(lp(i, k) - expected) / (1.0 + std::abs(expected)));
          }
        CHECK(worst < 1e-11);
      }
}

TEST(float32_quadratic_feature_e_step_stays_within_its_error_bound) {
  // float32 rows, full covariances, d >= kQuadraticEStep: the quadratic-feature E-step in float32
  // while the cancellation measure stays below kQuadraticCancellation32 (states near their common
  // centre): against the float64 direct quadratic form of the same (float32-rounded) rows, well
  // within the ε₃₂·1e4 ≈ 6e-4 (absolute) documented for it, these states being near their centre.
  // States ~10⁴ standard deviations out: the direct form.
  for (const Index d : {Gaussian::kQuadraticEStep, Index(16), Index(40)})
    for (const double spread : {0.3, 3e4}) {
      const Index K = 5;
      const Gaussian g = random_full_gaussian(K, d, spread, 700 + d);
      const RowMatrix X = rows_near_means(g, 300, 13).cast<float>().cast<double>();
      const RowMatrixF Xf = X.cast<float>();
      const GaussianData data(Xf.data(), Xf.rows(), d);
      const Gaussian::Workspace ws = g.prepare(data, 1);
      CHECK((ws.f32.quadratic.size() > 0) == (spread < 1.0));
      if (spread > 1.0) continue;
      RowMatrix lp(X.rows(), K);
      for (Index b = 0; b < X.rows(); b += kBlockRows) {
        const Index e = std::min(X.rows(), b + kBlockRows);
        g.log_prob(data, ws, b, e, lp.middleRows(b, e - b));
      }
      double worst = 0.0;
      for (Index k = 0; k < K; ++k)
        for (Index i = 0; i < X.rows(); ++i) worst = std::max(worst, std::abs(lp(i, k) - direct_log_density(g, X, i, k)));
      CHECK(worst < 2e-4);
    }
}

// The statistics of rows X (float64, or float32 when single) with responsibilities resp,
// accumulated block by block.
Gaussian::Stats block_statistics(const Gaussian& g, const RowMatrix& X, const RowMatrix& resp, bool single = false) {
  const RowMatrixF Xf = X.cast<float>();
  const GaussianData data = single ? GaussianData(Xf.data(), X.rows(), X.cols()) : GaussianData(X.data(), X.rows(), X.cols());
  const Gaussian::Workspace ws = g.prepare(data, 1);
  Gaussian::Stats stats = g.make_stats();
  for (Index b = 0; b < X.rows(); b += kBlockRows) {
    const Index e = std::min(X.rows(), b + kBlockRows);
    g.accumulate(data, ws, b, e, resp.middleRows(b, e - b), stats);
  }
  return stats;
}

TEST(scatter_and_sums_equal_the_plain_sums) {
  // Full and tied covariances. kQuadraticEStep <= d < kTriangularFeatures: sums and scatter as
  // one product of the rows' quadratic features with the responsibilities (add_quadratic_scatter);
  // from kTriangularFeatures on the scatter is gathered per state over the rows with a nonzero
  // responsibility (small_products when d is a whole number of SIMD packets, else a rank update).
  // Responsibilities with many exact zeros, one state with none, weights not summing to one,
  // state counts that are and are not whole SIMD packets: against the plain sums Σ_i r_ik (x_i - c)
  // and Σ_i r_ik (x_i - c)(x_i - c)ᵀ.
  // float32 rows (single): each block's sums in float32, so against the same sums to 1e-5.
  for (const Index d : {Index(8), Index(12), Index(16), Index(24), Index(31), Index(32), Index(33), Index(40)})
    for (const Index K : {Index(5), Index(8)})
      for (const CovarianceType type : {CovarianceType::Full, CovarianceType::Tied})
      for (const bool single : {false, true}) {
        const Index n = 600;  // three blocks, the last one partial
        const Gaussian full = random_full_gaussian(K, d, 2.0, 300 + d);
        const Gaussian g = type == CovarianceType::Full
                               ? full
                               : Gaussian(CovarianceType::Tied, full.means(), full.covariances().topRows(1), 0.0);
        const RowMatrix X = rows_near_means(g, n, 9).cast<float>().cast<double>();
        std::mt19937_64 rng(d);
        std::uniform_real_distribution<double> uniform(0.0, 1.0);
        RowMatrix resp = RowMatrix::Zero(n, K);
        for (Index i = 0; i < n; ++i)
          for (Index k = 0; k < K - 1; ++k)  // state K - 1 has no rows
            if (uniform(rng) < 0.3) resp(i, k) = uniform(rng);
        const Gaussian::Stats stats = block_statistics(g, X, resp, single);
        const Vector c = stats.shift.row(0).transpose();
        double worst = 0.0, scale = 0.0, worst_sum = 0.0, scale_sum = 0.0;
        for (Index k = 0; k < K; ++k) {
          Matrix expected = Matrix::Zero(d, d);
          Vector expected_sum = Vector::Zero(d);
          for (Index i = 0; i < n; ++i) {
            const Vector y = X.row(i).transpose() - c;
            expected += resp(i, k) * y * y.transpose();
            expected_sum += resp(i, k) * y;
          }
          Matrix actual(d, d);
          for (Index a = 0; a < d; ++a)
            for (Index b = 0; b < d; ++b) actual(a, b) = stats.scatter(k, a * d + b);
          CHECK(actual == actual.transpose());  // exactly symmetric
          worst = std::max(worst, (actual - expected).cwiseAbs().maxCoeff());
          scale = std::max(scale, expected.cwiseAbs().maxCoeff());
          worst_sum = std::max(worst_sum, (stats.sum.row(k).transpose() - expected_sum).cwiseAbs().maxCoeff());
          scale_sum = std::max(scale_sum, expected_sum.cwiseAbs().maxCoeff());
          if (k == K - 1) CHECK(actual.cwiseAbs().maxCoeff() == 0.0 && stats.sum.row(k).cwiseAbs().maxCoeff() == 0.0);
        }
        const double tolerance = single ? 1e-5 : 1e-12;
        CHECK(worst < tolerance * scale);
        CHECK(worst_sum < tolerance * scale_sum);
      }
}

TEST(incomplete_rows_in_a_block_add_what_they_add_alone) {
  // A block mixing complete rows and rows with missing entries: the block kernels leave the
  // incomplete rows out (no 0·NaN) and accumulate adds them one by one, so the statistics equal
  // those of the complete rows plus those of the incomplete rows, each accumulated alone.
  for (const Index d : {Index(12), Index(16), Index(40)}) {
    const Index K = 5, n = 400;
    const Gaussian g = random_full_gaussian(K, d, 2.0, 500 + d);
    RowMatrix X = rows_near_means(g, n, 11);
    RowMatrix resp(n, K);
    std::mt19937_64 rng(d);
    std::uniform_real_distribution<double> uniform(0.0, 1.0);
    for (Index i = 0; i < resp.size(); ++i) resp.data()[i] = uniform(rng);
    std::vector<Index> complete_rows, incomplete_rows;
    for (Index i = 0; i < n; ++i) {
      if (i % 7 == 3) {
        X(i, i % d) = kNaN;
        incomplete_rows.push_back(i);
      } else {
        complete_rows.push_back(i);
      }
    }
    auto rows_of = [](const RowMatrix& m, const std::vector<Index>& rows) {
      RowMatrix out(static_cast<Index>(rows.size()), m.cols());
      for (std::size_t r = 0; r < rows.size(); ++r) out.row(static_cast<Index>(r)) = m.row(rows[r]);
      return out;
    };
    const Gaussian::Stats mixed = block_statistics(g, X, resp);
    Gaussian::Stats parts = block_statistics(g, rows_of(X, complete_rows), rows_of(resp, complete_rows));
    parts += block_statistics(g, rows_of(X, incomplete_rows), rows_of(resp, incomplete_rows));
    CHECK(mixed.scatter.allFinite() && mixed.sum.allFinite());
    CHECK((mixed.scatter - parts.scatter).cwiseAbs().maxCoeff() < 1e-12 * parts.scatter.cwiseAbs().maxCoeff());
    CHECK((mixed.sum - parts.sum).cwiseAbs().maxCoeff() < 1e-12 * parts.sum.cwiseAbs().maxCoeff());
  }
}

TEST(exp_of_arguments_below_the_underflow_threshold_is_exactly_zero) {
  // vmath's exp writes 0 below kExpZero itself; the C library agrees there, and just above it
  // returns the subnormal values that must not become zeros.
  CHECK(std::exp(vmath::kExpZero) == 0.0);
  CHECK(std::exp(-745.0) > 0.0);
  double x[6] = {-800.0, vmath::kExpZero - 1e-9, -745.0, -709.0, -1.0, 0.0};
  double y[6];
  vmath::exp_array(x, y, 6);
  for (int i = 0; i < 6; ++i) CHECK(y[i] == std::exp(x[i]) || std::abs(y[i] - std::exp(x[i])) < 1e-15 * std::exp(x[i]));
  CHECK(y[0] == 0.0 && y[1] == 0.0 && y[2] > 0.0);
}

TEST(single_precision_exp_is_within_float32_rounding_of_the_exact_value) {
  // The E-step of float32 rows exponentiates in float32 (vmath::exp_nonpositive_single): relative
  // error within about one float32 unit (6e-8) on [kExpLowSingle, 0], 0 below it, NaN kept, positive arguments
  // (not expected) exact. 1001 + 4000 + 7 values: whole packets and a tail.
  std::vector<double> x;
  for (int i = 0; i <= 1000; ++i) x.push_back(vmath::kExpLowSingle * i / 1000.0);
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> u(vmath::kExpLowSingle, 0.0);
  for (int i = 0; i < 4000; ++i) x.push_back(u(rng));
  const Index n_checked = static_cast<Index>(x.size());
  for (double v : {-87.01, -700.0, -1e300, -std::numeric_limits<double>::infinity(),
                   std::numeric_limits<double>::quiet_NaN(), 0.5, 3.0})
    x.push_back(v);
  std::vector<double> y = x;
  vmath::exp_nonpositive_single(y.data(), static_cast<Index>(y.size()));
  double worst = 0.0;
  for (Index i = 0; i < n_checked; ++i) worst = std::max(worst, std::abs(y[i] / std::exp(x[i]) - 1.0));
  CHECK(worst < 2e-7);
  CHECK(worst > 1e-9);  // float32 results, not the double ones
  const Index t = n_checked;
  CHECK(y[t] == 0.0 && y[t + 1] == 0.0 && y[t + 2] == 0.0 && y[t + 3] == 0.0);
  CHECK(std::isnan(y[t + 4]));
  CHECK(y[t + 5] == std::exp(0.5) && y[t + 6] == std::exp(3.0));
}

int main() { return emkit_test::run_all("test_gaussian"); }
