// Register-blocked products for the skinny shapes of the diagonal-covariance and quadratic-feature
// kernels, where a general GEMM spends much of its time packing operands and handling edges: a
// block of a few hundred rows against K states, with an inner dimension of a few dozen to a few
// thousand. In double or float (the float32 rows' kernels: twice the lanes per packet).
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

#include "../types.hpp"

namespace emkit {
namespace small_products {

// The SIMD packet of scalar type T (double or float) for the instruction set compiled for.
template <class T>
using PacketOf = typename Eigen::internal::packet_traits<T>::type;
template <class T>
constexpr int kPacketOf = Eigen::internal::packet_traits<T>::size;
using Packet = PacketOf<double>;
constexpr int kPacket = kPacketOf<double>;
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
// Narrower panels (the last columns, or n < kTileCols packets) take more rows per tile, so that
// the loaded B packets serve more multiply-adds.
template <int W>
constexpr int tile_rows() {
  return W >= 3 ? kTileRows : W == 2 ? 2 * kTileRows - 2 : 2 * kTileRows;
}

// Keeps a loaded operand in a register: without it GCC folds the load into each of the R
// multiply-adds that use it (R loads instead of one), and the tile becomes bound by loads.
template <class P>
inline void keep_in_register(P& p) {
#if defined(__GNUC__) && defined(__AVX512F__)
  asm("" : "+v"(p));
#elif defined(__GNUC__) && defined(__SSE2__)
  asm("" : "+x"(p));
#else
  (void)p;
#endif
}

// (The loops over r and w are unrolled explicitly: left to its heuristics GCC kept some tiles'
// accumulators in memory, e.g. float 4 × 1.)
#if defined(__GNUC__) && !defined(__clang__)
#define EMKIT_UNROLL _Pragma("GCC unroll 16")
#else
#define EMKIT_UNROLL
#endif
#if defined(__GNUC__)
#define EMKIT_NOINLINE __attribute__((noinline))
#else
#define EMKIT_NOINLINE
#endif
template <int R, int W, class T>
EMKIT_NOINLINE void tile(const T* A, Index sa, Index st, const T* B, Index ldb, T* C, Index ldc, Index depth) {
  namespace ei = Eigen::internal;
  using P = PacketOf<T>;
  constexpr int kSize = kPacketOf<T>;
  P acc[R][W];
  EMKIT_UNROLL
  for (int r = 0; r < R; ++r) {
    EMKIT_UNROLL
    for (int w = 0; w < W; ++w) acc[r][w] = ei::pset1<P>(T(0));
  }
  for (Index t = 0; t < depth; ++t) {
    P b[W];
    EMKIT_UNROLL
    for (int w = 0; w < W; ++w) {
      b[w] = ei::ploadu<P>(B + t * ldb + w * kSize);
      keep_in_register(b[w]);
    }
    EMKIT_UNROLL
    for (int r = 0; r < R; ++r) {
      const P a = ei::pset1<P>(A[r * sa + t * st]);
      EMKIT_UNROLL
      for (int w = 0; w < W; ++w) acc[r][w] = ei::pmadd(a, b[w], acc[r][w]);
    }
  }
  EMKIT_UNROLL
  for (int r = 0; r < R; ++r) {
    EMKIT_UNROLL
    for (int w = 0; w < W; ++w) ei::pstoreu(C + r * ldc + w * kSize, acc[r][w]);
  }
}
#undef EMKIT_UNROLL

// The rows [0, m) of C's columns [b0, b0 + W packets).
template <int W, class T>
inline void column_panel(Index m, const T* A, Index sa, Index st, const T* B, Index ldb, T* C, Index ldc,
                         Index depth, Index b0) {
  constexpr int R = tile_rows<W>();
  Index a = 0;
  for (; a + R <= m; a += R) tile<R, W>(A + a * sa, sa, st, B + b0, ldb, C + a * ldc + b0, ldc, depth);
  for (; a < m; ++a) tile<1, W>(A + a * sa, sa, st, B + b0, ldb, C + a * ldc + b0, ldc, depth);
}

// Whether multiply takes n columns of scalar type T: whole packets only (the callers use Eigen's
// GEMM otherwise).
template <class T = double>
inline bool applies(Index n) {
  return n > 0 && n % kPacketOf<T> == 0;
}

// n rounded up to whole packets of T.
template <class T = double>
inline Index padded(Index n) {
  return (n + kPacketOf<T> - 1) / kPacketOf<T> * kPacketOf<T>;
}

// C = A·B as described above (C overwritten), in T = double or float; n a multiple of the packet
// size (applies<T>(n)).
template <class T>
inline void multiply(Index m, Index n, Index depth, const T* A, Index sa, Index st, const T* B, Index ldb, T* C,
                     Index ldc) {
  constexpr Index full = kTileCols * kPacketOf<T>;
  Index b0 = 0;
  for (; b0 + full <= n; b0 += full) column_panel<kTileCols>(m, A, sa, st, B, ldb, C, ldc, depth, b0);
  const Index packets = (n - b0) / kPacketOf<T>;
  if (packets == 3) column_panel<3>(m, A, sa, st, B, ldb, C, ldc, depth, b0);
  if (packets == 2) column_panel<2>(m, A, sa, st, B, ldb, C, ldc, depth, b0);
  if (packets == 1) column_panel<1>(m, A, sa, st, B, ldb, C, ldc, depth, b0);
}

}  // namespace small_products
}  // namespace emkit
