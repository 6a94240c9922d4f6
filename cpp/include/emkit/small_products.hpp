// Register-blocked products for the skinny shapes of the diagonal-covariance kernels, where a
// general GEMM spends much of its time packing operands and handling edges: a block of a few
// hundred rows against K states, with an inner dimension of a few dozen.
//
//   C(a, b) = Σ_t A(a, t) · B(t, b)     for a < m, b < n, t < depth
//
// C row-major (leading dimension ldc), B with contiguous rows (leading dimension ldb), and A read
// one element at a time through two strides (A(a, t) = A[a·sa + t·st]), so that the same kernel
// serves Z·F (a = row, t = feature) and Zᵀ·R (a = feature, t = row) for a column-major Z. Each
// tile of R rows × W packets of C lives in registers through the whole sum over t: per t, W
// packet loads of B, R broadcasts of A and R·W fused multiply-adds. Eigen's packet functions
// make the kernel follow the instruction set it is compiled for (SSE2, AVX2 + FMA, AVX-512), and
// the order of the sums is fixed by the shapes alone.
#pragma once

#include <Eigen/Core>

#include "types.hpp"

namespace emkit {
namespace small_products {

using Packet = Eigen::internal::packet_traits<double>::type;
constexpr int kPacket = Eigen::internal::packet_traits<double>::size;
// Packets per tile row, and tile rows: R·W accumulators plus W operands within the register file
// (16 vector registers below AVX-512, 32 with it).
constexpr int kTileCols = 4;
// (3 rows × 4 packets measured fastest of 1–4 × 2–4 for the diagonal E- and M-step shapes with
// SSE2 and AVX2 on an AMD EPYC (Zen), ~1.45× Eigen's GEMM there.)
#ifdef EIGEN_VECTORIZE_AVX512
constexpr int kTileRows = 4;
#else
constexpr int kTileRows = 3;
#endif

// Keeps a loaded operand in a register: without it GCC folds the load into each of the R
// multiply-adds that use it (R loads instead of one), and the tile becomes bound by loads.
inline void keep_in_register(Packet& p) {
#if defined(__GNUC__) && defined(__AVX512F__)
  asm("" : "+v"(p));
#elif defined(__GNUC__) && defined(__SSE2__)
  asm("" : "+x"(p));
#else
  (void)p;
#endif
}

template <int R, int W>
inline void tile(const double* A, Index sa, Index st, const double* B, Index ldb, double* C, Index ldc,
                 Index depth) {
  namespace ei = Eigen::internal;
  Packet acc[R][W];
  for (int r = 0; r < R; ++r)
    for (int w = 0; w < W; ++w) acc[r][w] = ei::pset1<Packet>(0.0);
  for (Index t = 0; t < depth; ++t) {
    Packet b[W];
    for (int w = 0; w < W; ++w) {
      b[w] = ei::ploadu<Packet>(B + t * ldb + w * kPacket);
      keep_in_register(b[w]);
    }
    for (int r = 0; r < R; ++r) {
      const Packet a = ei::pset1<Packet>(A[r * sa + t * st]);
      for (int w = 0; w < W; ++w) acc[r][w] = ei::pmadd(a, b[w], acc[r][w]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int w = 0; w < W; ++w) ei::pstoreu(C + r * ldc + w * kPacket, acc[r][w]);
}

// The rows [0, m) of C's columns [b0, b0 + W·kPacket).
template <int W>
inline void column_panel(Index m, const double* A, Index sa, Index st, const double* B, Index ldb, double* C,
                         Index ldc, Index depth, Index b0) {
  Index a = 0;
  for (; a + kTileRows <= m; a += kTileRows)
    tile<kTileRows, W>(A + a * sa, sa, st, B + b0, ldb, C + a * ldc + b0, ldc, depth);
  for (; a < m; ++a) tile<1, W>(A + a * sa, sa, st, B + b0, ldb, C + a * ldc + b0, ldc, depth);
}

// Whether multiply takes n columns: whole packets only (the callers use Eigen's GEMM otherwise).
inline bool applies(Index n) { return n > 0 && n % kPacket == 0; }

// C = A·B as described above (C overwritten); n a multiple of kPacket (applies(n)).
inline void multiply(Index m, Index n, Index depth, const double* A, Index sa, Index st, const double* B,
                     Index ldb, double* C, Index ldc) {
  constexpr Index full = kTileCols * kPacket;
  Index b0 = 0;
  for (; b0 + full <= n; b0 += full) column_panel<kTileCols>(m, A, sa, st, B, ldb, C, ldc, depth, b0);
  const Index packets = (n - b0) / kPacket;
  if (packets == 3) column_panel<3>(m, A, sa, st, B, ldb, C, ldc, depth, b0);
  if (packets == 2) column_panel<2>(m, A, sa, st, B, ldb, C, ldc, depth, b0);
  if (packets == 1) column_panel<1>(m, A, sa, st, B, ldb, C, ldc, depth, b0);
}

}  // namespace small_products
}  // namespace emkit
