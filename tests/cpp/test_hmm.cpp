// The HMM structure, its forward-backward kernels and the sequence reduction, specified against
// the exact log-space recursions and hand-checkable cases.
#include <emkit/emkit.hpp>

#include <cstdint>
#include <limits>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "check.hpp"

using namespace emkit;

namespace {

const double kNaN = std::numeric_limits<double>::quiet_NaN();

RowMatrix random_rows(Index n, Index d, std::uint64_t seed, double missing = 0.0, double unobserved = 0.0) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  RowMatrix X(n, d);
  for (Index i = 0; i < n; ++i) {
    const double centre = 3.0 * static_cast<double>((i / 7) % 3);
    for (Index j = 0; j < d; ++j) X(i, j) = centre + normal(rng);
    if (uniform(rng) < unobserved) {
      X.row(i).setConstant(kNaN);
      continue;
    }
    for (Index j = 0; j + 1 < d; ++j)
      if (uniform(rng) < missing) X(i, j) = kNaN;
  }
  return X;
}

GaussianHMM three_state_model(CovarianceType type, Index d) {
  RowMatrix means(3, d);
  for (Index k = 0; k < 3; ++k) means.row(k).setConstant(3.0 * static_cast<double>(k) + 0.2);
  RowMatrix cov;
  switch (type) {
    case CovarianceType::Full:
      cov = RowMatrix::Zero(3, d * d);
      for (Index k = 0; k < 3; ++k)
        for (Index j = 0; j < d; ++j) cov(k, j * d + j) = 1.0 + 0.3 * static_cast<double>(k);
      break;
    case CovarianceType::Tied:
      cov = RowMatrix::Zero(1, d * d);
      for (Index j = 0; j < d; ++j) cov(0, j * d + j) = 1.5;
      break;
    case CovarianceType::Diag: cov = RowMatrix::Constant(3, d, 1.2); break;
    case CovarianceType::Spherical: cov = RowMatrix::Constant(3, 1, 0.9); break;
  }
  Vector startprob(3);
  startprob << 0.5, 0.3, 0.2;
  RowMatrix transmat(3, 3);
  transmat << 0.8, 0.15, 0.05, 0.1, 0.7, 0.2, 0.25, 0.25, 0.5;
  return GaussianHMM(startprob, transmat, Gaussian(type, means, cov, 1e-6));
}

RowMatrix log_lik_of(const GaussianHMM& model, const RowMatrix& X) {
  const GaussianData data(X.data(), X.rows(), X.cols(), true);
  const auto ws = model.emission().prepare(data, 1);
  RowMatrix out(X.rows(), model.n_states());
  for (Index b = 0; b < X.rows(); b += kBlockRows) {
    const Index e = std::min(X.rows(), b + kBlockRows);
    model.emission().log_prob(data, ws, b, e, out.middleRows(b, e - b));
  }
  return out;
}

double max_abs_diff(const RowMatrix& a, const RowMatrix& b) { return (a - b).cwiseAbs().maxCoeff(); }

}  // namespace

TEST(sequence_plan_covers_every_sequence_once_with_long_sequences_solo) {
  std::vector<Index> lengths = {10, 20, 100000, 5, 7, 30000, 3, 1, 2000};
  for (int i = 0; i < 500; ++i) lengths.push_back(1 + (i * 37) % 400);
  const Index n = std::accumulate(lengths.begin(), lengths.end(), Index{0});
  const std::vector<Index> offsets = sequence_offsets(lengths, n);
  const SequencePlan plan = plan_sequences(offsets);
  CHECK(plan.first.front() == 0 && plan.first.back() == static_cast<Index>(lengths.size()));
  CHECK(plan.n_chunks() <= 2 * kMaxChunks + 1);
  for (Index c = 0; c < plan.n_chunks(); ++c) {
    CHECK(plan.first[c + 1] > plan.first[c]);
    if (plan.solo[c]) CHECK(plan.first[c + 1] - plan.first[c] == 1);
  }
  // The two long sequences (indices 2 and 5) are solo chunks, nothing else is.
  Index solo = 0;
  for (Index c = 0; c < plan.n_chunks(); ++c)
    if (plan.solo[c]) {
      ++solo;
      CHECK(plan.first[c] == 2 || plan.first[c] == 5);
    }
  CHECK(solo == 2);
}

