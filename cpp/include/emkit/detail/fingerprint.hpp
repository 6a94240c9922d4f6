// Fingerprints of parameters: statistics remember the parameters they were computed at, so that
// adding statistics of different parameters, or an M-step on statistics of other parameters than
// the model's, can be refused (a sum of such statistics is no E-step of anything).
#pragma once

#include <cstddef>
#include <cstdint>

#include "../types.hpp"

namespace emkit::detail {

constexpr std::uint64_t kFingerprintSeed = 14695981039346656037ull;

// 64-bit FNV-1a over raw bytes, continuing from `hash`: equal for equal bytes, and a change of
// any byte changes it (up to the 2^-64 chance of a collision).
inline std::uint64_t fingerprint_bytes(const void* data, std::size_t n_bytes, std::uint64_t hash = kFingerprintSeed) {
  const auto* bytes = static_cast<const unsigned char*>(data);
  for (std::size_t b = 0; b < n_bytes; ++b) {
    hash ^= bytes[b];
    hash *= 1099511628211ull;
  }
  return hash;
}

// The fingerprint of a contiguous Eigen array's values (its shape enters through their number).
template <class Array>
std::uint64_t fingerprint_values(const Array& a, std::uint64_t hash = kFingerprintSeed) {
  const Index n = a.size();
  hash = fingerprint_bytes(&n, sizeof n, hash);
  return fingerprint_bytes(a.data(), static_cast<std::size_t>(n) * sizeof(*a.data()), hash);
}

}  // namespace emkit::detail
