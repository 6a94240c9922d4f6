// The Poisson emission family: q count columns, independent given the state, each with its own
// rate per state: log p(x | k) = Σ_j [x_j log λ_kj − λ_kj − log x_j!] over the observed columns
// (NaN = missing: the column adds nothing to the likelihood or the statistics, full-information
// ML). No prior. The M-step is λ_kj = Σ r x / Σ r over the rows observing column j.
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "../types.hpp"
#include "item_columns.hpp"

namespace emkit {

namespace detail {
// log x! = lgamma(x + 1) of a nonnegative integer x; below 1024 from a table (lgamma costs more than
// the rest of a row's E-step), the same values.
inline double log_factorial(double x) {
  static const std::vector<double> table = [] {
    std::vector<double> t(1024);
    for (size_t i = 0; i < t.size(); ++i) t[i] = std::lgamma(static_cast<double>(i) + 1.0);
    return t;
  }();
  return x < 1024.0 ? table[static_cast<size_t>(x)] : std::lgamma(x + 1.0);
}
}  // namespace detail

// The count columns and, per row, Σ_j log x_j! over its observed columns (a constant of the row,
// the same for every state: computed once per dataset, not per iteration).
struct PoissonData : ItemColumnsData {
  Vector log_factorials;

  PoissonData(const double* data, Index n_rows, Index n_columns, Index row_stride)
      : ItemColumnsData(data, n_rows, n_columns, row_stride), log_factorials(Vector::Zero(n_rows)) {
    for (Index i = 0; i < n_rows; ++i)
      for (Index j = 0; j < n_columns; ++j) {
        const double x = X(i, j);
        if (std::isnan(x)) continue;
        require(std::isfinite(x) && x >= 0 && x == std::floor(x),
                "X: count column " + std::to_string(j) + " of row " + std::to_string(i) +
                    " is not a nonnegative integer (NaN = missing)");
        log_factorials[i] += detail::log_factorial(x);
      }
  }
  PoissonData(const double* data, Index n_rows, Index n_columns) : PoissonData(data, n_rows, n_columns, n_columns) {}
};

using PoissonStats = ItemMoments<struct PoissonTag>;

class Poisson : public IndependentColumns<Poisson, PoissonStats> {
 public:
  using Data = PoissonData;

  // rates: K × q, nonnegative.
  explicit Poisson(RowMatrix rates) : rates_(std::move(rates)) {
    require(rates_.rows() >= 1, "rates: expected one row per state");
    require(rates_.allFinite() && (rates_.array() >= 0).all(), "rates: expected finite nonnegative values");
  }

  Index n_states() const { return rates_.rows(); }
  Index n_columns() const { return rates_.cols(); }
  Index n_features() const { return rates_.cols(); }
  const RowMatrix& rates() const { return rates_; }
  Index n_parameters() const { return rates_.size(); }

  // Per column, the states' log λ and λ contiguous (q × K).
  struct Workspace {
    RowMatrix log_rates_t;
    RowMatrix rates_t;
  };
  Workspace prepare(const Data& data, int) const {
    require(data.n_columns() == n_columns(), "X: expected " + std::to_string(n_columns()) + " count columns, got " +
                                                 std::to_string(data.n_columns()));
    Workspace ws{rates_.transpose(), rates_.transpose()};
    ws.log_rates_t = ws.log_rates_t.array().log().matrix();
    return ws;
  }

  // Adds log p(x_i | k) of rows [begin, end) to out. x = 0 adds −λ (0·log 0 = 0 for a zero rate).
  void add_log_prob(const Data& data, const Workspace& ws, Index begin, Index end, Eigen::Ref<RowMatrix> out) const {
    const Index K = n_states();
    detail::for_each_observed(data, begin, end, [&](Index i, Index j, double x) {
      double* row = out.data() + (i - begin) * out.outerStride();
      const double* rate = ws.rates_t.data() + j * K;
      const double* log_rate = ws.log_rates_t.data() + j * K;
      if (x == 0.0)
        for (Index k = 0; k < K; ++k) row[k] -= rate[k];
      else
        for (Index k = 0; k < K; ++k) row[k] += x * log_rate[k] - rate[k];
    });
    for (Index i = begin; i < end; ++i) out.row(i - begin).array() -= data.log_factorials[i];
  }

  Stats make_stats() const { return detail::zero_moments<PoissonTag>(rates_, /*squares=*/false); }

  // λ = shift + Σ r (x − shift) / Σ r, clipped at 0 (a state whose observed counts are all zero
  // gets rate 0, not a rounding error below it). Returns the states with an empty column.
  std::vector<Index> maximize(const Stats& stats, const Vector&, double total_weight) {
    std::vector<char> empty(static_cast<size_t>(n_states()), 0);
    detail::update_locations(stats, kEmptyFraction, total_weight, rates_, empty,
                             [&](Index k, Index j, double, double) { rates_(k, j) = std::max(rates_(k, j), 0.0); });
    return detail::marked_states(empty);
  }

  // One draw of every column from state k.
  template <class Rng>
  void sample(Index k, Rng& rng, Eigen::Ref<Vector> out) const {
    for (Index j = 0; j < n_columns(); ++j) {
      const double rate = rates_(k, j);
      out[j] = rate > 0 ? static_cast<double>(std::poisson_distribution<long long>(rate)(rng)) : 0.0;
    }
  }

 private:
  RowMatrix rates_;
};

}  // namespace emkit

// The family's parameter groups come with it (no include-order hazard).
#include "poisson_groups.hpp"  // IWYU pragma: export
