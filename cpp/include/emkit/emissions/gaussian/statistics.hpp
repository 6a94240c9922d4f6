// The Gaussian family's statistics (GaussianStats) and the kernels that add a block of complete
// rows to them; rows with missing entries are added one by one (missing.hpp).
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
// deviations from the centre. float32 rows: each block's sums are computed in float32 and added
// to the float64 statistics.
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <type_traits>

#include "../../detail/small_products.hpp"
#include "../../types.hpp"
#include "data.hpp"
#include "log_density.hpp"
#include "parameters.hpp"

namespace emkit {

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

namespace gaussian {

// Adds Σ_i r_ik (x_i - c) and Σ_i r_ik (x_i - c)(x_i - c)ᵀ of every state for a block of rows Xb
// (scalar type T; rows [begin, begin + nb) of data; full/tied, kQuadraticEStep <= d <
// kTriangularFeatures) as one product per quadratic_rows rows: the features' transpose times the
// responsibilities, Zᵀ R ((D + d) × K), whose first D rows are the scatter's upper triangles and
// the next d the sums (by small_products: the upper triangle's D products per row and state
// instead of the d² of a GEMM). features: the block's features (quadratic_block), or null to
// form them here. Incomplete rows are left out (zero responsibilities and features);
// accumulate adds them. float32 rows: the block's products in float32, added in float64.
template <class T, class Rows>
void add_quadratic_scatter(const GaussianParameters& p, const GaussianData& data, const Rows& Xb, Index begin,
                           const Eigen::Ref<const RowMatrix>& resp, GaussianStats& stats,
                           const Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>* features) {
  using MatrixT = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>;
  const Index K = p.n_states(), d = p.n_features(), nb = Xb.rows();
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
void add_sparse_scatter(const GaussianParameters& p, const Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>& xc,
                        const Resp& resp, Eigen::Map<Matrix>& scatter) {
  const Index K = p.n_states(), d = p.n_features(), nb = xc.rows();
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
void add_product(Dst&& dst, const A& a, const B& b, bool lazy) {
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



// Adds the block of rows Xb (scalar type T; rows [begin, begin + Xb.rows()) of data) with
// responsibilities resp, except its incomplete rows (accumulate adds those one by one).
// centred (complete blocks only): the block as log_prob_rows kept it (BlockCache), or null.
template <class T, class Rows>
void accumulate_rows(const GaussianParameters& p, const GaussianData& data, const Rows& Xb, Index begin,
                     const Eigen::Ref<const RowMatrix>& resp, GaussianStats& stats,
                     const Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>* centred) {
  using MatrixT = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>;
  const Index K = p.n_states(), d = p.n_features(), nb = Xb.rows();
  const bool complete = data.range_complete(begin, begin + nb);
  if (p.uses_full_scatter() && d >= kQuadraticEStep && d < kTriangularFeatures) {
    // The block's features as the quadratic-feature E-step kept them, when it did.
    const Index D1 = d * (d + 1) / 2 + d + 1;
    add_quadratic_scatter<T>(p, data, Xb, begin, resp, stats,
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
  if (!p.uses_full_scatter()) {
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
      add_sparse_scatter<T>(p, xc, resp, scatter);
    else
      add_sparse_scatter<T>(p, xc, r, scatter);
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

}  // namespace gaussian
}  // namespace emkit
