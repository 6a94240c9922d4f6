// The Product family: under local independence, a row's density given the state is the product of
// its column groups' densities, each group modelled by a family of its own (a part). A part is any
// of Categorical (items of codes), NormalItems (independent normal columns), Poisson (count
// columns) and Gaussian (a block of columns with one multivariate normal per state, any covariance
// type, missing entries integrated out); a product may hold several parts of one family. The
// log-densities add across parts; the statistics are the parts' statistics side by side; the
// M-step is each part's own; the empty states are the union of the parts'. The product is built at
// run time (a vector of parts, each a std::variant of the families), so that one compiled model
// serves every mix of column kinds.
//
// A Gaussian block's rows may have every entry missing (other parts observed): they add nothing to
// its likelihood or statistics, and its M-step sees the expected counts and total weight of the
// rows observing at least one of its entries (kept with its statistics), not the product's.
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "../structures/parameter_groups.hpp"
#include "../types.hpp"
#include "categorical.hpp"
#include "gaussian.hpp"
#include "item_columns.hpp"
#include "normal_items.hpp"
#include "normal_items_groups.hpp"
#include "poisson.hpp"
#include "poisson_groups.hpp"

namespace emkit {

// A Gaussian block's statistics inside a product: the family's, plus the expected counts over the
// rows observing the block (its M-step's n_k; their sum its total weight).
struct GaussianBlockStats {
  GaussianStats gaussian;
  Vector counts;
  GaussianBlockStats& operator+=(const GaussianBlockStats& other) {
    gaussian += other.gaussian;
    counts += other.counts;
    return *this;
  }
};

namespace detail {
// The statistics a part keeps inside a product.
template <class Family>
struct PartStatsOf {
  using type = typename Family::Stats;
};
template <>
struct PartStatsOf<Gaussian> {
  using type = GaussianBlockStats;
};

template <class... Families>
struct ProductParts {
  using Part = std::variant<Families...>;
  using Data = std::variant<typename Families::Data...>;
  using Workspace = std::variant<typename Families::Workspace...>;
  using Stats = std::variant<typename PartStatsOf<Families>::type...>;
  template <class Family>
  static constexpr size_t index() {
    constexpr bool match[] = {std::is_same_v<Family, Families>...};
    for (size_t i = 0; i < sizeof...(Families); ++i)
      if (match[i]) return i;
    return sizeof...(Families);
  }
};
using ProductFamilies = ProductParts<Categorical, NormalItems, Poisson, Gaussian>;

template <class Family>
struct has_add_log_prob : std::false_type {};
template <>
struct has_add_log_prob<NormalItems> : std::true_type {};
template <>
struct has_add_log_prob<Poisson> : std::true_type {};

// The columns a part reads.
inline Index part_columns(const Categorical& c) { return c.n_items(); }
inline Index part_columns(const NormalItems& g) { return g.n_columns(); }
inline Index part_columns(const Poisson& p) { return p.n_columns(); }
inline Index part_columns(const Gaussian& g) { return g.n_features(); }

// A part's parameters, for the product's fingerprint.
inline std::uint64_t hash_part(std::uint64_t h, const Categorical& c) { return hash_matrix(h, c.probs()); }
inline std::uint64_t hash_part(std::uint64_t h, const NormalItems& g) {
  return hash_matrix(hash_matrix(h, g.means()), g.variances());
}
inline std::uint64_t hash_part(std::uint64_t h, const Poisson& p) { return hash_matrix(h, p.rates()); }
inline std::uint64_t hash_part(std::uint64_t h, const Gaussian& g) {
  const std::uint64_t f = g.parameters_fingerprint();
  return hash_bytes(h, &f, sizeof(f));
}

// A part's group names inside a product: its family's, prefixed ("block_" for a Gaussian block,
// whose "means" would otherwise be the normal items').
template <class Family>
const char* group_prefix() {
  return std::is_same_v<Family, Gaussian> ? "block_" : "";
}
}  // namespace detail

using ProductPart = detail::ProductFamilies::Part;
using ProductPartData = detail::ProductFamilies::Data;
using ProductPartStats = detail::ProductFamilies::Stats;

// The rows as a product sees them: each part's view of its column group, in the parts' order.
struct ProductData {
  std::vector<ProductPartData> parts;
  std::shared_ptr<const void> owner;  // keeps buffers the views map alive (e.g. split columns)
  Index n_rows() const {
    return parts.empty() ? 0 : std::visit([](const auto& d) { return d.n_rows(); }, parts.front());
  }
};

struct ProductStats {
  std::vector<ProductPartStats> parts;
  // Product::parameters_fingerprint() of the parameters they were computed at.
  std::uint64_t parameters = 0;
  ProductStats& operator+=(const ProductStats& other) {
    for (size_t p = 0; p < parts.size(); ++p)
      std::visit([&](auto& s) { s += std::get<std::decay_t<decltype(s)>>(other.parts[p]); }, parts[p]);
    return *this;
  }
};

class Product {
 public:
  using Data = ProductData;
  using Stats = ProductStats;
  using Workspace = std::vector<detail::ProductFamilies::Workspace>;

