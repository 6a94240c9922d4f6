// The Gaussian emission family: full, tied, diagonal and spherical covariances, with missing
// entries (NaN) integrated out exactly, and an optional conjugate normal-inverse-Wishart prior.
// This header is the family as the structures see it (Data, Workspace, log_prob, Stats,
// accumulate, maximize, log_prior, sample); its parts live in emissions/gaussian/:
//   data.hpp        GaussianData: the rows and their missingness patterns
//   parameters.hpp  CovarianceType, GaussianParameters: means, covariances, Cholesky factors
//   prior.hpp       GaussianPrior and its log-density
//   log_density.hpp the E-step kernels over blocks of complete rows
//   statistics.hpp  GaussianStats and the kernels that add complete rows to them
//   missing.hpp     rows with missing entries: marginal densities and conditional moments
//   groups.hpp      ParameterGroups<Gaussian>: "means" and "covariances" held fixed
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
#include <optional>
#include <random>
#include <type_traits>
#include <vector>

#include "../parallel.hpp"
#include "../types.hpp"
#include "gaussian/data.hpp"
#include "gaussian/log_density.hpp"
#include "gaussian/missing.hpp"
#include "gaussian/parameters.hpp"
#include "gaussian/prior.hpp"
#include "gaussian/statistics.hpp"

namespace emkit {

class Gaussian {
 public:
  using Data = GaussianData;
  using Stats = GaussianStats;
  using Conditional = GaussianConditional;
  using BlockCache = gaussian::BlockCache;
  template <class T>
  using ProductOperands = gaussian::ProductOperands<T>;

  // Components whose expected count falls below this fraction of the total weight are "empty":
  // without a prior they keep their previous mean and covariance (their weight goes to ~0).
  static constexpr double kEmptyFraction = 1e-10;
  // The kernels' thresholds (gaussian/log_density.hpp says what each decides).
  static constexpr Index kTriangularFeatures = gaussian::kTriangularFeatures;
  static constexpr Index kQuadraticEStep = gaussian::kQuadraticEStep;
  static constexpr double kQuadraticCancellation = gaussian::kQuadraticCancellation;
  static constexpr double kQuadraticCancellation32 = gaussian::kQuadraticCancellation32;

  Gaussian(CovarianceType type, RowMatrix means, RowMatrix covariances, double reg_covar,
           std::optional<GaussianPrior> prior = std::nullopt)
      : reg_covar_(reg_covar), prior_(std::move(prior)) {
    p_.type = type;
    p_.means = std::move(means);
    require(p_.means.rows() >= 1 && p_.means.cols() >= 1, "means: expected a non-empty (K, d) array");
    require(reg_covar_ >= 0 && std::isfinite(reg_covar_), "reg_covar: expected a finite value >= 0");
    require(p_.means.allFinite(), "means: expected finite values");
    p_.set_covariances(covariances);
    if (prior_) check_gaussian_prior(*prior_, p_.type, n_features());
  }

  CovarianceType covariance_type() const { return p_.type; }
  Index n_states() const { return p_.n_states(); }
  Index n_features() const { return p_.n_features(); }
  double reg_covar() const { return reg_covar_; }
  const RowMatrix& means() const { return p_.means; }
  const std::optional<GaussianPrior>& prior() const { return prior_; }
  // Means, covariances and what is derived from them (for the kernels).
  const GaussianParameters& parameters() const { return p_; }

  // Covariances in scikit-learn's layout flattened to rows: full K×(d*d), tied 1×(d*d),
  // diag K×d, spherical K×1.
  const RowMatrix& covariances() const { return p_.cov; }

  // Covariance matrix of state k (dense d×d).
  Matrix covariance_matrix(Index k) const { return p_.covariance_matrix(k); }

  // Lower Cholesky factor of state k's covariance.
  const Matrix& cholesky(Index k) const { return p_.chol[p_.factor(k)]; }

  Index n_parameters() const {
    const Index K = n_states(), d = n_features();
    switch (p_.type) {
      case CovarianceType::Full: return K * d + K * d * (d + 1) / 2;
      case CovarianceType::Tied: return K * d + d * (d + 1) / 2;
      case CovarianceType::Diag: return 2 * K * d;
      default: return K * d + K;
    }
  }

  // ---- per-iteration workspace -------------------------------------------------------------
  // The E-step's operands in the precision of the rows, and the conditionals of the missing
  // entries given the observed ones per missingness pattern (when cached).
  struct Workspace {
    GaussianConditionals missing;
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
    gaussian::make_operands(p_, data.single_precision(), ws.f64, ws.f32);
    ws.missing = gaussian::prepare_conditionals(p_, data, n_threads, cache_conditionals);
    return ws;
  }

  // ---- E-step ----------------------------------------------------------------------------
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
      gaussian::log_prob_rows<float>(p_, data.rows<float>(begin, nb), ws.f32, out, keep ? &cache->centred32 : nullptr);
    else
      gaussian::log_prob_rows<double>(p_, data.rows<double>(begin, nb), ws.f64, out, keep ? &cache->centred : nullptr);
    if (complete) return;
    for (Index i = begin; i < end; ++i) {
      const int p = data.pattern_of_row[i];
      if (p < 0) continue;
      for (Index k = 0; k < K; ++k) out(i - begin, k) = gaussian::log_prob_incomplete(p_, ws.missing, data, i, p, k);
    }
  }

