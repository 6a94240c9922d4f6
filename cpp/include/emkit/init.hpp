// Initialisation: weighted k-means++ seeding (Arthur & Vassilvitskii 2007, greedy variant with
// several candidates per step as in scikit-learn) followed by a few Lloyd iterations.
// Deterministic for a given seed whatever the number of threads.
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <random>
#include <vector>

#include "parallel.hpp"
#include "types.hpp"

namespace emkit {

// Uniform double in [0, 1) from a 64-bit generator, identical on every platform.
inline double uniform01(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

struct KMeansResult {
  RowMatrix centers;               // K×d
  Eigen::VectorXi labels;          // per row
  double inertia = 0.0;            // sum_i w_i ||x_i - c_{label_i}||^2
};

namespace detail {

// Index i with cumulative[i-1] <= u < cumulative[i] (u scaled to the total).
inline Index sample_cumulative(const std::vector<double>& cumulative, double u) {
  const auto it = std::upper_bound(cumulative.begin(), cumulative.end(), u * cumulative.back());
  return std::min<Index>(static_cast<Index>(it - cumulative.begin()), static_cast<Index>(cumulative.size()) - 1);
}

inline void squared_distances(const MatrixRef& X, const Eigen::Ref<const Vector>& center, int n_threads,
                              Vector& out) {
  const ChunkPlan plan = plan_chunks(X.rows());
  parallel_for(plan.n_chunks, n_threads, [&](Index c) {
    for (Index i = plan.begin(c); i < plan.end(c); ++i) out[i] = (X.row(i) - center.transpose()).squaredNorm();
  });
}

}  // namespace detail

// X: n×d, complete; sample_weight: n nonnegative (empty = ones).
inline KMeansResult kmeans_plus_plus(const MatrixRef& X, const Vector& sample_weight, Index n_clusters,
                                     std::uint64_t seed, int n_lloyd = 10, int n_threads = 0) {
  const Index n = X.rows(), d = X.cols();
  require(n_clusters >= 1, "n_components: expected a value >= 1");
  require(X.allFinite(), "X: expected finite values for k-means++ seeding");
  Vector w = sample_weight.size() ? sample_weight : Vector::Ones(n);
  require(w.size() == n, "sample_weight: expected one value per row");
  Index positive = 0;
  for (Index i = 0; i < n; ++i) positive += w[i] > 0;
  require(positive >= n_clusters, "X: expected at least n_components rows with positive weight, got " +
                                      std::to_string(positive));

  std::mt19937_64 rng(seed);
  KMeansResult result;
  result.centers.resize(n_clusters, d);
  std::vector<double> cumulative(static_cast<size_t>(n));

  // First center: drawn with probability proportional to the weight.
  std::partial_sum(w.data(), w.data() + n, cumulative.begin());
  Index first = detail::sample_cumulative(cumulative, uniform01(rng));
  result.centers.row(0) = X.row(first);
  Vector closest(n), candidate(n), best_candidate(n);
  detail::squared_distances(X, result.centers.row(0).transpose(), n_threads, closest);

  const int n_trials = 2 + static_cast<int>(std::log(static_cast<double>(n_clusters)));
  for (Index c = 1; c < n_clusters; ++c) {
    double running = 0.0;
    for (Index i = 0; i < n; ++i) cumulative[i] = (running += w[i] * closest[i]);
    double best_potential = std::numeric_limits<double>::infinity();
    Index best = -1;
    for (int t = 0; t < n_trials; ++t) {
      Index pick;
      if (running > 0) {
        pick = detail::sample_cumulative(cumulative, uniform01(rng));
      } else {  // every row coincides with a center: draw by weight
        std::partial_sum(w.data(), w.data() + n, cumulative.begin());
        pick = detail::sample_cumulative(cumulative, uniform01(rng));
      }
      detail::squared_distances(X, X.row(pick).transpose(), n_threads, candidate);
      candidate = candidate.cwiseMin(closest);
      const double potential = w.dot(candidate);
      if (potential < best_potential) {
        best_potential = potential;
        best = pick;
        best_candidate = candidate;
      }
    }
    result.centers.row(c) = X.row(best);
    closest = best_candidate;
  }

  // Lloyd iterations (weighted); an empty cluster keeps its center.
  result.labels.resize(n);
  Vector nearest_dist(n);
  auto assign = [&] {
    const ChunkPlan plan = plan_chunks(n);
    parallel_for(plan.n_chunks, n_threads, [&](Index ch) {
      for (Index i = plan.begin(ch); i < plan.end(ch); ++i) {
        Index arg = 0;
        double best_d = std::numeric_limits<double>::infinity();
        for (Index k = 0; k < n_clusters; ++k) {
          const double dist = (X.row(i) - result.centers.row(k)).squaredNorm();
          if (dist < best_d) {
            best_d = dist;
            arg = k;
          }
        }
        result.labels[i] = static_cast<int>(arg);
        nearest_dist[i] = best_d;
      }
    });
  };
  struct Sums {
    RowMatrix sum;
    Vector count;
    Sums& operator+=(const Sums& o) {
      sum += o.sum;
      count += o.count;
      return *this;
    }
  };
  for (int it = 0; it < n_lloyd; ++it) {
    assign();
    Sums sums = reduce_rows<Sums>(
        n, n_threads, [&] { return Sums{RowMatrix::Zero(n_clusters, d), Vector::Zero(n_clusters)}; },
        [&](Sums& acc, Index b, Index e) {
          for (Index i = b; i < e; ++i) {
            acc.sum.row(result.labels[i]) += w[i] * X.row(i);
            acc.count[result.labels[i]] += w[i];
          }
        });
    RowMatrix previous = result.centers;
    for (Index k = 0; k < n_clusters; ++k)
      if (sums.count[k] > 0) result.centers.row(k) = sums.sum.row(k) / sums.count[k];
    if (previous == result.centers) break;
  }
  assign();
  result.inertia = w.dot(nearest_dist);
  return result;
}

}  // namespace emkit