  explicit Product(std::vector<ProductPart> parts) : parts_(std::move(parts)) {
    require(!parts_.empty(), "Product: expected at least one part");
    K_ = n_states_of(parts_.front());
    require(K_ >= 1, "Product: expected at least one state");
    for (const auto& part : parts_) {
      require(n_states_of(part) == K_, "Product: every part must have " + std::to_string(K_) + " states");
      std::visit([](const auto& f) { require(detail::part_columns(f) >= 1, "Product: a part without columns"); }, part);
    }
    fingerprint_ = hash_parameters();
  }

  Index n_states() const { return K_; }
  Index n_parts() const { return static_cast<Index>(parts_.size()); }
  const ProductPart& part(Index p) const { return parts_[static_cast<size_t>(p)]; }
  const std::vector<ProductPart>& parts() const { return parts_; }
  // The first part of family F, or null.
  template <class F>
  const F* find() const {
    for (const auto& part : parts_)
      if (const F* f = std::get_if<F>(&part)) return f;
    return nullptr;
  }
  // Columns of every part together (a row as sample() writes it).
  Index n_features() const {
    Index n = 0;
    for (const auto& part : parts_) n += std::visit([](const auto& f) { return detail::part_columns(f); }, part);
    return n;
  }
  Index n_parameters() const {
    Index n = 0;
    for (const auto& part : parts_) n += std::visit([](const auto& f) { return f.n_parameters(); }, part);
    return n;
  }
  // The parts with a prior (nullopt when none has one).
  std::optional<std::vector<Index>> prior() const {
    std::vector<Index> with;
    for (Index p = 0; p < n_parts(); ++p)
      if (std::visit([](const auto& f) { return f.prior().has_value(); }, part(p))) with.push_back(p);
    if (with.empty()) return std::nullopt;
    return with;
  }
  double log_prior() const {
    double total = 0.0;
    for (const auto& part : parts_) total += std::visit([](const auto& f) { return f.log_prior(); }, part);
    return total;
  }
  // A 64-bit hash of every part's parameters: statistics remember the parameters they were
  // computed at (Stats::parameters), so that statistics of other parameters are refused.
  std::uint64_t parameters_fingerprint() const { return fingerprint_; }

  // The product's parameter groups: each family's groups, with the part's prefix.
  static std::vector<std::string> group_names() {
    std::vector<std::string> names;
    add_group_names<Categorical, NormalItems, Poisson, Gaussian>(names);
    return names;
  }
  // Free parameters when the groups in `fixed` (the product's names) are held fixed.
  Index n_free_parameters(const FixedGroups& fixed) const {
    Index n = 0;
    for (const auto& part : parts_)
      n += std::visit(
          [&](const auto& f) {
            using F = std::decay_t<decltype(f)>;
            return ParameterGroups<F>::n_free_parameters(f, part_groups<F>(fixed));
          },
          part);
    return n;
  }

