// What the independent-item families (NormalItems, Poisson) share: their view of the rows (q
// float columns, NaN = missing, possibly columns of a wider matrix) and their statistics, the
// moments per state and column over the rows observing the column, centred on the column's
// current location parameter (mean or rate) for accuracy.
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <vector>

#include "../types.hpp"

namespace emkit {

// q columns of a row-major matrix whose rows are row_stride values apart (so that a column
// group of a wider matrix is read in place). NaN = missing.
struct ItemColumnsData {
  using Columns = Eigen::Map<const RowMatrix, 0, Eigen::OuterStride<>>;
  Columns X;

  ItemColumnsData(const double* data, Index n_rows, Index n_columns, Index row_stride)
      : X(data, n_rows, n_columns, Eigen::OuterStride<>(std::max(row_stride, n_columns))) {}
  ItemColumnsData(const double* data, Index n_rows, Index n_columns)
      : ItemColumnsData(data, n_rows, n_columns, n_columns) {}
  Index n_rows() const { return X.rows(); }
  Index n_columns() const { return X.cols(); }
};

// Per state and column (K × q), over the rows observing the column: Σ r, Σ r (x − shift) and,
// with squares, Σ r (x − shift)², shift = the location parameter they were computed at. Family
// is a tag, so that each family's statistics are a type of their own.
template <class Family>
struct ItemMoments {
  RowMatrix shift;   // K × q
  RowMatrix weight;  // Σ r
  RowMatrix sum;     // Σ r (x − shift)
  RowMatrix square;  // Σ r (x − shift)² (K × q, or empty when the family needs no squares)

  ItemMoments& operator+=(const ItemMoments& other) {
    weight += other.weight;
    sum += other.sum;
    square += other.square;
    return *this;
  }
};

namespace detail {

// entry(i, j, x) for every observed entry x = X(i, j) of the rows [begin, end), row by row.
template <class Entry>
void for_each_observed(const ItemColumnsData& data, Index begin, Index end, Entry&& entry) {
  for (Index i = begin; i < end; ++i)
    for (Index j = 0; j < data.n_columns(); ++j) {
      const double x = data.X(i, j);
      if (!std::isnan(x)) entry(i, j, x);
    }
}

template <class Family>
ItemMoments<Family> zero_moments(const RowMatrix& location, bool squares) {
  const Index K = location.rows(), q = location.cols();
  return {location, RowMatrix::Zero(K, q), RowMatrix::Zero(K, q), squares ? RowMatrix::Zero(K, q) : RowMatrix()};
}

// Adds the observed entries of rows [begin, end) with responsibilities resp. Per call, the sums
// are kept column by column with the states contiguous (q × K), so that the inner loop over the
// states is one vectorised pass, and added transposed at the end.
template <class Family>
void accumulate_moments(const ItemColumnsData& data, Index begin, Index end, const Eigen::Ref<const RowMatrix>& resp,
                        ItemMoments<Family>& stats) {
  const Index K = stats.shift.rows(), q = stats.shift.cols();
  if (q == 0) return;
  const bool squares = stats.square.size() > 0;
  const RowMatrix shift_t = stats.shift.transpose();
  RowMatrix weight_t = RowMatrix::Zero(q, K), sum_t = RowMatrix::Zero(q, K),
            square_t = RowMatrix::Zero(squares ? q : 0, K);
  std::vector<double> z(static_cast<size_t>(K));
  for_each_observed(data, begin, end, [&](Index i, Index j, double x) {
    const double* r = resp.data() + (i - begin) * resp.outerStride();
    const double* c = shift_t.data() + j * K;
    double* w = weight_t.data() + j * K;
    double* s = sum_t.data() + j * K;
    for (Index k = 0; k < K; ++k) {
      z[k] = x - c[k];
      w[k] += r[k];
      s[k] += r[k] * z[k];
    }
    if (squares) {
      double* sq = square_t.data() + j * K;
      for (Index k = 0; k < K; ++k) sq[k] += r[k] * z[k] * z[k];
    }
  });
  stats.weight += weight_t.transpose();
  stats.sum += sum_t.transpose();
  if (squares) stats.square += square_t.transpose();
}

// The location update of every (state, column) with Σ r ≥ empty_fraction × total_weight:
// location = shift + Σ r (x − shift) / Σ r, then update(k, j, t, centred sum); states with an
// empty column are marked in empty (they keep that column's parameters).
template <class Family, class Update>
void update_locations(const ItemMoments<Family>& stats, double empty_fraction, double total_weight,
                      RowMatrix& location, std::vector<char>& empty, Update&& update) {
  for (Index k = 0; k < location.rows(); ++k)
    for (Index j = 0; j < location.cols(); ++j) {
      const double t = stats.weight(k, j);
      if (t < empty_fraction * total_weight) {
        empty[static_cast<size_t>(k)] = 1;
        continue;
      }
      const double s1 = stats.sum(k, j);
      location(k, j) = stats.shift(k, j) + s1 / t;
      update(k, j, t, s1);
    }
}

inline std::vector<Index> marked_states(const std::vector<char>& empty) {
  std::vector<Index> out;
  for (size_t k = 0; k < empty.size(); ++k)
    if (empty[k]) out.push_back(static_cast<Index>(k));
  return out;
}

// 64-bit FNV-1a over the bytes of parameter arrays (equal for equal parameters), continuing hash.
inline std::uint64_t hash_bytes(std::uint64_t hash, const void* data, size_t n_bytes) {
  const auto* bytes = static_cast<const unsigned char*>(data);
  for (size_t b = 0; b < n_bytes; ++b) {
    hash ^= bytes[b];
    hash *= 1099511628211ull;
  }
  return hash;
}
inline std::uint64_t hash_matrix(std::uint64_t hash, const RowMatrix& m) {
  const Index shape[2] = {m.rows(), m.cols()};
  hash = hash_bytes(hash, shape, sizeof(shape));
  return hash_bytes(hash, m.data(), static_cast<size_t>(m.size()) * sizeof(double));
}
constexpr std::uint64_t kHashSeed = 14695981039346656037ull;

}  // namespace detail

// What the independent-column families share (CRTP: Family has add_log_prob, adding its
// log-densities to a block): no prior, log_prob as add_log_prob onto zeros, and the statistics.
template <class Family, class StatsType>
class IndependentColumns {
 public:
  using Stats = StatsType;
  // A (state, column) whose expected count over the rows observing the column falls below this
  // fraction of the total weight keeps its parameters; the state is reported empty.
  static constexpr double kEmptyFraction = 1e-10;

  std::optional<double> prior() const { return std::nullopt; }
  double log_prior() const { return 0.0; }

  template <class Data, class Workspace>
  void log_prob(const Data& data, const Workspace& ws, Index begin, Index end, Eigen::Ref<RowMatrix> out) const {
    out.setZero();
    static_cast<const Family&>(*this).add_log_prob(data, ws, begin, end, out);
  }

  template <class Data, class Workspace>
  void accumulate(const Data& data, const Workspace&, Index begin, Index end, const Eigen::Ref<const RowMatrix>& resp,
                  Stats& stats) const {
    detail::accumulate_moments(data, begin, end, resp, stats);
  }
};

}  // namespace emkit
