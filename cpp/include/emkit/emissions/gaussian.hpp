// The Gaussian emission family: full, tied, diagonal and spherical covariances, with missing
// entries (NaN) integrated out exactly, and an optional conjugate normal-inverse-Wishart prior.
//
// Sufficient statistics per state k are centred on a shift s_k taken from the current means:
//   sum_k     = sum_i r_ik (x̂_ik - s_k)
//   scatter_k = sum_i r_ik [(x̂_ik - s_k)(x̂_ik - s_k)^T + C_ik]
// where x̂_ik is row i with its missing entries replaced by their conditional mean given the
// observed ones under state k, and C_ik is the conditional covariance of the missing entries
// (zero elsewhere). Centring keeps the scatter accurate when the data sit far from the origin.
// s_k = c, the mean of the means, for every state, so that a block's statistics for a group of
// states are one matrix product; the relative rounding error of a covariance then grows as
// eps·|m_k - c|²/σ², which stays below 1e-12 unless states lie more than ~10^2 standard
// deviations from the centre.
//
// E-step: full/tied as one matrix product per block of rows and group of states with the
// Cholesky factors of the precisions (see Workspace); diagonal/spherical as one product of the
// block's centred values and their squares with the precisions (see log_prob_rows).
//
// float32 rows (GaussianData::Xf) are never converted: the E-step's products and quadratic forms
// and each block's (≤ kBlockRows rows) sums for the statistics are computed in float32; the
// normalising constants, the log-likelihood and the statistics across blocks are float64, as are
// the parameters and the M-step. Rows with missing entries are handled in float64.
#pragma once

#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "../parallel.hpp"
#include "../small_products.hpp"
#include "../types.hpp"

namespace emkit {

enum class CovarianceType { Full, Tied, Diag, Spherical };

inline CovarianceType parse_covariance_type(const std::string& name) {
  if (name == "full") return CovarianceType::Full;
  if (name == "tied") return CovarianceType::Tied;
  if (name == "diag") return CovarianceType::Diag;
  if (name == "spherical") return CovarianceType::Spherical;
  throw InvalidArgument("covariance_type must be one of 'full', 'tied', 'diag', 'spherical'; got '" +
                        name + "'");
}

inline const char* covariance_type_name(CovarianceType type) {
  switch (type) {
    case CovarianceType::Full: return "full";
    case CovarianceType::Tied: return "tied";
    case CovarianceType::Diag: return "diag";
    default: return "spherical";
  }
}

// The rows of a dataset as the Gaussian family sees them: the matrix (NaN = missing) and its
// missingness patterns, found once per dataset rather than once per iteration. The rows stay in
// the precision they were given: float64 in X, or float32 in Xf (the other map has no rows); with
// float32 rows the kernels compute in float32 and accumulate the statistics in float64 (Gaussian).
// allow_unobserved_rows: accept rows with every entry missing (an HMM time step with nothing
// observed still advances the chain); they get log-probability 0 and add nothing to the
// statistics. Off by default: such a row carries no information for a mixture.
struct GaussianData {
  Eigen::Map<const RowMatrix> X;
  Eigen::Map<const RowMatrixF> Xf;
  std::vector<int> pattern_of_row;               // -1 for a complete row
  std::vector<std::vector<Index>> observed;      // per pattern
  std::vector<std::vector<Index>> missing;       // per pattern
  std::vector<char> block_complete;              // per kBlockRows block: no missing entry

  GaussianData(const double* data, Index n_rows, Index n_features, bool allow_unobserved_rows = false)
      : X(data, n_rows, n_features), Xf(nullptr, 0, n_features), single_(false) {
    find_patterns(X, allow_unobserved_rows);
  }
  GaussianData(const float* data, Index n_rows, Index n_features, bool allow_unobserved_rows = false)
      : X(nullptr, 0, n_features), Xf(data, n_rows, n_features), single_(true) {
    find_patterns(Xf, allow_unobserved_rows);
  }
  // True when the rows are float32.
  bool single_precision() const { return single_; }
  Index n_rows() const { return single_ ? Xf.rows() : X.rows(); }
  Index n_features() const { return X.cols(); }
  // Entry (i, j) as a double, whatever the precision of the rows.
  double value(Index i, Index j) const { return single_ ? static_cast<double>(Xf(i, j)) : X(i, j); }
  // The rows [begin, begin + n) in their own precision T (float when single_precision()).
  template <class T>
  auto rows(Index begin, Index n) const {
    if constexpr (std::is_same_v<T, float>)
      return Xf.middleRows(begin, n);
    else
      return X.middleRows(begin, n);
  }
  Index n_patterns() const { return static_cast<Index>(observed.size()); }
  // False for a row with nothing observed (only with allow_unobserved_rows).
  bool has_observation(Index i) const {
    const int p = pattern_of_row[static_cast<size_t>(i)];
    return p < 0 || !observed[static_cast<size_t>(p)].empty();
  }
  // True when no row in [begin, end) has a missing entry (any range, aligned or not).
  bool range_complete(Index begin, Index end) const {
    for (Index b = begin / kBlockRows; b <= (end - 1) / kBlockRows; ++b)
      if (!block_complete[static_cast<size_t>(b)]) return false;
    return true;
  }

 private:
  bool single_;

  template <class Rows>
  void find_patterns(const Rows& rows, bool allow_unobserved_rows) {
    const Index n_rows = rows.rows(), n_features = rows.cols();
    pattern_of_row.assign(static_cast<size_t>(n_rows), -1);
    std::map<std::vector<bool>, int> ids;
    std::vector<bool> mask(static_cast<size_t>(n_features));
    const Index n_blocks = (n_rows + kBlockRows - 1) / kBlockRows;
    block_complete.assign(static_cast<size_t>(n_blocks), 1);
    for (Index i = 0; i < n_rows; ++i) {
      bool any = false;
      for (Index j = 0; j < n_features; ++j) {
        mask[j] = std::isnan(rows(i, j));
        any = any || mask[j];
      }
      if (!any) continue;
      auto [it, inserted] = ids.emplace(mask, static_cast<int>(observed.size()));
      if (inserted) {
        std::vector<Index> o, m;
        for (Index j = 0; j < n_features; ++j) (mask[j] ? m : o).push_back(j);
        require(allow_unobserved_rows || !o.empty(), "X: row " + std::to_string(i) + " has no observed value");
        observed.push_back(std::move(o));
        missing.push_back(std::move(m));
      }
      pattern_of_row[i] = it->second;
      block_complete[i / kBlockRows] = 0;
    }
  }
};

// Conjugate prior (Fraley & Raftery 2007, mclust's priorControl): mean_k | Sigma_k ~
// N(mean, Sigma_k / shrinkage), Sigma_k ~ inverse-Wishart(dof, scale). For diagonal covariances
// each variance has its own one-dimensional inverse-Wishart(dof, scale_j); for spherical ones the
// single variance has inverse-Wishart(dof, scale) with scale a scalar.
struct GaussianPrior {
  Vector mean;
  double shrinkage = 0.01;
  double dof = 0.0;
  Matrix scale;  // full/tied: d×d; diag: d×1; spherical: 1×1
};

// Expected sufficient statistics of one Gaussian family; they merge by addition.
struct GaussianStats {
  RowMatrix shift;    // K×d: the means the statistics are centred on
  RowMatrix sum;      // K×d
  RowMatrix scatter;  // full/tied: K×(d*d) row-major d×d blocks; diag/spherical: K×d
  // Gaussian::parameters_fingerprint() of the parameters they were computed at: statistics of
  // different parameters do not add up to an E-step (the shift alone need not tell them apart).
  std::uint64_t parameters = 0;

  GaussianStats& operator+=(const GaussianStats& other) {
    sum += other.sum;
    scatter += other.scatter;
    return *this;
  }
};

inline double log_multigamma(double a, Index p) {
  double value = 0.25 * static_cast<double>(p * (p - 1)) * kLogPi;
  for (Index j = 1; j <= p; ++j) value += std::lgamma(a + 0.5 * static_cast<double>(1 - j));
  return value;
}

class Gaussian {
 public:
  using Data = GaussianData;
  using Stats = GaussianStats;

