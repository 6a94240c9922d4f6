// The NormalItems emission family: q continuous columns, independent given the state (a diagonal
// normal without the Gaussian family's missingness machinery: each column is its own item),
// mean μ_kj and variance σ²_kj per state and column. NaN = missing: the column adds nothing to
// the likelihood or the statistics (full-information ML). No prior. M-step over the rows
// observing column j: μ = Σ r x / t, σ² = Σ r (x − μ)² / t + reg_covar, t = Σ r.
#pragma once

#include <Eigen/Core>
#include <cmath>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "../types.hpp"
#include "item_columns.hpp"

namespace emkit {

using NormalItemsStats = ItemMoments<struct NormalItemsTag>;

class NormalItems : public IndependentColumns<NormalItems, NormalItemsStats> {
 public:
  using Data = ItemColumnsData;

  // means, variances: K × q (variances > 0).
  NormalItems(RowMatrix means, RowMatrix variances, double reg_covar)
      : means_(std::move(means)), variances_(std::move(variances)), reg_covar_(reg_covar) {
    require(means_.rows() >= 1, "means: expected one row per state");
    require(means_.allFinite(), "means: expected finite values");
    require(variances_.rows() == means_.rows() && variances_.cols() == means_.cols() && variances_.allFinite() &&
                (variances_.array() > 0).all(),
            "variances: expected positive values, one per state and continuous column");
    require(reg_covar_ >= 0 && std::isfinite(reg_covar_), "reg_covar: expected a finite value >= 0");
  }

  Index n_states() const { return means_.rows(); }
  Index n_columns() const { return means_.cols(); }
  Index n_features() const { return means_.cols(); }
  const RowMatrix& means() const { return means_; }
  const RowMatrix& variances() const { return variances_; }
  double reg_covar() const { return reg_covar_; }
  Index n_parameters() const { return 2 * means_.size(); }

  // Per column, the states' μ, 1/σ² and −½(log 2π + log σ²) contiguous (q × K).
  struct Workspace {
    RowMatrix means_t;
    RowMatrix precisions_t;
    RowMatrix constants_t;
  };
  Workspace prepare(const Data& data, int) const {
    require(data.n_columns() == n_columns(), "X: expected " + std::to_string(n_columns()) +
                                                 " continuous columns, got " + std::to_string(data.n_columns()));
    return {means_.transpose(), variances_.transpose().cwiseInverse(),
            (-0.5 * (kLog2Pi + variances_.transpose().array().log())).matrix()};
  }

  // Adds log p(x_i | k) of rows [begin, end) to out.
  void add_log_prob(const Data& data, const Workspace& ws, Index begin, Index end, Eigen::Ref<RowMatrix> out) const {
    const Index K = n_states();
    detail::for_each_observed(data, begin, end, [&](Index i, Index j, double x) {
      double* row = out.data() + (i - begin) * out.outerStride();
      const double* mean = ws.means_t.data() + j * K;
      const double* precision = ws.precisions_t.data() + j * K;
      const double* constant = ws.constants_t.data() + j * K;
      for (Index k = 0; k < K; ++k) {
        const double d = x - mean[k];
        row[k] += constant[k] - 0.5 * d * d * precision[k];
      }
    });
  }

  Stats make_stats() const { return detail::zero_moments<NormalItemsTag>(means_, /*squares=*/true); }

  // Returns the states with an empty column. A variance that is not positive after the update
  // (a column constant within a state, reg_covar = 0) is a NumericalError.
  std::vector<Index> maximize(const Stats& stats, const Vector&, double total_weight) {
    std::vector<char> empty(static_cast<size_t>(n_states()), 0);
    RowMatrix variances = variances_;
    detail::update_locations(stats, kEmptyFraction, total_weight, means_, empty,
                             [&](Index k, Index j, double t, double s1) {
                               variances(k, j) = (stats.square(k, j) - s1 * s1 / t) / t + reg_covar_;
                             });
    if (!(variances.array() > 0).all())
      throw NumericalError("a continuous item's variance collapsed to zero; increase reg_covar");
    variances_ = std::move(variances);
    return detail::marked_states(empty);
  }

  // One draw of every column from state k.
  template <class Rng>
  void sample(Index k, Rng& rng, Eigen::Ref<Vector> out) const {
    for (Index j = 0; j < n_columns(); ++j)
      out[j] = std::normal_distribution<double>(means_(k, j), std::sqrt(variances_(k, j)))(rng);
  }

 private:
  RowMatrix means_;
  RowMatrix variances_;
  double reg_covar_;
};

}  // namespace emkit

// The family's parameter groups come with it (no include-order hazard).
#include "normal_items_groups.hpp"  // IWYU pragma: export
