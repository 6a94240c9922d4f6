// The Categorical emission family: several items (indicators), each with its own number of
// categories; a state's distribution is a product of one categorical distribution per item
// (local independence). Missing items (negative codes) are integrated out: they contribute
// nothing to the likelihood and nothing to the statistics (full-information ML, as poLCA).
// Optional symmetric Dirichlet prior on each item's response probabilities (MAP).
#pragma once

#include <Eigen/Core>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "../parallel.hpp"
#include "../structures/parameter_groups.hpp"
#include "../types.hpp"

namespace emkit {

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

  // log p(x_i | k) for the rows [begin, end): per row, the sum over its item groups of one row of
  // the group's lookup table (the groups' codes) -> Σ log p_jc(k) (a missing code reads a row of
  // zeros), states padded to a multiple of kStatePad so that the inner loop is whole vectors.
  void log_prob(const Data& data, const Workspace&, Index begin, Index end, Eigen::Ref<RowMatrix> out) const {
    const Index K = n_states(), Kp = padded_states(), nb = end - begin;
    RowMatrix sum(nb, Kp);
    bool bad = false;
    with_padded_states([&](auto size) { bad = sum_rows<decltype(size)::value>(data, begin, end, sum.data()); });
    if (bad) throw_first_bad_code(data, begin, end);
    out = sum.leftCols(K);
  }

  Stats make_stats() const { return Stats{RowMatrix::Zero(n_states(), offsets_.back())}; }

