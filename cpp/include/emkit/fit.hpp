// One-call fits for native applications: a Gaussian mixture, a latent class model, a Gaussian HMM
// and a categorical HMM, each from its own initialisation, with restarts and sample weights.
//
// Every run seeds its model through the emission family: an assignment of the rows to states
// (k-means++ for Gaussian rows, random soft responsibilities for categorical ones) becomes the
// starting parameters by the family's own accumulate and maximize (Mixture::
// stats_from_responsibilities, HMM::seed_from_posteriors), the same M-step as every iteration.
// Then fit_em runs. With n_init > 1 the run with the highest objective is kept; the report lists
// every run (seed, objective, n_iter, converged) and how many reached the best objective.
//
// The general path (a model built by hand, Data, fit_em, or e_step/m_step chunk by chunk) is in
// docs/cpp.md; these functions are that path with an initialisation.
#pragma once

#include <Eigen/Core>
#include <cmath>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "em.hpp"
#include "emissions/categorical.hpp"
#include "emissions/gaussian.hpp"
#include "init.hpp"
#include "structures/hmm.hpp"
#include "structures/mixture.hpp"
#include "types.hpp"

namespace emkit {

using GaussianMixture = Mixture<Gaussian>;
using LatentClassModel = Mixture<Categorical>;
using GaussianHMM = HMM<Gaussian>;
using CategoricalHMM = HMM<Categorical>;

// What every one-call fit takes besides the data and the number of states.
struct RestartOptions {
  int n_init = 1;           // runs from different seeds; the highest objective is kept
  std::uint64_t seed = 0;   // the runs' seeds are drawn from it (the same seed, the same fit)
  Vector sample_weight;     // per row (mixtures) or per sequence (HMMs); empty = all ones
  FitOptions fit;           // max_iter, tol, n_threads, callback: for every run
};

struct GaussianFitOptions : RestartOptions {
  CovarianceType covariance_type = CovarianceType::Full;
  double reg_covar = 1e-6;  // added to the covariances' diagonal in every M-step
};

struct CategoricalFitOptions : RestartOptions {
  std::optional<double> item_concentration;  // symmetric Dirichlet prior (>= 1) on each item; none = ML
};

// One run of a fit with restarts.
struct RunReport {
  std::uint64_t seed = 0;
  double objective = 0.0;  // log-likelihood (+ log-prior) of the run's final parameters
  int n_iter = 0;
  bool converged = false;
};

struct RestartReport {
  std::vector<RunReport> runs;
  Index best = 0;          // the run kept (the first of equal objectives)
  Index n_replicated = 0;  // runs whose objective is within a relative 1e-6 of the best
  // The best objective was reached from more than one start.
  bool replicated() const { return n_replicated >= 2; }
};

template <class Model>
struct ModelFit {
  Model model;
  FitResult result;
  RestartReport restarts;
};

// Runs run(seed) -> ModelFit<Model> (restarts left empty) for n_init seeds drawn from options.seed
// and keeps the highest final objective.
template <class Model, class Run>
ModelFit<Model> fit_with_restarts(const RestartOptions& options, Run&& run) {
  require(options.n_init >= 1, "n_init: expected a value >= 1");
  std::mt19937_64 seeds(options.seed);
  std::optional<ModelFit<Model>> best;
  RestartReport report;
  for (int r = 0; r < options.n_init; ++r) {
    const std::uint64_t seed = seeds();
    ModelFit<Model> fit = run(seed);
    const double objective = fit.result.history.back();
    report.runs.push_back({seed, objective, fit.result.n_iter, fit.result.converged});
    if (!best || objective > best->result.history.back()) {
      report.best = r;
      best = std::move(fit);
    }
  }
  const double top = report.runs[static_cast<size_t>(report.best)].objective;
  for (const RunReport& run_report : report.runs)
    report.n_replicated += std::abs(run_report.objective - top) <= 1e-6 * std::abs(top);
  best->restarts = std::move(report);
  return std::move(*best);
}

namespace detail {

// X with each missing entry replaced by its column's mean over the observed entries: what
// k-means++ sees (seeding only; the fit integrates missing entries out). rows: the rows to keep.
inline RowMatrix column_mean_imputed(const MatrixRef& X, const std::vector<Index>& rows) {
  const Index d = X.cols();
  RowMatrix filled(static_cast<Index>(rows.size()), d);
  for (Index j = 0; j < d; ++j) {
    double sum = 0.0;
    Index count = 0;
    for (const Index i : rows)
      if (!std::isnan(X(i, j))) sum += X(i, j), ++count;
    require(count > 0, "X: column " + std::to_string(j) + " has no observed value");
    const double mean = sum / static_cast<double>(count);
    for (size_t r = 0; r < rows.size(); ++r) filled(static_cast<Index>(r), j) = std::isnan(X(rows[r], j)) ? mean : X(rows[r], j);
  }
  return filled;
}

// The starting Gaussian mixture of an assignment resp of the rows filled (weighted by row_weight):
// a mixture's M-step from those responsibilities, with the family's accumulate and maximize. The
// family's parameters before that step matter only for states that receive no rows (they keep
// them): the centres, and the columns' variances. reg_covar = 0 seeds with a ridge of 1e-6 × the
// average variance, so that a state on a single point does not start singular (the returned
// model has reg_covar as given).
inline Mixture<Gaussian> seeded_gaussian_mixture(const RowMatrix& filled, const Vector& row_weight,
                                                 const RowMatrix& centres, const MatrixRef& resp,
                                                 const GaussianFitOptions& options, int n_threads) {
  const Index K = centres.rows(), d = filled.cols();
  const RowVectorXd mean = filled.colwise().mean();
  RowVectorXd variance = (filled.rowwise() - mean).array().square().colwise().sum() / static_cast<double>(filled.rows());
  const double ridge = options.reg_covar > 0 ? options.reg_covar : 1e-6 * variance.mean();
  for (Index j = 0; j < d; ++j)
    if (!(variance[j] + ridge > 0)) variance[j] = 1.0;  // a constant column with no ridge
  RowMatrix cov;
  switch (options.covariance_type) {
    case CovarianceType::Full:
    case CovarianceType::Tied: {
      const Index F = options.covariance_type == CovarianceType::Tied ? 1 : K;
      cov = RowMatrix::Zero(F, d * d);
      for (Index f = 0; f < F; ++f)
        for (Index j = 0; j < d; ++j) cov(f, j * d + j) = variance[j] + ridge;
      break;
    }
    case CovarianceType::Diag: cov = (variance.array() + ridge).matrix().replicate(K, 1); break;
    case CovarianceType::Spherical: cov = RowMatrix::Constant(K, 1, variance.mean() + ridge); break;
  }
  Mixture<Gaussian> seed(Vector::Constant(K, 1.0 / static_cast<double>(K)),
                         Gaussian(options.covariance_type, centres, cov, ridge));
  const MixtureData<Gaussian> data{GaussianData(filled.data(), filled.rows(), d), row_weight};
  seed.m_step(seed.stats_from_responsibilities(data, resp, n_threads));
  const Gaussian& g = seed.emission();
  return Mixture<Gaussian>(seed.weights(), Gaussian(options.covariance_type, g.means(), g.covariances(), options.reg_covar));
}

// One-hot responsibilities of k-means++ labels (n × K).
inline RowMatrix hard_responsibilities(const Eigen::VectorXi& labels, Index K) {
  RowMatrix resp = RowMatrix::Zero(labels.size(), K);
  for (Index i = 0; i < labels.size(); ++i) resp(i, labels[i]) = 1.0;
  return resp;
}

// Random soft responsibilities, each row a draw from the flat Dirichlet (normalised exponentials,
// from uniform01: the same draws on every platform).
inline RowMatrix random_responsibilities(Index n, Index K, std::mt19937_64& rng) {
  RowMatrix resp(n, K);
  for (Index i = 0; i < n; ++i) {
    for (Index k = 0; k < K; ++k) resp(i, k) = -std::log(1.0 - uniform01(rng));
    resp.row(i) /= resp.row(i).sum();
  }
  return resp;
}

// A starting transition matrix: row i drawn from Dirichlet(1 + K e_i) (a bias to persist), mixed
// with 10% uniform so that no entry starts at zero (a zero would be structural). Gamma(1 + K) as a
// sum of 1 + K exponentials, the same draws on every platform.
inline RowMatrix random_transitions(Index K, std::mt19937_64& rng) {
  RowMatrix A(K, K);
  for (Index i = 0; i < K; ++i) {
    for (Index j = 0; j < K; ++j) {
      const Index shape = j == i ? 1 + K : 1;
      double g = 0.0;
      for (Index s = 0; s < shape; ++s) g -= std::log(1.0 - uniform01(rng));
      A(i, j) = g;
    }
    A.row(i) = 0.9 * A.row(i) / A.row(i).sum() + RowVectorXd::Constant(K, 0.1 / static_cast<double>(K));
  }
  return A;
}

inline RowMatrix uniform_item_probabilities(const std::vector<Index>& n_categories, Index K) {
  Index total = 0;
  for (const Index r : n_categories) total += r;
  RowMatrix probs(K, total);
  Index offset = 0;
  for (const Index r : n_categories) {
    probs.middleCols(offset, r).setConstant(1.0 / static_cast<double>(r));
    offset += r;
  }
  return probs;
}

inline void check_codes(const Eigen::Ref<const CodeMatrix>& codes, const std::vector<Index>& n_categories) {
  require(codes.rows() >= 1 && codes.cols() >= 1, "codes: expected a non-empty 2-D array");
  require(static_cast<Index>(n_categories.size()) == codes.cols(),
          "n_categories: expected one value per column of codes (" + std::to_string(codes.cols()) + ")");
  // Codes beyond an item's categories are the family's to reject (an error naming row and item).
}

}  // namespace detail

// A Gaussian mixture of n_components on the rows of X (n × d, NaN = missing). Each run: k-means++
// (on column-mean-imputed rows, weighted by sample_weight) and its hard assignment through the
// family's M-step, then EM.
inline ModelFit<GaussianMixture> fit_gaussian_mixture(const MatrixRef& X, Index n_components,
                                                      const GaussianFitOptions& options) {
  const Index n = X.rows(), d = X.cols();
  require(n >= 1 && d >= 1, "X: expected a non-empty 2-D array");
  require(n_components >= 1, "n_components: expected a value >= 1");
  require(options.sample_weight.size() == 0 || options.sample_weight.size() == n,
          "sample_weight: expected " + std::to_string(n) + " values");
  const RowMatrix rows = X;  // contiguous: the data view maps it
  std::vector<Index> all(static_cast<size_t>(n));
  for (Index i = 0; i < n; ++i) all[static_cast<size_t>(i)] = i;
  const RowMatrix filled = detail::column_mean_imputed(X, all);
  const MixtureData<Gaussian> data{GaussianData(rows.data(), n, d), options.sample_weight};
  const int threads = options.fit.n_threads;
  return fit_with_restarts<GaussianMixture>(options, [&](std::uint64_t seed) {
    const KMeansResult km = kmeans_plus_plus(filled, options.sample_weight, n_components, seed, 10, threads);
    const RowMatrix resp = detail::hard_responsibilities(km.labels, n_components);
    GaussianMixture model =
        detail::seeded_gaussian_mixture(filled, options.sample_weight, km.centers, resp, options, threads);
    FitResult result = fit_em(model, data, options.fit);
    return ModelFit<GaussianMixture>{std::move(model), std::move(result), {}};
  });
}

// The shortest call: one run from k-means++ with the given seed's draws.
inline ModelFit<GaussianMixture> fit_gaussian_mixture(const MatrixRef& X, Index n_components,
                                                      CovarianceType type = CovarianceType::Full,
                                                      std::uint64_t seed = 0, const FitOptions& options = {},
                                                      double reg_covar = 1e-6) {
  GaussianFitOptions o;
  o.covariance_type = type;
  o.seed = seed;
  o.fit = options;
  o.reg_covar = reg_covar;
  return fit_gaussian_mixture(X, n_components, o);
}

// A latent class model (a mixture of n_classes over categorical items): codes n × J (negative =
// missing), item j with n_categories[j] categories. Each run: random soft responsibilities through
// the family's M-step, then EM.
inline ModelFit<LatentClassModel> fit_latent_class(const Eigen::Ref<const CodeMatrix>& codes,
                                                   const std::vector<Index>& n_categories, Index n_classes,
                                                   const CategoricalFitOptions& options = {}) {
  detail::check_codes(codes, n_categories);
  require(n_classes >= 1, "n_classes: expected a value >= 1");
  const Index n = codes.rows();
  require(options.sample_weight.size() == 0 || options.sample_weight.size() == n,
          "sample_weight: expected " + std::to_string(n) + " values");
  const CodeMatrix rows = codes;
  const MixtureData<Categorical> data{CategoricalData(rows.data(), n, rows.cols()), options.sample_weight};
  return fit_with_restarts<LatentClassModel>(options, [&](std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    const RowMatrix resp = detail::random_responsibilities(n, n_classes, rng);
    LatentClassModel model(Vector::Constant(n_classes, 1.0 / static_cast<double>(n_classes)),
                           Categorical(n_categories, detail::uniform_item_probabilities(n_categories, n_classes),
                                       options.item_concentration));
    model.m_step(model.stats_from_responsibilities(data, resp, options.fit.n_threads));
    FitResult result = fit_em(model, data, options.fit);
    return ModelFit<LatentClassModel>{std::move(model), std::move(result), {}};
  });
}

// A Gaussian HMM of n_states over sequences: X n × d (the sequences concatenated; NaN = missing, a
// row entirely NaN a step with nothing observed), lengths summing to n, sample_weight per
// sequence. Each run: uniform start probabilities, random persistent transitions, and k-means++ on
// the steps with an observation through the family's M-step; then EM.
inline ModelFit<GaussianHMM> fit_gaussian_hmm(const MatrixRef& X, const std::vector<Index>& lengths, Index n_states,
                                              const GaussianFitOptions& options) {
  const Index n = X.rows(), d = X.cols();
  require(n >= 1 && d >= 1, "X: expected a non-empty 2-D array");
  require(n_states >= 1, "n_states: expected a value >= 1");
  const RowMatrix rows = X;
  const HMMData<Gaussian> data(GaussianData(rows.data(), n, d, /*allow_unobserved_rows=*/true),
                               sequence_offsets(lengths, n), options.sample_weight);
  // The steps with an observation, with their sequence's weight, for k-means++.
  std::vector<Index> observed;
  Vector step_weight;
  std::vector<double> weights;
  for (Index s = 0; s < data.n_sequences(); ++s)
    for (Index t = data.begin(s); t < data.begin(s) + data.length(s); ++t)
      if (data.emission.has_observation(t)) {
        observed.push_back(t);
        weights.push_back(data.weight(s));
      }
  step_weight = Eigen::Map<const Vector>(weights.data(), static_cast<Index>(weights.size()));
  const RowMatrix filled = detail::column_mean_imputed(X, observed);
  const int threads = options.fit.n_threads;
  return fit_with_restarts<GaussianHMM>(options, [&](std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    const KMeansResult km = kmeans_plus_plus(filled, step_weight, n_states, seed, 10, threads);
    const RowMatrix resp = detail::hard_responsibilities(km.labels, n_states);
    GaussianHMM model(Vector::Constant(n_states, 1.0 / static_cast<double>(n_states)),
                      detail::random_transitions(n_states, rng),
                      detail::seeded_gaussian_mixture(filled, step_weight, km.centers, resp, options, threads).emission());
    FitResult result = fit_em(model, data, options.fit);
    return ModelFit<GaussianHMM>{std::move(model), std::move(result), {}};
  });
}

// A categorical HMM of n_states: codes n × J (negative = missing), item j with n_categories[j]
// categories, lengths and per-sequence sample_weight as fit_gaussian_hmm. Each run: uniform start
// probabilities, random persistent transitions, random soft posteriors through the family's
// M-step (HMM::seed_from_posteriors); then EM.
inline ModelFit<CategoricalHMM> fit_categorical_hmm(const Eigen::Ref<const CodeMatrix>& codes,
                                                    const std::vector<Index>& n_categories,
                                                    const std::vector<Index>& lengths, Index n_states,
                                                    const CategoricalFitOptions& options = {}) {
  detail::check_codes(codes, n_categories);
  require(n_states >= 1, "n_states: expected a value >= 1");
  const Index n = codes.rows();
  const CodeMatrix rows = codes;
  const HMMData<Categorical> data(CategoricalData(rows.data(), n, rows.cols()), sequence_offsets(lengths, n),
                                  options.sample_weight);
  return fit_with_restarts<CategoricalHMM>(options, [&](std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    const RowMatrix transmat = detail::random_transitions(n_states, rng);
    const RowMatrix post = detail::random_responsibilities(n, n_states, rng);
    CategoricalHMM model(Vector::Constant(n_states, 1.0 / static_cast<double>(n_states)), transmat,
                         Categorical(n_categories, detail::uniform_item_probabilities(n_categories, n_states),
                                     options.item_concentration));
    model.seed_from_posteriors(data, post, options.fit.n_threads);
    FitResult result = fit_em(model, data, options.fit);
    return ModelFit<CategoricalHMM>{std::move(model), std::move(result), {}};
  });
}

}  // namespace emkit