  // Components whose expected count falls below this fraction of the total weight are "empty":
  // without a prior they keep their previous mean and covariance (their weight goes to ~0).
  static constexpr double kEmptyFraction = 1e-10;
  // Columns of one E-step matrix product (see Workspace).
  static constexpr Index kProductColumns = 256;
  // From this many features on, the full/tied kernels do half the arithmetic of a GEMM: the E-step
  // as triangular products (x - c) U_k (where the quadratic-feature E-step does not apply), the
  // M-step's scatter as WᵀW per state over its nonzero responsibilities (add_sparse_scatter).
  static constexpr Index kTriangularFeatures = 32;
  // From this many features on, full covariances (float64 rows) use the quadratic-feature E-step
  // (quadratic_weights): d(d+1)/2 + d + 1 products per row and state instead of the GEMM's d² and
  // the squared norms' 3d (below, the few products do not pay for forming the features); and,
  // below kTriangularFeatures, full and tied (float64 rows) the quadratic-feature statistics
  // (add_quadratic_scatter): sums and upper triangles of the scatter in one product.
  static constexpr Index kQuadraticEStep = 8;
  // The quadratic-feature E-step expands (y - b)ᵀP(y - b) into terms that cancel; it is used only
  // while the cancellation measure of every state (quadratic_weights) stays below this, which
  // keeps its rounding error in the log-densities below ~1e-10 (absolute).
  static constexpr double kQuadraticCancellation = 1e5;
  // The same for float32 rows, whose products round to float32 (ε ≈ 6e-8): the error of their
  // log-densities stays below ε·1e4 ≈ 6e-4 (absolute; typically ~1e-5, where the direct form's is
  // ~1e-6). On the benchmark's gmm-full (measure up to ~2000) the float32 fit's log-likelihood
  // after 12 iterations differs from the float64 fit's by 5e-8 (relative), its means by 6e-6
  // standard deviations. Beyond it, float32 rows use the direct form (GEMM or triangular).
  static constexpr double kQuadraticCancellation32 = 1e4;
  // Bytes of quadratic features (quadratic_block) formed at a time below kTriangularFeatures.
  static constexpr Index kFeatureBytes = 384 * 1024;
  // Up to this many features, the products of a block are evaluated as dot products (Eigen's
  // lazyProduct): a blocked GEMM's packing costs more than the arithmetic of such tiny products.
  static constexpr Index kFewFeatures = 4;

  Gaussian(CovarianceType type, RowMatrix means, RowMatrix covariances, double reg_covar,
           std::optional<GaussianPrior> prior = std::nullopt)
      : type_(type), means_(std::move(means)), reg_covar_(reg_covar), prior_(std::move(prior)) {
    require(means_.rows() >= 1 && means_.cols() >= 1, "means: expected a non-empty (K, d) array");
    require(reg_covar_ >= 0 && std::isfinite(reg_covar_), "reg_covar: expected a finite value >= 0");
    require(means_.allFinite(), "means: expected finite values");
    set_covariances(covariances);
    if (prior_) check_prior(*prior_);
  }

  CovarianceType covariance_type() const { return type_; }
  Index n_states() const { return means_.rows(); }
  Index n_features() const { return means_.cols(); }
  double reg_covar() const { return reg_covar_; }
  const RowMatrix& means() const { return means_; }
  const std::optional<GaussianPrior>& prior() const { return prior_; }

  // Covariances in scikit-learn's layout flattened to rows: full K×(d*d), tied 1×(d*d),
  // diag K×d, spherical K×1.
  const RowMatrix& covariances() const { return cov_; }

  // Covariance matrix of state k (dense d×d).
  Matrix covariance_matrix(Index k) const {
    const Index d = n_features();
    switch (type_) {
      case CovarianceType::Full: return unflatten(cov_.row(k), d);
      case CovarianceType::Tied: return unflatten(cov_.row(0), d);
      case CovarianceType::Diag: return cov_.row(k).transpose().asDiagonal();
      default: return Matrix::Identity(d, d) * cov_(k, 0);
    }
  }

  // Lower Cholesky factor of state k's covariance.
  const Matrix& cholesky(Index k) const { return chol_[type_ == CovarianceType::Tied ? 0 : k]; }

  Index n_parameters() const {
    const Index K = n_states(), d = n_features();
    switch (type_) {
      case CovarianceType::Full: return K * d + K * d * (d + 1) / 2;
      case CovarianceType::Tied: return K * d + d * (d + 1) / 2;
      case CovarianceType::Diag: return 2 * K * d;
      default: return K * d + K;
    }
  }

  // ---- per-iteration workspace: conditional distributions of missing given observed -------
  struct Conditional {
    Matrix chol_oo;  // Cholesky factor of Sigma_oo
    double log_det_oo = 0.0;
    Matrix regression;   // Sigma_mo Sigma_oo^{-1}, |m|×|o|
    Matrix cond_cov;     // Sigma_mm - Sigma_mo Sigma_oo^{-1} Sigma_om
  };
  // Rows without missing entries are centred on c, the mean of the means (so that no accuracy
  // is lost when the data sit far from the origin; c is rounded to float32, so that float32 rows
  // are centred on exactly the same point). Full/tied: log N_k(x) = norm_k - ½‖(x - c) U_f - b_k‖²,
  // with U_f = L_f^{-T} (the Cholesky factor of the precision; triangular solves against the
  // identity, never an inverse of Σ) and b_k = (μ_k - c) U_f: the products (x - c) U_f for a
  // block of rows and a group of states are one matrix product (GEMM). Diagonal/spherical:
  // log N_k(x) = norm_k - ½ Σ_j ((x - c)_j - b_kj)² / σ²_kj with b_k = μ_k - c. These are the
  // operands in the precision of the rows (computed in double, then rounded for float32 rows).
  template <class T>
  struct ProductOperands {
    Eigen::Matrix<T, 1, Eigen::Dynamic> centre;
    // full/tied: d × (F·d), [U_0 … U_{F-1}]; diag/spherical, float64 rows: K × (2d+1), the
    // transpose of the product's right operand (see log_prob_rows); diag/spherical, float32: unused
    Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic> factors;
    // full/tied: 1 × (K·d), [b_0 … b_{K-1}]; diag/spherical, float32 rows: 1 × (K·d), the same
    // b_k = μ_k - c, with precisions 1 × (K·d), [1/σ²_0 … 1/σ²_{K-1}]
    Eigen::Matrix<T, 1, Eigen::Dynamic> offsets;
    Eigen::Matrix<T, 1, Eigen::Dynamic> precisions;
    // full, d >= kQuadraticEStep: the (D + d + 1) × K' weights of the quadratic-feature E-step
    // (quadratic_weights; K' = K rounded up to whole SIMD packets of T), or empty where that
    // E-step does not apply. float32 rows: the weights' last row (the constants) is zero, and the
    // constants are added in float64 from `constants` (1 × K).
    Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> quadratic;
    Eigen::Matrix<double, 1, Eigen::Dynamic> constants;
  };
  // What the E-step of one block of rows leaves for its statistics, so that they need not be
  // formed twice (Mixture::e_step hands one to log_prob, then to accumulate, per block): for
  // float64 rows the centred block, x - c for full/tied (or, with the quadratic-feature E-step
  // below kTriangularFeatures, the block's quadratic features: quadratic_block, D + d + 1
  // columns), [(x - c)², x - c, 1] for diag/spherical (log_prob_rows); for float32 rows only the
  // quadratic features, in centred32. Column-major, for the rows [begin, begin + rows) of the
  // data. Only a block without missing entries is kept (rows == 0 otherwise).
  struct BlockCache {
    Matrix centred;
    Eigen::MatrixXf centred32;
    Index begin = 0;
    Index rows = 0;
    bool holds(Index b, Index n) const { return rows > 0 && begin == b && rows == n; }
  };
  struct Workspace {
    std::vector<Conditional> conditionals;  // [pattern * n_factor + factor], if cached
    bool cached = false;
    ProductOperands<double> f64;  // float64 rows
    ProductOperands<float> f32;   // float32 rows
    template <class T>
    const ProductOperands<T>& operands() const {
      if constexpr (std::is_same_v<T, float>)
        return f32;
      else
        return f64;
    }
  };

