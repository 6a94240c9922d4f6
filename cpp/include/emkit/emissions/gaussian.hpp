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
// Cholesky factors of the precisions (see Workspace); diagonal/spherical as loops over the
// block transposed, vectorised over rows.
#pragma once

#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "../parallel.hpp"
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
// missingness patterns, found once per dataset rather than once per iteration.
// allow_unobserved_rows: accept rows with every entry missing (an HMM time step with nothing
// observed still advances the chain); they get log-probability 0 and add nothing to the
// statistics. Off by default: such a row carries no information for a mixture.
struct GaussianData {
  Eigen::Map<const RowMatrix> X;
  std::vector<int> pattern_of_row;               // -1 for a complete row
  std::vector<std::vector<Index>> observed;      // per pattern
  std::vector<std::vector<Index>> missing;       // per pattern
  std::vector<char> block_complete;              // per kBlockRows block: no missing entry

  GaussianData(const double* data, Index n_rows, Index n_features, bool allow_unobserved_rows = false)
      : X(data, n_rows, n_features), pattern_of_row(static_cast<size_t>(n_rows), -1) {
    std::map<std::vector<bool>, int> ids;
    std::vector<bool> mask(static_cast<size_t>(n_features));
    const Index n_blocks = (n_rows + kBlockRows - 1) / kBlockRows;
    block_complete.assign(static_cast<size_t>(n_blocks), 1);
    for (Index i = 0; i < n_rows; ++i) {
      bool any = false;
      for (Index j = 0; j < n_features; ++j) {
        mask[j] = std::isnan(X(i, j));
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
  Index n_rows() const { return X.rows(); }
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
  struct Workspace {
    std::vector<Conditional> conditionals;  // [pattern * n_factor + factor], if cached
    bool cached = false;
    // Full/tied, rows without missing entries: log N_k(x) = norm_k - ½‖(x - c) U_f - b_k‖², with
    // U_f = L_f^{-T} (the Cholesky factor of the precision; triangular solves against the
    // identity, never an inverse of Σ), c the mean of the means (so that the product loses no
    // accuracy when the data sit far from the origin) and b_k = (μ_k - c) U_f. The products
    // (x - c) U_f for a block of rows and a group of states are one matrix product (GEMM).
    RowVectorXd centre;
    Matrix factors;       // d × (F·d), column-major: [U_0 … U_{F-1}]
    RowVectorXd offsets;  // 1 × (K·d): [b_0 … b_{K-1}]
  };

  // cache_conditionals = false computes the conditionals of incomplete rows per row instead (the
  // same arithmetic; for testing the cache).
  Workspace prepare(const Data& data, int n_threads, bool cache_conditionals = true) const {
    Workspace ws;
    if (uses_full_scatter()) {
      const Index K = n_states(), d = n_features(), F = n_factors();
      ws.centre = means_.colwise().mean();
      ws.factors.resize(d, F * d);
      for (Index f = 0; f < F; ++f) {
        // L U^T = I  ⇔  U = L^{-T}: upper triangular.
        ws.factors.middleCols(f * d, d) =
            chol_[f].triangularView<Eigen::Lower>().solve(Matrix::Identity(d, d)).transpose();
      }
      ws.offsets.resize(K * d);
      for (Index k = 0; k < K; ++k) {
        const Index f = type_ == CovarianceType::Tied ? 0 : k;
        ws.offsets.segment(k * d, d).noalias() =
            (means_.row(k) - ws.centre) * ws.factors.middleCols(f * d, d).triangularView<Eigen::Upper>();
      }
    }
    if (!cache_conditionals || !uses_conditionals() || data.n_patterns() == 0) return ws;
    const Index d = n_features(), P = data.n_patterns(), F = n_factors();
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
  // log p(x_i | z = k) for the rows [begin, end): out is (end-begin)×K.
  void log_prob(const Data& data, const Workspace& ws, Index begin, Index end,
                Eigen::Ref<RowMatrix> out) const {
    const Index K = n_states(), d = n_features(), nb = end - begin;
    const auto Xb = data.X.middleRows(begin, nb);
    const bool complete = data.range_complete(begin, end);
    // Rows with missing entries get NaN here and are redone one by one below.
    if (uses_full_scatter()) {
      const Index F = n_factors();
      const Matrix xc = Xb.rowwise() - ws.centre;
      // States per product: about kProductColumns columns keeps the product's output in cache.
      const Index group = std::max<Index>(1, kProductColumns / d);
      Matrix y;  // column-major: each column of the product is contiguous over the rows
      Eigen::Array<double, Eigen::Dynamic, 1> acc(nb);
      for (Index f0 = 0; f0 < F; f0 += group) {
        const Index g = std::min(group, F - f0);
        y.noalias() = xc * ws.factors.middleCols(f0 * d, g * d);
        // Tied: the one product serves every state.
        const Index k0 = type_ == CovarianceType::Tied ? 0 : f0;
        const Index k1 = type_ == CovarianceType::Tied ? K : f0 + g;
        for (Index k = k0; k < k1; ++k) {
          const Index col = type_ == CovarianceType::Tied ? 0 : (k - f0) * d;
          acc.setConstant(-0.5 * (static_cast<double>(d) * kLog2Pi + log_det_[k]));
          for (Index j = 0; j < d; ++j) acc -= 0.5 * (y.col(col + j).array() - ws.offsets[k * d + j]).square();
          out.col(k) = acc.matrix();
        }
      }
    } else {
      // Vectorised over rows: the block transposed (features × rows), one pass per state and
      // feature accumulating -½ (x - μ)² / σ².
      const RowMatrix xt = Xb.transpose();
      Eigen::Array<double, 1, Eigen::Dynamic> acc(nb);
      for (Index k = 0; k < K; ++k) {
        const auto var = variance_row(k);
        acc.setConstant(-0.5 * (static_cast<double>(d) * kLog2Pi + log_det_[k]));
        for (Index j = 0; j < d; ++j)
          acc += (-0.5 / var[j]) * (xt.row(j).array() - means_(k, j)).square();
        out.col(k) = acc.transpose().matrix();
      }
    }
    if (complete) return;
    for (Index i = begin; i < end; ++i) {
      const int p = data.pattern_of_row[i];
      if (p < 0) continue;
      for (Index k = 0; k < K; ++k) out(i - begin, k) = log_prob_incomplete(data, ws, i, p, k);
    }
  }

  // What the statistics are centred on (K×d), a function of the current means: every state on the
  // mean of the means, so that a block's statistics are one matrix product (see accumulate).
  // Statistics with another shift were computed at other parameters.
  RowMatrix statistics_shift() const { return means_.colwise().mean().replicate(n_states(), 1); }

  Stats make_stats() const {
    const Index K = n_states(), d = n_features();
    Stats s;
    s.shift = statistics_shift();
    s.sum = RowMatrix::Zero(K, d);
    s.scatter = RowMatrix::Zero(K, uses_full_scatter() ? d * d : d);
    return s;
  }

  // Adds the rows [begin, end) with (weighted) responsibilities resp ((end-begin)×K).
  void accumulate(const Data& data, const Workspace& ws, Index begin, Index end,
                  const Eigen::Ref<const RowMatrix>& resp, Stats& stats) const {
    const Index K = n_states(), d = n_features(), nb = end - begin;
    const auto Xb = data.X.middleRows(begin, nb);
    const bool complete = data.range_complete(begin, end);
    // Incomplete rows are added one by one below: here their responsibilities are zeroed (and
    // their values too, so that 0 · NaN never arises).
    const auto is_incomplete = [&](Index i) { return !complete && data.pattern_of_row[i] >= 0; };
    if (uses_full_scatter()) {
      // Full/tied statistics are centred on the common centre c (make_stats): then the scatter
      // of a group of states, Σ_i (x_i - c)(r_ik (x_i - c))^T side by side for each k, is one
      // matrix product (x - c)^T [r_k0 ⊙ (x - c) … r_kg ⊙ (x - c)].
      // Column-major: the products below read whole columns.
      Matrix xc = Xb.rowwise() - stats.shift.row(0);
      Matrix r = resp;
      for (Index i = begin; i < end; ++i)
        if (is_incomplete(i)) {
          xc.row(i - begin).setZero();
          r.row(i - begin).setZero();
        }
      stats.sum.noalias() += r.transpose() * xc;
      // scatter row k holds a symmetric d×d block: viewed column-major, the d × (K·d) matrix
      // [S_0 … S_{K-1}].
      Eigen::Map<Matrix> scatter(stats.scatter.data(), d, K * d);
      const Index group = std::max<Index>(1, kProductColumns / d);
      Matrix weighted;
      for (Index k0 = 0; k0 < K; k0 += group) {
        const Index g = std::min(group, K - k0);
        weighted.resize(nb, g * d);
        for (Index k = k0; k < k0 + g; ++k)
          weighted.middleCols((k - k0) * d, d) = r.col(k).asDiagonal() * xc;
        scatter.middleCols(k0 * d, g * d).noalias() += xc.transpose() * weighted;
      }
    } else {
      // Centred on the common centre c (make_stats), Σ_i r_ik (x_i - c) and Σ_i r_ik (x_i - c)²
      // for every state are one matrix product r^T [x - c, (x - c)²].
      Matrix moments(nb, 2 * d);
      moments.leftCols(d) = Xb.rowwise() - stats.shift.row(0);
      Matrix r = resp;
      for (Index i = begin; i < end; ++i)
        if (is_incomplete(i)) {
          moments.row(i - begin).head(d).setZero();
          r.row(i - begin).setZero();
        }
      moments.rightCols(d) = moments.leftCols(d).array().square().matrix();
      RowMatrix both(K, 2 * d);
      both.noalias() = r.transpose() * moments;
      stats.sum += both.leftCols(d);
      stats.scatter += both.rightCols(d);
    }
    if (complete) return;
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
      for (Index a = 0; a < no; ++a) diff[a] = data.X(i, o[a]) - means_(k, o[a]);
      c.chol_oo.triangularView<Eigen::Lower>().solveInPlace(diff);
      return -0.5 * (static_cast<double>(no) * kLog2Pi + c.log_det_oo + diff.squaredNorm());
    }
    const auto var = variance_row(k);
    double acc = 0.0;
    for (Index a = 0; a < no; ++a) {
      const Index j = o[a];
      const double diff = data.X(i, j) - means_(k, j);
      acc += kLog2Pi + std::log(var[j]) + diff * diff / var[j];
    }
    return -0.5 * acc;
  }

  void add_incomplete(const Data& data, const Workspace& ws, Index i, int p, Index k, double r,
                      Stats& stats, Vector& filled, Vector& z) const {
    const auto& o = data.observed[p];
    const auto& m = data.missing[p];
    const Index d = n_features(), no = static_cast<Index>(o.size()), nm = static_cast<Index>(m.size());
    for (Index j = 0; j < d; ++j) filled[j] = data.X(i, j);
    if (uses_full_scatter()) {
      const Index f = type_ == CovarianceType::Tied ? 0 : k;
      Conditional local;
      const Conditional& c = ws.cached ? ws.conditionals[p * n_factors() + f] : (local = conditional(data, p, f));
      Vector diff(no);
      for (Index a = 0; a < no; ++a) diff[a] = data.X(i, o[a]) - means_(k, o[a]);
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
