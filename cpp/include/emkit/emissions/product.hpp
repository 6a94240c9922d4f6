// Mixed-type indicators: the Product family multiplies, under local independence, a Categorical
// part (categorical columns), independent normal items (continuous columns) and Poisson items
// (count columns). Each part sees its own column group; the statistics are the parts'
// statistics side by side. Missing entries (negative codes, NaN) contribute nothing to the
// likelihood or the statistics of their item (full-information ML, as for categorical items).
#pragma once

#include <Eigen/Core>
#include <cmath>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "../types.hpp"
#include "categorical.hpp"

namespace emkit {

// Per-state, per-column sums over the rows where the column is observed, centred on the
// column's previous parameter (the shift) for accuracy.
struct ItemStats {
  RowMatrix shift;   // K × q
  RowMatrix weight;  // sum r
  RowMatrix sum;     // sum r (x - shift)
  RowMatrix square;  // sum r (x - shift)^2 (normal items only)
  ItemStats& operator+=(const ItemStats& other) {
    weight += other.weight;
    sum += other.sum;
    square += other.square;
    return *this;
  }
};

// Independent items with one-parameter-per-state-and-column families: normal (mean, variance)
// or Poisson (rate).
class IndependentItems {
 public:
  enum class Kind { Normal, Poisson };
  static constexpr double kEmptyFraction = 1e-10;

  IndependentItems(Kind kind, RowMatrix location, RowMatrix variance, double reg_covar)
      : kind_(kind), location_(std::move(location)), variance_(std::move(variance)), reg_covar_(reg_covar) {
    require(location_.allFinite(), kind_ == Kind::Normal ? "means: expected finite values" : "rates: expected finite values");
    if (kind_ == Kind::Normal) {
      require(variance_.rows() == location_.rows() && variance_.cols() == location_.cols() &&
                  variance_.allFinite() && (variance_.array() > 0).all(),
              "variances: expected positive values, one per class and continuous item");
      require(reg_covar_ >= 0 && std::isfinite(reg_covar_), "reg_covar: expected a finite value >= 0");
    } else {
      require((location_.array() >= 0).all(), "rates: expected nonnegative values");
    }
  }

  Index n_columns() const { return location_.cols(); }
  Kind kind() const { return kind_; }
  double reg_covar() const { return reg_covar_; }
  const RowMatrix& location() const { return location_; }
  const RowMatrix& variance() const { return variance_; }
  Index n_parameters() const { return location_.size() * (kind_ == Kind::Normal ? 2 : 1); }

  // Adds log f(x_ij | k) of the observed entries of rows [begin, end) to out.
  void add_log_prob(const Eigen::Map<const RowMatrix>& X, Index begin, Index end, Eigen::Ref<RowMatrix> out) const {
    const Index K = location_.rows(), q = n_columns();
    for (Index i = begin; i < end; ++i)
      for (Index j = 0; j < q; ++j) {
        const double x = X(i, j);
        if (std::isnan(x)) continue;
        for (Index k = 0; k < K; ++k) out(i - begin, k) += log_density(x, k, j);
      }
  }

  ItemStats make_stats() const {
    const Index K = location_.rows(), q = n_columns();
    return ItemStats{location_, RowMatrix::Zero(K, q), RowMatrix::Zero(K, q), RowMatrix::Zero(K, q)};
  }

  void accumulate(const Eigen::Map<const RowMatrix>& X, Index begin, Index end,
                  const Eigen::Ref<const RowMatrix>& resp, ItemStats& stats) const {
    const Index K = location_.rows(), q = n_columns();
    for (Index i = begin; i < end; ++i)
      for (Index j = 0; j < q; ++j) {
        const double x = X(i, j);
        if (std::isnan(x)) continue;
        for (Index k = 0; k < K; ++k) {
          const double r = resp(i - begin, k), z = x - stats.shift(k, j);
          stats.weight(k, j) += r;
          stats.sum(k, j) += r * z;
          stats.square(k, j) += r * z * z;
        }
      }
  }

  // Returns whether any (state, column) was empty (kept its parameters); marks states in empty.
  void maximize(const ItemStats& stats, double total_weight, std::vector<char>& empty) {
    const Index K = location_.rows(), q = n_columns();
    for (Index k = 0; k < K; ++k)
      for (Index j = 0; j < q; ++j) {
        const double t = stats.weight(k, j);
        if (t < kEmptyFraction * total_weight) {
          empty[static_cast<size_t>(k)] = 1;
          continue;
        }
        const double s1 = stats.sum(k, j);
        location_(k, j) = stats.shift(k, j) + s1 / t;
        if (kind_ == Kind::Normal) variance_(k, j) = (stats.square(k, j) - s1 * s1 / t) / t + reg_covar_;
      }
    if (kind_ == Kind::Normal && !(variance_.array() > 0).all())
      throw NumericalError("a continuous item's variance collapsed to zero; increase reg_covar");
  }

