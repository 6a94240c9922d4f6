// exp and log over arrays of doubles, written as branch-free loops that the compiler vectorises
// for whatever instruction set it targets (SSE2, AVX2 + FMA, AVX-512): the E-step kernels
// exponentiate whole blocks of shifted log-likelihoods at once instead of one std::exp per value.
//
// exp: range reduction x = n·ln2 + r with |r| <= ln2/2 (n = x·log2(e) rounded to nearest, ln2 in
// two parts so that n·ln2_hi is exact), e^r by its Taylor polynomial of degree 13 (truncation
// error below 1e-17 relative) and 2^n assembled in the exponent bits. Arguments below -708 (0 or
// subnormal results) go to std::exp, NaN stays NaN; intended for x <= 709.
//
// log (positive normal finite arguments only): x = 2^e·m with m in [√½, √2), log m = 2·atanh(s)
// with s = (m − 1)/(m + 1), |s| <= 0.172, by its odd series up to s^23 (truncation error below
// 1e-18 relative).
//
// Both agree with the C library to a few units in the last place.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include <Eigen/Core>

#include "../types.hpp"

// Asks for vectorisation of a loop (OpenMP's simd construct; a no-op without OpenMP).
#ifdef _OPENMP
#define EMKIT_SIMD _Pragma("omp simd")
#else
#define EMKIT_SIMD
#endif

