// The one-call fits (fit.hpp): restarts keep the best run and report every run, sample weights
// count rows (and sequences) as repetitions, and the starting parameters come from the family's
// own M-step on the initial assignment.
#include <emkit/fit.hpp>

#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

#include "check.hpp"

using namespace emkit;

namespace {

// Three well-separated blobs in 2-D (state i % 3), in runs of 5 rows (so that an HMM sees
// persistent states).
RowMatrix blobs(Index n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  RowMatrix X(n, 2);
  for (Index i = 0; i < n; ++i) {
    const double k = static_cast<double>((i / 5) % 3);
    X(i, 0) = 8.0 * k + normal(rng);
    X(i, 1) = (k == 1 ? 6.0 : 0.0) + 0.5 * normal(rng);
  }
  return X;
}

TEST(restarts_keep_the_run_with_the_highest_objective) {
  // Runs whose objectives are known: the best is kept, ties go to the first, and runs within a
  // relative 1e-6 of it count as replications.
  const std::vector<double> objectives = {-5.0, -2.0, -9.0, -2.0 - 1e-7, -3.0};
  RestartOptions options;
  options.n_init = 5;
  int calls = 0;
  const ModelFit<int> fit = fit_with_restarts<int>(options, [&](std::uint64_t) {
    FitResult r;
    r.history = {objectives[static_cast<size_t>(calls)]};
    r.n_iter = calls;
    return ModelFit<int>{calls++, r, {}};
  });
  CHECK(fit.model == 1);
  CHECK(fit.restarts.best == 1);
  CHECK(fit.restarts.runs.size() == 5);
  CHECK(fit.restarts.n_replicated == 2);
  CHECK(fit.restarts.replicated());
  CHECK(fit.restarts.runs[2].objective == -9.0 && fit.restarts.runs[2].n_iter == 2);
}

TEST(a_gaussian_mixture_with_restarts_returns_its_best_run) {
  const RowMatrix X = blobs(600, 1);
  GaussianFitOptions options;
  options.n_init = 4;
  options.seed = 7;
  options.covariance_type = CovarianceType::Diag;
  const auto fit = fit_gaussian_mixture(X, 3, options);
  CHECK(fit.restarts.runs.size() == 4);
  double best = kNegInf;
  for (const RunReport& run : fit.restarts.runs) best = std::max(best, run.objective);
  CHECK(fit.result.history.back() == best);
  CHECK(fit.restarts.runs[static_cast<size_t>(fit.restarts.best)].objective == best);
  // The same seed gives the same fit.
  const auto repeat = fit_gaussian_mixture(X, 3, options);
  CHECK(repeat.model.emission().means() == fit.model.emission().means());
}

TEST(the_start_is_the_family_m_step_from_the_k_means_assignment) {
  const RowMatrix X = blobs(300, 2);
  GaussianFitOptions options;
  options.fit.max_iter = 0;  // only the initialisation
  options.covariance_type = CovarianceType::Diag;
  options.reg_covar = 1e-3;
  const auto fit = fit_gaussian_mixture(X, 3, options);
  const KMeansResult km = kmeans_plus_plus(X, Vector(), 3, fit.restarts.runs[0].seed, 10, 0);
  for (Index k = 0; k < 3; ++k) {
    Eigen::RowVector2d sum = Eigen::RowVector2d::Zero(), square = Eigen::RowVector2d::Zero();
    double count = 0.0;
    for (Index i = 0; i < X.rows(); ++i)
      if (km.labels[i] == k) sum += X.row(i), ++count;
    const Eigen::RowVector2d mean = sum / count;
    for (Index i = 0; i < X.rows(); ++i)
      if (km.labels[i] == k) square += (X.row(i) - mean).array().square().matrix();
    CHECK((fit.model.emission().means().row(k) - mean).cwiseAbs().maxCoeff() < 1e-10);
    CHECK((fit.model.emission().covariances().row(k) - (square / count).array().matrix() -
           Eigen::RowVector2d::Constant(1e-3)).cwiseAbs().maxCoeff() < 1e-10);
    CHECK_NEAR(fit.model.weights()[k], count / 300.0, 1e-15);
  }
}

TEST(a_row_of_weight_two_counts_as_the_row_twice) {
  const RowMatrix X = blobs(300, 3);
  RowMatrix twice(400, 2);
  twice << X, X.topRows(100);
  Vector weight = Vector::Ones(300);
  weight.head(100).setConstant(2.0);
  GaussianFitOptions options;
  options.fit.tol = 1e-12;
  options.fit.max_iter = 500;
  options.sample_weight = weight;
  const auto weighted = fit_gaussian_mixture(X, 3, options);
  options.sample_weight = Vector();
  const auto repeated = fit_gaussian_mixture(twice, 3, options);
  CHECK_NEAR(weighted.result.loglik.back(), repeated.result.loglik.back(), 1e-8 * std::abs(repeated.result.loglik.back()));
  // The same optimum (the states in the same order: sort by the first coordinate of the mean).
  auto order = [](const RowMatrix& means) {
    std::vector<Index> idx = {0, 1, 2};
    std::sort(idx.begin(), idx.end(), [&](Index a, Index b) { return means(a, 0) < means(b, 0); });
    return idx;
  };
  const auto a = order(weighted.model.emission().means()), b = order(repeated.model.emission().means());
  for (Index k = 0; k < 3; ++k) {
    CHECK((weighted.model.emission().means().row(a[k]) - repeated.model.emission().means().row(b[k])).cwiseAbs().maxCoeff() < 1e-6);
    CHECK(std::abs(weighted.model.weights()[a[k]] - repeated.model.weights()[b[k]]) < 1e-6);
  }
}

TEST(a_sequence_of_weight_two_counts_as_the_sequence_twice) {
  const RowMatrix X = blobs(300, 4);
  RowMatrix twice(400, 2);
  twice << X, X.topRows(100);
  GaussianFitOptions options;
  options.covariance_type = CovarianceType::Diag;
  options.fit.tol = 1e-12;
  options.fit.max_iter = 500;
  options.sample_weight = Vector::Ones(2);
  options.sample_weight[0] = 2.0;
  const auto weighted = fit_gaussian_hmm(X, {100, 200}, 3, options);
  options.sample_weight = Vector();
  const auto repeated = fit_gaussian_hmm(twice, {100, 200, 100}, 3, options);
  CHECK_NEAR(weighted.result.loglik.back(), repeated.result.loglik.back(), 1e-8 * std::abs(repeated.result.loglik.back()));
}

TEST(a_categorical_hmm_and_a_latent_class_model_fit_from_their_own_starts) {
  std::mt19937_64 rng(5);
  CodeMatrix codes(400, 3);
  for (Index i = 0; i < 400; ++i)
    for (Index j = 0; j < 3; ++j)
      codes(i, j) = (i / 20) % 2 == 0 ? static_cast<std::int32_t>(rng() % 10 < 8 ? 0 : 1)
                                      : static_cast<std::int32_t>(rng() % 10 < 8 ? 2 : 1);
  codes(7, 1) = -1;  // missing
  CategoricalFitOptions options;
  options.n_init = 3;
  const auto hmm = fit_categorical_hmm(codes, {3, 3, 3}, {200, 200}, 2, options);
  CHECK(hmm.restarts.runs.size() == 3);
  CHECK(hmm.result.decreases.empty());
  CHECK(hmm.model.transmat()(0, 0) > 0.9);  // runs of 20 steps: persistent states
  const auto lca = fit_latent_class(codes, {3, 3, 3}, 2, options);
  CHECK(lca.result.decreases.empty());
  CHECK(std::abs(lca.model.weights()[0] - 0.5) < 0.05);
}

TEST(bad_arguments_are_rejected_naming_them) {
  const RowMatrix X = blobs(30, 5);
  GaussianFitOptions options;
  options.n_init = 0;
  CHECK_THROWS(fit_gaussian_mixture(X, 2, options), std::invalid_argument);
  options.n_init = 1;
  options.sample_weight = Vector::Ones(3);
  CHECK_THROWS(fit_gaussian_mixture(X, 2, options), std::invalid_argument);
  options.sample_weight = Vector();
  CHECK_THROWS(fit_gaussian_hmm(X, {10, 10}, 2, options), std::invalid_argument);  // lengths sum to 20
  CodeMatrix codes = CodeMatrix::Zero(10, 2);
  codes(4, 1) = 5;
  CHECK_THROWS(fit_latent_class(codes, {2, 2}, 2), std::invalid_argument);
}

}  // namespace

int main() { return emkit_test::run_all("fit"); }
