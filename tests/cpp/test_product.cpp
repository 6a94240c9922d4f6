// The Product family and the independent-item families it composes: a product's log-densities are
// the sums of its parts', its statistics add up over row ranges, its M-step is each part's (held
// groups restored bit for bit, all or nothing), and Mixture<Poisson> takes the EM step computed
// by hand.
#include <emkit/emkit.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <utility>
#include <vector>

#include "check.hpp"

using namespace emkit;

namespace {

const double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr Index K = 2, n_rows = 300;

// Columns [code | normal | count | block (3, full covariance)], some entries missing, the block
// entirely missing in some rows.
struct Rows {
  CodeMatrix codes;
  RowMatrix all;    // n × 5: normal, count, block
  RowMatrix block;  // n × 3, contiguous
};

Rows make_rows(std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  std::poisson_distribution<int> counts(2.0);
  Rows r{CodeMatrix(n_rows, 1), RowMatrix(n_rows, 5), RowMatrix(n_rows, 3)};
  for (Index i = 0; i < n_rows; ++i) {
    const double c = static_cast<double>(i % 2);
    r.codes(i, 0) = uniform(rng) < 0.1 ? -1 : static_cast<std::int32_t>(uniform(rng) * 3.0);
    r.all(i, 0) = uniform(rng) < 0.1 ? kNaN : 2.0 * c + normal(rng);
    r.all(i, 1) = uniform(rng) < 0.1 ? kNaN : static_cast<double>(counts(rng)) + c;
    for (Index j = 0; j < 3; ++j) r.all(i, 2 + j) = uniform(rng) < 0.2 ? kNaN : c + normal(rng) + 0.5 * j;
    if (i % 17 == 0) r.all.row(i).tail(3).setConstant(kNaN);
  }
  r.block = r.all.rightCols(3);
  return r;
}

Categorical categorical_part() {
  RowMatrix probs(K, 3);
  probs << 0.5, 0.3, 0.2, 0.1, 0.3, 0.6;
  return Categorical({3}, std::move(probs));
}
NormalItems normal_part() {
  RowMatrix means(K, 1), variances(K, 1);
  means << 0.2, 1.8;
  variances << 1.1, 0.9;
  return NormalItems(std::move(means), std::move(variances), 1e-6);
}
Poisson poisson_part() {
  RowMatrix rates(K, 1);
  rates << 1.5, 3.5;
  return Poisson(std::move(rates));
}
Gaussian block_part() {
  RowMatrix means(K, 3), cov = RowMatrix::Zero(K, 9);
  means << 0.0, 0.5, 1.0, 1.0, 1.5, 2.0;
  for (Index k = 0; k < K; ++k)
    for (Index a = 0; a < 3; ++a)
      for (Index b = 0; b < 3; ++b) cov(k, a * 3 + b) = a == b ? 1.0 + 0.3 * static_cast<double>(k) : 0.25;
  return Gaussian(CovarianceType::Full, means, cov, 1e-6);
}

Product make_product() { return Product({categorical_part(), normal_part(), poisson_part(), block_part()}); }

Rows slice(const Rows& r, Index begin, Index n) {
  return {r.codes.middleRows(begin, n), r.all.middleRows(begin, n), r.block.middleRows(begin, n)};
}

// The parts' views of the rows: the normal and count columns read in place (row stride 5).
ProductData product_data(const Rows& r) {
  const Index n = r.codes.rows();
  ProductData data;
  data.parts.emplace_back(CategoricalData(r.codes.data(), n, 1));
  data.parts.emplace_back(ItemColumnsData(r.all.data(), n, 1, 5));
  data.parts.emplace_back(PoissonData(r.all.data() + 1, n, 1, 5));
  data.parts.emplace_back(GaussianData(r.block.data(), n, 3, /*allow_unobserved_rows=*/true));
  return data;
}

template <class Family>
RowMatrix log_prob_of(const Family& f, const typename Family::Data& data) {
  const auto ws = f.prepare(data, 1);
  RowMatrix out(data.n_rows(), f.n_states());
  for (Index b = 0; b < data.n_rows(); b += kBlockRows) {
    const Index e = std::min(data.n_rows(), b + kBlockRows);
    f.log_prob(data, ws, b, e, out.middleRows(b, e - b));
  }
  return out;
}

}  // namespace

