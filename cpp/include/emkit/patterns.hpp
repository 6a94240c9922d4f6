// Response patterns: the distinct rows of a code matrix (n × J int32, any values; negative =
// missing for the Categorical family) with the total weight of the rows showing each, and the
// pattern of every row. The latent class model and the contingency table run their EM over the m
// patterns with these weights instead of over the n rows: the same likelihood, fewer rows when
// answers repeat.
//
// The result is exactly numpy's unique(codes, axis=0, return_inverse=True) followed by
// bincount(inverse, weights): the patterns in lexicographic order of their signed codes (column 0
// first), the same inverse, and each pattern's weights added in row order starting from 0.0, as
// bincount adds them, so that the counts are the same doubles bit for bit.
//
// Rows are matched by hashing, not by sorting all n rows: one pass over the rows looks each up in
// an open-addressing table (linear probing) keyed by a 64-bit hash of its codes; equal hashes are
// confirmed by comparing the full rows, so a collision costs a comparison, never a wrong match.
// The table holds one slot per pattern seen so far (at most half full, doubled when needed), so its
// size follows m, not n. Only the m distinct rows are then sorted, by a radix sort of keys packing
// their codes (lexicographic_order). Expected cost O(nJ + mJ), for codes of small range.
// Single-threaded: the result cannot depend on a thread count.
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "types.hpp"

namespace emkit {

using IndexVector = Eigen::Matrix<Index, Eigen::Dynamic, 1>;

struct PatternCounts {
  CodeMatrix patterns;  // m × J: the distinct rows, in lexicographic order
  Vector counts;        // m: the total weight of the rows equal to each pattern
  IndexVector inverse;  // n: row i equals patterns.row(inverse[i])
};

// Pattern weights: none (every row weighs 1) or n_rows finite nonnegative values. Throws
// InvalidArgument naming "weights" and the first offending row.
inline void check_pattern_weights(const VectorRef& weights, Index n_rows) {
  if (weights.size() == 0) return;
  require(weights.size() == n_rows, "weights: expected " + std::to_string(n_rows) +
                                        " values (one per row of codes), got " + std::to_string(weights.size()));
  for (Index i = 0; i < n_rows; ++i)
    if (!(std::isfinite(weights[i]) && weights[i] >= 0.0))
      throw InvalidArgument("weights: expected finite values >= 0, got " + std::to_string(weights[i]) + " in row " +
                            std::to_string(i));
}

namespace detail {

// A 64-bit hash of J codes: two codes per 64-bit word, each word folded in by rotate, xor and
// multiply (the FxHash step), then the MurmurHash3 finaliser so that the low bits (the table
// index) depend on every code.
inline std::uint64_t hash_codes(const std::int32_t* row, Index J) {
  constexpr std::uint64_t kMultiplier = 0x517cc1b727220a95ull;
  std::uint64_t h = static_cast<std::uint64_t>(J);
  Index j = 0;
  for (; j + 2 <= J; j += 2) {
    std::uint64_t word;
    std::memcpy(&word, row + j, sizeof word);
    h = (((h << 5) | (h >> 59)) ^ word) * kMultiplier;
  }
  if (j < J) h = (((h << 5) | (h >> 59)) ^ static_cast<std::uint32_t>(row[j])) * kMultiplier;
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 33;
  return h;
}

// An open-addressing hash set of rows that numbers the distinct rows in order of first appearance.
class PatternTable {
 public:
  PatternTable(const std::int32_t* codes, Index stride, Index J) : codes_(codes), stride_(stride), J_(J) {
    slots_.assign(kInitialSlots, Slot{});
  }

  // Starts loading the slot where a row of hash h is looked for (the lookups' cache misses then
  // overlap: a loop prefetches a few rows ahead).
  void prefetch(std::uint64_t h) const {
#if defined(__GNUC__) || defined(__clang__)
    __builtin_prefetch(&slots_[h & (slots_.size() - 1)]);
#else
    (void)h;
#endif
  }

