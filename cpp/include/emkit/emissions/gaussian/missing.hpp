// Rows with missing entries (NaN) under the Gaussian family, one row at a time: the E-step uses
// the marginal density of the observed entries, N(x_o; μ_o, Σ_oo) (a Cholesky factor of Σ_oo and
// a triangular solve, no inverse); the statistics use the conditional moments of the missing
// entries given the observed ones,
//   x̂_m = μ_m + Σ_mo Σ_oo⁻¹ (x_o − μ_o),   C_mm = Σ_mm − Σ_mo Σ_oo⁻¹ Σ_om,
// which enter the statistics as the row filled in with x̂_m plus C_mm on the scatter's missing
// block. Diagonal and spherical covariances reduce this to x̂_m = μ_m, C = diag(σ²_m). The
// conditionals depend only on the missingness pattern and the covariance, so they are computed
// once per pattern and iteration when they fit in memory (GaussianConditionals).
#pragma once

#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <vector>

#include "../../parallel.hpp"
#include "../../types.hpp"
#include "data.hpp"
#include "parameters.hpp"
#include "statistics.hpp"

namespace emkit {

// The distribution of a pattern's missing entries given its observed ones, for one covariance.
struct GaussianConditional {
  Matrix chol_oo;  // Cholesky factor of Sigma_oo
  double log_det_oo = 0.0;
  Matrix regression;   // Sigma_mo Sigma_oo^{-1}, |m|×|o|
  Matrix cond_cov;     // Sigma_mm - Sigma_mo Sigma_oo^{-1} Sigma_om
};

// The conditionals of every (pattern, covariance) of a dataset, or none (cached = false): then
// each incomplete row computes its own, with the same arithmetic.
struct GaussianConditionals {
  std::vector<GaussianConditional> items;  // [pattern * n_factors + factor]
  bool cached = false;
};

namespace gaussian {

// The conditional of pattern p under covariance f (full/tied).
inline GaussianConditional conditional(const GaussianParameters& params, const GaussianData& data, Index p, Index f) {
  const auto& o = data.observed[p];
  const auto& m = data.missing[p];
  const Matrix& L = params.chol[f];
  const Matrix sigma = L * L.transpose();
  const Index no = static_cast<Index>(o.size()), nm = static_cast<Index>(m.size());
  Matrix s_oo(no, no), s_mo(nm, no), s_mm(nm, nm);
  for (Index a = 0; a < no; ++a)
    for (Index b = 0; b < no; ++b) s_oo(a, b) = sigma(o[a], o[b]);
  for (Index a = 0; a < nm; ++a) {
    for (Index b = 0; b < no; ++b) s_mo(a, b) = sigma(m[a], o[b]);
    for (Index b = 0; b < nm; ++b) s_mm(a, b) = sigma(m[a], m[b]);
  }
  GaussianConditional c;
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

// The conditionals of every pattern of data (full/tied covariances), cached when they fit in a
// modest budget (256 MB); otherwise none are, and each row computes its own (the same arithmetic,
// so results do not depend on the choice). cache = false never caches (for testing the cache).
inline GaussianConditionals prepare_conditionals(const GaussianParameters& params, const GaussianData& data,
                                                 int n_threads, bool cache) {
  GaussianConditionals out;
  if (!cache || !params.uses_full_scatter() || data.n_patterns() == 0) return out;
  const Index P = data.n_patterns(), F = params.n_factors(), d = params.n_features();
  const double bytes = 8.0 * static_cast<double>(P * F) * static_cast<double>(2 * d * d);
  if (bytes > 256.0 * 1024 * 1024) return out;
  out.cached = true;
  out.items.resize(static_cast<size_t>(P * F));
  parallel_for(P, n_threads, [&](Index p) {
    if (data.observed[p].empty()) return;  // nothing observed: no conditional needed
    for (Index f = 0; f < F; ++f) out.items[p * F + f] = conditional(params, data, p, f);
  });
  return out;
}

// The conditional of pattern p under state k's covariance: the cached one, or computed into local.
inline const GaussianConditional& conditional_of(const GaussianParameters& params,
                                                 const GaussianConditionals& conditionals, const GaussianData& data,
                                                 int p, Index k, GaussianConditional& local) {
  const Index f = params.factor(k);
  return conditionals.cached ? conditionals.items[p * params.n_factors() + f] : (local = conditional(params, data, p, f));
}

// x_o - μ_k,o: row i's observed entries o about state k's mean.
inline Vector observed_deviation(const GaussianParameters& params, const GaussianData& data, Index i,
                                 const std::vector<Index>& o, Index k) {
  Vector diff(static_cast<Index>(o.size()));
  for (size_t a = 0; a < o.size(); ++a) diff[static_cast<Index>(a)] = data.value(i, o[a]) - params.means(k, o[a]);
  return diff;
}

// log p(x_o | z = k) of row i (pattern p): the marginal density of its observed entries.
inline double log_prob_incomplete(const GaussianParameters& params, const GaussianConditionals& conditionals,
                                  const GaussianData& data, Index i, int p, Index k) {
  const auto& o = data.observed[p];
  const Index no = static_cast<Index>(o.size());
  if (no == 0) return 0.0;  // nothing observed: p(empty observation) = 1
  if (params.uses_full_scatter()) {
    GaussianConditional local;
    const GaussianConditional& c = conditional_of(params, conditionals, data, p, k, local);
    Vector diff = observed_deviation(params, data, i, o, k);
    c.chol_oo.triangularView<Eigen::Lower>().solveInPlace(diff);
    return -0.5 * (static_cast<double>(no) * kLog2Pi + c.log_det_oo + diff.squaredNorm());
  }
  const auto var = params.variance_row(k);
  double acc = 0.0;
  for (Index a = 0; a < no; ++a) {
    const Index j = o[a];
    const double diff = data.value(i, j) - params.means(k, j);
    acc += kLog2Pi + std::log(var[j]) + diff * diff / var[j];
  }
  return -0.5 * acc;
}

// Adds row i (pattern p) with responsibility r for state k to the statistics: the row filled in
// with the conditional means, plus the conditional covariance on the missing block. filled, z:
// scratch vectors of d entries.
inline void add_incomplete(const GaussianParameters& params, const GaussianConditionals& conditionals,
                           const GaussianData& data, Index i, int p, Index k, double r, GaussianStats& stats,
                           Vector& filled, Vector& z) {
  const auto& o = data.observed[p];
  const auto& m = data.missing[p];
  const Index d = params.n_features(), nm = static_cast<Index>(m.size());
  for (Index j = 0; j < d; ++j) filled[j] = data.value(i, j);
  if (params.uses_full_scatter()) {
    GaussianConditional local;
    const GaussianConditional& c = conditional_of(params, conditionals, data, p, k, local);
    const Vector cond_mean = c.regression * observed_deviation(params, data, i, o, k);
    for (Index a = 0; a < nm; ++a) filled[m[a]] = params.means(k, m[a]) + cond_mean[a];
    z = filled - stats.shift.row(k).transpose();
    stats.sum.row(k) += r * z.transpose();
    Eigen::Map<RowMatrix> S(stats.scatter.row(k).data(), d, d);
    S.noalias() += r * z * z.transpose();
    for (Index a = 0; a < nm; ++a)
      for (Index b = 0; b < nm; ++b) S(m[a], m[b]) += r * c.cond_cov(a, b);
  } else {
    const auto var = params.variance_row(k);
    for (Index a = 0; a < nm; ++a) filled[m[a]] = params.means(k, m[a]);
    z = filled - stats.shift.row(k).transpose();
    stats.sum.row(k) += r * z.transpose();
    stats.scatter.row(k) += r * z.array().square().matrix().transpose();
    for (Index a = 0; a < nm; ++a) stats.scatter(k, m[a]) += r * var[m[a]];
  }
}

}  // namespace gaussian
}  // namespace emkit
