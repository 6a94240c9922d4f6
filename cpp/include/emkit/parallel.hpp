// Deterministic parallel reduction over rows.
//
// Rows are cut into fixed chunks whose boundaries depend only on the number of rows, never on
// the number of threads. Each chunk is reduced sequentially into its own accumulator, and the
// chunk accumulators are merged in chunk order. The floating-point operations are therefore the
// same for any thread count, and results are bit-identical for 1, 2 or 64 threads.
#pragma once

#include <algorithm>
#include <exception>
#include <vector>

#include "types.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace emkit {

// Rows per block handed to an emission kernel (sized so a block of responsibilities and a block
// of centred data stay in L2 for typical d and K).
constexpr Index kBlockRows = 256;
// Upper bound on the number of chunk accumulators kept alive (memory: kMaxChunks copies of the
// sufficient statistics).
constexpr Index kMaxChunks = 64;

struct ChunkPlan {
  Index n_rows = 0;
  Index chunk_rows = 0;  // a multiple of kBlockRows
  Index n_chunks = 0;
  Index begin(Index c) const { return c * chunk_rows; }
  Index end(Index c) const { return std::min(n_rows, (c + 1) * chunk_rows); }
};

inline ChunkPlan plan_chunks(Index n_rows) {
  ChunkPlan plan;
  plan.n_rows = n_rows;
  const Index n_blocks = std::max<Index>(1, (n_rows + kBlockRows - 1) / kBlockRows);
  const Index blocks_per_chunk = (n_blocks + kMaxChunks - 1) / kMaxChunks;
  plan.chunk_rows = blocks_per_chunk * kBlockRows;
  plan.n_chunks = std::max<Index>(1, (n_rows + plan.chunk_rows - 1) / plan.chunk_rows);
  return plan;
}

inline int resolve_threads(int n_threads) {
#ifdef _OPENMP
  return n_threads > 0 ? n_threads : omp_get_max_threads();
#else
  (void)n_threads;
  return 1;
#endif
}

inline bool openmp_enabled() {
#ifdef _OPENMP
  return true;
#else
  return false;
#endif
}

// Runs body(c) for every chunk c in parallel, capturing the first exception thrown inside the
// OpenMP region and rethrowing it afterwards (exceptions must not escape an OpenMP region).
template <class Body>
void parallel_for(Index n_tasks, int n_threads, Body&& body) {
  std::exception_ptr error = nullptr;
#ifdef _OPENMP
  const int threads = static_cast<int>(std::min<Index>(resolve_threads(n_threads), n_tasks));
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads) if (threads > 1)
#else
  (void)n_threads;
#endif
  for (Index t = 0; t < n_tasks; ++t) {
    try {
      body(t);
    } catch (...) {
#ifdef _OPENMP
#pragma omp critical(emkit_error)
#endif
      if (!error) error = std::current_exception();
    }
  }
  if (error) std::rethrow_exception(error);
}

// Reduces rows [0, n_rows) into one accumulator: make() creates an empty accumulator,
// body(acc, begin, end) adds the rows of one block, acc += other merges.
template <class Acc, class Make, class Body>
Acc reduce_rows(Index n_rows, int n_threads, Make&& make, Body&& body) {
  const ChunkPlan plan = plan_chunks(n_rows);
  std::vector<Acc> partial;
  partial.reserve(plan.n_chunks);
  for (Index c = 0; c < plan.n_chunks; ++c) partial.push_back(make());
  parallel_for(plan.n_chunks, n_threads, [&](Index c) {
    for (Index b = plan.begin(c); b < plan.end(c); b += kBlockRows)
      body(partial[c], b, std::min(plan.end(c), b + kBlockRows));
  });
  Acc total = std::move(partial[0]);
  for (Index c = 1; c < plan.n_chunks; ++c) total += partial[c];
  return total;
}

}  // namespace emkit
