// GaussianData: the Data of the Gaussian family (emissions/gaussian.hpp), built once per dataset.
#pragma once

#include <Eigen/Core>
#include <cmath>
#include <map>
#include <string>
#include <type_traits>
#include <vector>

#include "../../parallel.hpp"
#include "../../types.hpp"

namespace emkit {

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

}  // namespace emkit
