// The mixture example of the C++ guide (docs/cpp.md, which shows this file whole; a ctest builds
// and runs it): a Gaussian mixture on the general path, then the same EM chunk by chunk, then the
// one-call fit.
#include <emkit/emkit.hpp>

#include <cmath>
#include <cstdio>
#include <random>

int main() {
  using namespace emkit;
  // 1000 rows in 2-D from two blobs; one entry missing (NaN: integrated out, never imputed).
  std::mt19937_64 rng(1);
  std::normal_distribution<double> normal(0.0, 1.0);
  RowMatrix X(1000, 2);
  for (Index i = 0; i < X.rows(); ++i) {
    const double centre = i % 2 ? 5.0 : 0.0;
    X(i, 0) = centre + normal(rng);
    X(i, 1) = -centre + normal(rng);
  }
  X(3, 1) = std::nan("");

  // 1. The general path: a family with starting parameters, a structure over it, a view of the
  //    rows (no copy: X must outlive it), and the EM driver.
  RowMatrix means(2, 2);
  means << 1.0, -1.0, 4.0, -4.0;
  RowMatrix covariances(2, 4);  // full: one row-major 2×2 matrix per row
  covariances << 1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0;
  const Gaussian start(CovarianceType::Full, means, covariances, /*reg_covar=*/1e-6);
  GaussianMixture model(Vector::Constant(2, 0.5), start);
  const MixtureData<Gaussian> data{GaussianData(X.data(), X.rows(), X.cols()), /*sample_weight=*/Vector()};
  FitOptions options;
  options.max_iter = 200;
  options.tol = 1e-8;  // on the change of the objective per unit of weight
  options.n_threads = 2;
  const FitResult result = fit_em(model, data, options);
  std::printf("fit_em: converged %d after %d iterations, log-likelihood %.6f\n", result.converged, result.n_iter,
              result.loglik.back());

  // 2. The same EM chunk by chunk: each chunk's E-step returns additive statistics, their sum is
  //    the whole data's, and one M-step follows. Any engine that can map over chunks and add the
  //    results drives a fit this way (out of core, distributed).
  GaussianMixture chunked(Vector::Constant(2, 0.5), start);
  const Index chunk_rows = 250;
  for (int iteration = 0; iteration < result.n_iter; ++iteration) {
    GaussianMixture::Stats total = chunked.make_stats();
    for (Index begin = 0; begin < X.rows(); begin += chunk_rows) {
      const MixtureData<Gaussian> chunk{GaussianData(X.data() + begin * X.cols(), chunk_rows, X.cols()), Vector()};
      total += chunked.e_step(chunk, /*n_threads=*/1);
    }
    chunked.m_step(total);
  }
  const double difference = (chunked.emission().means() - model.emission().means()).cwiseAbs().maxCoeff();
  std::printf("chunked EM: means differ from fit_em's by %.2e\n", difference);
  if (difference > 1e-6) return 1;  // only the order of the additions differs

  // 3. One call: k-means++ starts through the family's own M-step, three restarts, the best kept.
  GaussianFitOptions one_call;
  one_call.n_init = 3;
  one_call.seed = 42;
  one_call.covariance_type = CovarianceType::Diag;
  const ModelFit<GaussianMixture> fit = fit_gaussian_mixture(X, 2, one_call);
  for (const RunReport& run : fit.restarts.runs)
    std::printf("run seed %llu: objective %.6f, %d iterations, converged %d\n",
                static_cast<unsigned long long>(run.seed), run.objective, run.n_iter, run.converged);
  std::printf("kept run %ld; %ld runs reached its objective\n", static_cast<long>(fit.restarts.best),
              static_cast<long>(fit.restarts.n_replicated));
  return fit.result.decreases.empty() ? 0 : 1;
}