namespace emkit {
namespace vmath {

inline std::uint64_t bits_of(double x) {
  std::uint64_t b;
  std::memcpy(&b, &x, sizeof b);
  return b;
}
inline double double_of(std::uint64_t b) {
  double x;
  std::memcpy(&x, &b, sizeof x);
  return x;
}

constexpr double kLn2Hi = 0.693145751953125;  // 22713 / 32768: n · kLn2Hi is exact for |n| < 2^38
constexpr double kLn2Lo = 1.42860682030941723212e-6;
constexpr double kLog2E = 1.4426950408889634073599;
constexpr double kRoundShifter = 6755399441055744.0;  // 1.5 · 2^52: adding it rounds to an integer
constexpr double kExpLow = -708.0;
// Below this, e^x < 2^-1075 (half the smallest subnormal) and rounds to exactly 0: std::exp returns
// 0 there, so fix_exp_range writes the 0 itself (once states separate, most shifted values of a
// mixture's E-step lie there, and the C library's underflow path is slow).
constexpr double kExpZero = -745.2;
constexpr double kExpHigh = 709.0;

// 1/n!, exact to double rounding for the degrees used here (n! itself is exact up to 18!).
constexpr double inverse_factorial(int n) {
  double f = 1.0;
  for (int i = 2; i <= n; ++i) f *= i;
  return 1.0 / f;
}

// e^r by its Taylor polynomial of degree Degree in Horner's form (coefficients N..Degree):
// c_Degree·r + c_{Degree-1}, times r, plus …, plus c_0, in the scalar type T.
template <int Degree, class T, int N = 0>
inline T exp_taylor(T r) {
  constexpr T c = static_cast<T>(inverse_factorial(N));
  if constexpr (N == Degree)
    return c;
  else
    return exp_taylor<Degree, T, N + 1>(r) * r + c;
}

// The range reduction x = n·ln2 + r (|r| <= ln2/2): shifted = x·log2(e) + 1.5·2^52, whose low
// mantissa bits are n as an integer; n as a double; r.
struct ExpReduction {
  double shifted, n, r;
};
inline ExpReduction reduce_exp_argument(double x) {
  const double shifted = x * kLog2E + kRoundShifter;
  const double n = shifted - kRoundShifter;
  return {shifted, n, (x - n * kLn2Hi) - n * kLn2Lo};
}

// e^x for x in [kExpLow, kExpHigh] (no range checks: exp_in_place clamps and fixes up).
inline double exp_core(double xc) {
  const ExpReduction a = reduce_exp_argument(xc);
  const double p = exp_taylor<13>(a.r);
  // n as an integer: the low mantissa bits of `shifted` (its exponent is that of 1.5 · 2^52).
  const std::int64_t ni = static_cast<std::int64_t>(bits_of(a.shifted) - bits_of(kRoundShifter));
  return p * double_of(static_cast<std::uint64_t>(ni + 1023) << 52);
}

namespace detail {
using Packet = Eigen::internal::packet_traits<double>::type;
constexpr Index kPacketSize = Eigen::internal::packet_traits<double>::size;

// out = in clamped to [kExpLow, kExpHigh] (NaN stays NaN); returns whether some in < kExpLow.
// Eigen's packet compare-and-select: GCC does not vectorise these selects written as plain loops.
inline bool clamp_exp_arguments(const double* __restrict in, double* __restrict out, Index m) {
  namespace ei = Eigen::internal;
  const Packet lo = ei::pset1<Packet>(kExpLow), hi = ei::pset1<Packet>(kExpHigh);
  Packet below = ei::pset1<Packet>(0.0);
  Index i = 0;
  for (; i + kPacketSize <= m; i += kPacketSize) {
    Packet v = ei::ploadu<Packet>(in + i);
    const Packet low = ei::pcmp_lt(v, lo);
    below = ei::por(below, low);
    v = ei::pselect(low, lo, v);
    v = ei::pselect(ei::pcmp_lt(hi, v), hi, v);
    ei::pstoreu(out + i, v);
  }
  double lanes[kPacketSize];
  ei::pstoreu(lanes, below);
  bool any_below = false;
  for (Index u = 0; u < kPacketSize; ++u) any_below = any_below || bits_of(lanes[u]) != 0;
  for (; i < m; ++i) {
    any_below = any_below || in[i] < kExpLow;
    out[i] = in[i] < kExpLow ? kExpLow : (in[i] > kExpHigh ? kExpHigh : in[i]);
  }
  return any_below;
}
inline void exp_core_array(double* __restrict x, Index m) {
  EMKIT_SIMD
  for (Index i = 0; i < m; ++i) x[i] = exp_core(x[i]);
}
// out = value, or +inf where in > kExpHigh, or std::exp(in) where in < kExpLow (0 or a subnormal
// value, exactly as the C library: states that far below the row maximum are rare, and their tiny
// probabilities must not become exact zeros, which an M-step would then keep). in and out may be
// the same array.
inline void fix_exp_range(const double* in, const double* __restrict value, double* out, Index m, bool any_below) {
  namespace ei = Eigen::internal;
  if (any_below) {
    for (Index i = 0; i < m; ++i) {
      const double x = in[i];
      out[i] = x < kExpLow ? (x < kExpZero ? 0.0 : std::exp(x))
                           : (x > kExpHigh ? std::numeric_limits<double>::infinity() : value[i]);
    }
    return;
  }
  const Packet hi = ei::pset1<Packet>(kExpHigh), inf = ei::pset1<Packet>(std::numeric_limits<double>::infinity());
  Index i = 0;
  for (; i + kPacketSize <= m; i += kPacketSize) {
    const Packet v = ei::ploadu<Packet>(in + i);
    ei::pstoreu(out + i, ei::pselect(ei::pcmp_lt(hi, v), inf, ei::ploadu<Packet>(value + i)));
  }
  for (; i < m; ++i) out[i] = in[i] > kExpHigh ? std::numeric_limits<double>::infinity() : value[i];
}
}  // namespace detail

// y[i] = exp(x[i]) for i < n (x and y may be the same array). Three simple passes over chunks
// that stay in L1 (each vectorises; GCC does not vectorise one loop with the range selects).
inline void exp_array(const double* x, double* y, Index n) {
  constexpr Index kChunk = 256;
  double buffer[kChunk];
  for (Index lo = 0; lo < n; lo += kChunk) {
    const Index m = n - lo < kChunk ? n - lo : kChunk;
    const bool any_below = detail::clamp_exp_arguments(x + lo, buffer, m);
    detail::exp_core_array(buffer, m);
    detail::fix_exp_range(x + lo, buffer, y + lo, m, any_below);
  }
}

inline void exp_in_place(double* x, Index n) { exp_array(x, x, n); }

// e^x in float32 precision, for the E-step of float32 rows (whose log-densities are float32
// results: see Gaussian). The range reduction x = n·ln2 + r as for exp_core, in double (a float32
// x would already be off by up to 4e-6 at |x| = 80), then e^r in float32 by its Taylor polynomial
// of degree 7 (truncation error below 1e-8 relative; 16 values per AVX-512 packet instead of 8,
// and about half the polynomial's degree) and 2^n in the exponent bits: relative error below
// 1e-7 (7.4e-8 at most on a grid of [-87, 0] with step 1e-4).
// e^-87 ≈ 1.6e-38, just above float32's smallest normal value; below it exp_nonpositive_single
// writes 0.
constexpr double kExpLowSingle = -87.0;

// e^r · 2^n for |r| <= ln2/2 and n in [-126, 127].
inline float exp_reduced_single(float r, std::int32_t n) {
  const float p = exp_taylor<7>(r);
  const std::uint32_t scale_bits = static_cast<std::uint32_t>(n + 127) << 23;
  float scale;
  std::memcpy(&scale, &scale_bits, sizeof scale);
  return p * scale;
}

// x[i] = e^{x[i]} in float32 precision (exp_reduced_single), for the shifted log-probabilities of an
// E-step (x <= 0): arguments below kExpLowSingle give 0 (e^x < 1.6e-38 there, which float32
// statistics cannot hold anyway), NaN stays NaN, and positive arguments (not expected) go to
// std::exp. Passes over chunks that stay in L1, as exp_array.
inline void exp_nonpositive_single(double* x, Index n) {
  namespace ei = Eigen::internal;
  using detail::Packet;
  constexpr Index S = detail::kPacketSize;
  constexpr Index kChunk = 256;
  double clamped[kChunk];
  float reduced[kChunk];
  std::int32_t power[kChunk];
  const Packet lo = ei::pset1<Packet>(kExpLowSingle), zero = ei::pset1<Packet>(0.0);
  for (Index begin = 0; begin < n; begin += kChunk) {
    double* in = x + begin;
    const Index m = n - begin < kChunk ? n - begin : kChunk;
    // Clamped to [kExpLowSingle, 0] (NaN stays NaN), noting arguments above 0.
    Packet above = zero;
    Index i = 0;
    for (; i + S <= m; i += S) {
      Packet v = ei::ploadu<Packet>(in + i);
      const Packet high = ei::pcmp_lt(zero, v);
      above = ei::por(above, high);
      v = ei::pselect(ei::pcmp_lt(v, lo), lo, v);
      ei::pstoreu(clamped + i, ei::pselect(high, zero, v));
    }
    double lanes[S];
    ei::pstoreu(lanes, above);
    bool any_above = false;
    for (Index u = 0; u < S; ++u) any_above = any_above || bits_of(lanes[u]) != 0;
    for (; i < m; ++i) {
      any_above = any_above || in[i] > 0.0;
      clamped[i] = in[i] < kExpLowSingle ? kExpLowSingle : (in[i] > 0.0 ? 0.0 : in[i]);
    }
    EMKIT_SIMD
    for (i = 0; i < m; ++i) {
      const ExpReduction a = reduce_exp_argument(clamped[i]);
      reduced[i] = static_cast<float>(a.r);
      power[i] = static_cast<std::int32_t>(a.n);
    }
    EMKIT_SIMD
    for (i = 0; i < m; ++i) clamped[i] = static_cast<double>(exp_reduced_single(reduced[i], power[i]));
    if (any_above) {
      for (i = 0; i < m; ++i) in[i] = in[i] < kExpLowSingle ? 0.0 : (in[i] > 0.0 ? std::exp(in[i]) : clamped[i]);
      continue;
    }
    for (i = 0; i + S <= m; i += S) {
      const Packet v = ei::ploadu<Packet>(in + i);
      ei::pstoreu(in + i, ei::pselect(ei::pcmp_lt(v, lo), zero, ei::ploadu<Packet>(clamped + i)));
    }
    for (; i < m; ++i) in[i] = in[i] < kExpLowSingle ? 0.0 : clamped[i];
  }
}

constexpr double kSqrtHalf = 0.70710678118654752440;

inline double log_one(double x) {
  // x = 2^e · m with m in [√½, √2), without a select: subtracting the bits of √½ moves the
  // exponent boundary to √2 (the borrow decides); the biased exponent is then read as a double
  // without an int -> double conversion (2^52 + e_biased exactly).
  const std::uint64_t u = bits_of(x) - bits_of(kSqrtHalf) + (std::uint64_t{1023} << 52);
  const double e = (double_of((u >> 52) | 0x4330000000000000ULL) - 4503599627370496.0) - 1023.0;
  const double m = double_of((u & 0x000FFFFFFFFFFFFFULL) + bits_of(kSqrtHalf));
  const double s = (m - 1.0) / (m + 1.0);
  const double z = s * s;
  double p = 1.0 / 23.0;
  p = p * z + 1.0 / 21.0;
  p = p * z + 1.0 / 19.0;
  p = p * z + 1.0 / 17.0;
  p = p * z + 1.0 / 15.0;
  p = p * z + 1.0 / 13.0;
  p = p * z + 1.0 / 11.0;
  p = p * z + 1.0 / 9.0;
  p = p * z + 1.0 / 7.0;
  p = p * z + 1.0 / 5.0;
  p = p * z + 1.0 / 3.0;
  const double log_m = 2.0 * s + 2.0 * s * z * p;
  return e * kLn2Hi + (log_m + e * kLn2Lo);
}

// Σ_i log(x[i]) for positive normal finite x[i] (summed in 4 interleaved partial sums, then in a
// fixed order: the result depends only on the values).
inline double sum_log(const double* __restrict x, Index n) {
  double part[4] = {0.0, 0.0, 0.0, 0.0};
  Index i = 0;
  for (; i + 4 <= n; i += 4)
    for (int u = 0; u < 4; ++u) part[u] += log_one(x[i + u]);
  for (; i < n; ++i) part[0] += log_one(x[i]);
  return (part[0] + part[1]) + (part[2] + part[3]);
}

// y[i] = log(x[i]) for positive normal finite x[i].
inline void log_of_array(const double* __restrict x, double* __restrict y, Index n) {
  for (Index i = 0; i < n; ++i) y[i] = log_one(x[i]);
}

// out[k] = 0 where mask[k] == 0, else x[k] · y[k] · scale (no 0 · ∞ where mask is 0). Eigen's
// packet select: GCC does not if-convert this written as a plain loop (the product may trap).
inline void masked_product(const double* __restrict mask, const double* __restrict x, const double* __restrict y,
                           double scale, double* __restrict out, Index n) {
  namespace ei = Eigen::internal;
  using detail::Packet;
  const Packet zero = ei::pset1<Packet>(0.0), s = ei::pset1<Packet>(scale);
  Index k = 0;
  for (; k + detail::kPacketSize <= n; k += detail::kPacketSize) {
    const Packet value = ei::pmul(ei::pmul(ei::ploadu<Packet>(x + k), ei::ploadu<Packet>(y + k)), s);
    ei::pstoreu(out + k, ei::pandnot(value, ei::pcmp_eq(ei::ploadu<Packet>(mask + k), zero)));
  }
  for (; k < n; ++k) out[k] = mask[k] == 0.0 ? 0.0 : x[k] * y[k] * scale;
}

// a[k] = 0 where a[k] == 0, else a[k] · b[k]; returns Σ_k a[k] (packet partial sums, then the
// lanes and the tail in a fixed order: the result depends only on n and the values).
inline double masked_product_sum(double* __restrict a, const double* __restrict b, Index n) {
  namespace ei = Eigen::internal;
  using detail::Packet;
  const Packet zero = ei::pset1<Packet>(0.0);
  Packet acc = zero;
  Index k = 0;
  for (; k + detail::kPacketSize <= n; k += detail::kPacketSize) {
    const Packet ak = ei::ploadu<Packet>(a + k);
    const Packet g = ei::pandnot(ei::pmul(ak, ei::ploadu<Packet>(b + k)), ei::pcmp_eq(ak, zero));
    ei::pstoreu(a + k, g);
    acc = ei::padd(acc, g);
  }
  double total = ei::predux(acc);
  for (; k < n; ++k) {
    const double g = a[k] == 0.0 ? 0.0 : a[k] * b[k];
    a[k] = g;
    total += g;
  }
  return total;
}

// Row operations on an n × K row-major block with K a multiple of the packet size
// (rows_in_packets(K)), in packets: GCC does not vectorise the maximum or the sums written as plain
// loops (it may not reorder them). Sums go lane by lane, then across the lanes in a fixed order:
// the results depend only on K and the values.
inline bool rows_in_packets(Index K) { return K > 0 && K % detail::kPacketSize == 0; }

namespace rows {
namespace ei = Eigen::internal;
using detail::Packet;
constexpr Index S = detail::kPacketSize;

// x[i, k] += add[k]; top[i] = max_k x[i, k]; x[i, k] -= top[i]. A row whose maximum is not finite
// is left at x + add, minus that maximum, as the plain loop leaves it.
inline void add_and_shift(double* __restrict x, Index n, Index K, const double* __restrict add,
                          double* __restrict top) {
  for (Index i = 0; i < n; ++i) {
    double* row = x + i * K;
    Packet m = ei::pset1<Packet>(-std::numeric_limits<double>::infinity());
    for (Index k = 0; k < K; k += S) {
      const Packet v = ei::padd(ei::ploadu<Packet>(row + k), ei::ploadu<Packet>(add + k));
      ei::pstoreu(row + k, v);
      m = ei::pmax(m, v);
    }
    const double t = ei::predux_max(m);
    const Packet tp = ei::pset1<Packet>(t);
    for (Index k = 0; k < K; k += S) ei::pstoreu(row + k, ei::psub(ei::ploadu<Packet>(row + k), tp));
    top[i] = t;
  }
}

// sums[i] = Σ_k x[i, k].
inline void sums(const double* __restrict x, Index n, Index K, double* __restrict out) {
  for (Index i = 0; i < n; ++i) {
    const double* row = x + i * K;
    Packet acc = ei::ploadu<Packet>(row);
    for (Index k = S; k < K; k += S) acc = ei::padd(acc, ei::ploadu<Packet>(row + k));
    out[i] = ei::predux(acc);
  }
}

// x[i, k] *= scale[i]; column_sums[k] += x[i, k] (row after row).
inline void scale_and_sum_columns(double* __restrict x, Index n, Index K, const double* __restrict scale,
                                  double* __restrict column_sums) {
  for (Index i = 0; i < n; ++i) {
    double* row = x + i * K;
    const Packet f = ei::pset1<Packet>(scale[i]);
    for (Index k = 0; k < K; k += S) {
      const Packet v = ei::pmul(ei::ploadu<Packet>(row + k), f);
      ei::pstoreu(row + k, v);
      ei::pstoreu(column_sums + k, ei::padd(ei::ploadu<Packet>(column_sums + k), v));
    }
  }
}
}  // namespace rows

}  // namespace vmath
}  // namespace emkit