  // cache_conditionals = false computes the conditionals of incomplete rows per row instead (the
  // same arithmetic; for testing the cache).
  Workspace prepare(const Data& data, int n_threads, bool cache_conditionals = true) const {
    Workspace ws;
    const Index K = n_states(), d = n_features();
    ProductOperands<double>& op = ws.f64;
    op.centre = centre();
    op.offsets.resize(K * d);
    if (uses_full_scatter()) {
      const Index F = n_factors();
      op.factors.resize(d, F * d);
      for (Index f = 0; f < F; ++f) {
        // L U^T = I  ⇔  U = L^{-T}: upper triangular.
        op.factors.middleCols(f * d, d) =
            chol_[f].triangularView<Eigen::Lower>().solve(Matrix::Identity(d, d)).transpose();
      }
      for (Index k = 0; k < K; ++k) {
        const Index f = type_ == CovarianceType::Tied ? 0 : k;
        op.offsets.segment(k * d, d).noalias() =
            (means_.row(k) - op.centre) * op.factors.middleCols(f * d, d).triangularView<Eigen::Upper>();
      }
      if (type_ == CovarianceType::Full && d >= kQuadraticEStep && !data.single_precision())
        op.quadratic = quadratic_weights(op, kQuadraticCancellation, small_products::padded<double>(K));
    } else if (!data.single_precision()) {
      // Row k of the K × (2d+1) factor: [-½/σ²_k, b_k/σ²_k, -½ (d log 2π + log|Σ_k| + Σ_j b²_kj/σ²_kj)].
      const double dd = static_cast<double>(d);
      op.factors.resize(K, 2 * d + 1);
      for (Index k = 0; k < K; ++k) {
        const RowVectorXd precision = variance_row(k).cwiseInverse();
        const RowVectorXd b = means_.row(k) - op.centre;
        op.factors.row(k).head(d) = -0.5 * precision;
        op.factors.row(k).segment(d, d) = b.cwiseProduct(precision);
        op.factors(k, 2 * d) = -0.5 * (dd * kLog2Pi + log_det_[k] + b.cwiseProduct(b).dot(precision));
      }
    } else {
      op.offsets.resize(K * d);
      op.precisions.resize(K * d);
      for (Index k = 0; k < K; ++k) {
        op.offsets.segment(k * d, d) = means_.row(k) - op.centre;
        op.precisions.segment(k * d, d) = variance_row(k).cwiseInverse();
      }
    }
    if (data.single_precision()) {
      ws.f32.centre = op.centre.cast<float>();
      ws.f32.factors = op.factors.cast<float>();
      ws.f32.offsets = op.offsets.cast<float>();
      ws.f32.precisions = op.precisions.cast<float>();
      if (type_ == CovarianceType::Full && d >= kQuadraticEStep) {
        const RowMatrix w = quadratic_weights(op, kQuadraticCancellation32, small_products::padded<float>(K));
        if (w.size() > 0) {
          ws.f32.quadratic = w.cast<float>();
          ws.f32.quadratic.bottomRows(1).setZero();
          ws.f32.constants = w.bottomRows(1).leftCols(K);
        }
      }
    }
    if (!cache_conditionals || !uses_conditionals() || data.n_patterns() == 0) return ws;
    const Index P = data.n_patterns(), F = n_factors();
    // Cache the conditionals when they fit in a modest budget; otherwise compute them per row
    // (the same arithmetic, so results do not depend on the choice).
    const double bytes = 8.0 * static_cast<double>(P * F) * static_cast<double>(2 * d * d);
    if (bytes > 256.0 * 1024 * 1024) return ws;
    ws.cached = true;
    ws.conditionals.resize(static_cast<size_t>(P * F));
    parallel_for(P, n_threads, [&](Index p) {
      if (data.observed[p].empty()) return;  // nothing observed: no conditional needed
      for (Index f = 0; f < F; ++f) ws.conditionals[p * F + f] = conditional(data, p, f);
    });
    return ws;
  }

  // ---- E-step kernels --------------------------------------------------------------------
  // log p(x_i | z = k) for the rows [begin, end): out is (end-begin)×K. float32 rows: the
  // quadratic forms are computed in float32, the normalising constants added in float64.
  // cache: where to keep the block's centred values for accumulate (see BlockCache), or null.
  void log_prob(const Data& data, const Workspace& ws, Index begin, Index end, Eigen::Ref<RowMatrix> out,
                BlockCache* cache = nullptr) const {
    const Index K = n_states(), nb = end - begin;
    const bool complete = data.range_complete(begin, end);
    // float32 rows keep only the quadratic features (the other float32 kernels do not form a
    // block that the statistics could use).
    const bool keep = cache && complete && nb <= kBlockRows &&
                      (!data.single_precision() || (ws.f32.quadratic.size() > 0 && n_features() < kTriangularFeatures));
    if (cache) {
      cache->rows = keep ? nb : 0;
      cache->begin = begin;
    }
    // Rows with missing entries get meaningless values here and are redone one by one below.
    if (data.single_precision())
      log_prob_rows<float>(data.rows<float>(begin, nb), ws.f32, out, keep ? &cache->centred32 : nullptr);
    else
      log_prob_rows<double>(data.rows<double>(begin, nb), ws.f64, out, keep ? &cache->centred : nullptr);
    if (complete) return;
    for (Index i = begin; i < end; ++i) {
      const int p = data.pattern_of_row[i];
      if (p < 0) continue;
      for (Index k = 0; k < K; ++k) out(i - begin, k) = log_prob_incomplete(data, ws, i, p, k);
    }
  }

  // What the statistics are centred on (K×d), a function of the current means: every state on the
  // mean of the means, so that a block's statistics are one matrix product (see accumulate).
  RowMatrix statistics_shift() const { return centre().replicate(n_states(), 1); }

  // A 64-bit FNV-1a hash of the bytes of the means and covariances: equal for equal parameters,
  // different (but for a 2^-64 chance) after any M-step that moves them. Computed once per change
  // of the parameters (set_covariances), not per statistics object.
  std::uint64_t parameters_fingerprint() const { return fingerprint_; }

  Stats make_stats() const {
    const Index K = n_states(), d = n_features();
    Stats s;
    s.shift = statistics_shift();
    s.parameters = parameters_fingerprint();
    s.sum = RowMatrix::Zero(K, d);
    s.scatter = RowMatrix::Zero(K, uses_full_scatter() ? d * d : d);
    return s;
  }

  // Adds the rows [begin, end) with (weighted) responsibilities resp ((end-begin)×K), a block of
  // at most kBlockRows rows at a time. float32 rows: each block's sums are computed in float32
  // and added to the float64 statistics.
  // cache: what log_prob kept of these rows (BlockCache), or null.
  void accumulate(const Data& data, const Workspace& ws, Index begin, Index end,
                  const Eigen::Ref<const RowMatrix>& resp, Stats& stats, const BlockCache* cache = nullptr) const {
    const Index K = n_states(), d = n_features();
    for (Index b = begin; b < end; b += kBlockRows) {
      const Index e = std::min(end, b + kBlockRows);
      const auto block_resp = resp.middleRows(b - begin, e - b);
      // The cached block is centred on c, as these statistics are (make_stats) unless they were
      // made for other parameters.
      const bool use_cache = cache && cache->holds(b, e - b) && stats.parameters == fingerprint_;
      if (data.single_precision())
        accumulate_rows<float>(data, data.rows<float>(b, e - b), b, block_resp, stats,
                               use_cache ? &cache->centred32 : nullptr);
      else
        accumulate_rows<double>(data, data.rows<double>(b, e - b), b, block_resp, stats,
                                use_cache ? &cache->centred : nullptr);
    }
    if (data.range_complete(begin, end)) return;
    Vector filled(d), z(d);
    for (Index i = begin; i < end; ++i) {
      const int p = data.pattern_of_row[i];
      if (p < 0 || data.observed[p].empty()) continue;
      for (Index k = 0; k < K; ++k) {
        const double r = resp(i - begin, k);
        if (r == 0.0) continue;
        add_incomplete(data, ws, i, p, k, r, stats, filled, z);
      }
    }
  }

