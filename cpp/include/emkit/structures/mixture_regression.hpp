// Mixture with concomitant variables (latent class regression): the prior class probabilities
// of row i are a multinomial logit in its covariates z_i, pi_ik = softmax_k(z_i . beta_k), with
// class 0 as the reference (beta_0 = 0). The M-step for beta is one Newton step on
// Q(beta) = sum_i w_i sum_k h_ik log pi_ik(beta) with step-halving, so Q and therefore the
// log-likelihood never decrease (a generalised EM). The emission part is the family's M-step.
#pragma once

#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <cmath>
#include <string>
#include <vector>

#include "../parallel.hpp"
#include "../types.hpp"

namespace emkit {

template <class Emission>
struct MixtureRegressionData {
  typename Emission::Data emission;
  Eigen::Map<const RowMatrix> covariates;  // n × p (the intercept column included by the caller)
  Vector sample_weight;

  Index n_rows() const { return emission.n_rows(); }
  double weight(Index i) const { return sample_weight.size() ? sample_weight[i] : 1.0; }
};

template <class Emission>
struct MixtureRegressionStats {
  Vector resp_sum;
  double loglik = 0.0;
  double total_weight = 0.0;
  typename Emission::Stats emission;
  RowMatrix posterior;  // n × K, h_ik (rows are written in place, so merging adds nothing)
  const MixtureRegressionData<Emission>* data = nullptr;

  MixtureRegressionStats& operator+=(const MixtureRegressionStats& other) {
    resp_sum += other.resp_sum;
    loglik += other.loglik;
    total_weight += other.total_weight;
    emission += other.emission;
    return *this;
  }
};

template <class Emission>
class MixtureRegression {
 public:
  using Data = MixtureRegressionData<Emission>;
  using Stats = MixtureRegressionStats<Emission>;

  static constexpr int kMaxHalvings = 30;

  // coef: p × K with column 0 (the reference class) zero.
  MixtureRegression(RowMatrix coef, Emission emission) : coef_(std::move(coef)), emission_(std::move(emission)) {
    require(coef_.cols() == emission_.n_states(),
            "coef: expected " + std::to_string(emission_.n_states()) + " columns (one per class)");
    require(coef_.rows() >= 1 && coef_.allFinite(), "coef: expected finite values");
    require((coef_.col(0).array() == 0.0).all(), "coef: the reference class (column 0) must be zero");
  }

  Index n_states() const { return coef_.cols(); }
  Index n_covariates() const { return coef_.rows(); }
  const RowMatrix& coef() const { return coef_; }
  const Emission& emission() const { return emission_; }
  const std::vector<Index>& empty_states() const { return empty_; }
  Index n_parameters() const { return (n_states() - 1) * n_covariates() + emission_.n_parameters(); }
  double log_prior() const { return emission_.log_prior(); }

  // log pi_i (1 × K) for covariates z (1 × p).
  template <class Row>
  Eigen::Matrix<double, 1, Eigen::Dynamic> log_class_probs(const Row& z, const RowMatrix& coef) const {
    Eigen::Matrix<double, 1, Eigen::Dynamic> eta = z * coef;
    eta.array() -= log_sum_exp(eta);
    return eta;
  }

  Stats e_step(const Data& data, int n_threads) const {
    check_data(data);
    const auto ws = emission_.prepare(data.emission, n_threads);
    const Index K = n_states(), n = data.n_rows();
    RowMatrix posterior(n, K);
    Stats total = reduce_rows<Stats>(
        n, n_threads, [&] { return empty_stats(); },
        [&](Stats& acc, Index begin, Index end) {
          auto block = posterior.middleRows(begin, end - begin);
          emission_.log_prob(data.emission, ws, begin, end, block);
          RowMatrix resp(end - begin, K);
          for (Index i = begin; i < end; ++i) {
            const double w = data.weight(i);
            auto row = block.row(i - begin);
            row += log_class_probs(data.covariates.row(i), coef_);
            const double log_norm = log_sum_exp(row);
            row = (row.array() - log_norm).exp().matrix();
            resp.row(i - begin) = row * w;
            if (w != 0.0) acc.loglik += w * log_norm;
            acc.total_weight += w;
          }
          acc.resp_sum += resp.colwise().sum().transpose();
          emission_.accumulate(data.emission, ws, begin, end, resp, acc.emission);
        });
    total.posterior = std::move(posterior);
    total.data = &data;
    return total;
  }

  void m_step(const Stats& stats) {
    require(stats.data != nullptr && stats.posterior.rows() == stats.data->n_rows(),
            "stats: a latent class regression M-step needs the posteriors of its own E-step");
    empty_ = emission_.maximize(stats.emission, stats.resp_sum, stats.total_weight);
    newton_step(*stats.data, stats.posterior);
  }