TEST(product_log_prob_is_the_sum_of_its_parts) {
  const Rows r = make_rows(1);
  const ProductData data = product_data(r);
  const RowMatrix total = log_prob_of(make_product(), data);
  const RowMatrix parts = log_prob_of(categorical_part(), std::get<0>(data.parts[0])) +
                          log_prob_of(normal_part(), std::get<1>(data.parts[1])) +
                          log_prob_of(poisson_part(), std::get<2>(data.parts[2])) +
                          log_prob_of(block_part(), std::get<3>(data.parts[3]));
  CHECK((total - parts).cwiseAbs().maxCoeff() < 1e-12);
  // A row whose block is entirely missing gets nothing from the block.
  const RowMatrix items = log_prob_of(categorical_part(), std::get<0>(data.parts[0])) +
                          log_prob_of(normal_part(), std::get<1>(data.parts[1])) +
                          log_prob_of(poisson_part(), std::get<2>(data.parts[2]));
  CHECK((total.row(17) - items.row(17)).cwiseAbs().maxCoeff() < 1e-12);
}

TEST(item_densities_are_the_normal_and_poisson_densities) {
  const RowMatrix X = (RowMatrix(3, 1) << 0.0, 4.0, kNaN).finished();
  const RowMatrix lp = log_prob_of(poisson_part(), PoissonData(X.data(), 3, 1));
  CHECK_NEAR(lp(0, 1), -3.5, 1e-14);
  CHECK_NEAR(lp(1, 0), 4.0 * std::log(1.5) - 1.5 - std::log(24.0), 1e-13);
  CHECK(lp(2, 0) == 0.0 && lp(2, 1) == 0.0);
  const RowMatrix ln = log_prob_of(normal_part(), ItemColumnsData(X.data(), 3, 1));
  CHECK_NEAR(ln(1, 1), -0.5 * (std::log(2.0 * M_PI * 0.9) + (4.0 - 1.8) * (4.0 - 1.8) / 0.9), 1e-13);
  // A zero rate: a zero count has probability one, a positive count zero.
  const Poisson zero(RowMatrix::Zero(1, 1));
  const RowMatrix lz = log_prob_of(zero, PoissonData(X.data(), 3, 1));
  CHECK(lz(0, 0) == 0.0 && lz(1, 0) == kNegInf);
}

TEST(product_statistics_of_two_row_ranges_add_up_to_all_rows) {
  const Rows r = make_rows(2);
  Mixture<Product> model((Vector(2) << 0.4, 0.6).finished(), make_product());
  const ProductData data = product_data(r);
  const auto whole = model.e_step({data, Vector()}, 1);
  // The first 100 rows and the rest, as separate datasets.
  const Rows first = slice(r, 0, 100), rest = slice(r, 100, n_rows - 100);
  auto sum = model.e_step({product_data(first), Vector()}, 1);
  sum += model.e_step({product_data(rest), Vector()}, 2);
  CHECK_NEAR(sum.loglik, whole.loglik, 1e-12 * std::abs(whole.loglik));
  const auto& a = std::get<GaussianBlockStats>(sum.emission.parts[3]);
  const auto& b = std::get<GaussianBlockStats>(whole.emission.parts[3]);
  CHECK((a.gaussian.scatter - b.gaussian.scatter).cwiseAbs().maxCoeff() < 1e-10);
  CHECK((a.counts - b.counts).cwiseAbs().maxCoeff() < 1e-10);
  // The block's counts leave out the rows where it is entirely missing.
  CHECK(b.counts.sum() < whole.total_weight - 10.0);
  CHECK(sum.emission.parameters == model.emission().parameters_fingerprint());
}