  // ---- M-step ----------------------------------------------------------------------------
  // resp_sum: expected counts n_k; total_weight: N = sum of the sample weights. keep_means: hold
  // the means at their current values and maximise the covariances given them (the scatter is
  // then taken about the current means). Returns the indices of states that were empty (kept
  // their parameters).
  std::vector<Index> maximize(const Stats& stats, const Vector& resp_sum, double total_weight,
                              bool keep_means = false) {
    const Index K = n_states(), d = n_features();
    std::vector<Index> empty;
    RowMatrix new_means = means_;
    std::vector<Matrix> spread(static_cast<size_t>(K));  // B_k (or W_k without a prior)
    for (Index k = 0; k < K; ++k) {
      const double n = resp_sum[k];
      const auto shift = stats.shift.row(k).transpose();
      const Vector s1 = stats.sum.row(k).transpose();
      Vector mean;
      if (keep_means) {
        mean = means_.row(k).transpose();
        if (!prior_ && n < kEmptyFraction * total_weight) empty.push_back(k);
      } else if (prior_) {
        const double kappa = prior_->shrinkage;
        mean = (n * shift + s1 + kappa * prior_->mean) / (n + kappa);
      } else if (n < kEmptyFraction * total_weight) {
        empty.push_back(k);
        mean = means_.row(k).transpose();
      } else {
        mean = shift + s1 / n;
      }
      // Scatter about the new mean from the statistics centred on the shift:
      // sum r (x-mu)(x-mu)^T = S - s1 delta^T - delta s1^T + n delta delta^T, delta = mu - shift.
      const Vector delta = mean - shift;
      if (uses_full_scatter()) {
        Matrix S = unflatten(stats.scatter.row(k), d);
        S -= s1 * delta.transpose() + delta * s1.transpose();
        S += n * delta * delta.transpose();
        if (prior_) {
          const Vector dm = mean - prior_->mean;
          S += prior_->shrinkage * dm * dm.transpose();
        }
        spread[k] = 0.5 * (S + S.transpose());
      } else {
        Vector S = stats.scatter.row(k).transpose();
        S.array() += -2.0 * s1.array() * delta.array() + n * delta.array().square();
        if (prior_) S.array() += prior_->shrinkage * (mean - prior_->mean).array().square();
        spread[k] = S;
      }
      new_means.row(k) = mean.transpose();
    }

    const double dd = static_cast<double>(d);
    RowMatrix new_cov(cov_.rows(), cov_.cols());
    switch (type_) {
      case CovarianceType::Full:
        for (Index k = 0; k < K; ++k) {
          if (!prior_ && is_empty(empty, k)) {
            new_cov.row(k) = cov_.row(k);
            continue;
          }
          Matrix sigma = prior_ ? Matrix((prior_->scale + spread[k]) / (resp_sum[k] + prior_->dof + dd + 2.0))
                                : Matrix(spread[k] / resp_sum[k]);
          sigma.diagonal().array() += reg_covar_;
          new_cov.row(k) = flatten(sigma);
        }
        break;
      case CovarianceType::Tied: {
        Matrix total = Matrix::Zero(d, d);
        for (Index k = 0; k < K; ++k) total += spread[k];
        Matrix sigma = prior_ ? Matrix((prior_->scale + total) /
                                       (total_weight + static_cast<double>(K) + prior_->dof + dd + 1.0))
                              : Matrix(total / total_weight);
        sigma.diagonal().array() += reg_covar_;
        new_cov.row(0) = flatten(sigma);
        break;
      }
      case CovarianceType::Diag:
        for (Index k = 0; k < K; ++k) {
          if (!prior_ && is_empty(empty, k)) {
            new_cov.row(k) = cov_.row(k);
            continue;
          }
          Vector var = prior_ ? Vector((prior_->scale.col(0) + spread[k]) / (resp_sum[k] + prior_->dof + 3.0))
                              : Vector(spread[k] / resp_sum[k]);
          new_cov.row(k) = (var.array() + reg_covar_).matrix().transpose();
        }
        break;
      case CovarianceType::Spherical:
        for (Index k = 0; k < K; ++k) {
          if (!prior_ && is_empty(empty, k)) {
            new_cov(k, 0) = cov_(k, 0);
            continue;
          }
          const double var =
              prior_ ? (prior_->scale(0, 0) + spread[k].sum()) /
                           (resp_sum[k] * dd + dd + prior_->dof + 2.0)
                     : spread[k].sum() / (resp_sum[k] * dd);
          new_cov(k, 0) = var + reg_covar_;
        }
        break;
    }
    means_ = std::move(new_means);
    set_covariances(new_cov, /*during_fit=*/true);
    return empty;
  }

  // log p(means, covariances) under the prior (0 without a prior).
  double log_prior() const {
    if (!prior_) return 0.0;
    const GaussianPrior& pr = *prior_;
    const Index K = n_states(), d = n_features();
    const double dd = static_cast<double>(d);
    double total = 0.0;
    // Normal prior on each mean given its covariance.
    for (Index k = 0; k < K; ++k) {
      const Vector dm = means_.row(k).transpose() - pr.mean;
      double quad;
      if (uses_full_scatter()) {
        quad = cholesky(k).triangularView<Eigen::Lower>().solve(dm).squaredNorm();
      } else {
        quad = (dm.array().square() / variance_row(k).transpose().array()).sum();
      }
      total += -0.5 * dd * kLog2Pi + 0.5 * dd * std::log(pr.shrinkage) - 0.5 * log_det_[k] -
               0.5 * pr.shrinkage * quad;
    }
    // Inverse-Wishart prior on the covariances.
    auto log_iw_scalar = [&](double var, double scale) {
      return 0.5 * pr.dof * std::log(scale) - 0.5 * pr.dof * std::log(2.0) - std::lgamma(0.5 * pr.dof) -
             0.5 * (pr.dof + 2.0) * std::log(var) - 0.5 * scale / var;
    };
    switch (type_) {
      case CovarianceType::Full:
      case CovarianceType::Tied: {
        Eigen::LLT<Matrix> scale_llt(pr.scale);
        const double log_det_scale = 2.0 * scale_llt.matrixLLT().diagonal().array().log().sum();
        const Index n_factors_ = type_ == CovarianceType::Tied ? 1 : K;
        for (Index f = 0; f < n_factors_; ++f) {
          const Matrix& L = chol_[f];
          // tr(Lambda Sigma^{-1}) = ||L^{-1} Lambda_chol||_F^2 with Lambda = Lambda_chol Lambda_chol^T.
          const Matrix solved = L.triangularView<Eigen::Lower>().solve(Matrix(scale_llt.matrixL()));
          total += 0.5 * pr.dof * log_det_scale - 0.5 * pr.dof * dd * std::log(2.0) -
                   log_multigamma(0.5 * pr.dof, d) - 0.5 * (pr.dof + dd + 1.0) * log_det_[f] -
                   0.5 * solved.squaredNorm();
        }
        break;
      }
      case CovarianceType::Diag:
        for (Index k = 0; k < K; ++k)
          for (Index j = 0; j < d; ++j) total += log_iw_scalar(cov_(k, j), pr.scale(j, 0));
        break;
      case CovarianceType::Spherical:
        for (Index k = 0; k < K; ++k) total += log_iw_scalar(cov_(k, 0), pr.scale(0, 0));
        break;
    }
    return total;
  }

  // One draw from state k.
  template <class Rng>
  void sample(Index k, Rng& rng, Eigen::Ref<Vector> out) const {
    std::normal_distribution<double> normal(0.0, 1.0);
    const Index d = n_features();
    Vector z(d);
    for (Index j = 0; j < d; ++j) z[j] = normal(rng);
    if (uses_full_scatter())
      out = means_.row(k).transpose() + cholesky(k).triangularView<Eigen::Lower>() * z;
    else
      out = means_.row(k).transpose() + (variance_row(k).transpose().array().sqrt() * z.array()).matrix();
  }

 private:
  CovarianceType type_;
  RowMatrix means_;
  RowMatrix cov_;
  double reg_covar_;
  std::optional<GaussianPrior> prior_;
  std::vector<Matrix> chol_;  // full: K, tied: 1 lower factors
  Vector log_det_;            // log|Sigma_k| per state
  std::uint64_t fingerprint_ = 0;  // parameters_fingerprint()

  static std::uint64_t hash_parameters(const RowMatrix& means, const RowMatrix& cov) {
    std::uint64_t hash = 14695981039346656037ull;
    for (const RowMatrix* m : {&means, &cov}) {
      const auto* bytes = reinterpret_cast<const unsigned char*>(m->data());
      for (size_t b = 0; b < static_cast<size_t>(m->size()) * sizeof(double); ++b) {
        hash ^= bytes[b];
        hash *= 1099511628211ull;
      }
    }
    return hash;
  }

  // The common centre c of the statistics and of the E-step: the mean of the means, rounded to
  // float32 (exact for the float32 kernels, and as good a centre for the float64 ones).
  RowVectorXd centre() const {
    const RowVectorXd mean = means_.colwise().mean();
    const RowVectorXd rounded = mean.cast<float>().cast<double>();
    return rounded.allFinite() ? rounded : mean;  // means beyond float32's range: only float64 rows
  }