  // Q(beta) = sum_i w_i sum_k h_ik log pi_ik(beta), reduced deterministically.
  double class_objective(const Data& data, const RowMatrix& posterior, const RowMatrix& coef) const {
    struct Sum {
      double value = 0.0;
      Sum& operator+=(const Sum& o) {
        value += o.value;
        return *this;
      }
    };
    return reduce_rows<Sum>(
               data.n_rows(), 0, [] { return Sum{}; },
               [&](Sum& acc, Index begin, Index end) {
                 for (Index i = begin; i < end; ++i) {
                   const double w = data.weight(i);
                   if (w == 0.0) continue;
                   const auto lp = log_class_probs(data.covariates.row(i), coef);
                   double row = 0.0;
                   for (Index k = 0; k < n_states(); ++k)
                     if (posterior(i, k) > 0) row += posterior(i, k) * lp[k];
                   acc.value += w * row;
                 }
               })
        .value;
  }

  // log pi (n × K) and posteriors for new rows.
  void posterior(const Data& data, int n_threads, Eigen::Ref<RowMatrix> log_resp, Eigen::Ref<Vector> log_prob_row) const {
    check_data(data);
    const auto ws = emission_.prepare(data.emission, n_threads);
    const ChunkPlan plan = plan_chunks(data.n_rows());
    parallel_for(plan.n_chunks, n_threads, [&](Index c) {
      for (Index b = plan.begin(c); b < plan.end(c); b += kBlockRows) {
        const Index e = std::min(plan.end(c), b + kBlockRows);
        auto block = log_resp.middleRows(b, e - b);
        emission_.log_prob(data.emission, ws, b, e, block);
        for (Index i = b; i < e; ++i) {
          auto row = block.row(i - b);
          row += log_class_probs(data.covariates.row(i), coef_);
          const double log_norm = log_sum_exp(row);
          row.array() -= log_norm;
          log_prob_row[i] = log_norm;
        }
      }
    });
  }

 private:
  RowMatrix coef_;
  Emission emission_;
  std::vector<Index> empty_;

  Stats empty_stats() const {
    Stats s;
    s.resp_sum = Vector::Zero(n_states());
    s.emission = emission_.make_stats();
    return s;
  }

  void check_data(const Data& data) const {
    require(data.covariates.rows() == data.n_rows(), "covariates: expected one row per observation");
    require(data.covariates.cols() == n_covariates(),
            "covariates: expected " + std::to_string(n_covariates()) + " columns");
  }

  // One Newton step on the free coefficients (classes 1..K-1, each p values, class-major) with
  // step-halving until Q does not decrease.
  void newton_step(const Data& data, const RowMatrix& h) {
    const Index K = n_states(), p = n_covariates(), m = (K - 1) * p;
    if (K == 1) return;
    struct Moments {
      Vector gradient;
      Matrix hessian;  // of -Q (positive semi-definite)
      Moments& operator+=(const Moments& o) {
        gradient += o.gradient;
        hessian += o.hessian;
        return *this;
      }
    };
    const Moments mom = reduce_rows<Moments>(
        data.n_rows(), 0, [&] { return Moments{Vector::Zero(m), Matrix::Zero(m, m)}; },
        [&](Moments& acc, Index begin, Index end) {
          for (Index i = begin; i < end; ++i) {
            const double w = data.weight(i);
            if (w == 0.0) continue;
            const auto z = data.covariates.row(i);
            const Eigen::Matrix<double, 1, Eigen::Dynamic> pi = log_class_probs(z, coef_).array().exp().matrix();
            const Matrix zz = z.transpose() * z;
            for (Index k = 1; k < K; ++k) {
              acc.gradient.segment((k - 1) * p, p) += (w * (h(i, k) - pi[k])) * z.transpose();
              for (Index l = 1; l < K; ++l) {
                const double c = w * pi[k] * ((k == l ? 1.0 : 0.0) - pi[l]);
                acc.hessian.block((k - 1) * p, (l - 1) * p, p, p) += c * zz;
              }
            }
          }
        });
    Eigen::LLT<Matrix> llt(mom.hessian);
    if (llt.info() != Eigen::Success) return;  // not positive definite: keep the coefficients
    const Vector delta = llt.solve(mom.gradient);
    if (!delta.allFinite()) return;
    const double q_old = class_objective(data, h, coef_);
    double t = 1.0;
    for (int halving = 0; halving <= kMaxHalvings; ++halving, t *= 0.5) {
      RowMatrix trial = coef_;
      for (Index k = 1; k < K; ++k) trial.col(k) += t * delta.segment((k - 1) * p, p);
      if (class_objective(data, h, trial) >= q_old) {
        coef_ = std::move(trial);
        return;
      }
    }
  }
};

}  // namespace emkit