  // What the statistics are centred on (K×d), a function of the current means: every state on the
  // mean of the means, so that a block's statistics are one matrix product (see accumulate).
  RowMatrix statistics_shift() const { return p_.centre().replicate(n_states(), 1); }

  // A 64-bit FNV-1a hash of the bytes of the means and covariances: equal for equal parameters,
  // different (but for a 2^-64 chance) after any M-step that moves them. Computed once per change
  // of the parameters (GaussianParameters::set_covariances), not per statistics object.
  std::uint64_t parameters_fingerprint() const { return p_.fingerprint; }

  Stats make_stats() const {
    const Index K = n_states(), d = n_features();
    Stats s;
    s.shift = statistics_shift();
    s.parameters = parameters_fingerprint();
    s.sum = RowMatrix::Zero(K, d);
    s.scatter = RowMatrix::Zero(K, p_.uses_full_scatter() ? d * d : d);
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
      const bool use_cache = cache && cache->holds(b, e - b) && stats.parameters == p_.fingerprint;
      if (data.single_precision())
        gaussian::accumulate_rows<float>(p_, data, data.rows<float>(b, e - b), b, block_resp, stats,
                                         use_cache ? &cache->centred32 : nullptr);
      else
        gaussian::accumulate_rows<double>(p_, data, data.rows<double>(b, e - b), b, block_resp, stats,
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
        gaussian::add_incomplete(p_, ws.missing, data, i, p, k, r, stats, filled, z);
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
    RowMatrix new_means = p_.means;
    std::vector<Matrix> spread(static_cast<size_t>(K));  // B_k (or W_k without a prior)
    for (Index k = 0; k < K; ++k) {
      const double n = resp_sum[k];
      const auto shift = stats.shift.row(k).transpose();
      const Vector s1 = stats.sum.row(k).transpose();
      Vector mean;
      if (keep_means) {
        mean = p_.means.row(k).transpose();
        if (!prior_ && n < kEmptyFraction * total_weight) empty.push_back(k);
      } else if (prior_) {
        const double kappa = prior_->shrinkage;
        mean = (n * shift + s1 + kappa * prior_->mean) / (n + kappa);
      } else if (n < kEmptyFraction * total_weight) {
        empty.push_back(k);
        mean = p_.means.row(k).transpose();
      } else {
        mean = shift + s1 / n;
      }
      // Scatter about the new mean from the statistics centred on the shift:
      // sum r (x-mu)(x-mu)^T = S - s1 delta^T - delta s1^T + n delta delta^T, delta = mu - shift.
      const Vector delta = mean - shift;
      if (p_.uses_full_scatter()) {
        Matrix S = GaussianParameters::unflatten(stats.scatter.row(k), d);
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
    RowMatrix new_cov(p_.cov.rows(), p_.cov.cols());
    switch (p_.type) {
      case CovarianceType::Full:
        for (Index k = 0; k < K; ++k) {
          if (!prior_ && is_empty(empty, k)) {
            new_cov.row(k) = p_.cov.row(k);
            continue;
          }
          Matrix sigma = prior_ ? Matrix((prior_->scale + spread[k]) / (resp_sum[k] + prior_->dof + dd + 2.0))
                                : Matrix(spread[k] / resp_sum[k]);
          sigma.diagonal().array() += reg_covar_;
          new_cov.row(k) = GaussianParameters::flatten(sigma);
        }
        break;
      case CovarianceType::Tied: {
        Matrix total = Matrix::Zero(d, d);
        for (Index k = 0; k < K; ++k) total += spread[k];
        Matrix sigma = prior_ ? Matrix((prior_->scale + total) /
                                       (total_weight + static_cast<double>(K) + prior_->dof + dd + 1.0))
                              : Matrix(total / total_weight);
        sigma.diagonal().array() += reg_covar_;
        new_cov.row(0) = GaussianParameters::flatten(sigma);
        break;
      }
      case CovarianceType::Diag:
        for (Index k = 0; k < K; ++k) {
          if (!prior_ && is_empty(empty, k)) {
            new_cov.row(k) = p_.cov.row(k);
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
            new_cov(k, 0) = p_.cov(k, 0);
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
    p_.means = std::move(new_means);
    p_.set_covariances(new_cov, /*during_fit=*/true);
    return empty;
  }


  // log p(means, covariances) under the prior (0 without a prior).
  double log_prior() const { return prior_ ? gaussian_log_prior(*prior_, p_) : 0.0; }

  // One draw from state k.
  template <class Rng>
  void sample(Index k, Rng& rng, Eigen::Ref<Vector> out) const {
    std::normal_distribution<double> normal(0.0, 1.0);
    const Index d = n_features();
    Vector z(d);
    for (Index j = 0; j < d; ++j) z[j] = normal(rng);
    if (p_.uses_full_scatter())
      out = p_.means.row(k).transpose() + cholesky(k).triangularView<Eigen::Lower>() * z;
    else
      out = p_.means.row(k).transpose() + (p_.variance_row(k).transpose().array().sqrt() * z.array()).matrix();
  }

 private:
  GaussianParameters p_;
  double reg_covar_;
  std::optional<GaussianPrior> prior_;

  static bool is_empty(const std::vector<Index>& empty, Index k) {
    return std::find(empty.begin(), empty.end(), k) != empty.end();
  }
};

}  // namespace emkit

// The family's parameter groups come with it, so that no structure instantiated over Gaussian
// can see the primary template instead.
#include "gaussian/groups.hpp"
