// The Categorical emission family: several items (indicators), each with its own number of
// categories; a state's distribution is a product of one categorical distribution per item
// (local independence). Missing items (negative codes) are integrated out: they contribute
// nothing to the likelihood and nothing to the statistics (full-information ML, as poLCA).
// Optional symmetric Dirichlet prior on each item's response probabilities (MAP).
#pragma once

#include <Eigen/Core>
#include <cmath>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "../parallel.hpp"
#include "../types.hpp"

namespace emkit {

using CodeMatrix = Eigen::Matrix<std::int32_t, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// The rows as the Categorical family sees them: an n×J matrix of codes (negative = missing).
struct CategoricalData {
  Eigen::Map<const CodeMatrix> codes;

  CategoricalData(const std::int32_t* data, Index n_rows, Index n_items) : codes(data, n_rows, n_items) {}
  Index n_rows() const { return codes.rows(); }
};

// Expected counts per state and (item, category), flattened: K × sum_j R_j.
struct CategoricalStats {
  RowMatrix counts;
  CategoricalStats& operator+=(const CategoricalStats& other) {
    counts += other.counts;
    return *this;
  }
};

class Categorical {
 public:
  using Data = CategoricalData;
  using Stats = CategoricalStats;

  static constexpr double kEmptyFraction = 1e-10;

  // probs: K × sum_j R_j, item j's probabilities in columns [offset_j, offset_j + R_j).
  // concentration: symmetric Dirichlet prior on each item's probabilities (nullopt = ML).
  Categorical(std::vector<Index> n_categories, RowMatrix probs, std::optional<double> concentration = std::nullopt)
      : Categorical(std::move(n_categories), std::move(probs), RowMatrix(), "prior['item_concentration']") {
    if (concentration) {
      require(std::isfinite(*concentration) && *concentration >= 1.0,
              "prior['item_concentration']: expected a value >= 1");
      concentration_ = RowMatrix::Constant(n_states(), offsets_.back(), *concentration);
    }
  }

  // concentration: one Dirichlet concentration (>= 1) per state and (item, category), K × sum_j R_j
  // (probs' layout); empty = ML. `name` is the argument named in errors.
  Categorical(std::vector<Index> n_categories, RowMatrix probs, RowMatrix concentration, const std::string& name)
      : n_categories_(std::move(n_categories)), probs_(std::move(probs)), concentration_(std::move(concentration)) {
    require(!n_categories_.empty(), "n_categories: expected at least one item");
    offsets_.resize(n_categories_.size() + 1, 0);
    for (size_t j = 0; j < n_categories_.size(); ++j) {
      require(n_categories_[j] >= 2, "n_categories: item " + std::to_string(j) + " needs at least 2 categories");
      offsets_[j + 1] = offsets_[j] + n_categories_[j];
    }
    require(probs_.rows() >= 1 && probs_.cols() == offsets_.back(),
            "probs: expected " + std::to_string(offsets_.back()) + " columns (sum of the item categories)");
    if (concentration_.size()) {
      require(concentration_.rows() == probs_.rows() && concentration_.cols() == probs_.cols(),
              name + ": expected a (" + std::to_string(probs_.rows()) + ", " + std::to_string(probs_.cols()) +
                  ") array (states × categories)");
      require(concentration_.allFinite() && (concentration_.array() >= 1.0).all(),
              name + ": expected Dirichlet concentrations >= 1");
    }
    for (Index k = 0; k < n_states(); ++k)
      for (Index j = 0; j < n_items(); ++j) {
        const auto p = probs_.row(k).segment(offsets_[j], n_categories_[j]);
        require(p.allFinite() && (p.array() >= 0).all() && std::abs(p.sum() - 1.0) < 1e-8,
                "probs: item " + std::to_string(j) + " of class " + std::to_string(k) +
                    " must be nonnegative and sum to 1");
      }
    update_log_probs();
  }

  Index n_states() const { return probs_.rows(); }
  Index n_items() const { return static_cast<Index>(n_categories_.size()); }
  const std::vector<Index>& n_categories() const { return n_categories_; }
  const std::vector<Index>& offsets() const { return offsets_; }
  const RowMatrix& probs() const { return probs_; }
  // Dirichlet concentrations per state and (item, category); empty without a prior.
  const RowMatrix& concentration() const { return concentration_; }
  // The structure asks whether the family has a prior.
  std::optional<RowMatrix> prior() const {
    if (!concentration_.size()) return std::nullopt;
    return concentration_;
  }

  Index n_parameters() const {
    Index total = 0;
    for (Index r : n_categories_) total += r - 1;
    return n_states() * total;
  }