TEST(sequence_offsets_reject_bad_lengths) {
  CHECK_THROWS(sequence_offsets({3, 0, 2}, 5), InvalidArgument);
  CHECK_THROWS(sequence_offsets({3, -1, 3}, 5), InvalidArgument);
  CHECK_THROWS(sequence_offsets({3, 3}, 7), InvalidArgument);
  CHECK_THROWS(sequence_offsets({}, 0), InvalidArgument);
}

TEST(gaussian_data_accepts_unobserved_rows_only_when_asked) {
  RowMatrix X(3, 2);
  X << 1.0, 2.0, kNaN, kNaN, 0.5, kNaN;
  CHECK_THROWS(GaussianData(X.data(), 3, 2), InvalidArgument);
  const GaussianData data(X.data(), 3, 2, true);
  CHECK(data.has_observation(0) && !data.has_observation(1) && data.has_observation(2));
  for (const CovarianceType type : {CovarianceType::Full, CovarianceType::Tied, CovarianceType::Diag,
                                    CovarianceType::Spherical}) {
    const GaussianHMM model = three_state_model(type, 2);
    const Gaussian& g = model.emission();
    const auto ws = g.prepare(data, 1);
    RowMatrix lp(3, 3);
    g.log_prob(data, ws, 0, 3, lp);
    CHECK(lp.row(1).isZero(0.0));  // nothing observed: log p = 0 for every state
    CHECK(lp.allFinite());
    // The unobserved row adds nothing to the statistics, whatever its responsibilities.
    RowMatrix resp = RowMatrix::Constant(3, 3, 0.4);
    GaussianStats with = g.make_stats(), without = g.make_stats();
    g.accumulate(data, ws, 0, 3, resp, with);
    resp.row(1).setZero();
    g.accumulate(data, ws, 0, 3, resp, without);
    CHECK(with.sum == without.sum && with.scatter == without.scatter);
  }
}

TEST(scaled_forward_backward_equals_log_space_recursions) {
  for (const CovarianceType type : {CovarianceType::Full, CovarianceType::Diag}) {
    const GaussianHMM model = three_state_model(type, 3);
    const RowMatrix X = random_rows(700, 3, 5, 0.2, 0.05);
    const RowMatrix log_lik = log_lik_of(model, X);
    RowMatrix lik = log_lik, post(700, 3), xi_scaled = RowMatrix::Zero(3, 3);
    Vector scale(700);
    const double scaled = detail::forward_scaled(model.startprob(), model.transmat(), lik, post, scale);
    CHECK(detail::backward_scaled(model.transmat(), lik, post, scale, &xi_scaled));
    RowMatrix exact_post(700, 3), xi_exact = RowMatrix::Zero(3, 3);
    Eigen::Ref<RowMatrix> exact_ref(exact_post);
    const double exact = detail::forward_backward_log(detail::log_of(model.startprob()),
                                                      detail::log_of(model.transmat()), log_lik, &exact_ref,
                                                      &xi_exact);
    CHECK_NEAR(scaled, exact, 1e-10 * std::abs(exact));
    CHECK(max_abs_diff(post, exact_post) < 1e-12);
    CHECK(max_abs_diff(xi_scaled, xi_exact) < 1e-10 * xi_exact.maxCoeff());
    CHECK_NEAR(xi_scaled.sum(), 699.0, 1e-9);  // one transition per step
  }
}

