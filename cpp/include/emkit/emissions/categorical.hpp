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

  // log p(x_i | k) for the rows [begin, end): per row, the sum over its observed items of one row
  // of the lookup table (item j, code c) -> log p_jc(k), states padded to a multiple of
  // kStatePad so that the inner loop is whole vectors.
  void log_prob(const Data& data, const Workspace&, Index begin, Index end, Eigen::Ref<RowMatrix> out) const {
    const Index K = n_states(), Kp = padded_states(), nb = end - begin;
    RowMatrix sum(nb, Kp);
    switch (Kp) {  // few states: the row's sums stay in registers
      case 4: sum_rows<4>(data, begin, end, sum.data()); break;
      case 8: sum_rows<8>(data, begin, end, sum.data()); break;
      case 12: sum_rows<12>(data, begin, end, sum.data()); break;
      case 16: sum_rows<16>(data, begin, end, sum.data()); break;
      default: sum_rows<0>(data, begin, end, sum.data());
    }
    out = sum.leftCols(K);
  }

  Stats make_stats() const { return Stats{RowMatrix::Zero(n_states(), offsets_.back())}; }

  // Adds the responsibilities of the rows [begin, end) to the counts of their (item, code): per
  // block, into a (item, code) × state table (states contiguous, padded), added to the
  // state × (item, code) statistics at the end.
  void accumulate(const Data& data, const Workspace&, Index begin, Index end,
                  const Eigen::Ref<const RowMatrix>& resp, Stats& stats) const {
    const Index K = n_states(), Kp = padded_states(), nb = end - begin;
    RowMatrix r = RowMatrix::Zero(nb, Kp);
    r.leftCols(K) = resp;
    RowMatrix counts = RowMatrix::Zero(offsets_.back(), Kp);
    switch (Kp) {
      case 4: add_counts<4>(data, begin, end, r.data(), counts.data()); break;
      case 8: add_counts<8>(data, begin, end, r.data(), counts.data()); break;
      case 12: add_counts<12>(data, begin, end, r.data(), counts.data()); break;
      case 16: add_counts<16>(data, begin, end, r.data(), counts.data()); break;
      default: add_counts<0>(data, begin, end, r.data(), counts.data());
    }
    stats.counts += counts.leftCols(K).transpose();
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
  RowMatrix log_probs_t_;  // (sum_j R_j) × K: one row per (item, category)
  RowMatrix log_table_;    // the same with the states padded by zeros to padded_states() columns

  // States are padded to a multiple of this in the kernels' tables (whole SIMD vectors).
  static constexpr Index kStatePad = 4;
  Index padded_states() const { return (n_states() + kStatePad - 1) / kStatePad * kStatePad; }

  // dst[k] += src[k] for k < n, n a multiple of kStatePad (fixed-size vectors: whole packets).
  static void add_padded(double* __restrict dst, const double* __restrict src, Index n) {
    using Chunk = Eigen::Array<double, kStatePad, 1>;
    for (Index k = 0; k < n; k += kStatePad) Eigen::Map<Chunk>(dst + k) += Eigen::Map<const Chunk>(src + k);
  }

  // sum (rows × padded states) = Σ over each row's observed items of its lookup-table row. With
  // KP > 0 (= padded_states()) in two fixed-size accumulators (even and odd items) held in
  // registers; KP = 0: any number of states, accumulated in sum.
  template <int KP>
  void sum_rows(const Data& data, Index begin, Index end, double* sum) const {
    const Index J = n_items(), Kp = padded_states();
    const double* table = log_table_.data();
    auto row_of = [&](Index i, Index j) -> const double* {
      const std::int32_t c = data.codes.data()[i * J + j];
      if (c < 0) return nullptr;
      if (c >= n_categories_[j]) throw_bad_code(c, j, i);
      return table + (offsets_[j] + c) * Kp;
    };
    for (Index i = begin; i < end; ++i) {
      double* o = sum + (i - begin) * Kp;
      if constexpr (KP > 0) {
        using Acc = Eigen::Array<double, KP, 1>;
        Acc even = Acc::Zero(), odd = Acc::Zero();
        Index j = 0;
        for (; j + 1 < J; j += 2) {
          if (const double* r = row_of(i, j)) even += Eigen::Map<const Acc>(r);
          if (const double* r = row_of(i, j + 1)) odd += Eigen::Map<const Acc>(r);
        }
        if (j < J)
          if (const double* r = row_of(i, j)) even += Eigen::Map<const Acc>(r);
        Eigen::Map<Acc> sums(o);
        sums = even + odd;
      } else {
        for (Index k = 0; k < Kp; ++k) o[k] = 0.0;
        for (Index j = 0; j < J; ++j)
          if (const double* r = row_of(i, j)) add_padded(o, r, Kp);
      }
    }
  }

  // counts ((item, code) × padded states) += the padded responsibilities resp of each row at its
  // observed (item, code); KP as in sum_rows.
  template <int KP>
  void add_counts(const Data& data, Index begin, Index end, const double* resp, double* counts) const {
    const Index J = n_items(), Kp = KP > 0 ? KP : padded_states();
    for (Index i = begin; i < end; ++i) {
      const double* ri = resp + (i - begin) * Kp;
      const std::int32_t* codes = data.codes.data() + i * J;
      if constexpr (KP > 0) {
        using Acc = Eigen::Array<double, KP, 1>;
        const Acc r = Eigen::Map<const Acc>(ri);
        for (Index j = 0; j < J; ++j) {
          const std::int32_t c = codes[j];
          if (c < 0) continue;
          Eigen::Map<Acc> target(counts + (offsets_[j] + c) * KP);
          target += r;
        }
      } else {
        for (Index j = 0; j < J; ++j) {
          const std::int32_t c = codes[j];
          if (c < 0) continue;
          add_padded(counts + (offsets_[j] + c) * Kp, ri, Kp);
        }
      }
    }
  }

  [[noreturn]] void throw_bad_code(std::int32_t c, Index j, Index i) const {
    throw InvalidArgument("X: code " + std::to_string(c) + " of item " + std::to_string(j) + " in row " +
                          std::to_string(i) + " is >= its number of categories " + std::to_string(n_categories_[j]));
  }

  void update_log_probs() {
    log_probs_t_ = probs_.transpose().array().log().matrix();
    log_table_ = RowMatrix::Zero(log_probs_t_.rows(), padded_states());
    log_table_.leftCols(n_states()) = log_probs_t_;
  }
};

}  // namespace emkit