  Workspace prepare(const Data& data, int n_threads) const {
    require(data.parts.size() == parts_.size(), "X: the column groups do not match the model");
    Workspace ws;
    ws.reserve(parts_.size());
    for (size_t p = 0; p < parts_.size(); ++p) {
      require(data.parts[p].index() == parts_[p].index(), "X: the column groups do not match the model");
      std::visit(
          [&](const auto& f) {
            using F = std::decay_t<decltype(f)>;
            constexpr size_t I = detail::ProductFamilies::index<F>();
            ws.emplace_back(std::in_place_index<I>, f.prepare(std::get<I>(data.parts[p]), n_threads));
          },
          parts_[p]);
    }
    return ws;
  }

  // Σ over parts of log p(x_part | k): the first part writes, the others add (in place when the
  // family can, else through a block of its own).
  void log_prob(const Data& data, const Workspace& ws, Index begin, Index end, Eigen::Ref<RowMatrix> out) const {
    RowMatrix part_out;
    for (size_t p = 0; p < parts_.size(); ++p)
      visit_part(p, data, ws, [&](const auto& f, const auto& d, const auto& w) {
        using F = std::decay_t<decltype(f)>;
        if (p == 0) {
          f.log_prob(d, w, begin, end, out);
        } else if constexpr (detail::has_add_log_prob<F>::value) {
          f.add_log_prob(d, w, begin, end, out);
        } else {
          part_out.resize(end - begin, K_);
          f.log_prob(d, w, begin, end, part_out);
          out += part_out;
        }
      });
  }

  Stats make_stats() const {
    Stats s;
    s.parameters = fingerprint_;
    s.parts.reserve(parts_.size());
    for (const auto& part : parts_)
      std::visit(
          [&](const auto& f) {
            using F = std::decay_t<decltype(f)>;
            constexpr size_t I = detail::ProductFamilies::index<F>();
            if constexpr (std::is_same_v<F, Gaussian>)
              s.parts.emplace_back(std::in_place_index<I>, GaussianBlockStats{f.make_stats(), Vector::Zero(K_)});
            else
              s.parts.emplace_back(std::in_place_index<I>, f.make_stats());
          },
          part);
    return s;
  }

  void accumulate(const Data& data, const Workspace& ws, Index begin, Index end,
                  const Eigen::Ref<const RowMatrix>& resp, Stats& stats) const {
    for (size_t p = 0; p < parts_.size(); ++p)
      visit_part(p, data, ws, [&](const auto& f, const auto& d, const auto& w) {
        using F = std::decay_t<decltype(f)>;
        constexpr size_t I = detail::ProductFamilies::index<F>();
        auto& s = std::get<I>(stats.parts[p]);
        if constexpr (std::is_same_v<F, Gaussian>) {
          f.accumulate(d, w, begin, end, resp, s.gaussian);
          if (d.range_complete(begin, end)) {
            s.counts += resp.colwise().sum().transpose();
          } else {
            for (Index i = begin; i < end; ++i)
              if (d.has_observation(i)) s.counts += resp.row(i - begin).transpose();
          }
        } else {
          f.accumulate(d, w, begin, end, resp, s);
        }
      });
  }

  // Each part's M-step (holding the groups in `fixed`, the product's names, at their values); all
  // or nothing: if a part's M-step throws, no part changes. Returns the union of the empty states.
  std::vector<Index> maximize(const Stats& stats, const Vector& resp_sum, double total_weight,
                              const FixedGroups& fixed = {}) {
    std::vector<ProductPart> next = parts_;
    std::vector<char> empty(static_cast<size_t>(K_), 0);
    for (size_t p = 0; p < next.size(); ++p)
      std::visit(
          [&](auto& f) {
            using F = std::decay_t<decltype(f)>;
            constexpr size_t I = detail::ProductFamilies::index<F>();
            const auto& s = std::get<I>(stats.parts[p]);
            std::vector<Index> part_empty;
            if constexpr (std::is_same_v<F, Gaussian>)
              part_empty = ParameterGroups<F>::maximize(f, s.gaussian, s.counts, s.counts.sum(), part_groups<F>(fixed));
            else
              part_empty = ParameterGroups<F>::maximize(f, s, resp_sum, total_weight, part_groups<F>(fixed));
            for (Index k : part_empty) empty[static_cast<size_t>(k)] = 1;
          },
          next[p]);
    parts_ = std::move(next);
    fingerprint_ = hash_parameters();
    return detail::marked_states(empty);
  }