  // The quadratic features of the rows Xb about the centre c, column-major m × (D + d + 1) in z:
  // with y = x - c, the products y_a·y_b for a <= b column by column of the upper triangle ((0,0),
  // (0,1), (1,1), (0,2), …; D = d(d+1)/2 of them), then y, then 1. Each column is one vectorised
  // pass over the rows.
  template <class Rows, class Centre, class Z>
  static void quadratic_block(const Rows& Xb, const Centre& c, Z& z) {
    const Index m = Xb.rows(), d = Xb.cols(), D = d * (d + 1) / 2;
    z.resize(m, D + d + 1);
    z.middleCols(D, d) = Xb.rowwise() - c;
    using T = typename Z::Scalar;
    T* out = z.data();
    const T* y = z.data() + D * m;
    // Plain loops over the rows of a column: with few rows (kSubBlockRows from kTriangularFeatures
    // on) an Eigen expression per column costs more than its arithmetic; a constant count unrolls.
    auto columns = [&](auto rows) {
      for (Index b = 0; b < d; ++b) {
        const T* yb = y + b * rows;
        for (Index a = 0; a <= b; ++a, out += rows) {
          const T* ya = y + a * rows;
          for (Index i = 0; i < rows; ++i) out[i] = ya[i] * yb[i];
        }
      }
    };
    if (m == kSubBlockRows)
      columns(std::integral_constant<Index, kSubBlockRows>());
    else
      columns(m);
    z.col(D + d).setOnes();
  }

  // Rows whose quadratic features are formed at a time: as many as fit in
  // kFeatureBytes below kTriangularFeatures (a whole block at d = 16), kSubBlockRows from there on,
  // where the products' other operand is the larger one to keep in cache. kSubBlockRows is a
  // multiple of every small_products tile height (3, 4, 6, 8), so that no rows are left to
  // single-row tiles.
  static constexpr Index kSubBlockRows = 24;
  template <class T>
  static Index quadratic_rows(Index d) {
    if (d >= kTriangularFeatures) return kSubBlockRows;
    const Index D1 = d * (d + 1) / 2 + d + 1;
    return std::max(kSubBlockRows, kFeatureBytes / (static_cast<Index>(sizeof(T)) * D1) / kSubBlockRows * kSubBlockRows);
  }

  // The weights of the quadratic-feature E-step (full covariances): with y = x - c, b_k = μ_k - c
  // and P_k = U_k U_kᵀ the precision (U_k = L_k^{-T}, as for the triangular E-step),
  //   log N_k(x) = -½ yᵀP_k y + yᵀP_k b_k - ½ (d log 2π + log|Σ_k| + b_kᵀP_k b_k)
  //              = [y_a y_b (a ≤ b), y, 1] · w_k          (a row of quadratic_block),
  // w_k = [-½ P_aa on the diagonal, -P_ab off it ; P_k b_k ; the constant], so the E-step of a
  // block of rows is one product (rows × (D + d + 1)) by ((D + d + 1) × K): half the arithmetic of
  // a GEMM with the factors, as the triangular products, but in one register-blocked product.
  // The terms cancel where x lies near μ_k: the rounding error of the sum is of the order of
  // ε·(|b_k|ᵀ|P_k||b_k| + Σ_ab |P_ab||Σ_ab|) (the size of the terms at the state's own rows:
  // states far from c in their own standard deviations, or strongly correlated features). Where
  // that measure exceeds limit (kQuadraticCancellation, or kQuadraticCancellation32 for float32
  // rows) for some state, returns an empty matrix and the E-step keeps the direct form (GEMM or
  // triangular products).
  // limit: the largest cancellation measure allowed; padded: columns (K or more, zeros after K).
  RowMatrix quadratic_weights(const ProductOperands<double>& op, double limit, Index padded) const {
    const Index K = n_states(), d = n_features(), D = d * (d + 1) / 2;
    const double dd = static_cast<double>(d);
    RowMatrix w = RowMatrix::Zero(D + d + 1, padded);
    Matrix P(d, d);
    for (Index k = 0; k < K; ++k) {
      const auto U = op.factors.middleCols(k * d, d);  // upper triangular, zeros below
      P.noalias() = U * U.transpose();
      const Vector b = (means_.row(k) - op.centre).transpose();
      const Vector ub = op.offsets.segment(k * d, d).transpose();  // U_kᵀ b_k
      const double measure = b.cwiseAbs().dot(P.cwiseAbs() * b.cwiseAbs()) +
                             P.cwiseAbs().cwiseProduct(covariance_matrix(k).cwiseAbs()).sum();
      if (!(measure <= limit)) return RowMatrix();
      Index t = 0;
      for (Index c = 0; c < d; ++c)
        for (Index a = 0; a <= c; ++a) w(t++, k) = a == c ? -0.5 * P(a, a) : -P(a, c);
      w.col(k).segment(D, d) = U * ub;
      w(D + d, k) = -0.5 * (dd * kLog2Pi + log_det_[k] + ub.squaredNorm());
    }
    return w;
  }

  // Adds Σ_i r_ik (x_i - c) and Σ_i r_ik (x_i - c)(x_i - c)ᵀ of every state for a block of rows Xb
  // (scalar type T; rows [begin, begin + nb) of data; full/tied, kQuadraticEStep <= d <
  // kTriangularFeatures) as one product per quadratic_rows rows: the features' transpose times the
  // responsibilities, Zᵀ R ((D + d) × K), whose first D rows are the scatter's upper triangles and
  // the next d the sums (by small_products: the upper triangle's D products per row and state
  // instead of the d² of a GEMM). features: the block's features (quadratic_block), or null to
  // form them here. Incomplete rows are left out (zero responsibilities and features);
  // accumulate adds them. float32 rows: the block's products in float32, added in float64.
  template <class T, class Rows>
  void add_quadratic_scatter(const Data& data, const Rows& Xb, Index begin, const Eigen::Ref<const RowMatrix>& resp,
                             Stats& stats, const Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>* features) const {
    using MatrixT = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>;
    const Index K = n_states(), d = n_features(), nb = Xb.rows();
    const Index D = d * (d + 1) / 2;
    const bool complete = data.range_complete(begin, begin + nb);
    const Index padded = small_products::padded<T>(K);
    // The responsibilities as small_products reads them: as given when they need no change, else
    // a copy in T with whole SIMD packets of columns and the incomplete rows zeroed.
    const T* R = nullptr;
    Index ldr = padded;
    thread_local RowMatrixT<T> r, product;
    if constexpr (std::is_same_v<T, double>) {
      if (complete && padded == K) {
        R = resp.data();
        ldr = resp.outerStride();
      }
    }
    if (!R) {
      r.setZero(nb, padded);
      r.leftCols(K) = resp.template cast<T>();
      if (!complete)
        for (Index i = 0; i < nb; ++i)
          if (data.pattern_of_row[begin + i] >= 0) r.row(i).setZero();
      R = r.data();
    }
    const auto c = stats.shift.row(0).template cast<T>();
    const Index rows = features ? nb : quadratic_rows<T>(d);
    thread_local MatrixT local;
    thread_local RowMatrix total;  // the sub-blocks' products added in float64, when there are several
    product.resize(D + d, padded);
    const bool several = nb > rows;
    for (Index i0 = 0; i0 < nb; i0 += rows) {
      const Index m = std::min(rows, nb - i0);
      const T* z = features ? features->data() : nullptr;
      if (!z) {
        quadratic_block(Xb.middleRows(i0, m), c, local);
        if (!complete)
          for (Index i = 0; i < m; ++i)
            if (data.pattern_of_row[begin + i0 + i] >= 0) local.row(i).setZero();
        z = local.data();
      }
      // The features' last column (the constant 1) would give the responsibilities' sums, which the
      // structure keeps itself: the product stops before it.
      small_products::multiply(D + d, padded, m, z, m, 1, R + i0 * ldr, ldr, product.data(), padded);
      if (!several) break;
      if (i0 == 0)
        total = product.template cast<double>();
      else
        total += product.template cast<double>();
    }
    // Row t of the product holds entry t of every state's packed upper triangle (then the sums),
    // column k state k's: added to both halves of each state's d × d scatter (row k of scatter),
    // state by state (the product's few KB stay in L1; each state's scatter is written contiguously).
    auto unpack = [&](const auto* product_data, Index ld) {
      for (Index k = 0; k < K; ++k) {
        double* S = stats.scatter.data() + k * d * d;
        const auto* v = product_data + k;
        for (Index b = 0; b < d; ++b) {
          for (Index a = 0; a < b; ++a, v += ld) {
            const double value = static_cast<double>(*v);
            S[b * d + a] += value;
            S[a * d + b] += value;
          }
          S[b * d + b] += static_cast<double>(*v);
          v += ld;
        }
        for (Index j = 0; j < d; ++j, v += ld) stats.sum(k, j) += static_cast<double>(*v);
      }
    };
    if (several)
      unpack(total.data(), padded);
    else
      unpack(product.data(), padded);
  }