  // The number of the pattern of row i, whose hash is h (a new number if no earlier row equals it).
  Index insert(Index i, std::uint64_t h) {
    const std::int32_t* row = codes_ + i * stride_;
    const std::size_t mask = slots_.size() - 1;
    for (std::size_t s = h & mask;; s = (s + 1) & mask) {
      Slot& slot = slots_[s];
      if (slot.pattern < 0) {
        slot = Slot{h, static_cast<Index>(first_rows_.size())};
        first_rows_.push_back(i);
        const Index pattern = slot.pattern;
        if (2 * first_rows_.size() > slots_.size()) grow();
        return pattern;
      }
      if (slot.hash != h) continue;
      const std::int32_t* first = codes_ + first_rows_[static_cast<std::size_t>(slot.pattern)] * stride_;
      if (std::equal(row, row + J_, first)) return slot.pattern;
    }
  }

  // The first row showing each pattern, by pattern number.
  const std::vector<Index>& first_rows() const { return first_rows_; }

 private:
  static constexpr std::size_t kInitialSlots = 1024;  // a power of two
  struct Slot {
    std::uint64_t hash = 0;
    Index pattern = -1;  // -1: empty
  };

  // Twice the slots; the patterns are distinct, so they are re-placed by their hashes alone.
  void grow() {
    std::vector<Slot> old(slots_.size() * 2, Slot{});
    old.swap(slots_);
    const std::size_t mask = slots_.size() - 1;
    for (const Slot& slot : old) {
      if (slot.pattern < 0) continue;
      std::size_t s = slot.hash & mask;
      while (slots_[s].pattern >= 0) s = (s + 1) & mask;
      slots_[s] = slot;
    }
  }