TEST(scaled_pass_gives_up_when_the_predicted_mass_underflows_and_log_space_takes_over) {
  // Left-right 0 -> 1; state 0 broad, state 1 narrow. After 130 steps at state 1's mean, an outlier
  // that only the (by then unreachable) state 0 explains: the scaled step's mass is < 1e-250.
  const Index T = 160;
  RowMatrix X(T, 2);
  for (Index t = 0; t < T; ++t) X.row(t).setConstant(t < 20 ? 0.0 : 5.0);
  X(150, 0) = 3e3;
  X(150, 1) = -3e3;
  RowMatrix means(2, 2), var(2, 2);
  means << 0.0, 0.0, 5.0, 5.0;
  var << 900.0, 900.0, 1.0, 1.0;
  Vector startprob(2);
  startprob << 1.0, 0.0;
  RowMatrix transmat(2, 2);
  transmat << 0.9, 0.1, 0.0, 1.0;
  GaussianHMM model(startprob, transmat, Gaussian(CovarianceType::Diag, means, var, 0.0));
  const RowMatrix log_lik = log_lik_of(model, X);
  RowMatrix lik = log_lik, post(T, 2);
  Vector scale(T);
  CHECK(std::isnan(detail::forward_scaled(startprob, transmat, lik, post, scale)));
  // The model's E-step falls back to the log-space pass and equals it.
  RowMatrix exact_post(T, 2), xi = RowMatrix::Zero(2, 2);
  Eigen::Ref<RowMatrix> exact_ref(exact_post);
  const double exact = detail::forward_backward_log(detail::log_of(startprob), detail::log_of(transmat), log_lik,
                                                    &exact_ref, &xi);
  CHECK(std::isfinite(exact));
  const GaussianHMM::Data data(GaussianData(X.data(), T, 2), sequence_offsets({T}, T));
  const auto stats = model.e_step(data, 1);
  CHECK_NEAR(stats.loglik, exact, 1e-12 * std::abs(exact));
  CHECK(max_abs_diff(stats.transition_counts, xi) < 1e-12 * T);
  RowMatrix posterior(T, 2);
  Vector log_prob(1);
  model.posterior(data, 1, posterior, log_prob);
  CHECK(max_abs_diff(RowMatrix(posterior.array().exp()), exact_post) < 1e-12);
  CHECK((posterior.array() <= 0.0).all());  // log posteriors
}

TEST(e_step_is_bit_identical_for_any_thread_count) {
  std::vector<Index> lengths = {30000, 400, 900, 12000, 250};
  for (int i = 0; i < 80; ++i) lengths.push_back(50 + (i * 53) % 700);
  const Index n = std::accumulate(lengths.begin(), lengths.end(), Index{0});
  const RowMatrix X = random_rows(n, 3, 9, 0.1, 0.02);
  Vector weights(static_cast<Index>(lengths.size()));
  for (Index s = 0; s < weights.size(); ++s) weights[s] = 0.5 + static_cast<double>(s % 5) / 4.0;
  for (const CovarianceType type : {CovarianceType::Full, CovarianceType::Tied, CovarianceType::Diag,
                                    CovarianceType::Spherical}) {
    const GaussianHMM model = three_state_model(type, 3);
    const GaussianHMM::Data data(GaussianData(X.data(), n, 3, true), sequence_offsets(lengths, n), weights);
    const auto one = model.e_step(data, 1);
    for (const int threads : {2, 4}) {
      const auto other = model.e_step(data, threads);
      CHECK(other.loglik == one.loglik);
      CHECK(other.start_counts == one.start_counts);
      CHECK(other.transition_counts == one.transition_counts);
      CHECK(other.emission_counts == one.emission_counts);
      CHECK(other.emission.sum == one.emission.sum && other.emission.scatter == one.emission.scatter);
    }
  }
}

TEST(viterbi_finds_the_hand_computed_path) {
  // Two states with means 0 and 10; switching costs log 0.1 and each mismatched observation far
  // more, so the path follows the data except for a single blip that is not worth two switches.
  RowMatrix means(2, 1), var(2, 1), X(6, 1);
  means << 0.0, 10.0;
  var << 4.0, 4.0;
  X << 0.0, 0.5, 10.0, 9.5, 10.2, 5.5;
  Vector startprob(2);
  startprob << 0.5, 0.5;
  RowMatrix transmat(2, 2);
  transmat << 0.9, 0.1, 0.1, 0.9;
  GaussianHMM model(startprob, transmat, Gaussian(CovarianceType::Diag, means, var, 0.0));
  const GaussianHMM::Data data(GaussianData(X.data(), 6, 1), sequence_offsets({6}, 6));
  Eigen::VectorXi states(6);
  Vector log_prob(1);
  model.viterbi(data, 1, states, log_prob);
  Eigen::VectorXi expected(6);
  expected << 0, 0, 1, 1, 1, 1;
  CHECK(states == expected);
  // log p(x, z*) by hand.
  const RowMatrix ll = log_lik_of(model, X);
  double by_hand = std::log(0.5) + ll(0, 0);
  for (Index t = 1; t < 6; ++t) by_hand += std::log(transmat(expected[t - 1], expected[t])) + ll(t, expected[t]);
  CHECK_NEAR(log_prob[0], by_hand, 1e-12);
}

