// Common types of the emkit core: row-major matrices that map numpy arrays without copies.
#pragma once

#include <Eigen/Core>
#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>

// Forces inlining of a tiny helper called in a kernel's innermost loop, where the compiler's
// heuristics may otherwise emit a call (measured: the categorical E-step's cell lookup, +10% per
// latent class iteration when it was called out of line).
#if defined(__GNUC__) || defined(__clang__)
#define EMKIT_ALWAYS_INLINE inline __attribute__((always_inline))
#elif defined(_MSC_VER)
#define EMKIT_ALWAYS_INLINE __forceinline
#else
#define EMKIT_ALWAYS_INLINE inline
#endif

namespace emkit {

using Index = Eigen::Index;
template <class T>
using RowMatrixT = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using RowMatrix = RowMatrixT<double>;
using RowMatrixF = RowMatrixT<float>;  // float32 data (the Gaussian family's single-precision path)
using Matrix = Eigen::MatrixXd;  // column-major, for small d×d factors
using Vector = Eigen::VectorXd;
using RowVectorXd = Eigen::Matrix<double, 1, Eigen::Dynamic>;
using MatrixRef = Eigen::Ref<const RowMatrix>;
using VectorRef = Eigen::Ref<const Vector>;
// Category codes (negative = missing), n × J: the Categorical family's data, response patterns.
using CodeMatrix = RowMatrixT<std::int32_t>;

constexpr double kLog2Pi = 1.8378770664093454835606594728112;
constexpr double kLogPi = 1.1447298858494001741434273513531;
constexpr double kNegInf = -std::numeric_limits<double>::infinity();

// Bad input (maps to ValueError in Python). The message names the argument.
struct InvalidArgument : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

// A numerical failure during fitting, e.g. a covariance that is no longer positive definite.
struct NumericalError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

inline void require(bool condition, const std::string& message) {
  if (!condition) throw InvalidArgument(message);
}

// log(sum(exp(v))) over a row, stable under -inf entries; returns -inf if all are -inf.
template <class Row>
inline double log_sum_exp(const Row& v) {
  const double m = v.maxCoeff();
  if (!std::isfinite(m)) return m;
  return m + std::log((v.array() - m).exp().sum());
}

}  // namespace emkit
