// EM for an incomplete contingency table: the joint distribution of several categorical
// variables estimated from records in which some variables are missing. The E-step fills in the
// missing cells of each record by their expected values under the current table (the record's
// weight spread over the cells compatible with what it observed); the M-step re-estimates the
// table from the completed counts. The "latent state" of a record is its full cell.
#pragma once

#include <Eigen/Core>
#include <cmath>
#include <string>
#include <vector>

#include "../emissions/categorical.hpp"
#include "../parallel.hpp"
#include "../types.hpp"

namespace emkit {

struct ContingencyTableData {
  CategoricalData codes;
  Vector sample_weight;
  Index n_rows() const { return codes.n_rows(); }
  double weight(Index i) const { return sample_weight.size() ? sample_weight[i] : 1.0; }
};

struct ContingencyTableStats {
  Vector counts;  // expected count per cell (row-major over the variables)
  double loglik = 0.0;
  double total_weight = 0.0;
  ContingencyTableStats& operator+=(const ContingencyTableStats& other) {
    counts += other.counts;
    loglik += other.loglik;
    total_weight += other.total_weight;
    return *this;
  }
};

class ContingencyTable {
 public:
  using Data = ContingencyTableData;
  using Stats = ContingencyTableStats;

  // probs: one probability per cell, row-major (the last variable varies fastest).
  ContingencyTable(std::vector<Index> n_categories, Vector probs)
      : n_categories_(std::move(n_categories)), probs_(std::move(probs)) {
    require(!n_categories_.empty(), "n_categories: expected at least one variable");
    strides_.assign(n_categories_.size(), 1);
    Index cells = 1;
    for (Index j = static_cast<Index>(n_categories_.size()) - 1; j >= 0; --j) {
      require(n_categories_[j] >= 1, "n_categories: expected positive counts");
      strides_[j] = cells;
      cells *= n_categories_[j];
    }
    require(probs_.size() == cells, "probs: expected " + std::to_string(cells) + " cells");
    require(probs_.allFinite() && (probs_.array() >= 0).all() && std::abs(probs_.sum() - 1.0) < 1e-8,
            "probs: expected nonnegative cell probabilities summing to 1");
  }

  const Vector& probs() const { return probs_; }
  const std::vector<Index>& n_categories() const { return n_categories_; }
  Index n_cells() const { return probs_.size(); }
  Index n_parameters() const { return n_cells() - 1; }
  double log_prior() const { return 0.0; }
  const std::vector<Index>& empty_states() const { return empty_; }

  Stats e_step(const Data& data, int n_threads) const {
    check_variables(data);
    return reduce_rows<Stats>(
        data.n_rows(), n_threads, [&] { return Stats{Vector::Zero(n_cells()), 0.0, 0.0}; },
        [&](Stats& acc, Index begin, Index end) {
          std::vector<Index> cells;
          for (Index i = begin; i < end; ++i) {
            const double w = data.weight(i);
            acc.total_weight += w;
            if (w == 0.0) continue;
            const double p_observed = observed_probability(data, i, cells);
            if (!(p_observed > 0.0))
              throw NumericalError("row " + std::to_string(i) + " has probability zero under the table");
            acc.loglik += w * std::log(p_observed);
            const double scale = w / p_observed;
            for (Index c : cells) acc.counts[c] += scale * probs_[c];
          }
        });
  }

  void m_step(const Stats& stats) {
    require(stats.counts.size() == n_cells(), "stats: expected counts of " + std::to_string(n_cells()) + " cells");
    require(stats.total_weight > 0, "stats: total weight must be > 0");
    probs_ = stats.counts / stats.total_weight;
  }

  // log P(the observed variables of row i) per row (-inf for a record the table cannot produce).
  void score(const Data& data, int n_threads, Eigen::Ref<Vector> log_prob_row) const {
    check_variables(data);
    const ChunkPlan plan = plan_chunks(data.n_rows());
    parallel_for(plan.n_chunks, n_threads, [&](Index c) {
      std::vector<Index> cells;
      for (Index i = plan.begin(c); i < plan.end(c); ++i) log_prob_row[i] = std::log(observed_probability(data, i, cells));
    });
  }

 private:
  std::vector<Index> n_categories_;
  std::vector<Index> strides_;
  Vector probs_;
  std::vector<Index> empty_;

  void check_variables(const Data& data) const {
    const Index J = static_cast<Index>(n_categories_.size());
    require(data.codes.codes.cols() == J, "X: expected " + std::to_string(J) + " variables");
    require(data.sample_weight.size() == 0 || data.sample_weight.size() == data.n_rows(),
            "sample_weight: expected " + std::to_string(data.n_rows()) + " values");
  }

  // P(row i's observed variables): the sum over the cells compatible with it (left in `cells`).
  double observed_probability(const Data& data, Index i, std::vector<Index>& cells) const {
    compatible_cells(data.codes.codes.row(i), cells);
    double p_observed = 0.0;
    for (Index c : cells) p_observed += probs_[c];
    return p_observed;
  }

  // The cells agreeing with a record's observed variables (negative code = missing).
  template <class Row>
  void compatible_cells(const Row& codes, std::vector<Index>& cells) const {
    cells.assign(1, 0);
    const Index J = static_cast<Index>(n_categories_.size());
    for (Index j = 0; j < J; ++j) {
      const std::int32_t c = codes[j];
      if (c >= 0) {
        if (c >= n_categories_[j])
          throw InvalidArgument("X: code " + std::to_string(c) + " of variable " + std::to_string(j) +
                                " is >= its number of categories");
        for (Index& cell : cells) cell += c * strides_[j];
      } else {
        const size_t n = cells.size();
        cells.resize(n * static_cast<size_t>(n_categories_[j]));
        for (Index r = n_categories_[j] - 1; r >= 0; --r)
          for (size_t a = 0; a < n; ++a) cells[static_cast<size_t>(r) * n + a] = cells[a] + r * strides_[j];
      }
    }
  }
};

}  // namespace emkit