  // Adds the scatter Σ_i r_ik (x_i - c)(x_i - c)ᵀ of every state for a block of float64 rows
  // (xc = x - c, column-major; resp indexed (row, state)) to scatter, d × (K·d) column-major.
  // (Row, state) pairs whose responsibility is exactly zero add exactly nothing and are skipped:
  // once the states separate most pairs are, and the work follows the nonzero ones. Per state, the
  // rows it has are gathered as W = √r ⊙ (x - c) and WᵀW is formed by small_products (its upper
  // triangle, panel by panel; the result is exactly symmetric, the two orders of a product being
  // equal) when d is a whole number of SIMD packets, else by a symmetric rank update. The sums run
  // in row order: the same for any thread count.
  // float32 rows: the block's products in float32 (rank update), added in float64.
  template <class T, class Resp>
  void add_sparse_scatter(const Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>& xc, const Resp& resp,
                          Eigen::Map<Matrix>& scatter) const {
    const Index K = n_states(), d = n_features(), nb = xc.rows();
    // Per-thread scratch (a block's rows, reused from block to block): row-major, so that the
    // gathers below copy whole rows.
    thread_local RowMatrixT<T> rows, w;
    rows = xc;
    w.resize(nb, d);
    RowMatrix product(d, d);
    Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic> lower;
    const bool packets = std::is_same_v<T, double> && small_products::applies(d);
    constexpr Index kPanel = small_products::kTileCols * small_products::kPacket;
    for (Index k = 0; k < K; ++k) {
      Index m = 0;
      for (Index i = 0; i < nb; ++i) {
        const T r = resp(i, k);
        if (r == T(0)) continue;
        w.row(m++) = std::sqrt(r) * rows.row(i);
      }
      if (m == 0) continue;
      double* S = scatter.data() + k * d * d;  // S_k(a, b) = S[b·d + a]
      if constexpr (std::is_same_v<T, double>) {
        if (packets) {
          // Columns [b0, b0 + width) need the rows above b0 + width only.
          for (Index b0 = 0; b0 < d; b0 += kPanel) {
            const Index width = std::min(kPanel, d - b0);
            small_products::multiply(b0 + width, width, m, w.data(), 1, d, w.data() + b0, d, product.data() + b0,
                                     d);
          }
          for (Index b = 0; b < d; ++b) {
            for (Index a = 0; a < b; ++a) {
              const double v = product(a, b);
              S[b * d + a] += v;
              S[a * d + b] += v;
            }
            S[b * d + b] += product(b, b);
          }
          continue;
        }
      }
      lower.setZero(d, d);
      lower.template selfadjointView<Eigen::Lower>().rankUpdate(w.topRows(m).transpose());
      lower.template triangularView<Eigen::StrictlyUpper>() = lower.transpose().eval();
      Eigen::Map<Matrix>(S, d, d) += lower.template cast<double>();
    }
  }

  // dst += a·b, the product evaluated in the operands' precision and added in float64. lazy: as
  // dot products instead of a blocked GEMM, faster for the tiny products of few features.
  template <class Dst, class A, class B>
  static void add_product(Dst&& dst, const A& a, const B& b, bool lazy) {
    using T = typename A::Scalar;
    if constexpr (std::is_same_v<T, double>) {
      if (lazy)
        dst.noalias() += a.lazyProduct(b);
      else
        dst.noalias() += a * b;
    } else {
      Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic> product;
      if (lazy)
        product.noalias() = a.lazyProduct(b);
      else
        product.noalias() = a * b;
      dst += product.template cast<double>();
    }
  }

  // The E-step of the rows Xb (scalar type T) as if none had a missing entry. keep: where to build
  // the centred block (BlockCache; float32 rows: only with the quadratic-feature E-step), or null.
  template <class T, class Rows>
  void log_prob_rows(const Rows& Xb, const ProductOperands<T>& op, Eigen::Ref<RowMatrix> out,
                     Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>* keep) const {
    using MatrixT = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>;
    const Index K = n_states(), d = n_features(), nb = Xb.rows();
    const double dd = static_cast<double>(d);
    MatrixT local;
    MatrixT* centred = &local;
    if constexpr (std::is_same_v<T, double>) {
      if (keep) centred = keep;
    }
    if (uses_full_scatter() && op.quadratic.size() > 0) {
      // The quadratic-feature E-step (quadratic_weights): the features of a few rows at a time
      // (quadratic_rows; they stay in cache), times the weights by small_products. Below
      // kTriangularFeatures a whole block's float64 features are kept for accumulate when they fit.
      // float32 rows: the product in float32 without the constants, which are added in float64.
      const Index D1 = op.quadratic.rows(), padded = op.quadratic.cols();
      const Index rows = quadratic_rows<T>(d);
      MatrixT* features = nullptr;
      if (keep && d < kTriangularFeatures && rows >= nb) {
        features = keep;  // accumulate takes the features (D1 columns) from the cache
      } else if (keep) {
        *keep = Xb.rowwise() - op.centre;  // accumulate takes x - c (d columns)
      }
      thread_local MatrixT scratch;  // per-thread, reused from block to block
      MatrixT& z = features ? *features : scratch;
      thread_local RowMatrixT<T> product;
      const bool direct = std::is_same_v<T, double> && padded == K;
      const Index depth = std::is_same_v<T, double> ? D1 : D1 - 1;  // float32: no constant feature
      for (Index i0 = 0; i0 < nb; i0 += rows) {
        const Index m = std::min(rows, nb - i0);
        quadratic_block(Xb.middleRows(i0, m), op.centre, z);
        if constexpr (std::is_same_v<T, double>) {
          if (direct) {
            small_products::multiply(m, K, D1, z.data(), 1, m, op.quadratic.data(), padded, &out(i0, 0),
                                     out.outerStride());
            continue;
          }
        }
        product.resize(m, padded);
        small_products::multiply(m, padded, depth, z.data(), 1, m, op.quadratic.data(), padded, product.data(),
                                 padded);
        if constexpr (std::is_same_v<T, double>)
          out.middleRows(i0, m) = product.leftCols(K);
        else
          out.middleRows(i0, m) = (product.leftCols(K).template cast<double>().rowwise() + op.constants);
      }
      return;
    }
    if (uses_full_scatter()) {
      const Index F = n_factors();
      MatrixT& xc = *centred;
      xc = Xb.rowwise() - op.centre;
      // States per product: about kProductColumns columns keeps the product's output in cache.
      // From kTriangularFeatures on, one triangular product per state (half the work of a GEMM).
      const bool triangular = d >= kTriangularFeatures;
      const Index group = triangular ? 1 : std::max<Index>(1, kProductColumns / d);
      MatrixT y;  // column-major: each column of the product is contiguous over the rows
      Eigen::Array<T, Eigen::Dynamic, 1> quad(nb);
      for (Index f0 = 0; f0 < F; f0 += group) {
        const Index g = std::min(group, F - f0);
        if (triangular)
          y.noalias() = xc * op.factors.middleCols(f0 * d, d).template triangularView<Eigen::Upper>();
        else if (d <= kFewFeatures)
          y.noalias() = xc.lazyProduct(op.factors.middleCols(f0 * d, g * d));
        else
          y.noalias() = xc * op.factors.middleCols(f0 * d, g * d);
        // Tied: the one product serves every state.
        const Index k0 = type_ == CovarianceType::Tied ? 0 : f0;
        const Index k1 = type_ == CovarianceType::Tied ? K : f0 + g;
        for (Index k = k0; k < k1; ++k) {
          const Index col = type_ == CovarianceType::Tied ? 0 : (k - f0) * d;
          quad.setZero();
          for (Index j = 0; j < d; ++j) quad += (y.col(col + j).array() - op.offsets[k * d + j]).square();
          out.col(k) = (-0.5 * (dd * kLog2Pi + log_det_[k]) - 0.5 * quad.template cast<double>()).matrix();
        }
      }
    } else if constexpr (std::is_same_v<T, double>) {
      // log N_k(x) = -½ Σ_j ((x - c)_j - b_kj)²/σ²_kj - ½ (d log 2π + log|Σ_k|)
      //            = [(x - c)², x - c, 1] · [-½/σ²_k ; b_k/σ²_k ; -½ (d log 2π + log|Σ_k| + Σ_j b²_kj/σ²_kj)]:
      // one (rows × (2d+1)) by ((2d+1) × K) product for every state, written straight into out
      // (small_products where K is a whole number of SIMD packets). Centring on c keeps the
      // cancellation between the terms small (they are of the size of the spread of the means, in σ).
      MatrixT& z = *centred;
      z.resize(nb, 2 * d + 1);
      z.middleCols(d, d) = Xb.rowwise() - op.centre;
      z.leftCols(d) = z.middleCols(d, d).array().square();
      z.col(2 * d).setOnes();
      if (small_products::applies(K))
        small_products::multiply(nb, K, 2 * d + 1, z.data(), 1, nb, op.factors.data(), K, out.data(),
                                 out.outerStride());
      else if (d <= kFewFeatures)
        out.noalias() = z.lazyProduct(op.factors.transpose());
      else
        out.noalias() = z * op.factors.transpose();
    } else {
      // float32: that cancellation would cost float32 digits, so the direct form, vectorised over
      // rows: the centred block transposed (features × rows), one pass per state and feature
      // accumulating ((x - c) - b_k)² / σ².
      const RowMatrixT<T> xt = (Xb.rowwise() - op.centre).transpose();
      Eigen::Array<T, 1, Eigen::Dynamic> quad(nb);
      for (Index k = 0; k < K; ++k) {
        quad.setZero();
        for (Index j = 0; j < d; ++j)
          quad += op.precisions[k * d + j] * (xt.row(j).array() - op.offsets[k * d + j]).square();
        out.col(k) = (-0.5 * (dd * kLog2Pi + log_det_[k]) - 0.5 * quad.template cast<double>()).transpose().matrix();
      }
    }
  }

