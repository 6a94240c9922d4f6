// Seeding a model from given responsibilities (a mixture) or state posteriors (an HMM): the
// emission family's own accumulate with those in place of the E-step's posteriors, then its own
// maximize. So initial parameters, e.g. from a k-means assignment, come from the same M-step as
// every later iteration (priors, reg_covar, missing entries and empty states included), never
// from a second hand-written one.
#pragma once

#include <Eigen/Core>
#include <string>

#include "../parallel.hpp"
#include "../types.hpp"

namespace emkit {

// Rejects responsibilities that are not an (n_rows, n_states) array of finite values >= 0. Rows
// need not sum to one: a row of zeros leaves the row out.
inline void check_responsibilities(const MatrixRef& resp, Index n_rows, Index n_states,
                                   const std::string& name = "resp") {
  require(resp.rows() == n_rows && resp.cols() == n_states,
          name + ": expected an (" + std::to_string(n_rows) + ", " + std::to_string(n_states) + ") array, got (" +
              std::to_string(resp.rows()) + ", " + std::to_string(resp.cols()) + ")");
  require(resp.allFinite() && (resp.array() >= 0.0).all(), name + ": expected finite values >= 0");
}

// The family's statistics and the expected counts per state for given responsibilities.
template <class Emission>
struct FamilyStatistics {
  typename Emission::Stats emission;
  Vector counts;  // Σ_i w_i r_ik

  FamilyStatistics& operator+=(const FamilyStatistics& other) {
    emission += other.emission;
    counts += other.counts;
    return *this;
  }
};

// What an E-step would add to the family's statistics if its posteriors were resp (n_rows × K),
// row i scaled by row_weight(i) (a sample weight; 0 leaves the row out). Reduced over the same
// fixed chunks as an E-step, so the result does not depend on the number of threads.
template <class Emission, class RowWeight>
FamilyStatistics<Emission> family_statistics(const Emission& emission, const typename Emission::Data& data,
                                             const MatrixRef& resp, RowWeight&& row_weight, int n_threads) {
  const Index K = emission.n_states();
  check_responsibilities(resp, data.n_rows(), K);
  const auto ws = emission.prepare(data, n_threads);
  return reduce_rows<FamilyStatistics<Emission>>(
      data.n_rows(), n_threads,
      [&] {
        FamilyStatistics<Emission> s;
        s.emission = emission.make_stats();
        s.counts = Vector::Zero(K);
        return s;
      },
      [&](FamilyStatistics<Emission>& acc, Index begin, Index end) {
        RowMatrix weighted(end - begin, K);
        for (Index i = begin; i < end; ++i) {
          const double w = row_weight(i);
          if (w == 0.0)
            weighted.row(i - begin).setZero();
          else
            weighted.row(i - begin) = w * resp.row(i);
        }
        acc.counts += weighted.colwise().sum().transpose();
        emission.accumulate(data, ws, begin, end, weighted, acc.emission);
      });
}

}  // namespace emkit