  const std::int32_t* codes_;
  Index stride_, J_;
  std::vector<Slot> slots_;
  std::vector<Index> first_rows_;
};

struct KeyedPattern {
  std::uint64_t key;
  Index pattern;
};

// Stable LSD radix sort by the low `bits` bits of the keys, 11 bits per pass.
inline void radix_sort(std::vector<KeyedPattern>& a, int bits) {
  constexpr int kDigit = 11;
  constexpr std::uint64_t kMask = (1u << kDigit) - 1;
  std::vector<KeyedPattern> sorted(a.size());
  for (int shift = 0; shift < bits; shift += kDigit) {
    std::vector<std::size_t> start((1u << kDigit) + 1, 0);
    for (const KeyedPattern& k : a) ++start[((k.key >> shift) & kMask) + 1];
    for (std::size_t d = 1; d < start.size(); ++d) start[d] += start[d - 1];
    for (const KeyedPattern& k : a) sorted[start[(k.key >> shift) & kMask]++] = k;
    a.swap(sorted);
  }
}

// The patterns (given by their first rows) in lexicographic order of their signed codes. Each
// pattern gets a 64-bit key packing its leading columns, each as code − (the column's minimum) in
// just the bits its range needs, column 0 highest, so that keys order as the rows do. Categorical
// codes need a few bits per item: usually every column fits and a radix sort of the keys alone
// orders the patterns. Patterns of equal keys (columns left out) are then ordered among themselves
// by their remaining columns. The rows are distinct, so the order is total, hence unique.
inline std::vector<Index> lexicographic_order(const Eigen::Ref<const CodeMatrix>& codes,
                                              const std::vector<Index>& first_rows) {
  const Index J = codes.cols();
  // Every row has the values of some pattern: column ranges over all rows, read in order.
  std::vector<std::int32_t> low(static_cast<std::size_t>(J), std::numeric_limits<std::int32_t>::max());
  std::vector<std::int32_t> high(static_cast<std::size_t>(J), std::numeric_limits<std::int32_t>::min());
  for (Index i = 0; i < codes.rows(); ++i) {
    const std::int32_t* row = codes.data() + i * codes.outerStride();
    for (std::size_t j = 0; j < low.size(); ++j) {
      low[j] = std::min(low[j], row[j]);
      high[j] = std::max(high[j], row[j]);
    }
  }
  std::vector<int> bits;  // of the packed columns 0, 1, ...
  int total = 0;
  for (std::size_t j = 0; j < low.size(); ++j) {
    const auto range = static_cast<std::uint64_t>(std::int64_t{high[j]} - low[j]);
    int b = 0;
    while (b < 64 && (range >> b) != 0) ++b;
    if (total + b > 64) break;
    total += b;
    bits.push_back(b);
  }
  const Index packed = static_cast<Index>(bits.size());
  const Index m = static_cast<Index>(first_rows.size());
  auto row_of = [&](Index p) { return codes.data() + first_rows[static_cast<std::size_t>(p)] * codes.outerStride(); };
  std::vector<KeyedPattern> keyed(static_cast<std::size_t>(m));
  for (Index p = 0; p < m; ++p) {
    const std::int32_t* row = row_of(p);
    std::uint64_t key = 0;
    for (Index j = 0; j < packed; ++j)
      key = (key << bits[static_cast<std::size_t>(j)]) |
            static_cast<std::uint64_t>(std::int64_t{row[j]} - low[static_cast<std::size_t>(j)]);
    keyed[static_cast<std::size_t>(p)] = KeyedPattern{key, p};
  }
  radix_sort(keyed, total);
  if (packed < J) {
    auto rest_before = [&](const KeyedPattern& a, const KeyedPattern& b) {
      return std::lexicographical_compare(row_of(a.pattern) + packed, row_of(a.pattern) + J,
                                          row_of(b.pattern) + packed, row_of(b.pattern) + J);
    };
    for (auto run = keyed.begin(); run != keyed.end();) {
      const auto end = std::find_if(run, keyed.end(), [&](const KeyedPattern& k) { return k.key != run->key; });
      std::sort(run, end, rest_before);
      run = end;
    }
  }
  std::vector<Index> order(static_cast<std::size_t>(m));
  for (Index r = 0; r < m; ++r) order[static_cast<std::size_t>(r)] = keyed[static_cast<std::size_t>(r)].pattern;
  return order;
}

}  // namespace detail

// The patterns of the rows of codes, their total weights (weights: n values, or none for all
// ones; see check_pattern_weights) and the pattern of each row.
inline PatternCounts compress_patterns(const Eigen::Ref<const CodeMatrix>& codes, const VectorRef& weights) {
  const Index n = codes.rows(), J = codes.cols(), stride = codes.outerStride();
  check_pattern_weights(weights, n);
  // 1. Number the patterns in order of first appearance (inverse holds these numbers for now),
  // with the hashes computed beforehand so that the table's slots can be prefetched.
  std::vector<std::uint64_t> hashes(static_cast<std::size_t>(n));
  for (Index i = 0; i < n; ++i) hashes[static_cast<std::size_t>(i)] = detail::hash_codes(codes.data() + i * stride, J);
  PatternCounts out;
  out.inverse.resize(n);
  detail::PatternTable table(codes.data(), stride, J);
  constexpr Index kAhead = 8;
  for (Index i = 0; i < n; ++i) {
    if (i + kAhead < n) table.prefetch(hashes[static_cast<std::size_t>(i + kAhead)]);
    out.inverse[i] = table.insert(i, hashes[static_cast<std::size_t>(i)]);
  }
  const std::vector<Index>& first_rows = table.first_rows();
  const Index m = static_cast<Index>(first_rows.size());
  // 2. Sort them.
  const std::vector<Index> order = detail::lexicographic_order(codes, first_rows);
  std::vector<Index> rank(static_cast<std::size_t>(m));
  out.patterns.resize(m, J);
  for (Index r = 0; r < m; ++r) {
    const Index p = order[static_cast<std::size_t>(r)];
    rank[static_cast<std::size_t>(p)] = r;
    std::copy_n(codes.data() + first_rows[static_cast<std::size_t>(p)] * stride, J, out.patterns.data() + r * J);
  }
  // 3. Renumber the rows by rank and add their weights in row order (as numpy's bincount).
  out.counts = Vector::Zero(m);
  for (Index i = 0; i < n; ++i) {
    const Index r = rank[static_cast<std::size_t>(out.inverse[i])];
    out.inverse[i] = r;
    out.counts[r] += weights.size() ? weights[i] : 1.0;
  }
  return out;
}

}  // namespace emkit
