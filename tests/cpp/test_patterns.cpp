// Response patterns (patterns.hpp): the distinct rows in lexicographic order of their signed
// codes, the weights of equal rows added in row order, the pattern of every row; bad weights refused.
#include <emkit/patterns.hpp>

#include <cstdint>
#include <limits>
#include <random>
#include <string>

#include "check.hpp"

using namespace emkit;

namespace {

// Whether row a of m comes strictly before row b, comparing codes as signed values, column 0 first.
bool row_before(const CodeMatrix& m, Index a, Index b) {
  for (Index j = 0; j < m.cols(); ++j)
    if (m(a, j) != m(b, j)) return m(a, j) < m(b, j);
  return false;
}

}  // namespace

TEST(a_hand_example_gives_sorted_patterns_summed_weights_and_the_inverse) {
  CodeMatrix codes(6, 2);
  codes << 1, 2,    //
      -1, 5,        //
      1, 2,         //
      -3, 0,        //
      -1, 5,        //
      1, -2;
  Vector weights(6);
  weights << 0.5, 1.0, 2.0, 4.0, 0.25, 0.0;
  const PatternCounts p = compress_patterns(codes, weights);
  CodeMatrix expected(4, 2);
  expected << -3, 0,  //
      -1, 5,          //
      1, -2,          //
      1, 2;
  CHECK(p.patterns == expected);
  CHECK(p.counts.size() == 4);
  CHECK(p.counts[0] == 4.0 && p.counts[1] == 1.25 && p.counts[2] == 0.0 && p.counts[3] == 2.5);
  const Index inverse[] = {3, 1, 3, 0, 1, 2};
  CHECK(p.inverse.size() == 6);
  for (Index i = 0; i < 6; ++i) CHECK(p.inverse[i] == inverse[i]);
}

TEST(without_weights_every_row_counts_one) {
  CodeMatrix codes(5, 1);
  codes << 7, 7, -1, 7, 0;
  const PatternCounts p = compress_patterns(codes, Vector());
  CHECK(p.patterns.rows() == 3 && p.patterns(0, 0) == -1 && p.patterns(1, 0) == 0 && p.patterns(2, 0) == 7);
  CHECK(p.counts[0] == 1.0 && p.counts[1] == 1.0 && p.counts[2] == 3.0);
}

TEST(random_codes_give_strictly_increasing_patterns_that_reproduce_every_row) {
  constexpr std::int32_t kMin = std::numeric_limits<std::int32_t>::min();
  constexpr std::int32_t kMax = std::numeric_limits<std::int32_t>::max();
  const std::int32_t values[] = {kMin, -2, -1, 0, 1, kMax};
  std::mt19937_64 rng(3);
  const Index n = 5000, J = 4;  // 6^4 = 1296 possible rows: repeats, and a table that grows
  CodeMatrix codes(n, J);
  Vector weights(n);
  for (Index i = 0; i < n; ++i) {
    for (Index j = 0; j < J; ++j) codes(i, j) = values[rng() % 6];
    weights[i] = static_cast<double>(rng() % 1000) / 7.0;
  }
  const PatternCounts p = compress_patterns(codes, weights);
  const Index m = p.patterns.rows();
  CHECK(m > 1024 && m <= 1296);
  for (Index r = 1; r < m; ++r) CHECK(row_before(p.patterns, r - 1, r));
  Vector counts = Vector::Zero(m);
  bool rows_match = true;
  for (Index i = 0; i < n; ++i) {
    rows_match = rows_match && p.inverse[i] >= 0 && p.inverse[i] < m && p.patterns.row(p.inverse[i]) == codes.row(i);
    counts[p.inverse[i]] += weights[i];  // row order: the same doubles
  }
  CHECK(rows_match);
  CHECK(p.counts == counts);
}

TEST(a_block_of_a_larger_matrix_is_read_through_its_stride) {
  CodeMatrix wide(4, 3);
  wide << 1, 0, 9,  //
      0, 1, 8,      //
      1, 0, 7,      //
      0, 0, 6;
  const PatternCounts p = compress_patterns(wide.leftCols(2), Vector());
  CHECK(p.patterns.rows() == 3 && p.patterns.cols() == 2);
  CHECK(p.patterns(0, 0) == 0 && p.patterns(0, 1) == 0 && p.patterns(2, 0) == 1 && p.patterns(2, 1) == 0);
  CHECK(p.counts[2] == 2.0 && p.inverse[0] == 2 && p.inverse[2] == 2 && p.inverse[3] == 0);
}

TEST(bad_weights_are_rejected_naming_them) {
  CodeMatrix codes = CodeMatrix::Zero(3, 2);
  CHECK_THROWS(compress_patterns(codes, Vector::Ones(2)), InvalidArgument);
  Vector weights = Vector::Ones(3);
  weights[1] = -1.0;
  CHECK_THROWS(compress_patterns(codes, weights), InvalidArgument);
  weights[1] = std::numeric_limits<double>::quiet_NaN();
  CHECK_THROWS(compress_patterns(codes, weights), InvalidArgument);
  try {
    check_pattern_weights(weights, 3);
    CHECK(false);  // not reached
  } catch (const InvalidArgument& e) {
    CHECK(std::string(e.what()).rfind("weights:", 0) == 0);
  }
}

int main() { return emkit_test::run_all("test_patterns"); }
