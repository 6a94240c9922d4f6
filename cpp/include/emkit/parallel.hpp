// Deterministic parallel reduction over rows, and over sequences of rows (HMMs).
//
// Rows are cut into fixed chunks whose boundaries depend only on the number of rows, never on
// the number of threads. Each chunk is reduced sequentially into its own accumulator, and the
// chunk accumulators are merged in chunk order. The floating-point operations are therefore the
// same for any thread count, and results are bit-identical for 1, 2 or 64 threads.
#pragma once

#include <algorithm>
#include <exception>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include "types.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace emkit {

// Rows per block handed to an emission kernel (sized so a block of responsibilities and a block
// of centred data stay in L2 for typical d and K).
constexpr Index kBlockRows = 256;
// Upper bound on the number of row chunks. Chunk accumulators are merged as soon as every chunk
// before them is done (InOrderMerge), so only about as many are alive as there are threads.
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

// Merges per-chunk accumulators in chunk order — total = ((p0 + p1) + p2) + … whatever order the
// chunks finish in — as soon as every earlier chunk is done, so that a finished accumulator is
// freed early: memory holds the chunks in progress plus those that finished out of order.
template <class Acc>
class InOrderMerge {
 public:
  explicit InOrderMerge(Index n_chunks) : done_(static_cast<size_t>(n_chunks)) {}

  void finish(Index c, Acc&& acc) {
    std::lock_guard<std::mutex> lock(mutex_);
    done_[c].emplace(std::move(acc));
    while (next_ < static_cast<Index>(done_.size()) && done_[next_]) {
      if (total_)
        *total_ += *done_[next_];
      else
        total_.emplace(std::move(*done_[next_]));
      done_[next_].reset();
      ++next_;
    }
  }

  // The merged total once every chunk has finished.
  Acc take() { return std::move(*total_); }

 private:
  std::mutex mutex_;
  std::vector<std::optional<Acc>> done_;
  std::optional<Acc> total_;
  Index next_ = 0;
};

// Reduces rows [0, n_rows) into one accumulator: make() creates an empty accumulator,
// body(acc, begin, end) adds the rows of one block, acc += other merges.
template <class Acc, class Make, class Body>
Acc reduce_rows(Index n_rows, int n_threads, Make&& make, Body&& body) {
  const ChunkPlan plan = plan_chunks(n_rows);
  InOrderMerge<Acc> merge(plan.n_chunks);
  parallel_for(plan.n_chunks, n_threads, [&](Index c) {
    Acc acc = make();
    for (Index b = plan.begin(c); b < plan.end(c); b += kBlockRows)
      body(acc, b, std::min(plan.end(c), b + kBlockRows));
    merge.finish(c, std::move(acc));
  });
  return merge.take();
}

// ---- sequences -------------------------------------------------------------------------------
// The sequence analogue of the row chunks. Sequence s is the rows [offsets[s], offsets[s+1]).
// Consecutive sequences are grouped into chunks of about n_rows / kMaxChunks rows, with
// boundaries that depend only on the lengths. A sequence at least that long (and at least
// kSoloSequenceRows rows) is a "solo" chunk of its own: solo chunks are processed one after the
// other with every thread working inside the sequence (its emission blocks and statistics, over
// fixed blocks), so that a single long sequence still uses every core. There are at most about
// 2 * kMaxChunks chunks.
constexpr Index kSoloSequenceRows = 16 * kBlockRows;

struct SequencePlan {
  std::vector<Index> first;  // chunk c holds the sequences [first[c], first[c+1])
  std::vector<char> solo;    // per chunk: one long sequence processed with all threads
  Index n_chunks() const { return static_cast<Index>(solo.size()); }
};

inline SequencePlan plan_sequences(const std::vector<Index>& offsets) {
  SequencePlan plan;
  const Index n_sequences = static_cast<Index>(offsets.size()) - 1;
  if (n_sequences <= 0) return plan;
  const Index n_rows = offsets.back() - offsets.front();
  const Index target = std::max<Index>(kBlockRows, (n_rows + kMaxChunks - 1) / kMaxChunks);
  const Index solo_rows = std::max(target, kSoloSequenceRows);
  auto length = [&](Index s) { return offsets[s + 1] - offsets[s]; };
  Index s = 0;
  while (s < n_sequences) {
    plan.first.push_back(s);
    if (length(s) >= solo_rows) {
      plan.solo.push_back(1);
      ++s;
      continue;
    }
    plan.solo.push_back(0);
    Index rows = 0;
    while (s < n_sequences && rows < target && length(s) < solo_rows) rows += length(s++);
  }
  plan.first.push_back(n_sequences);
  return plan;
}

// Runs body(first, end, solo, threads) over the chunks of sequences: the shared chunks in
// parallel (each by one thread, body gets threads = 1), then the solo chunks one by one with
// body getting n_threads. For results independent of the thread count, body must branch on
// `solo` (which depends only on the lengths), never on `threads`.
template <class Body>
void for_each_sequence_chunk(const SequencePlan& plan, int n_threads, Body&& body) {
  std::vector<Index> shared;
  for (Index c = 0; c < plan.n_chunks(); ++c)
    if (!plan.solo[c]) shared.push_back(c);
  parallel_for(static_cast<Index>(shared.size()), n_threads, [&](Index t) {
    const Index c = shared[t];
    body(c, plan.first[c], plan.first[c + 1], false, 1);
  });
  for (Index c = 0; c < plan.n_chunks(); ++c)
    if (plan.solo[c]) body(c, plan.first[c], plan.first[c + 1], true, resolve_threads(n_threads));
}

// Runs body(first, end, solo, threads) on every chunk of sequences (outputs per sequence).
template <class Body>
void for_each_sequence(const std::vector<Index>& offsets, int n_threads, Body&& body) {
  for_each_sequence_chunk(plan_sequences(offsets), n_threads,
                          [&](Index, Index first, Index end, bool solo, int threads) {
                            body(first, end, solo, threads);
                          });
}

// Reduces the sequences into one accumulator: make() creates an empty accumulator,
// body(acc, first, end, solo, threads) adds the sequences [first, end), acc += other merges.
// Every chunk has its own accumulator and the chunks are merged in order: bit-identical
// results for any number of threads.
template <class Acc, class Make, class Body>
Acc reduce_sequences(const std::vector<Index>& offsets, int n_threads, Make&& make, Body&& body) {
  const SequencePlan plan = plan_sequences(offsets);
  if (plan.n_chunks() == 0) return make();
  InOrderMerge<Acc> merge(plan.n_chunks());
  for_each_sequence_chunk(plan, n_threads, [&](Index c, Index first, Index end, bool solo, int threads) {
    Acc acc = make();
    body(acc, first, end, solo, threads);
    merge.finish(c, std::move(acc));
  });
  return merge.take();
}

}  // namespace emkit