  // One draw of every column from state k, the parts' columns side by side (codes as numbers).
  template <class Rng>
  void sample(Index k, Rng& rng, Eigen::Ref<Vector> out) const {
    Index offset = 0;
    for (const auto& part : parts_)
      std::visit(
          [&](const auto& f) {
            using F = std::decay_t<decltype(f)>;
            const Index q = detail::part_columns(f);
            if constexpr (std::is_same_v<F, Categorical>) {
              Eigen::VectorXi codes(q);
              f.sample(k, rng, codes);
              out.segment(offset, q) = codes.cast<double>();
            } else {
              Vector draw(q);
              f.sample(k, rng, draw);
              out.segment(offset, q) = draw;
            }
            offset += q;
          },
          part);
  }

 private:
  std::vector<ProductPart> parts_;
  Index K_ = 0;
  std::uint64_t fingerprint_ = 0;

  static Index n_states_of(const ProductPart& part) {
    return std::visit([](const auto& f) { return f.n_states(); }, part);
  }

  std::uint64_t hash_parameters() const {
    std::uint64_t h = detail::kHashSeed;
    for (const auto& part : parts_) {
      const std::uint64_t kind = part.index();
      h = detail::hash_bytes(h, &kind, sizeof(kind));
      h = std::visit([&](const auto& f) { return detail::hash_part(h, f); }, part);
    }
    return h;
  }

  template <class... F>
  static void add_group_names(std::vector<std::string>& names) {
    (
        [&] {
          for (const auto& name : ParameterGroups<F>::names()) names.push_back(detail::group_prefix<F>() + name);
        }(),
        ...);
  }

  // The product's fixed groups in the names of family F's own groups.
  template <class F>
  static FixedGroups part_groups(const FixedGroups& fixed) {
    FixedGroups out;
    for (const auto& name : ParameterGroups<F>::names())
      if (fixed.count(detail::group_prefix<F>() + name)) out.insert(name);
    return out;
  }

  // fn(part, its data, its workspace) for part p.
  template <class Fn>
  void visit_part(size_t p, const Data& data, const Workspace& ws, Fn&& fn) const {
    std::visit(
        [&](const auto& f) {
          using F = std::decay_t<decltype(f)>;
          constexpr size_t I = detail::ProductFamilies::index<F>();
          fn(f, std::get<I>(data.parts[p]), std::get<I>(ws[p]));
        },
        parts_[p]);
  }
};

// The product's parameter groups: each part's family's groups, by the names of group_names():
// "emissionprob" (categorical parts), "means" and "variances" (normal items), "rates" (Poisson
// items), "block_means" and "block_covariances" (Gaussian blocks). A group names that group in
// every part of its family. The parts have disjoint parameters and additive log-likelihoods, so
// each part's constrained M-step is its family's (ParameterGroups of the family).
template <>
struct ParameterGroups<Product> {
  static std::vector<std::string> names() { return Product::group_names(); }
  static Index n_free_parameters(const Product& g, const FixedGroups& fixed) { return g.n_free_parameters(fixed); }
  static std::vector<Index> maximize(Product& g, const ProductStats& stats, const Vector& counts, double total_weight,
                                     const FixedGroups& fixed) {
    return g.maximize(stats, counts, total_weight, fixed);
  }
};

}  // namespace emkit
