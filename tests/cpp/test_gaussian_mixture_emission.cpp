// The Gaussian-mixture emission family (GMMHMM's): its densities against the Gaussian family it
// wraps, its HMM fit against the Gaussian HMM when every state has one component, and its M-step
// policies (zero weights stay zero, bad weights rejected).
#include <emkit/emkit.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "check.hpp"
#include "family_blocks.hpp"

using namespace emkit;

namespace {

const double kNaN = std::numeric_limits<double>::quiet_NaN();

RowMatrix random_rows(Index n, Index d, std::uint64_t seed, double missing = 0.0) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  RowMatrix X(n, d);
  for (Index i = 0; i < n; ++i) {
    const double centre = 3.0 * static_cast<double>((i / 9) % 3);
    for (Index j = 0; j < d; ++j) X(i, j) = centre + normal(rng);
    for (Index j = 0; j + 1 < d; ++j)
      if (uniform(rng) < missing) X(i, j) = kNaN;
  }
  return X;
}

// K = 2 states, M components each, full covariances (diagonal entries 1 + 0.2·(k·M + m)).
GaussianMixtureEmission two_state_mixture(Index M, Index d, RowMatrix weights) {
  RowMatrix means(2 * M, d), cov = RowMatrix::Zero(2 * M, d * d);
  for (Index c = 0; c < 2 * M; ++c) {
    means.row(c).setConstant(1.5 * static_cast<double>(c));
    for (Index j = 0; j < d; ++j) cov(c, j * d + j) = 1.0 + 0.2 * static_cast<double>(c);
  }
  return GaussianMixtureEmission(CovarianceType::Full, std::move(weights), means, cov, 1e-6);
}

RowMatrix log_prob_of(const GaussianMixtureEmission& e, const RowMatrix& X) {
  const GaussianData data(X.data(), X.rows(), X.cols(), true);
  return emkit_test::log_prob_by_blocks(e, data, e.prepare(data, 1));
}

}  // namespace

TEST(log_prob_is_the_log_sum_of_the_weighted_component_densities) {
  const Index M = 3, d = 2;
  RowMatrix weights(2, M);
  weights << 0.2, 0.5, 0.3, 0.6, 0.1, 0.3;
  const auto e = two_state_mixture(M, d, weights);
  RowMatrix X = random_rows(300, d, 7, 0.2);
  X.row(5).setConstant(kNaN);  // nothing observed: log-probability 0
  const RowMatrix got = log_prob_of(e, X);
  // The same components as one Gaussian family with 2·M states.
  const Gaussian all(CovarianceType::Full, e.means(), e.covariances(), 1e-6);
  const GaussianData data(X.data(), X.rows(), X.cols(), true);
  const auto ws = all.prepare(data, 1);
  RowMatrix components(X.rows(), 2 * M);
  for (Index b = 0; b < X.rows(); b += kBlockRows) {
    const Index end = std::min(X.rows(), b + kBlockRows);
    all.log_prob(data, ws, b, end, components.middleRows(b, end - b));
  }
  for (Index i = 0; i < X.rows(); ++i)
    for (Index k = 0; k < 2; ++k) {
      double total = 0.0;
      for (Index m = 0; m < M; ++m) total += weights(k, m) * std::exp(components(i, k * M + m));
      const double expected = i == 5 ? 0.0 : std::log(total);
      CHECK_NEAR(got(i, k), expected, 1e-10 * (1.0 + std::abs(expected)));
    }
}

TEST(one_component_per_state_fits_as_the_gaussian_hmm) {
  const Index d = 2;
  const RowMatrix X = random_rows(400, d, 3, 0.15);
  const auto mixture = two_state_mixture(1, d, RowMatrix::Ones(2, 1));
  Vector startprob(2);
  startprob << 0.6, 0.4;
  RowMatrix transmat(2, 2);
  transmat << 0.9, 0.1, 0.2, 0.8;
  HMM<GaussianMixtureEmission> gmm(startprob, transmat, mixture);
  GaussianHMM gaussian(startprob, transmat, Gaussian(CovarianceType::Full, mixture.means(), mixture.covariances(), 1e-6));
  const std::vector<Index> offsets = {0, 150, 400};
  const HMM<GaussianMixtureEmission>::Data gmm_data(GaussianData(X.data(), X.rows(), d, true), offsets);
  const GaussianHMM::Data gaussian_data(GaussianData(X.data(), X.rows(), d, true), offsets);
  for (int it = 0; it < 5; ++it) {
    const auto a = gmm.e_step(gmm_data, 2);
    const auto b = gaussian.e_step(gaussian_data, 2);
    CHECK_NEAR(a.loglik, b.loglik, 1e-10 * std::abs(b.loglik));
    gmm.m_step(a);
    gaussian.m_step(b);
  }
  CHECK((gmm.emission().means() - gaussian.emission().means()).cwiseAbs().maxCoeff() < 1e-10);
  CHECK((gmm.emission().covariances() - gaussian.emission().covariances()).cwiseAbs().maxCoeff() < 1e-10);
  CHECK((gmm.transmat() - gaussian.transmat()).cwiseAbs().maxCoeff() < 1e-12);
}

TEST(a_zero_weight_stays_zero_and_weights_sum_to_one) {
  const Index M = 2, d = 2;
  RowMatrix weights(2, M);
  weights << 1.0, 0.0, 0.5, 0.5;
  const auto e = two_state_mixture(M, d, weights);
  RowMatrix alpha = RowMatrix::Constant(2, M, 2.0);  // a prior would move a zero off the boundary
  GaussianMixtureEmission with_prior(CovarianceType::Full, weights, e.means(), e.covariances(), 1e-6, std::nullopt,
                                     alpha);
  Vector startprob = Vector::Constant(2, 0.5);
  RowMatrix transmat = RowMatrix::Constant(2, 2, 0.5);
  HMM<GaussianMixtureEmission> model(startprob, transmat, with_prior);
  const RowMatrix X = random_rows(200, d, 5);
  const HMM<GaussianMixtureEmission>::Data data(GaussianData(X.data(), X.rows(), d, true), {0, 200});
  for (int it = 0; it < 3; ++it) model.m_step(model.e_step(data, 1));
  CHECK(model.emission().weights()(0, 1) == 0.0);
  CHECK(model.emission().weights()(0, 0) == 1.0);
  CHECK_NEAR(model.emission().weights().row(1).sum(), 1.0, 1e-14);
  CHECK(model.emission().n_weight_parameters() == 1);
}

TEST(bad_weights_and_priors_are_rejected) {
  RowMatrix bad(2, 2);
  bad << 0.5, 0.6, 0.5, 0.5;
  CHECK_THROWS(two_state_mixture(2, 2, bad), InvalidArgument);
  RowMatrix weights = RowMatrix::Constant(2, 2, 0.5);
  const auto e = two_state_mixture(2, 2, weights);
  CHECK_THROWS(GaussianMixtureEmission(CovarianceType::Full, weights, e.means(), e.covariances(), 1e-6, std::nullopt,
                                       RowMatrix::Constant(2, 2, 0.5)),
               InvalidArgument);
  CHECK_THROWS(GaussianMixtureEmission(CovarianceType::Full, weights, e.means().topRows(3), e.covariances(), 1e-6),
               InvalidArgument);
}

int main() { return emkit_test::run_all("test_gaussian_mixture_emission"); }