  struct Workspace {};
  Workspace prepare(const Data& data, int) const {
    require(data.codes.cols() == n_items(),
            "X: expected " + std::to_string(n_items()) + " items, got " + std::to_string(data.codes.cols()));
    return {};
  }

  void log_prob(const Data& data, const Workspace&, Index begin, Index end, Eigen::Ref<RowMatrix> out) const {
    const Index J = n_items();
    out.setZero();
    for (Index i = begin; i < end; ++i) {
      auto row = out.row(i - begin);
      for (Index j = 0; j < J; ++j) {
        const std::int32_t c = data.codes(i, j);
        if (c < 0) continue;
        if (c >= n_categories_[j])
          throw InvalidArgument("X: code " + std::to_string(c) + " of item " + std::to_string(j) + " in row " +
                                std::to_string(i) + " is >= its number of categories " +
                                std::to_string(n_categories_[j]));
        row += log_probs_t_.row(offsets_[j] + c);
      }
    }
  }

  Stats make_stats() const { return Stats{RowMatrix::Zero(n_states(), offsets_.back())}; }

  void accumulate(const Data& data, const Workspace&, Index begin, Index end,
                  const Eigen::Ref<const RowMatrix>& resp, Stats& stats) const {
    const Index J = n_items();
    for (Index i = begin; i < end; ++i) {
      const auto r = resp.row(i - begin);
      for (Index j = 0; j < J; ++j) {
        const std::int32_t c = data.codes(i, j);
        if (c < 0) continue;
        stats.counts.col(offsets_[j] + c) += r.transpose();
      }
    }
  }

  std::vector<Index> maximize(const Stats& stats, const Vector& resp_sum, double total_weight) {
    (void)resp_sum;
    const Index K = n_states(), J = n_items();
    const bool has_prior = concentration_.size() > 0;
    std::vector<Index> empty;
    for (Index k = 0; k < K; ++k) {
      bool state_empty = false;
      for (Index j = 0; j < J; ++j) {
        const auto c = stats.counts.row(k).segment(offsets_[j], n_categories_[j]);
        const double t = c.sum();
        Eigen::Array<double, 1, Eigen::Dynamic> extra =
            Eigen::Array<double, 1, Eigen::Dynamic>::Zero(n_categories_[j]);  // alpha - 1
        if (has_prior) extra = concentration_.row(k).segment(offsets_[j], n_categories_[j]).array() - 1.0;
        const double denominator = t + extra.sum();
        // Without a prior a class with (almost) no expected count for the item, and with a flat
        // prior one with exactly none, keeps its previous probabilities (never 0/0).
        if ((!has_prior && t < kEmptyFraction * total_weight) || denominator <= 0.0) {
          state_empty = true;
          continue;
        }
        probs_.row(k).segment(offsets_[j], n_categories_[j]) = (c.array() + extra) / denominator;
      }
      if (state_empty) empty.push_back(k);
    }
    update_log_probs();
    return empty;
  }

  // Normalised Dirichlet densities of every state's distribution of every item.
  double log_prior() const {
    if (!concentration_.size()) return 0.0;
    double total = 0.0;
    for (Index k = 0; k < n_states(); ++k)
      for (Index j = 0; j < n_items(); ++j) {
        double alpha_sum = 0.0;
        for (Index r = 0; r < n_categories_[j]; ++r) {
          const double a = concentration_(k, offsets_[j] + r);
          alpha_sum += a;
          total -= std::lgamma(a);
          if (a != 1.0) total += (a - 1.0) * log_probs_t_(offsets_[j] + r, k);
        }
        total += std::lgamma(alpha_sum);
      }
    return total;
  }

  template <class Rng>
  void sample(Index k, Rng& rng, Eigen::Ref<Eigen::VectorXi> out) const {
    for (Index j = 0; j < n_items(); ++j) {
      const auto p = probs_.row(k).segment(offsets_[j], n_categories_[j]);
      std::discrete_distribution<int> pick(p.data(), p.data() + p.size());
      out[j] = pick(rng);
    }
  }

 private:
  std::vector<Index> n_categories_;
  std::vector<Index> offsets_;
  RowMatrix probs_;
  RowMatrix concentration_;  // K × sum_j R_j Dirichlet concentrations; empty = ML
  RowMatrix log_probs_t_;  // (sum_j R_j) × K: one row per (item, category), for the E-step lookups

  void update_log_probs() { log_probs_t_ = probs_.transpose().array().log().matrix(); }
};

}  // namespace emkit
