// The Categorical emission family, specified against direct computation: log-densities as sums of
// log-probabilities, statistics as counts, the M-step as frequencies (and the Dirichlet MAP), the
// prior's density, and missing codes integrated out.
#include <emkit/emissions/categorical.hpp>
#include <emkit/structures/mixture.hpp>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "check.hpp"
#include "family_blocks.hpp"

using namespace emkit;

namespace {

// Items of 2, 3, 9, 9, 4 and 2 categories: pairs whose code table is small share one (2×3, 4×2),
// the two 9-category items (100 cells) do not.
const std::vector<Index> kCategories = {2, 3, 9, 9, 4, 2};

Index total_categories() {
  Index t = 0;
  for (const Index r : kCategories) t += r;
  return t;
}

// Random probabilities per state and item (rows of each item's block sum to one).
RowMatrix random_probs(Index K, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> uniform(0.05, 1.0);
  RowMatrix probs(K, total_categories());
  for (Index k = 0; k < K; ++k) {
    Index offset = 0;
    for (const Index r : kCategories) {
      for (Index c = 0; c < r; ++c) probs(k, offset + c) = uniform(rng);
      probs.row(k).segment(offset, r) /= probs.row(k).segment(offset, r).sum();
      offset += r;
    }
  }
  return probs;
}

// Random codes with a fraction missing (negative), and one row entirely missing.
CodeMatrix random_codes(Index n, double missing, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  const Index J = static_cast<Index>(kCategories.size());
  CodeMatrix codes(n, J);
  for (Index i = 0; i < n; ++i)
    for (Index j = 0; j < J; ++j)
      codes(i, j) = uniform(rng) < missing ? -1 : static_cast<std::int32_t>(rng() % static_cast<std::uint64_t>(kCategories[j]));
  codes.row(n / 2).setConstant(-3);
  return codes;
}

// log p(x_i | k) = Σ_j over observed items of log ρ_kj,x_ij.
double direct_log_prob(const RowMatrix& probs, const CodeMatrix& codes, Index i, Index k) {
  double total = 0.0;
  Index offset = 0;
  for (size_t j = 0; j < kCategories.size(); ++j) {
    const std::int32_t c = codes(i, static_cast<Index>(j));
    if (c >= 0) total += std::log(probs(k, offset + c));
    offset += kCategories[j];
  }
  return total;
}

RowMatrix log_prob(const Categorical& family, const CodeMatrix& codes) {
  const CategoricalData data(codes.data(), codes.rows(), codes.cols());
  return emkit_test::log_prob_by_blocks(family, data, family.prepare(data, 1));
}

TEST(log_prob_is_the_sum_of_the_observed_items_log_probabilities) {
  const CodeMatrix codes = random_codes(700, 0.15, 1);
  for (const Index K : {Index(1), Index(3), Index(8), Index(33)}) {  // below, at and beyond the register kernels
    const RowMatrix probs = random_probs(K, 10 + static_cast<std::uint64_t>(K));
    const RowMatrix out = log_prob(Categorical(kCategories, probs), codes);
    double worst = 0.0;
    for (Index i = 0; i < codes.rows(); ++i)
      for (Index k = 0; k < K; ++k) worst = std::max(worst, std::abs(out(i, k) - direct_log_prob(probs, codes, i, k)));
    CHECK(worst < 1e-12);
  }
}

TEST(a_row_with_every_item_missing_has_log_prob_zero) {
  const CodeMatrix codes = random_codes(300, 0.0, 2);
  const RowMatrix out = log_prob(Categorical(kCategories, random_probs(4, 3)), codes);
  CHECK(out.row(150).isZero(0.0));
}

TEST(accumulate_adds_the_responsibilities_per_item_and_observed_code) {
  const Index K = 5, n = 900;
  const CodeMatrix codes = random_codes(n, 0.2, 4);
  const Categorical family(kCategories, random_probs(K, 5));
  std::mt19937_64 rng(6);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  RowMatrix resp(n, K);
  for (Index i = 0; i < n; ++i)
    for (Index k = 0; k < K; ++k) resp(i, k) = uniform(rng);
  const CategoricalData data(codes.data(), n, codes.cols());
  const auto ws = family.prepare(data, 1);
  CategoricalStats stats = family.make_stats();
  for (Index b = 0; b < n; b += kBlockRows) {
    const Index e = std::min(n, b + kBlockRows);
    family.accumulate(data, ws, b, e, resp.middleRows(b, e - b), stats);
  }
  RowMatrix expected = RowMatrix::Zero(K, total_categories());
  for (Index i = 0; i < n; ++i) {
    Index offset = 0;
    for (size_t j = 0; j < kCategories.size(); ++j) {
      const std::int32_t c = codes(i, static_cast<Index>(j));
      if (c >= 0) expected.col(offset + c) += resp.row(i).transpose();
      offset += kCategories[j];
    }
  }
  CHECK((stats.counts - expected).cwiseAbs().maxCoeff() < 1e-10);
}

TEST(maximize_gives_each_items_frequencies_over_the_rows_observing_it) {
  const Index K = 2;
  Categorical family(kCategories, random_probs(K, 7));
  CategoricalStats stats{RowMatrix::Zero(K, total_categories())};
  std::mt19937_64 rng(8);
  for (Index k = 0; k < K; ++k)
    for (Index t = 0; t < total_categories(); ++t) stats.counts(k, t) = static_cast<double>(rng() % 20 + 1);
  family.maximize(stats, Vector::Constant(K, 100.0), 200.0);
  Index offset = 0;
  for (const Index r : kCategories) {
    for (Index k = 0; k < K; ++k) {
      const double t = stats.counts.row(k).segment(offset, r).sum();
      for (Index c = 0; c < r; ++c) CHECK_NEAR(family.probs()(k, offset + c), stats.counts(k, offset + c) / t, 1e-15);
    }
    offset += r;
  }
}

TEST(maximize_under_the_prior_is_the_dirichlet_map) {
  const Index K = 3;
  const double a = 2.5;
  Categorical family(kCategories, random_probs(K, 9), a);
  CategoricalStats stats{RowMatrix::Zero(K, total_categories())};
  std::mt19937_64 rng(10);
  for (Index k = 0; k < K; ++k)
    for (Index t = 0; t < total_categories(); ++t) stats.counts(k, t) = static_cast<double>(rng() % 7);
  family.maximize(stats, Vector::Constant(K, 50.0), 150.0);
  Index offset = 0;
  for (const Index r : kCategories) {
    for (Index k = 0; k < K; ++k) {
      const double t = stats.counts.row(k).segment(offset, r).sum();
      for (Index c = 0; c < r; ++c)
        CHECK_NEAR(family.probs()(k, offset + c),
                   (stats.counts(k, offset + c) + a - 1.0) / (t + static_cast<double>(r) * (a - 1.0)), 1e-15);
    }
    offset += r;
  }
}

TEST(an_item_no_row_of_a_state_observed_keeps_its_probabilities) {
  const Index K = 2;
  const RowMatrix start = random_probs(K, 11);
  Categorical family(kCategories, start);
  CategoricalStats stats{RowMatrix::Ones(K, total_categories())};
  stats.counts.row(1).segment(0, 2).setZero();  // state 1 never observed item 0
  family.maximize(stats, Vector::Constant(K, 10.0), 20.0);
  CHECK(family.probs().row(1).segment(0, 2) == start.row(1).segment(0, 2));
  CHECK_NEAR(family.probs()(0, 0), 0.5, 1e-15);
}

TEST(log_prior_is_the_normalised_dirichlet_density) {
  const Index K = 2;
  const double a = 3.0;
  const RowMatrix probs = random_probs(K, 12);
  const Categorical family(kCategories, probs, a);
  double expected = 0.0;
  for (Index k = 0; k < K; ++k) {
    Index offset = 0;
    for (const Index r : kCategories) {
      const double R = static_cast<double>(r);
      expected += std::lgamma(R * a) - R * std::lgamma(a);
      for (Index c = 0; c < r; ++c) expected += (a - 1.0) * std::log(probs(k, offset + c));
      offset += r;
    }
  }
  CHECK_NEAR(family.log_prior(), expected, 1e-10 * std::abs(expected));
  CHECK(Categorical(kCategories, probs).log_prior() == 0.0);
}

TEST(bad_arguments_are_rejected_naming_them) {
  const RowMatrix probs = random_probs(2, 13);
  CHECK_THROWS(Categorical(kCategories, probs, 0.5), std::invalid_argument);  // concentration < 1
  CHECK_THROWS(Categorical({2, 1}, RowMatrix::Constant(2, 3, 0.5)), std::invalid_argument);  // 1 category
  CHECK_THROWS(Categorical(kCategories, probs.leftCols(3)), std::invalid_argument);  // wrong width
  CodeMatrix codes = random_codes(10, 0.0, 14);
  codes(3, 2) = 9;  // item 2 has 9 categories: codes 0..8
  CHECK_THROWS(log_prob(Categorical(kCategories, probs), codes), std::invalid_argument);
}

TEST(a_latent_class_fit_is_bit_identical_across_thread_counts) {
  const CodeMatrix codes = random_codes(3000, 0.1, 15);
  auto fit = [&](int threads) {
    Mixture<Categorical> model(Vector::Constant(3, 1.0 / 3.0), Categorical(kCategories, random_probs(3, 16)));
    const MixtureData<Categorical> data{CategoricalData(codes.data(), codes.rows(), codes.cols()), Vector()};
    for (int it = 0; it < 5; ++it) model.m_step(model.e_step(data, threads));
    return model.emission().probs();
  };
  const RowMatrix one = fit(1);
  CHECK(fit(2) == one);
  CHECK(fit(4) == one);
}

}  // namespace

int main() { return emkit_test::run_all("categorical"); }