  template <class Rng>
  double sample(Index k, Index j, Rng& rng) const {
    if (kind_ == Kind::Normal) return std::normal_distribution<double>(location_(k, j), std::sqrt(variance_(k, j)))(rng);
    return static_cast<double>(std::poisson_distribution<long long>(location_(k, j))(rng));
  }

 private:
  Kind kind_;
  RowMatrix location_;  // means or rates, K × q
  RowMatrix variance_;  // normal items only
  double reg_covar_;

  double log_density(double x, Index k, Index j) const {
    if (kind_ == Kind::Normal) {
      const double v = variance_(k, j), d = x - location_(k, j);
      return -0.5 * (kLog2Pi + std::log(v) + d * d / v);
    }
    const double rate = location_(k, j);
    const double x_log_rate = x == 0.0 ? 0.0 : x * std::log(rate);
    return x_log_rate - rate - std::lgamma(x + 1.0);
  }
};

struct ProductData {
  CategoricalData categorical;          // n × (categorical columns), may have 0 columns
  Eigen::Map<const RowMatrix> normal;   // n × (continuous columns)
  Eigen::Map<const RowMatrix> poisson;  // n × (count columns)
  std::shared_ptr<const void> owner;    // keeps the mapped buffers alive when the data owns them
  Index n_rows() const { return categorical.n_rows(); }
};

struct ProductStats {
  std::optional<CategoricalStats> categorical;
  ItemStats normal;
  ItemStats poisson;
  ProductStats& operator+=(const ProductStats& other) {
    if (categorical) *categorical += *other.categorical;
    normal += other.normal;
    poisson += other.poisson;
    return *this;
  }
};

class Product {
 public:
  using Data = ProductData;
  using Stats = ProductStats;
  struct Workspace {};

  Product(std::optional<Categorical> categorical, IndependentItems normal, IndependentItems poisson)
      : categorical_(std::move(categorical)), normal_(std::move(normal)), poisson_(std::move(poisson)) {
    K_ = categorical_ ? categorical_->n_states() : std::max(normal_.location().rows(), poisson_.location().rows());
    require(K_ >= 1, "Product: expected at least one class");
    require(normal_.n_columns() == 0 || normal_.location().rows() == K_, "means: expected one row per class");
    require(poisson_.n_columns() == 0 || poisson_.location().rows() == K_, "rates: expected one row per class");
    require((categorical_ ? categorical_->n_items() : 0) + normal_.n_columns() + poisson_.n_columns() > 0,
            "Product: expected at least one item");
  }

  Index n_states() const { return K_; }
  const std::optional<Categorical>& categorical() const { return categorical_; }
  const IndependentItems& normal() const { return normal_; }
  const IndependentItems& poisson() const { return poisson_; }
  std::optional<RowMatrix> prior() const { return categorical_ ? categorical_->prior() : std::nullopt; }
  Index n_parameters() const {
    return (categorical_ ? categorical_->n_parameters() : 0) + normal_.n_parameters() + poisson_.n_parameters();
  }

  Workspace prepare(const Data& data, int n_threads) const {
    if (categorical_) categorical_->prepare(data.categorical, n_threads);
    require(data.normal.cols() == normal_.n_columns() && data.poisson.cols() == poisson_.n_columns(),
            "X: the column groups do not match the model");
    return {};
  }

  void log_prob(const Data& data, const Workspace&, Index begin, Index end, Eigen::Ref<RowMatrix> out) const {
    if (categorical_)
      categorical_->log_prob(data.categorical, {}, begin, end, out);
    else
      out.setZero();
    normal_.add_log_prob(data.normal, begin, end, out);
    poisson_.add_log_prob(data.poisson, begin, end, out);
  }

  Stats make_stats() const {
    Stats s{std::nullopt, normal_.make_stats(), poisson_.make_stats()};
    if (categorical_) s.categorical = categorical_->make_stats();
    return s;
  }

  void accumulate(const Data& data, const Workspace&, Index begin, Index end, const Eigen::Ref<const RowMatrix>& resp,
                  Stats& stats) const {
    if (categorical_) categorical_->accumulate(data.categorical, {}, begin, end, resp, *stats.categorical);
    normal_.accumulate(data.normal, begin, end, resp, stats.normal);
    poisson_.accumulate(data.poisson, begin, end, resp, stats.poisson);
  }

  std::vector<Index> maximize(const Stats& stats, const Vector& resp_sum, double total_weight) {
    std::vector<char> empty(static_cast<size_t>(K_), 0);
    if (categorical_)
      for (Index k : categorical_->maximize(*stats.categorical, resp_sum, total_weight)) empty[static_cast<size_t>(k)] = 1;
    normal_.maximize(stats.normal, total_weight, empty);
    poisson_.maximize(stats.poisson, total_weight, empty);
    std::vector<Index> out;
    for (Index k = 0; k < K_; ++k)
      if (empty[static_cast<size_t>(k)]) out.push_back(k);
    return out;
  }

  double log_prior() const { return categorical_ ? categorical_->log_prior() : 0.0; }

 private:
  std::optional<Categorical> categorical_;
  IndependentItems normal_;
  IndependentItems poisson_;
  Index K_ = 0;
};

}  // namespace emkit
