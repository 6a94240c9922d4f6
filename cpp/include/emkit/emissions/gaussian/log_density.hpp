// The Gaussian family's E-step over a block of complete rows: log N_k(x_i) for every row and state
// as a few matrix products (the kernels below say which when), with the operands prepared once per
// iteration (make_operands). Rows with missing entries are computed one by one (missing.hpp); the
// family (emissions/gaussian.hpp) chooses between the two per block.
//
// Rows are centred on c, the mean of the means (so that no accuracy is lost when the data sit far
// from the origin). Full/tied: log N_k(x) = norm_k - ½‖(x - c) U_f - b_k‖² with U_f = L_f^{-T} the
// Cholesky factor of the precision, as one GEMM per group of states, or triangular products from
// kTriangularFeatures on, or (full, from kQuadraticEStep on) one product of the rows' quadratic
// features with weights for every state (quadratic_weights). Diagonal/spherical: one product of
// [(x - c)², x - c, 1] with the precisions. float32 rows compute the products in float32 and add
// the normalising constants in float64.
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <type_traits>

#include "../../detail/small_products.hpp"
#include "../../types.hpp"
#include "parameters.hpp"

namespace emkit {
namespace gaussian {

// Columns of one E-step matrix product (log_prob_rows).
constexpr Index kProductColumns = 256;
// From this many features on, the full/tied kernels do half the arithmetic of a GEMM: the E-step
// as triangular products (x - c) U_k (where the quadratic-feature E-step does not apply), the
// M-step's scatter as WᵀW per state over its nonzero responsibilities (add_sparse_scatter).
constexpr Index kTriangularFeatures = 32;
// From this many features on, full covariances (float64 rows) use the quadratic-feature E-step
// (quadratic_weights): d(d+1)/2 + d + 1 products per row and state instead of the GEMM's d² and
// the squared norms' 3d (below, the few products do not pay for forming the features); and,
// below kTriangularFeatures, full and tied (float64 rows) the quadratic-feature statistics
// (add_quadratic_scatter): sums and upper triangles of the scatter in one product.
constexpr Index kQuadraticEStep = 8;
// The quadratic-feature E-step expands (y - b)ᵀP(y - b) into terms that cancel; it is used only
// while the cancellation measure of every state (quadratic_weights) stays below this, which
// keeps its rounding error in the log-densities below ~1e-10 (absolute).
constexpr double kQuadraticCancellation = 1e5;
// The same for float32 rows, whose products round to float32 (ε ≈ 6e-8): the error of their
// log-densities stays below ε·1e4 ≈ 6e-4 (absolute; typically ~1e-5, where the direct form's is
// ~1e-6). On the benchmark's gmm-full (measure up to ~2000) the float32 fit's log-likelihood
// after 12 iterations differs from the float64 fit's by 5e-8 (relative), its means by 6e-6
// standard deviations. Beyond it, float32 rows use the direct form (GEMM or triangular).
constexpr double kQuadraticCancellation32 = 1e4;
// Bytes of quadratic features (quadratic_block) formed at a time below kTriangularFeatures.
constexpr Index kFeatureBytes = 384 * 1024;
// Up to this many features, the products of a block are evaluated as dot products (Eigen's
// lazyProduct): a blocked GEMM's packing costs more than the arithmetic of such tiny products.
constexpr Index kFewFeatures = 4;
// Rows whose quadratic features are formed at a time from kTriangularFeatures on (see quadratic_rows).
constexpr Index kSubBlockRows = 24;

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

// The quadratic features of the rows Xb about the centre c, column-major m × (D + d + 1) in z:
// with y = x - c, the products y_a·y_b for a <= b column by column of the upper triangle ((0,0),
// (0,1), (1,1), (0,2), …; D = d(d+1)/2 of them), then y, then 1. Each column is one vectorised
// pass over the rows.
template <class Rows, class Centre, class Z>
void quadratic_block(const Rows& Xb, const Centre& c, Z& z) {
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
template <class T>
Index quadratic_rows(Index d) {
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
inline RowMatrix quadratic_weights(const GaussianParameters& p, const ProductOperands<double>& op, double limit,
                                   Index padded) {
  const Index K = p.n_states(), d = p.n_features(), D = d * (d + 1) / 2;
  const double dd = static_cast<double>(d);
  RowMatrix w = RowMatrix::Zero(D + d + 1, padded);
  Matrix P(d, d);
  for (Index k = 0; k < K; ++k) {
    const auto U = op.factors.middleCols(k * d, d);  // upper triangular, zeros below
    P.noalias() = U * U.transpose();
    const Vector b = (p.means.row(k) - op.centre).transpose();
    const Vector ub = op.offsets.segment(k * d, d).transpose();  // U_kᵀ b_k
    const double measure = b.cwiseAbs().dot(P.cwiseAbs() * b.cwiseAbs()) +
                           P.cwiseAbs().cwiseProduct(p.covariance_matrix(k).cwiseAbs()).sum();
    if (!(measure <= limit)) return RowMatrix();
    Index t = 0;
    for (Index c = 0; c < d; ++c)
      for (Index a = 0; a <= c; ++a) w(t++, k) = a == c ? -0.5 * P(a, a) : -P(a, c);
    w.col(k).segment(D, d) = U * ub;
    w(D + d, k) = -0.5 * (dd * kLog2Pi + p.log_det[k] + ub.squaredNorm());
  }
  return w;
}

// The operands of the E-step for the current parameters (float64 always; float32 too for float32
// rows): once per iteration, before the blocks.
inline void make_operands(const GaussianParameters& p, bool single_precision, ProductOperands<double>& f64,
                          ProductOperands<float>& f32) {
  const Index K = p.n_states(), d = p.n_features();
  ProductOperands<double>& op = f64;
  op.centre = p.centre();
  op.offsets.resize(K * d);
  if (p.uses_full_scatter()) {
    const Index F = p.n_factors();
    op.factors.resize(d, F * d);
    for (Index f = 0; f < F; ++f) {
      // L U^T = I  ⇔  U = L^{-T}: upper triangular.
      op.factors.middleCols(f * d, d) =
          p.chol[f].triangularView<Eigen::Lower>().solve(Matrix::Identity(d, d)).transpose();
    }
    for (Index k = 0; k < K; ++k) {
      const Index f = p.type == CovarianceType::Tied ? 0 : k;
      op.offsets.segment(k * d, d).noalias() =
          (p.means.row(k) - op.centre) * op.factors.middleCols(f * d, d).triangularView<Eigen::Upper>();
    }
    if (p.type == CovarianceType::Full && d >= kQuadraticEStep && !single_precision)
      op.quadratic = quadratic_weights(p, op, kQuadraticCancellation, small_products::padded<double>(K));
  } else if (!single_precision) {
    // Row k of the K × (2d+1) factor: [-½/σ²_k, b_k/σ²_k, -½ (d log 2π + log|Σ_k| + Σ_j b²_kj/σ²_kj)].
    const double dd = static_cast<double>(d);
    op.factors.resize(K, 2 * d + 1);
    for (Index k = 0; k < K; ++k) {
      const RowVectorXd precision = p.variance_row(k).cwiseInverse();
      const RowVectorXd b = p.means.row(k) - op.centre;
      op.factors.row(k).head(d) = -0.5 * precision;
      op.factors.row(k).segment(d, d) = b.cwiseProduct(precision);
      op.factors(k, 2 * d) = -0.5 * (dd * kLog2Pi + p.log_det[k] + b.cwiseProduct(b).dot(precision));
    }
  } else {
    op.offsets.resize(K * d);
    op.precisions.resize(K * d);
    for (Index k = 0; k < K; ++k) {
      op.offsets.segment(k * d, d) = p.means.row(k) - op.centre;
      op.precisions.segment(k * d, d) = p.variance_row(k).cwiseInverse();
    }
  }
  if (single_precision) {
    f32.centre = op.centre.cast<float>();
    f32.factors = op.factors.cast<float>();
    f32.offsets = op.offsets.cast<float>();
    f32.precisions = op.precisions.cast<float>();
    if (p.type == CovarianceType::Full && d >= kQuadraticEStep) {
      const RowMatrix w = quadratic_weights(p, op, kQuadraticCancellation32, small_products::padded<float>(K));
      if (w.size() > 0) {
        f32.quadratic = w.cast<float>();
        f32.quadratic.bottomRows(1).setZero();
        f32.constants = w.bottomRows(1).leftCols(K);
      }
    }
  }
}

// The E-step of the rows Xb (scalar type T) as if none had a missing entry. keep: where to build
// the centred block (BlockCache; float32 rows: only with the quadratic-feature E-step), or null.
template <class T, class Rows>
void log_prob_rows(const GaussianParameters& p, const Rows& Xb, const ProductOperands<T>& op,
                   Eigen::Ref<RowMatrix> out, Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>* keep) {
  using MatrixT = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>;
  const Index K = p.n_states(), d = p.n_features(), nb = Xb.rows();
  const double dd = static_cast<double>(d);
  MatrixT local;
  MatrixT* centred = &local;
  if constexpr (std::is_same_v<T, double>) {
    if (keep) centred = keep;
  }
  if (p.uses_full_scatter() && op.quadratic.size() > 0) {
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
  if (p.uses_full_scatter()) {
    const Index F = p.n_factors();
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
      const Index k0 = p.type == CovarianceType::Tied ? 0 : f0;
      const Index k1 = p.type == CovarianceType::Tied ? K : f0 + g;
      for (Index k = k0; k < k1; ++k) {
        const Index col = p.type == CovarianceType::Tied ? 0 : (k - f0) * d;
        quad.setZero();
        for (Index j = 0; j < d; ++j) quad += (y.col(col + j).array() - op.offsets[k * d + j]).square();
        out.col(k) = (-0.5 * (dd * kLog2Pi + p.log_det[k]) - 0.5 * quad.template cast<double>()).matrix();
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
      out.col(k) = (-0.5 * (dd * kLog2Pi + p.log_det[k]) - 0.5 * quad.template cast<double>()).transpose().matrix();
    }
  }
}

}  // namespace gaussian
}  // namespace emkit