TEST(m_step_keeps_zeros_and_rows_without_counts) {
  GaussianHMM model = three_state_model(CovarianceType::Diag, 2);
  Vector startprob(3);
  startprob << 0.6, 0.4, 0.0;
  RowMatrix transmat(3, 3);
  transmat << 0.7, 0.3, 0.0, 0.0, 0.5, 0.5, 0.2, 0.3, 0.5;
  RowMatrix alpha = RowMatrix::Constant(3, 3, 2.0);
  GaussianHMM sticky(startprob, transmat, model.emission(), Vector::Constant(3, 3.0), alpha);
  auto stats = sticky.make_stats();
  stats.start_counts << 2.0, 1.0, 0.0;
  stats.transition_counts << 5.0, 1.0, 0.0, 0.0, 4.0, 2.0, 0.0, 0.0, 0.0;  // row 2: no counts
  stats.emission_counts << 6.0, 6.0, 6.0;
  stats.total_weight = 18.0;
  sticky.m_step(stats);
  // startprob ∝ counts + 2 on the support {0, 1}: (4, 3) / 7.
  CHECK_NEAR(sticky.startprob()[0], 4.0 / 7.0, 1e-15);
  CHECK(sticky.startprob()[2] == 0.0);
  CHECK_NEAR(sticky.transmat()(0, 0), 6.0 / 8.0, 1e-15);
  CHECK(sticky.transmat()(0, 2) == 0.0 && sticky.transmat()(1, 0) == 0.0);
  // Row 2 has no counts but a prior: (0 + 1) each on its support.
  CHECK_NEAR(sticky.transmat()(2, 0), 1.0 / 3.0, 1e-15);
  // Without a prior, a row without counts keeps its previous value.
  GaussianHMM flat(startprob, transmat, model.emission());
  auto flat_stats = flat.make_stats();
  flat_stats.start_counts << 1.0, 1.0, 0.0;
  flat_stats.transition_counts = stats.transition_counts;
  flat_stats.emission_counts << 6.0, 6.0, 6.0;
  flat_stats.total_weight = 18.0;
  flat.m_step(flat_stats);
  CHECK(flat.transmat().row(2) == transmat.row(2));
  CHECK(flat.transmat().allFinite());
}

TEST(fixed_gaussian_groups_keep_their_values_bit_for_bit) {
  const RowMatrix X = random_rows(400, 2, 3, 0.1);
  for (const CovarianceType type : {CovarianceType::Full, CovarianceType::Tied, CovarianceType::Diag,
                                    CovarianceType::Spherical}) {
    const GaussianHMM base = three_state_model(type, 2);
    for (const char* group : {"means", "covariances"}) {
      GaussianHMM model(base.startprob(), base.transmat(), base.emission(), Vector(), RowMatrix(), {group});
      const GaussianHMM::Data data(GaussianData(X.data(), 400, 2), sequence_offsets({150, 250}, 400));
      const RowMatrix means = model.emission().means(), cov = model.emission().covariances();
      model.m_step(model.e_step(data, 1));
      if (std::string(group) == "means") {
        CHECK(model.emission().means() == means);
        CHECK(!(model.emission().covariances() == cov));
      } else {
        CHECK(model.emission().covariances() == cov);
        CHECK(!(model.emission().means() == means));
      }
    }
  }
}

TEST(constructor_rejects_bad_parameters) {
  const GaussianHMM base = three_state_model(CovarianceType::Diag, 2);
  RowMatrix bad = base.transmat();
  bad(1, 1) += 0.1;  // row 1 sums to 1.1
  CHECK_THROWS(GaussianHMM(base.startprob(), bad, base.emission()), InvalidArgument);
  Vector negative = base.startprob();
  negative << 1.2, -0.2, 0.0;
  CHECK_THROWS(GaussianHMM(negative, base.transmat(), base.emission()), InvalidArgument);
  CHECK_THROWS(GaussianHMM(base.startprob(), base.transmat(), base.emission(), Vector::Constant(3, 0.5)),
               InvalidArgument);
  CHECK_THROWS(GaussianHMM(base.startprob(), base.transmat(), base.emission(), Vector(), RowMatrix(), {"weights"}),
               InvalidArgument);
  CHECK_THROWS(GaussianHMM(base.startprob(), RowMatrix::Constant(3, 2, 0.5), base.emission()), InvalidArgument);
}

int main() { return emkit_test::run_all("test_hmm"); }