  // Adds the responsibilities of the rows [begin, end) to the counts of their (item, code): per
  // block, into a table of the item groups' cells × states (states contiguous, padded; one vector
  // add per group and row, no branch), whose cells are then added up per (item, code) and added to
  // the state × (item, code) statistics.
  void accumulate(const Data& data, const Workspace&, Index begin, Index end,
                  const Eigen::Ref<const RowMatrix>& resp, Stats& stats) const {
    const Index K = n_states(), Kp = padded_states();
    RowMatrix cells = RowMatrix::Zero(group_rows_, Kp);
    bool bad = false;
    with_padded_states(
        [&](auto size) { bad = add_counts<decltype(size)::value>(data, begin, end, resp, cells.data()); });
    if (bad) throw_first_bad_code(data, begin, end);
    // The cells of a pair summed per code of each of its items (whole padded rows).
    RowMatrix counts = RowMatrix::Zero(offsets_.back() + n_items(), Kp);
    for (const ItemGroup& g : groups_) {
      const Index j = g.first;
      if (g.size == 1) {
        counts.middleRows(item_rows_[j], n_categories_[j] + 1) += cells.middleRows(g.table_row, n_categories_[j] + 1);
        continue;
      }
      for (Index a = 0; a <= n_categories_[j]; ++a)
        for (Index b = 0; b <= n_categories_[j + 1]; ++b) {
          const double* cell = cells.data() + (g.table_row + a * g.stride + b) * Kp;
          add_padded(counts.data() + (item_rows_[j] + a) * Kp, cell, Kp);
          add_padded(counts.data() + (item_rows_[j + 1] + b) * Kp, cell, Kp);
        }
    }
    for (Index j = 0; j < n_items(); ++j)
      stats.counts.middleCols(offsets_[j], n_categories_[j]) +=
          counts.block(item_rows_[j], 0, n_categories_[j], K).transpose();
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
  RowMatrix log_table_;    // per item group: a row per cell (codes of its items), states padded by zeros

  // States are padded to a multiple of this in the kernels' tables (whole SIMD vectors).
  static constexpr Index kStatePad = 4;
  Index padded_states() const { return (n_states() + kStatePad - 1) / kStatePad * kStatePad; }

  // Items are looked up in groups of one or two consecutive items: a pair's table has a row per
  // pair of codes (each code or "missing"), the sum of the two items' log-probabilities, so that a
  // row's log-likelihood costs one vector add per pair instead of one per item.
  struct ItemGroup {
    Index first;      // its first item
    Index size;       // 1 or 2 items
    Index table_row;  // its first row in the lookup table
    Index stride;     // rows per code of the first item (R_{first+1} + 1 for a pair)
  };
  // Pairs whose table has at most this many rows ((R_j + 1)(R_{j+1} + 1)).
  static constexpr Index kMaxPairRows = 64;
  std::vector<ItemGroup> groups_;
  Index group_rows_ = 0;
  // A group as the kernels read it: cell = base + min(c0, cap0) · stride + min(c1, cap1) for the
  // codes c0, c1 of its items read as unsigned (a negative code is above cap = R_j, the "missing"
  // row); a single item has its second code capped at 0 (adding nothing) and never flagged. A code
  // at or above limit is an error.
  struct GroupLookup {
    std::int32_t first0, first1;
    std::uint32_t cap0, cap1;
    std::int32_t limit0, limit1;
    std::uint32_t stride, base;
  };
  std::vector<GroupLookup> lookups_;
  std::vector<Index> item_rows_;  // per item: its first row in the count table (R_j + 1 rows, the last for missing)

  void plan_groups() {
    groups_.clear();
    item_rows_.clear();
    Index row = 0;
    for (Index j = 0; j < n_items(); ++j) item_rows_.push_back(offsets_[j] + j);
    for (Index j = 0; j < n_items();) {
      const Index r0 = n_categories_[j] + 1;
      if (j + 1 < n_items() && r0 * (n_categories_[j + 1] + 1) <= kMaxPairRows) {
        const Index r1 = n_categories_[j + 1] + 1;
        groups_.push_back({j, 2, row, r1});
        row += r0 * r1;
        j += 2;
      } else {
        groups_.push_back({j, 1, row, 1});
        row += r0;
        j += 1;
      }
    }
    group_rows_ = row;
    lookups_.clear();
    for (const ItemGroup& g : groups_) {
      const auto j = static_cast<std::int32_t>(g.first);
      const auto r0 = static_cast<std::int32_t>(n_categories_[g.first]);
      GroupLookup l{j, j, static_cast<std::uint32_t>(r0), 0u, r0, std::numeric_limits<std::int32_t>::max(),
                    static_cast<std::uint32_t>(g.stride), static_cast<std::uint32_t>(g.table_row)};
      if (g.size == 2) {
        l.first1 = j + 1;
        l.cap1 = static_cast<std::uint32_t>(n_categories_[g.first + 1]);
        l.limit1 = static_cast<std::int32_t>(n_categories_[g.first + 1]);
      }
      lookups_.push_back(l);
    }
  }

  // Throws for the first code of the rows [begin, end) at or above its item's number of categories
  // (the kernels only flag that one exists).
  void throw_first_bad_code(const Data& data, Index begin, Index end) const {
    const Index J = n_items();
    for (Index i = begin; i < end; ++i)
      for (Index j = 0; j < J; ++j)
        if (data.codes(i, j) >= n_categories_[j]) throw_bad_code(data.codes(i, j), j, i);
  }

  // The table row of a group's codes in a row (see GroupLookup); bad |= some code is too large.
  EMKIT_ALWAYS_INLINE static Index cell_of(const GroupLookup& l, const std::int32_t* codes, unsigned& bad) {
    const std::int32_t c0 = codes[l.first0], c1 = codes[l.first1];
    bad |= static_cast<unsigned>(c0 >= l.limit0) | static_cast<unsigned>(c1 >= l.limit1);
    return static_cast<Index>(l.base + std::min(static_cast<std::uint32_t>(c0), l.cap0) * l.stride +
                              std::min(static_cast<std::uint32_t>(c1), l.cap1));
  }

  // Calls f(std::integral_constant<int, KP>) with KP = padded_states() for up to 32 states (the
  // kernels' accumulators in registers), else KP = 0 (any number, loops over the padded states).
  template <class F>
  void with_padded_states(F&& f) const {
    switch (padded_states()) {
      case 4: return f(std::integral_constant<int, 4>{});
      case 8: return f(std::integral_constant<int, 8>{});
      case 12: return f(std::integral_constant<int, 12>{});
      case 16: return f(std::integral_constant<int, 16>{});
      case 20: return f(std::integral_constant<int, 20>{});
      case 24: return f(std::integral_constant<int, 24>{});
      case 28: return f(std::integral_constant<int, 28>{});
      case 32: return f(std::integral_constant<int, 32>{});
      default: return f(std::integral_constant<int, 0>{});
    }
  }

  // dst[k] += src[k] for k < n, n a multiple of kStatePad (fixed-size vectors: whole packets).
  static void add_padded(double* __restrict dst, const double* __restrict src, Index n) {
    using Chunk = Eigen::Array<double, kStatePad, 1>;
    for (Index k = 0; k < n; k += kStatePad) Eigen::Map<Chunk>(dst + k) += Eigen::Map<const Chunk>(src + k);
  }

  // sum (rows × padded states) = Σ over each row's item groups of its lookup-table row. With
  // KP > 0 (= padded_states()) in two fixed-size accumulators (even and odd groups) held in
  // registers; KP = 0: any number of states, accumulated in sum.
  template <int KP>
  bool sum_rows(const Data& data, Index begin, Index end, double* sum) const {
    unsigned bad = 0;  // some code >= its item's number of categories
    const GroupLookup* lookups = lookups_.data();
    const Index J = n_items(), Kp = KP > 0 ? KP : padded_states();
    const Index G = static_cast<Index>(groups_.size());
    const double* table = log_table_.data();
    for (Index i = begin; i < end; ++i) {
      const std::int32_t* codes = data.codes.data() + i * J;
      double* o = sum + (i - begin) * Kp;
      if constexpr (KP > 0) {
        using Acc = Eigen::Array<double, KP, 1>;
        Acc even = Eigen::Map<const Acc>(table + cell_of(lookups[0], codes, bad) * KP), odd = Acc::Zero();
        Index g = 1;
        for (; g + 1 < G; g += 2) {
          even += Eigen::Map<const Acc>(table + cell_of(lookups[g], codes, bad) * KP);
          odd += Eigen::Map<const Acc>(table + cell_of(lookups[g + 1], codes, bad) * KP);
        }
        if (g < G) odd += Eigen::Map<const Acc>(table + cell_of(lookups[g], codes, bad) * KP);
        Eigen::Map<Acc> sums(o);
        sums = even + odd;
      } else {
        for (Index k = 0; k < Kp; ++k) o[k] = 0.0;
        for (Index g = 0; g < G; ++g) add_padded(o, table + cell_of(lookups[g], codes, bad) * Kp, Kp);
      }
    }
    return bad != 0;
  }

  // cells ((group cell) × padded states) += the responsibilities of each row at its groups' cells;
  // KP as in sum_rows.
  template <int KP>
  bool add_counts(const Data& data, Index begin, Index end, const Eigen::Ref<const RowMatrix>& resp,
                  double* cells) const {
    unsigned bad = 0;  // some code >= its item's number of categories
    const GroupLookup* lookups = lookups_.data();
    const Index G = static_cast<Index>(lookups_.size());
    const Index J = n_items(), K = n_states(), Kp = KP > 0 ? KP : padded_states(), nb = end - begin;
    // A row's responsibilities padded to Kp: read in place when the next row follows it (the
    // padding lanes then carry the next row's values into padding lanes that are never read).
    const bool in_place = resp.outerStride() == K;
    std::vector<double> padded(static_cast<size_t>(Kp), 0.0);
    for (Index i = begin; i < end; ++i) {
      const std::int32_t* codes = data.codes.data() + i * J;
      const double* ri = resp.data() + (i - begin) * resp.outerStride();
      if (!in_place || i - begin == nb - 1) {
        for (Index k = 0; k < K; ++k) padded[k] = ri[k];
        ri = padded.data();
      }
      if constexpr (KP > 0) {
        using Acc = Eigen::Array<double, KP, 1>;
        const Acc r = Eigen::Map<const Acc>(ri);
        for (Index g = 0; g < G; ++g) {
          Eigen::Map<Acc> target(cells + cell_of(lookups[g], codes, bad) * KP);
          target += r;
        }
      } else {
        for (Index g = 0; g < G; ++g) add_padded(cells + cell_of(lookups[g], codes, bad) * Kp, ri, Kp);
      }
    }
    return bad != 0;
  }

  [[noreturn]] void throw_bad_code(std::int32_t c, Index j, Index i) const {
    throw InvalidArgument("X: code " + std::to_string(c) + " of item " + std::to_string(j) + " in row " +
                          std::to_string(i) + " is >= its number of categories " + std::to_string(n_categories_[j]));
  }

  void update_log_probs() {
    log_probs_t_ = probs_.transpose().array().log().matrix();
    if (groups_.empty()) plan_groups();
    const Index K = n_states();
    log_table_ = RowMatrix::Zero(group_rows_, padded_states());
    // log p of code c of item j, 0 for "missing" (c = R_j).
    auto item_row = [&](Index j, Index c) -> Eigen::Matrix<double, 1, Eigen::Dynamic> {
      if (c == n_categories_[j]) return Eigen::Matrix<double, 1, Eigen::Dynamic>::Zero(K);
      return log_probs_t_.row(offsets_[j] + c);
    };
    for (const ItemGroup& g : groups_) {
      const Index j = g.first;
      if (g.size == 1) {
        for (Index c = 0; c <= n_categories_[j]; ++c) log_table_.row(g.table_row + c).head(K) = item_row(j, c);
        continue;
      }
      for (Index a = 0; a <= n_categories_[j]; ++a)
        for (Index b = 0; b <= n_categories_[j + 1]; ++b)
          log_table_.row(g.table_row + a * g.stride + b).head(K) = item_row(j, a) + item_row(j + 1, b);
    }
  }
};

// The family's parameter groups, here so that no structure over Categorical can see the primary
// template instead: one group, "emissionprob" (every item's response probabilities; the same as
// holding the whole emission fixed).
template <>
struct ParameterGroups<Categorical> {
  static std::vector<std::string> names() { return {"emissionprob"}; }

  static Index n_free_parameters(const Categorical& c, const FixedGroups& fixed) {
    return fixed.count("emissionprob") ? 0 : c.n_parameters();
  }

  static std::vector<Index> maximize(Categorical& c, const CategoricalStats& stats, const Vector& counts,
                                     double total_weight, const FixedGroups& fixed) {
    if (fixed.count("emissionprob")) return {};
    return c.maximize(stats, counts, total_weight);
  }
};

}  // namespace emkit
