// emkit: Expectation-Maximization for latent-variable models. The umbrella header of the
// header-only C++ core (target emkit::emkit).
#pragma once

#include "em.hpp"
#include "emissions/categorical.hpp"
#include "emissions/gaussian.hpp"
#include "emissions/product.hpp"
#include "init.hpp"
#include "parallel.hpp"
#include "structures/contingency_table.hpp"
#include "emissions/discrete_groups.hpp"
#include "emissions/gaussian_mixture_emission.hpp"
#include "structures/hmm.hpp"
#include "structures/mixture.hpp"
#include "structures/mixture_regression.hpp"
#include "types.hpp"

namespace emkit {

using GaussianMixture = Mixture<Gaussian>;
using LatentClassModel = Mixture<Categorical>;
using LatentClassRegression = MixtureRegression<Categorical>;
using MixedLatentClassModel = Mixture<Product>;
using GaussianHMM = HMM<Gaussian>;

// Fits a Gaussian mixture from k-means++ initial values: the shortest path for native
// applications. X is n×d (NaN = missing is accepted; k-means++ runs on column-mean-imputed rows).
struct GaussianMixtureFit {
  GaussianMixture model;
  FitResult result;
};

inline GaussianMixtureFit fit_gaussian_mixture(const MatrixRef& X, Index n_components,
                                               CovarianceType type = CovarianceType::Full,
                                               std::uint64_t seed = 0, const FitOptions& options = {},
                                               double reg_covar = 1e-6) {
  const Index n = X.rows(), d = X.cols();
  require(n >= 1 && d >= 1, "X: expected a non-empty 2-D array");
  const RowMatrix rows = X;  // contiguous copy: the model's data view maps it
  // Column means over observed entries, for seeding only.
  RowMatrix filled = X;
  for (Index j = 0; j < d; ++j) {
    double sum = 0.0;
    Index count = 0;
    for (Index i = 0; i < n; ++i)
      if (!std::isnan(X(i, j))) sum += X(i, j), ++count;
    require(count > 0, "X: column " + std::to_string(j) + " has no observed value");
    for (Index i = 0; i < n; ++i)
      if (std::isnan(filled(i, j))) filled(i, j) = sum / static_cast<double>(count);
  }
  const KMeansResult km = kmeans_plus_plus(filled, Vector(), n_components, seed, 10, options.n_threads);
  // Initial parameters: one M-step from the hard k-means assignment.
  RowMatrix resp = RowMatrix::Zero(n, n_components);
  for (Index i = 0; i < n; ++i) resp(i, km.labels[i]) = 1.0;
  const Vector counts = resp.colwise().sum().transpose();
  Vector weights = counts / static_cast<double>(n);
  RowMatrix means = km.centers;
  RowMatrix cov;
  const bool full = type == CovarianceType::Full || type == CovarianceType::Tied;
  const Index F = type == CovarianceType::Tied ? 1 : n_components;
  cov = RowMatrix::Zero(F, full ? d * d : (type == CovarianceType::Diag ? d : 1));
  for (Index k = 0; k < n_components; ++k) {
    Matrix S = Matrix::Zero(d, d);
    for (Index i = 0; i < n; ++i)
      if (km.labels[i] == k) {
        const Vector z = (filled.row(i) - means.row(k)).transpose();
        S += z * z.transpose();
      }
    const double nk = std::max(counts[k], 1.0);
    if (type == CovarianceType::Full) {
      S /= nk;
      S.diagonal().array() += reg_covar;
      for (Index a = 0; a < d; ++a)
        for (Index b = 0; b < d; ++b) cov(k, a * d + b) = S(a, b);
    } else if (type == CovarianceType::Tied) {
      for (Index a = 0; a < d; ++a)
        for (Index b = 0; b < d; ++b) cov(0, a * d + b) += S(a, b) / static_cast<double>(n) + (a == b ? reg_covar / static_cast<double>(n_components) : 0.0);
    } else if (type == CovarianceType::Diag) {
      cov.row(k) = (S.diagonal().array() / nk + reg_covar).matrix().transpose();
    } else {
      cov(k, 0) = S.diagonal().sum() / (nk * static_cast<double>(d)) + reg_covar;
    }
    if (counts[k] == 0) weights[k] = 0.0;
  }
  weights /= weights.sum();
  GaussianMixture model(weights, Gaussian(type, means, cov, reg_covar));
  MixtureData<Gaussian> data{GaussianData(rows.data(), n, d), Vector()};
  FitResult result = fit_em(model, data, options);
  return {std::move(model), std::move(result)};
}

}  // namespace emkit