  // Adds the block of rows Xb (scalar type T; rows [begin, begin + Xb.rows()) of data) with
  // responsibilities resp, except its incomplete rows (accumulate adds those one by one).
  // centred (complete blocks only): the block as log_prob_rows kept it (BlockCache), or null.
  template <class T, class Rows>
  void accumulate_rows(const Data& data, const Rows& Xb, Index begin, const Eigen::Ref<const RowMatrix>& resp,
                       Stats& stats, const Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>* centred) const {
    using MatrixT = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>;
    const Index K = n_states(), d = n_features(), nb = Xb.rows();
    const bool complete = data.range_complete(begin, begin + nb);
    if (uses_full_scatter() && d >= kQuadraticEStep && d < kTriangularFeatures) {
      // The block's features as the quadratic-feature E-step kept them, when it did.
      const Index D1 = d * (d + 1) / 2 + d + 1;
      add_quadratic_scatter<T>(data, Xb, begin, resp, stats,
                               centred && complete && centred->cols() == D1 ? centred : nullptr);
      return;
    }
    // Statistics are centred on the common centre c (make_stats). Column-major: the products
    // below read whole columns.
    const auto shift = stats.shift.row(0).template cast<T>();
    // Incomplete rows: responsibilities and values zeroed (so that 0 · NaN never arises).
    auto zero_incomplete = [&](MatrixT& m) {
      for (Index i = 0; i < nb; ++i)
        if (data.pattern_of_row[begin + i] >= 0) m.row(i).setZero();
    };
    MatrixT r;
    if (!complete || !std::is_same_v<T, double>) {
      r = resp.template cast<T>();
      if (!complete) zero_incomplete(r);
    }
    // r^T · m, the responsibilities as given when they need no change.
    auto weighted_sum = [&](auto&& dst, const auto& m, bool lazy) {
      if constexpr (std::is_same_v<T, double>) {
        if (complete) return add_product(dst, resp.transpose(), m, lazy);
      }
      add_product(dst, r.transpose(), m, lazy);
    };
    MatrixT local;
    const MatrixT* block = &local;
    if constexpr (std::is_same_v<T, double>) {
      if (centred && complete) block = centred;
    }
    if (!uses_full_scatter()) {
      // Σ_i r_ik (x_i - c)² and Σ_i r_ik (x_i - c) for every state: one product r^T [(x - c)², x - c].
      if (block == &local) {
        local.resize(nb, 2 * d);
        local.rightCols(d) = Xb.rowwise() - shift;
        local.leftCols(d) = local.rightCols(d).array().square();
        if (!complete) zero_incomplete(local);
      }
      if constexpr (std::is_same_v<T, double>) {
        if (complete && small_products::applies(K)) {
          // The transposed product [(x - c)², x - c]^T r, 2d × K, by small_products.
          RowMatrix both(2 * d, K);
          small_products::multiply(2 * d, K, nb, block->data(), block->outerStride(), 1, resp.data(),
                                   resp.outerStride(), both.data(), K);
          stats.scatter += both.topRows(d).transpose();
          stats.sum += both.bottomRows(d).transpose();
          return;
        }
      }
      Eigen::MatrixXd both = Eigen::MatrixXd::Zero(K, 2 * d);
      weighted_sum(both, block->leftCols(2 * d), /*lazy=*/d <= kFewFeatures);
      stats.scatter += both.leftCols(d);
      stats.sum += both.rightCols(d);
      return;
    }
    if (block == &local || block->cols() != d) {
      local = Xb.rowwise() - shift;
      if (!complete) zero_incomplete(local);
      block = &local;
    }
    const MatrixT& xc = *block;
    weighted_sum(stats.sum, xc, /*lazy=*/d <= 2 * kFewFeatures);
    // The scatter of a group of states, Σ_i (x_i - c)(r_ik (x_i - c))^T side by side for each
    // k, is one matrix product (x - c)^T [r_k0 ⊙ (x - c) … r_kg ⊙ (x - c)]. scatter row k
    // holds a symmetric d×d block: viewed column-major, the d × (K·d) matrix [S_0 … S_{K-1}].
    Eigen::Map<Matrix> scatter(stats.scatter.data(), d, K * d);
    auto resp_col = [&](Index k) {
      if constexpr (std::is_same_v<T, double>) {
        if (complete) return MatrixT(resp.col(k));
      }
      return MatrixT(r.col(k));
    };
    if (d >= kTriangularFeatures) {
      // Per state, WᵀW over the rows whose responsibility is not exactly zero (add_sparse_scatter):
      // half the work of the product below.
      if (complete && std::is_same_v<T, double>)
        add_sparse_scatter<T>(xc, resp, scatter);
      else
        add_sparse_scatter<T>(xc, r, scatter);
      return;
    }
    const Index group = std::max<Index>(1, kProductColumns / d);
    MatrixT weighted;
    for (Index k0 = 0; k0 < K; k0 += group) {
      const Index g = std::min(group, K - k0);
      weighted.resize(nb, g * d);
      for (Index k = k0; k < k0 + g; ++k) weighted.middleCols((k - k0) * d, d) = resp_col(k).asDiagonal() * xc;
      add_product(scatter.middleCols(k0 * d, g * d), xc.transpose(), weighted, /*lazy=*/d <= kFewFeatures);
    }
  }

  bool uses_full_scatter() const { return type_ == CovarianceType::Full || type_ == CovarianceType::Tied; }
  bool uses_conditionals() const { return uses_full_scatter(); }
  Index n_factors() const { return type_ == CovarianceType::Tied ? 1 : n_states(); }
  static bool is_empty(const std::vector<Index>& empty, Index k) {
    return std::find(empty.begin(), empty.end(), k) != empty.end();
  }

  static Matrix unflatten(const Eigen::Ref<const Eigen::Matrix<double, 1, Eigen::Dynamic>>& row, Index d) {
    Matrix m(d, d);
    for (Index a = 0; a < d; ++a)
      for (Index b = 0; b < d; ++b) m(a, b) = row[a * d + b];
    return m;
  }
  static Eigen::Matrix<double, 1, Eigen::Dynamic> flatten(const Matrix& m) {
    const Index d = m.rows();
    Eigen::Matrix<double, 1, Eigen::Dynamic> row(d * d);
    for (Index a = 0; a < d; ++a)
      for (Index b = 0; b < d; ++b) row[a * d + b] = m(a, b);
    return row;
  }

  // Variances of state k (diag/spherical) as a 1×d row.
  Eigen::Matrix<double, 1, Eigen::Dynamic> variance_row(Index k) const {
    if (type_ == CovarianceType::Diag) return cov_.row(k);
    return Eigen::Matrix<double, 1, Eigen::Dynamic>::Constant(n_features(), cov_(k, 0));
  }

