// The HMM example of the C++ guide (docs/cpp.md, which shows this file whole; a ctest builds and
// runs it): a Gaussian HMM on the general path, then the same EM sequence by sequence, decoding,
// then the one-call fits of a Gaussian and a categorical HMM.
#include <emkit/emkit.hpp>

#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

int main() {
  using namespace emkit;
  // Three sequences (lengths 300, 200, 500) of a two-state chain that persists (0.95), 1-D.
  const std::vector<Index> lengths = {300, 200, 500};
  std::mt19937_64 rng(2);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  RowMatrix X(1000, 1);
  int state = 0;
  for (Index i = 0; i < X.rows(); ++i) {
    if (uniform(rng) > 0.95) state = 1 - state;
    X(i, 0) = 3.0 * state + normal(rng);
  }
  X(10, 0) = std::nan("");  // a step with nothing observed: the chain still advances through it

  // 1. The general path: the family, the chain's parameters, the sequences as a view of the rows
  //    (their offsets, and a weight per sequence), the EM driver.
  RowMatrix means(2, 1);
  means << -1.0, 4.0;
  const Gaussian emission(CovarianceType::Diag, means, RowMatrix::Ones(2, 1), /*reg_covar=*/1e-6);
  Vector startprob = Vector::Constant(2, 0.5);
  RowMatrix transmat(2, 2);
  transmat << 0.9, 0.1, 0.1, 0.9;
  GaussianHMM model(startprob, transmat, emission);
  const HMMData<Gaussian> data(GaussianData(X.data(), X.rows(), 1, /*allow_unobserved_rows=*/true),
                               sequence_offsets(lengths, X.rows()), /*sample_weight=*/Vector());
  FitOptions options;
  options.max_iter = 200;
  options.tol = 1e-9;  // per time step
  const FitResult result = fit_em(model, data, options);
  std::printf("fit_em: %d iterations, log-likelihood %.6f, transmat [[%.3f %.3f] [%.3f %.3f]]\n", result.n_iter,
              result.loglik.back(), model.transmat()(0, 0), model.transmat()(0, 1), model.transmat()(1, 0),
              model.transmat()(1, 1));

  // 2. The same EM sequence by sequence: chunks of an HMM are sets of whole sequences; their
  //    statistics add up, and one M-step follows.
  GaussianHMM chunked(startprob, transmat, emission);
  for (int iteration = 0; iteration < result.n_iter; ++iteration) {
    GaussianHMM::Stats total = chunked.make_stats();
    Index begin = 0;
    for (const Index length : lengths) {
      const HMMData<Gaussian> sequence(GaussianData(X.data() + begin, length, 1, true), {0, length});
      total += chunked.e_step(sequence, /*n_threads=*/1);
      begin += length;
    }
    chunked.m_step(total);
  }
  const double difference = (chunked.transmat() - model.transmat()).cwiseAbs().maxCoeff();
  std::printf("chunked EM: transmat differs from fit_em's by %.2e\n", difference);
  if (difference > 1e-6) return 1;

  // Decoding: the most probable path per sequence.
  Eigen::VectorXi path(X.rows());
  Vector path_log_prob(static_cast<Index>(lengths.size()));
  model.viterbi(data, /*n_threads=*/0, path, path_log_prob);
  std::printf("viterbi: first steps %d %d %d, log p(x, z*) of sequence 0: %.3f\n", path[0], path[1], path[2],
              path_log_prob[0]);

  // 3. One call: a Gaussian HMM from k-means++ (through the family's M-step) with restarts, and a
  //    categorical HMM on the same chain's steps coded 0/1/2 by thresholds.
  GaussianFitOptions gaussian;
  gaussian.n_init = 2;
  gaussian.covariance_type = CovarianceType::Diag;
  const ModelFit<GaussianHMM> fit = fit_gaussian_hmm(X, lengths, 2, gaussian);
  std::printf("fit_gaussian_hmm: objective %.6f (runs: %zu)\n", fit.result.history.back(), fit.restarts.runs.size());

  CodeMatrix codes(X.rows(), 1);
  for (Index i = 0; i < X.rows(); ++i)
    codes(i, 0) = std::isnan(X(i, 0)) ? -1 : (X(i, 0) < 0.5 ? 0 : (X(i, 0) < 2.5 ? 1 : 2));
  CategoricalFitOptions categorical;
  categorical.n_init = 2;
  const ModelFit<CategoricalHMM> coded = fit_categorical_hmm(codes, {3}, lengths, 2, categorical);
  std::printf("fit_categorical_hmm: objective %.6f, emission probabilities of state 0: %.3f %.3f %.3f\n",
              coded.result.history.back(), coded.model.emission().probs()(0, 0), coded.model.emission().probs()(0, 1),
              coded.model.emission().probs()(0, 2));
  return fit.result.decreases.empty() && coded.result.decreases.empty() ? 0 : 1;
}