TEST(product_m_step_holds_fixed_groups_and_changes_all_parts_or_none) {
  const Rows r = make_rows(3);
  const ProductData data = product_data(r);
  Mixture<Product> model((Vector(2) << 0.5, 0.5).finished(), make_product());
  const auto stats = model.e_step({data, Vector()}, 1);
  Product held = model.emission();
  const std::uint64_t before = held.parameters_fingerprint();
  held.maximize(stats.emission, stats.resp_sum, stats.total_weight, {"block_means", "rates", "emissionprob"});
  CHECK(held.find<Gaussian>()->means() == make_product().find<Gaussian>()->means());
  CHECK(held.find<Poisson>()->rates() == poisson_part().rates());
  CHECK(held.find<Categorical>()->probs() == categorical_part().probs());
  CHECK(held.find<NormalItems>()->means() != normal_part().means());
  CHECK(held.find<Gaussian>()->covariances() != block_part().covariances());
  CHECK(held.parameters_fingerprint() != before);
  const auto names = Product::group_names();
  CHECK(names == std::vector<std::string>({"emissionprob", "means", "variances", "rates", "block_means",
                                           "block_covariances"}));
  // Free parameters: categorical 2·2, normal 2·2, Poisson 2, block 2·3 means + 2·6 covariances.
  CHECK(model.emission().n_parameters() == 4 + 4 + 2 + 18);
  CHECK(model.emission().n_free_parameters({"block_covariances", "rates"}) == 4 + 4 + 6);

  // A normal item whose values are constant within a state collapses with reg_covar = 0: the
  // M-step throws and no part moves (the categorical part was updated first on a copy).
  RowMatrix constant = RowMatrix::Constant(n_rows, 1, 1.0);
  RowMatrix means(K, 1), variances(K, 1);
  means << 1.0, 1.0;
  variances << 1.0, 1.0;
  Product fragile({categorical_part(), NormalItems(means, variances, 0.0)});
  ProductData d2;
  d2.parts.emplace_back(CategoricalData(r.codes.data(), n_rows, 1));
  d2.parts.emplace_back(ItemColumnsData(constant.data(), n_rows, 1));
  Mixture<Product> m2((Vector(2) << 0.5, 0.5).finished(), fragile);
  const auto s2 = m2.e_step({d2, Vector()}, 1);
  CHECK_THROWS(m2.m_step(s2), NumericalError);
  CHECK(m2.emission().find<Categorical>()->probs() == categorical_part().probs());
}

TEST(poisson_mixture_takes_the_em_step_computed_by_hand) {
  // Two count columns, the second missing in row 2; weights per row.
  RowMatrix X(4, 2);
  X << 0, 3, 2, 1, 5, kNaN, 1, 0;
  const Vector w = (Vector(4) << 1.0, 2.0, 0.5, 1.5).finished();
  RowMatrix rates(2, 2);
  rates << 1.0, 2.0, 4.0, 0.5;
  const Vector pi = (Vector(2) << 0.3, 0.7).finished();
  Mixture<Poisson> model(pi, Poisson(rates));
  const MixtureData<Poisson> data{PoissonData(X.data(), 4, 2), w};
  const auto stats = model.e_step(data, 1);
  // By hand: r_ik = w_i π_k p(x_i|k) / Σ_l π_l p(x_i|l), p = Π over observed columns.
  RowMatrix r(4, 2);
  double loglik = 0.0;
  for (Index i = 0; i < 4; ++i) {
    double joint[2];
    for (Index k = 0; k < 2; ++k) {
      double p = pi[k];
      for (Index j = 0; j < 2; ++j)
        if (!std::isnan(X(i, j)))
          p *= std::exp(-rates(k, j)) * std::pow(rates(k, j), X(i, j)) / std::tgamma(X(i, j) + 1.0);
      joint[k] = p;
    }
    const double total = joint[0] + joint[1];
    loglik += w[i] * std::log(total);
    for (Index k = 0; k < 2; ++k) r(i, k) = w[i] * joint[k] / total;
  }
  CHECK_NEAR(stats.loglik, loglik, 1e-12 * std::abs(loglik));
  model.m_step(stats);
  for (Index k = 0; k < 2; ++k) {
    CHECK_NEAR(model.weights()[k], r.col(k).sum() / w.sum(), 1e-14);
    for (Index j = 0; j < 2; ++j) {
      double t = 0.0, s = 0.0;
      for (Index i = 0; i < 4; ++i)
        if (!std::isnan(X(i, j))) t += r(i, k), s += r(i, k) * X(i, j);
      CHECK_NEAR(model.emission().rates()(k, j), s / t, 1e-13);
    }
  }
  CHECK(model.n_parameters() == 1 + 4);
}

TEST(poisson_rates_of_all_zero_counts_are_exactly_zero_and_counts_are_checked) {
  RowMatrix X = RowMatrix::Zero(5, 1);
  Mixture<Poisson> model((Vector(1) << 1.0).finished(), Poisson(RowMatrix::Constant(1, 1, 0.7)));
  model.m_step(model.e_step({PoissonData(X.data(), 5, 1), Vector()}, 1));
  CHECK(model.emission().rates()(0, 0) == 0.0);
  X(3, 0) = 1.5;
  CHECK_THROWS(PoissonData(X.data(), 5, 1), InvalidArgument);
  X(3, 0) = -1.0;
  CHECK_THROWS(PoissonData(X.data(), 5, 1), InvalidArgument);
}

int main() { return emkit_test::run_all("test_product"); }