  void set_covariances(const RowMatrix& cov, bool during_fit = false) {
    const Index K = n_states(), d = n_features();
    const std::string where = during_fit ? "after an M-step, " : "";
    const std::string hint = during_fit
                                 ? " (the component collapsed onto too few distinct points; increase reg_covar "
                                   "or use a prior)"
                                 : "";
    switch (type_) {
      case CovarianceType::Full:
      case CovarianceType::Tied: {
        const Index F = type_ == CovarianceType::Tied ? 1 : K;
        require(cov.rows() == F && cov.cols() == d * d, "covariances: wrong shape");
        chol_.assign(static_cast<size_t>(F), Matrix());
        log_det_.resize(K);
        for (Index f = 0; f < F; ++f) {
          Matrix sigma = unflatten(cov.row(f), d);
          if (!sigma.allFinite() || !sigma.isApprox(sigma.transpose(), 1e-8)) {
            const std::string msg = where + "covariances[" + std::to_string(f) + "] is not a finite symmetric matrix";
            if (during_fit) throw NumericalError(msg + hint);
            throw InvalidArgument(msg);
          }
          Eigen::LLT<Matrix> llt(sigma);
          if (llt.info() != Eigen::Success || !(llt.matrixLLT().diagonal().array() > 0).all()) {
            const std::string msg = where + "covariances[" + std::to_string(f) + "] is not positive definite";
            if (during_fit) throw NumericalError(msg + hint);
            throw InvalidArgument(msg);
          }
          chol_[f] = llt.matrixL();
          const double ld = 2.0 * chol_[f].diagonal().array().log().sum();
          if (type_ == CovarianceType::Tied)
            log_det_.setConstant(ld);
          else
            log_det_[f] = ld;
        }
        break;
      }
      case CovarianceType::Diag:
      case CovarianceType::Spherical: {
        const Index cols = type_ == CovarianceType::Diag ? d : 1;
        require(cov.rows() == K && cov.cols() == cols, "covariances: wrong shape");
        if (!cov.allFinite() || !(cov.array() > 0).all()) {
          const std::string msg = where + "covariances must be finite and > 0";
          if (during_fit) throw NumericalError(msg + hint);
          throw InvalidArgument(msg);
        }
        chol_.clear();
        log_det_.resize(K);
        for (Index k = 0; k < K; ++k)
          log_det_[k] = type_ == CovarianceType::Diag ? cov.row(k).array().log().sum()
                                                      : static_cast<double>(d) * std::log(cov(k, 0));
        break;
      }
    }
    cov_ = cov;
    fingerprint_ = hash_parameters(means_, cov_);
  }

  void check_prior(const GaussianPrior& pr) const {
    const Index d = n_features();
    require(pr.mean.size() == d && pr.mean.allFinite(), "prior['mean']: expected d finite values");
    require(pr.shrinkage > 0 && std::isfinite(pr.shrinkage), "prior['shrinkage']: expected a value > 0");
    const double min_dof = uses_full_scatter() ? static_cast<double>(d) - 1.0 : 0.0;
    require(pr.dof > min_dof && std::isfinite(pr.dof),
            "prior['dof']: expected a value > " + std::to_string(min_dof));
    if (uses_full_scatter()) {
      require(pr.scale.rows() == d && pr.scale.cols() == d, "prior['scale']: expected a (d, d) matrix");
      Eigen::LLT<Matrix> llt(pr.scale);
      require(pr.scale.allFinite() && llt.info() == Eigen::Success &&
                  (llt.matrixLLT().diagonal().array() > 0).all(),
              "prior['scale']: expected a symmetric positive definite matrix");
    } else {
      const Index expected = type_ == CovarianceType::Diag ? d : 1;
      require(pr.scale.rows() == expected && pr.scale.cols() == 1 && (pr.scale.array() > 0).all() &&
                  pr.scale.allFinite(),
              "prior['scale']: expected positive values");
    }
  }

  Conditional conditional(const Data& data, Index p, Index f) const {
    const auto& o = data.observed[p];
    const auto& m = data.missing[p];
    const Matrix& L = chol_[f];
    const Matrix sigma = L * L.transpose();
    const Index no = static_cast<Index>(o.size()), nm = static_cast<Index>(m.size());
    Matrix s_oo(no, no), s_mo(nm, no), s_mm(nm, nm);
    for (Index a = 0; a < no; ++a)
      for (Index b = 0; b < no; ++b) s_oo(a, b) = sigma(o[a], o[b]);
    for (Index a = 0; a < nm; ++a) {
      for (Index b = 0; b < no; ++b) s_mo(a, b) = sigma(m[a], o[b]);
      for (Index b = 0; b < nm; ++b) s_mm(a, b) = sigma(m[a], m[b]);
    }
    Conditional c;
    Eigen::LLT<Matrix> llt(s_oo);
    if (llt.info() != Eigen::Success)
      throw NumericalError("the covariance restricted to the observed entries is not positive definite");
    c.chol_oo = llt.matrixL();
    c.log_det_oo = 2.0 * c.chol_oo.diagonal().array().log().sum();
    // regression = Sigma_mo Sigma_oo^{-1}, from Sigma_oo regression^T = Sigma_om (two triangular solves).
    c.regression = llt.solve(s_mo.transpose()).transpose();
    c.cond_cov = s_mm - c.regression * s_mo.transpose();
    c.cond_cov = 0.5 * (c.cond_cov + c.cond_cov.transpose());
    return c;
  }

  double log_prob_incomplete(const Data& data, const Workspace& ws, Index i, int p, Index k) const {
    const auto& o = data.observed[p];
    const Index no = static_cast<Index>(o.size());
    if (no == 0) return 0.0;  // nothing observed: p(empty observation) = 1
    if (uses_full_scatter()) {
      const Index f = type_ == CovarianceType::Tied ? 0 : k;
      Conditional local;
      const Conditional& c = ws.cached ? ws.conditionals[p * n_factors() + f] : (local = conditional(data, p, f));
      Vector diff(no);
      for (Index a = 0; a < no; ++a) diff[a] = data.value(i, o[a]) - means_(k, o[a]);
      c.chol_oo.triangularView<Eigen::Lower>().solveInPlace(diff);
      return -0.5 * (static_cast<double>(no) * kLog2Pi + c.log_det_oo + diff.squaredNorm());
    }
    const auto var = variance_row(k);
    double acc = 0.0;
    for (Index a = 0; a < no; ++a) {
      const Index j = o[a];
      const double diff = data.value(i, j) - means_(k, j);
      acc += kLog2Pi + std::log(var[j]) + diff * diff / var[j];
    }
    return -0.5 * acc;
  }

  void add_incomplete(const Data& data, const Workspace& ws, Index i, int p, Index k, double r,
                      Stats& stats, Vector& filled, Vector& z) const {
    const auto& o = data.observed[p];
    const auto& m = data.missing[p];
    const Index d = n_features(), no = static_cast<Index>(o.size()), nm = static_cast<Index>(m.size());
    for (Index j = 0; j < d; ++j) filled[j] = data.value(i, j);
    if (uses_full_scatter()) {
      const Index f = type_ == CovarianceType::Tied ? 0 : k;
      Conditional local;
      const Conditional& c = ws.cached ? ws.conditionals[p * n_factors() + f] : (local = conditional(data, p, f));
      Vector diff(no);
      for (Index a = 0; a < no; ++a) diff[a] = data.value(i, o[a]) - means_(k, o[a]);
      const Vector cond_mean = c.regression * diff;
      for (Index a = 0; a < nm; ++a) filled[m[a]] = means_(k, m[a]) + cond_mean[a];
      z = filled - stats.shift.row(k).transpose();
      stats.sum.row(k) += r * z.transpose();
      Eigen::Map<RowMatrix> S(stats.scatter.row(k).data(), d, d);
      S.noalias() += r * z * z.transpose();
      for (Index a = 0; a < nm; ++a)
        for (Index b = 0; b < nm; ++b) S(m[a], m[b]) += r * c.cond_cov(a, b);
    } else {
      const auto var = variance_row(k);
      for (Index a = 0; a < nm; ++a) filled[m[a]] = means_(k, m[a]);
      z = filled - stats.shift.row(k).transpose();
      stats.sum.row(k) += r * z.transpose();
      stats.scatter.row(k) += r * z.array().square().matrix().transpose();
      for (Index a = 0; a < nm; ++a) stats.scatter(k, m[a]) += r * var[m[a]];
    }
  }
};

}  // namespace emkit
