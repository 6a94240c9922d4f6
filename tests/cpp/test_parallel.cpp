// The deterministic parallel reduction (parallel.hpp): results that do not depend on the number of
// threads, exceptions carried out of OpenMP regions, and chunk plans that cover every row once.
#include <emkit/parallel.hpp>

#include <atomic>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "check.hpp"

using namespace emkit;

namespace {

// A sum whose value depends on the order of its additions (values of very different magnitudes):
// equal results across thread counts mean equal order, not luck.
struct Sum {
  double value = 0.0;
  Index rows = 0;
  Sum& operator+=(const Sum& other) {
    value += other.value;
    rows += other.rows;
    return *this;
  }
};

double term(Index i) { return std::sin(static_cast<double>(i)) * std::pow(10.0, static_cast<double>(i % 17) - 8.0); }

Sum reduce(Index n, int threads) {
  return reduce_rows<Sum>(
      n, threads, [] { return Sum{}; },
      [](Sum& acc, Index begin, Index end) {
        for (Index i = begin; i < end; ++i) acc.value += term(i);
        acc.rows += end - begin;
      });
}

TEST(reduce_rows_is_bit_identical_for_1_2_and_4_threads) {
  for (const Index n : {Index(1), Index(255), Index(257), Index(20000), Index(100003)}) {
    const Sum one = reduce(n, 1);
    CHECK(one.rows == n);
    for (const int threads : {2, 4}) {
      const Sum many = reduce(n, threads);
      CHECK(many.value == one.value);  // bit for bit, not within a tolerance
      CHECK(many.rows == n);
    }
  }
}

TEST(reduce_rows_merges_chunks_in_chunk_order) {
  // The merged total is ((c0 + c1) + c2) + …: concatenating the rows each chunk saw, in merge
  // order, gives 0, 1, …, n-1 whatever order the chunks finish in.
  struct Rows {
    std::vector<Index> seen;
    Rows& operator+=(const Rows& other) {
      seen.insert(seen.end(), other.seen.begin(), other.seen.end());
      return *this;
    }
  };
  const Index n = 40000;
  const Rows all = reduce_rows<Rows>(
      n, 4, [] { return Rows{}; },
      [](Rows& acc, Index begin, Index end) {
        for (Index i = begin; i < end; ++i) acc.seen.push_back(i);
      });
  bool in_order = static_cast<Index>(all.seen.size()) == n;
  for (Index i = 0; in_order && i < n; ++i) in_order = all.seen[i] == i;
  CHECK(in_order);
}

TEST(an_exception_inside_the_parallel_region_is_rethrown_after_it) {
  std::atomic<Index> ran{0};
  bool caught = false;
  try {
    parallel_for(64, 4, [&](Index t) {
      ++ran;
      if (t == 13) throw std::invalid_argument("task 13 failed");
    });
  } catch (const std::invalid_argument& e) {
    caught = std::string(e.what()) == "task 13 failed";
  }
  CHECK(caught);
  CHECK(ran.load() == 64);  // the other tasks still ran: the region was left normally
}

TEST(an_exception_in_reduce_rows_reaches_the_caller) {
  CHECK_THROWS(reduce_rows<Sum>(
                   10000, 2, [] { return Sum{}; },
                   [](Sum&, Index begin, Index) {
                     if (begin >= 5000) throw std::runtime_error("block failed");
                   }),
               std::runtime_error);
}

TEST(the_chunk_plan_covers_every_row_once_in_whole_blocks) {
  for (const Index n : {Index(0), Index(1), Index(256), Index(257), Index(64 * 256), Index(64 * 256 + 1),
                        Index(1000003)}) {
    const ChunkPlan plan = plan_chunks(n);
    CHECK(plan.n_chunks >= 1 && plan.n_chunks <= kMaxChunks);
    CHECK(plan.chunk_rows % kBlockRows == 0);
    Index next = 0;
    for (Index c = 0; c < plan.n_chunks; ++c) {
      CHECK(plan.begin(c) == next);
      CHECK(plan.end(c) > plan.begin(c) || n == 0);
      next = plan.end(c);
    }
    CHECK(next == n);
  }
}

TEST(the_sequence_plan_covers_every_sequence_once) {
  // Many short sequences and one long one (a solo chunk).
  std::vector<Index> offsets = {0};
  for (Index s = 0; s < 300; ++s) offsets.push_back(offsets.back() + 7 + s % 13);
  offsets.push_back(offsets.back() + 50000);
  for (Index s = 0; s < 10; ++s) offsets.push_back(offsets.back() + 100);
  const SequencePlan plan = plan_sequences(offsets);
  const Index n_sequences = static_cast<Index>(offsets.size()) - 1;
  CHECK(plan.first.front() == 0 && plan.first.back() == n_sequences);
  Index solo = 0;
  for (Index c = 0; c < plan.n_chunks(); ++c) {
    CHECK(plan.first[c + 1] > plan.first[c]);
    if (plan.solo[c]) {
      ++solo;
      CHECK(plan.first[c + 1] - plan.first[c] == 1);
      CHECK(plan.first[c] == 300);
    }
  }
  CHECK(solo == 1);
}

TEST(reduce_sequences_is_bit_identical_for_1_2_and_4_threads) {
  std::vector<Index> offsets = {0};
  for (Index s = 0; s < 500; ++s) offsets.push_back(offsets.back() + 3 + (s * 7) % 40);
  offsets.push_back(offsets.back() + 20000);  // solo
  auto run = [&](int threads) {
    return reduce_sequences<Sum>(
        offsets, threads, [] { return Sum{}; },
        [&](Sum& acc, Index first, Index end, bool, int) {
          for (Index s = first; s < end; ++s)
            for (Index i = offsets[s]; i < offsets[s + 1]; ++i) acc.value += term(i);
          acc.rows += offsets[end] - offsets[first];
        });
  };
  const Sum one = run(1);
  CHECK(one.rows == offsets.back());
  for (const int threads : {2, 4}) CHECK(run(threads).value == one.value);
}

}  // namespace

int main() { return emkit_test::run_all("parallel"); }
