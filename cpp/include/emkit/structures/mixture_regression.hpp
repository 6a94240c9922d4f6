// Mixture with concomitant variables (latent class regression): the prior class probabilities
// of row i are a multinomial logit in its covariates z_i, pi_ik = softmax_k(z_i . beta_k), with
// class 0 as the reference (beta_0 = 0). The M-step for beta is one Newton step on
// Q(beta) = sum_i w_i sum_k h_ik log pi_ik(beta) with step-halving, so Q and therefore the
// log-likelihood never decrease (a generalised EM). The emission part is the family's M-step.
//
// Everything is a sum over rows, so the fit can be driven chunk by chunk:
// - the E-step (Mixture's kernel, with per-row log class probabilities) also sums the gradient and
//   information of Q at the current beta and the linear term L_k = sum_i w_i h_ik z_i;
// - m_step(stats) does the emission M-step and solves for the Newton step delta, leaving a
//   *pending* line search;
// - since Q(beta + t delta) - Q(beta) = t delta.L - sum_i w_i [A_i(beta + t delta) - A_i(beta)]
//   with A_i(beta) = logsumexp_k(z_i beta_k), which depends on the covariates and weights only,
//   line_search(covariates, weights) is one more additive pass computing the A-change of a batch of
//   step sizes, and m_step of its statistics keeps the largest t of the batch with Q not
//   decreasing (or asks for another pass with the next batch).
// fit_em runs the same passes over the whole data (em.hpp's pending passes).
#pragma once

#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "../detail/fingerprint.hpp"
#include "../parallel.hpp"
#include "../types.hpp"
#include "mixture.hpp"

namespace emkit {

template <class Emission>
struct MixtureRegressionData {
  typename Emission::Data emission;
  Eigen::Map<const RowMatrix> covariates;  // n × p (the intercept column included by the caller)
  Vector sample_weight;

  Index n_rows() const { return emission.n_rows(); }
  double weight(Index i) const { return sample_weight.size() ? sample_weight[i] : 1.0; }
};

// The mixture's statistics plus the Newton step's sums over rows at the current beta. Vectors over
// the free coefficients are class-major: classes 1..K-1, p values each.
template <class Emission>
struct MixtureRegressionStats {
  Vector resp_sum;
  double loglik = 0.0;
  double total_weight = 0.0;
  typename Emission::Stats emission;
  Vector gradient;         // dQ/dbeta = sum_i w_i (h_ik - pi_ik) z_i
  Matrix information;      // -d2Q/dbeta2 = sum_i w_i pi_ik (delta_kl - pi_il) z_i z_i^T (symmetric)
  Vector resp_covariates;  // L_k = sum_i w_i h_ik z_i, the linear term of Q in beta
  std::uint64_t parameters = 0;  // fingerprint of (beta, emission parameters) at the E-step

  MixtureRegressionStats& operator+=(const MixtureRegressionStats& other) {
    resp_sum += other.resp_sum;
    loglik += other.loglik;
    total_weight += other.total_weight;
    emission += other.emission;
    gradient += other.gradient;
    information += other.information;
    resp_covariates += other.resp_covariates;
    return *this;
  }
};

// One line-search pass of a pending Newton step delta: for the trial steps
// t_j = 2^-(first_halving + j), sum_i w_i [A_i(beta + t_j delta) - A_i(beta)].
struct RegressionLineSearchStats {
  int first_halving = 0;
  Vector log_partition_change;  // one value per trial step
  std::uint64_t step = 0;       // fingerprint of (beta, delta) of the step it was computed for

  RegressionLineSearchStats& operator+=(const RegressionLineSearchStats& other) {
    log_partition_change += other.log_partition_change;
    return *this;
  }
};

namespace detail {
// An emission family's parameters in a fingerprint: its own when it keeps one, else the bytes of
// its probabilities, else nothing (beta alone).
template <class Emission>
auto emission_fingerprint(const Emission& e, std::uint64_t hash, int)
    -> decltype(static_cast<std::uint64_t>(e.parameters_fingerprint())) {
  const std::uint64_t own = e.parameters_fingerprint();
  return fingerprint_bytes(&own, sizeof own, hash);
}
template <class Emission>
auto emission_fingerprint(const Emission& e, std::uint64_t hash, long) -> decltype(fingerprint_values(e.probs())) {
  return fingerprint_values(e.probs(), hash);
}
template <class Emission>
std::uint64_t emission_fingerprint(const Emission&, std::uint64_t hash, ...) {
  return hash;
}
}  // namespace detail

template <class Emission>
class MixtureRegression {
 public:
  using Data = MixtureRegressionData<Emission>;
  using Stats = MixtureRegressionStats<Emission>;
  using LineSearchStats = RegressionLineSearchStats;

  static constexpr int kMaxHalvings = 30;
  // Trial steps per line-search pass: t = 1 ... 1/128 in the first, so that a step needing
  // halvings rarely costs a second pass over the rows, at 8 expm1 per row and class.
  static constexpr int kDefaultTrialStepsPerPass = 8;

  // coef: p × K with column 0 (the reference class) zero.
  MixtureRegression(RowMatrix coef, Emission emission) : coef_(std::move(coef)), emission_(std::move(emission)) {
    require(coef_.cols() == emission_.n_states(),
            "coef: expected " + std::to_string(emission_.n_states()) + " columns (one per class)");
    require(coef_.rows() >= 1 && coef_.allFinite(), "coef: expected finite values");
    require((coef_.col(0).array() == 0.0).all(), "coef: the reference class (column 0) must be zero");
  }

  Index n_states() const { return coef_.cols(); }
  Index n_covariates() const { return coef_.rows(); }
  Index n_free_coefficients() const { return (n_states() - 1) * n_covariates(); }
  const RowMatrix& coef() const { return coef_; }
  const Emission& emission() const { return emission_; }
  const std::vector<Index>& empty_states() const { return empty_; }
  Index n_parameters() const { return n_free_coefficients() + emission_.n_parameters(); }
  double log_prior() const { return emission_.log_prior(); }
  // Whether the M-step waits for a line-search pass: line_search, then m_step of its statistics.
  bool pending_pass() const { return pending_.has_value(); }
  // The trial steps the next line-search pass evaluates: 2^-first ... (empty when none is pending).
  int next_halving() const { return pending_ ? pending_->next_halving : 0; }
  int n_trial_steps() const {
    return pending_ ? std::min(trial_steps_per_pass_, kMaxHalvings + 1 - pending_->next_halving) : 0;
  }
  // Trades passes over the rows against expm1 calls per row: the accepted step is the same for any
  // value (the first t of 1, 1/2, ... with Q not decreasing), only the number of passes changes.
  int trial_steps_per_pass() const { return trial_steps_per_pass_; }
  void set_trial_steps_per_pass(int n) {
    require(n >= 1 && n <= kMaxHalvings + 1,
            "trial_steps_per_pass: expected a value in [1, " + std::to_string(kMaxHalvings + 1) + "]");
    trial_steps_per_pass_ = n;
  }

  // The pending Newton step as p × K coefficients (column 0 zero; zero when none is pending).
  RowMatrix pending_direction() const {
    RowMatrix direction = RowMatrix::Zero(n_covariates(), n_states());
    if (pending_)
      for (Index k = 1; k < n_states(); ++k) direction.col(k) = pending_->delta.segment((k - 1) * n_covariates(), n_covariates());
    return direction;
  }

  // Of beta and the emission parameters: the statistics' `parameters`.
  std::uint64_t parameters_fingerprint() const {
    return detail::emission_fingerprint(emission_, detail::fingerprint_values(coef_), 0);
  }

  Stats make_stats() const {
    Stats s;
    const Index m = n_free_coefficients();
    s.resp_sum = Vector::Zero(n_states());
    s.emission = emission_.make_stats();
    s.gradient = Vector::Zero(m);
    s.information = Matrix::Zero(m, m);
    s.resp_covariates = Vector::Zero(m);
    s.parameters = parameters_fingerprint();
    return s;
  }

  Stats e_step(const Data& data, int n_threads) const {
    require(!pending_, "e_step: a line search is pending; call line_search and m_step of its statistics first");
    check_rows(data.covariates, data.sample_weight, data.n_rows());
    const auto ws = emission_.prepare(data.emission, n_threads);
    const Index K = n_states();
    const bool single = detail::single_precision_rows(data.emission, 0);
    Stats total = reduce_rows<Stats>(
        data.n_rows(), n_threads, [&] { return make_stats(); },
        [&](Stats& acc, Index begin, Index end) {
          RowMatrix resp(end - begin, K), log_pi(end - begin, K);
          class_log_probs(data.covariates.middleRows(begin, end - begin), log_pi);
          detail::mixture_e_step_block(emission_, data, ws, begin, end, single, log_pi.data(), K, resp, acc);
          accumulate_newton_sums(data, begin, log_pi, resp, acc);
        });
    // Both triangles from the lower one: the products left them equal only up to rounding.
    total.information = total.information.template selfadjointView<Eigen::Lower>();
    return total;
  }

  // The emission M-step, and the Newton step on beta: solved here, applied after its line search
  // (pending_pass()). beta stays when K = 1 or the information is not positive definite.
  void m_step(const Stats& stats) {
    require(!pending_, "m_step: a line search is pending; call line_search and m_step of its statistics first");
    const Index m = n_free_coefficients();
    require(stats.resp_sum.size() == n_states() && stats.gradient.size() == m && stats.resp_covariates.size() == m &&
                stats.information.rows() == m && stats.information.cols() == m,
            "stats: shapes do not match the model");
    require(stats.parameters == parameters_fingerprint(),
            "stats: computed at other parameters than the model's current ones");
    require(stats.total_weight > 0, "stats: total weight must be > 0");
    empty_ = emission_.maximize(stats.emission, stats.resp_sum, stats.total_weight);
    if (n_states() == 1) return;
    Eigen::LLT<Matrix> llt(stats.information);
    if (llt.info() != Eigen::Success) return;  // not positive definite: keep the coefficients
    Vector delta = llt.solve(stats.gradient);
    if (!delta.allFinite()) return;
    const double gain = delta.dot(stats.resp_covariates);
    const std::uint64_t step = detail::fingerprint_values(delta, detail::fingerprint_values(coef_));
    pending_ = PendingStep{std::move(delta), gain, 0, step};
  }

  // One pass of the pending step's line search over a set of rows (covariates and weights only).
  LineSearchStats line_search(const Eigen::Ref<const RowMatrix>& covariates, const Vector& sample_weight,
                              int n_threads) const {
    require(pending_.has_value(), "line_search: no line search is pending (see pending_pass)");
    check_rows(covariates, sample_weight, covariates.rows());
    const Index K = n_states();
    const int first = pending_->next_halving, n_trials = n_trial_steps();
    const RowMatrix direction = pending_direction();
    Vector t(n_trials);
    for (int j = 0; j < n_trials; ++j) t[j] = std::ldexp(1.0, -(first + j));
    auto weight = [&](Index i) { return sample_weight.size() ? sample_weight[i] : 1.0; };
    return reduce_rows<LineSearchStats>(
        covariates.rows(), n_threads,
        [&] { return LineSearchStats{first, Vector::Zero(n_trials), pending_->step}; },
        [&](LineSearchStats& acc, Index begin, Index end) {
          const auto z = covariates.middleRows(begin, end - begin);
          RowMatrix log_pi(end - begin, K), slope(end - begin, K);
          class_log_probs(z, log_pi);
          slope.noalias() = z * direction;
          Vector pi(K);
          for (Index i = 0; i < end - begin; ++i) {
            const double w = weight(begin + i);
            if (w == 0.0) continue;
            pi = log_pi.row(i).transpose().array().exp();
            const double steepest = slope.row(i).cwiseAbs().maxCoeff();
            for (int j = 0; j < n_trials; ++j)
              acc.log_partition_change[j] += w * log_partition_change(pi, log_pi.row(i), slope.row(i), t[j], steepest);
          }
        });
  }
  LineSearchStats line_search(const Data& data, int n_threads) const {
    return line_search(data.covariates, data.sample_weight, n_threads);
  }

  // Ends the pending step with the largest trial t of the pass whose Q does not decrease; when none
  // does, the next pass is pending, or after 2^-kMaxHalvings beta stays.
  void m_step(const LineSearchStats& stats) {
    require(pending_.has_value(), "stats: no line search is pending (see pending_pass)");
    require(stats.step == pending_->step && stats.first_halving == pending_->next_halving &&
                stats.log_partition_change.size() == n_trial_steps(),
            "stats: line-search statistics of another step, or of another pass of it");
    const Index K = n_states(), p = n_covariates();
    for (int j = 0; j < n_trial_steps(); ++j) {
      const double t = std::ldexp(1.0, -(stats.first_halving + j));
      // Q(beta + t delta) - Q(beta) >= 0 (false when the change is not finite).
      if (t * pending_->gain - stats.log_partition_change[j] >= 0.0) {
        for (Index k = 1; k < K; ++k) coef_.col(k) += t * pending_->delta.segment((k - 1) * p, p);
        pending_.reset();
        return;
      }
    }
    pending_->next_halving += n_trial_steps();
    if (pending_->next_halving > kMaxHalvings) pending_.reset();
  }

  // log p(z_i = k | x_i) and log p(x_i) for new rows.
  void posterior(const Data& data, int n_threads, Eigen::Ref<RowMatrix> log_resp, Eigen::Ref<Vector> log_prob_row) const {
    check_rows(data.covariates, data.sample_weight, data.n_rows());
    const auto ws = emission_.prepare(data.emission, n_threads);
    const ChunkPlan plan = plan_chunks(data.n_rows());
    parallel_for(plan.n_chunks, n_threads, [&](Index c) {
      for (Index b = plan.begin(c); b < plan.end(c); b += kBlockRows) {
        const Index e = std::min(plan.end(c), b + kBlockRows);
        auto block = log_resp.middleRows(b, e - b);
        emission_.log_prob(data.emission, ws, b, e, block);
        RowMatrix log_pi(e - b, n_states());
        class_log_probs(data.covariates.middleRows(b, e - b), log_pi);
        block += log_pi;
        for (Index i = 0; i < e - b; ++i) {
          const double log_norm = log_sum_exp(block.row(i));
          block.row(i).array() -= log_norm;
          log_prob_row[b + i] = log_norm;
        }
      }
    });
  }

 private:
  struct PendingStep {
    Vector delta;            // the Newton step, class-major
    double gain = 0.0;       // delta . L
    int next_halving = 0;    // the next pass tries t = 2^-next_halving, ...
    std::uint64_t step = 0;  // fingerprint of (beta, delta)
  };

  RowMatrix coef_;
  Emission emission_;
  std::vector<Index> empty_;
  std::optional<PendingStep> pending_;
  int trial_steps_per_pass_ = kDefaultTrialStepsPerPass;

  void check_rows(const Eigen::Ref<const RowMatrix>& covariates, const Vector& sample_weight, Index n_rows) const {
    require(covariates.rows() == n_rows, "covariates: expected one row per observation");
    require(covariates.cols() == n_covariates(), "covariates: expected " + std::to_string(n_covariates()) + " columns");
    require(sample_weight.size() == 0 || sample_weight.size() == n_rows,
            "sample_weight: expected " + std::to_string(n_rows) + " values");
  }

  // log pi_ik = z_i beta_k - logsumexp_l(z_i beta_l) for a block of rows.
  void class_log_probs(const Eigen::Ref<const RowMatrix>& z, RowMatrix& out) const {
    out.noalias() = z * coef_;
    for (Index i = 0; i < out.rows(); ++i) out.row(i).array() -= log_sum_exp(out.row(i));
  }

  // log sum_k pi_k exp(t s_k) = A(beta + t delta) - A(beta) for one row with slopes s_k = z . delta_k.
  // For small steps as log1p(sum_k pi_k expm1(t s_k)), whose rounding is relative to the change
  // itself (the direct form's is relative to |log pi|, and Q's change is second order in t);
  // beyond |t s| = 0.5 in log space, where expm1 would amplify the rounding of unlikely classes.
  template <class Row>
  static double log_partition_change(const Vector& pi, const Row& log_pi, const Row& slope, double t, double steepest) {
    const Index K = pi.size();
    if (t * steepest <= 0.5) {
      double x = 0.0;
      for (Index k = 0; k < K; ++k) x += pi[k] * std::expm1(t * slope[k]);
      return std::log1p(x);
    }
    double top = kNegInf;
    for (Index k = 0; k < K; ++k) top = std::max(top, log_pi[k] + t * slope[k]);
    double sum = 0.0;
    for (Index k = 0; k < K; ++k) sum += std::exp(log_pi[k] + t * slope[k] - top);
    return top + std::log(sum);
  }

  // The Newton step's sums over a block: gradient Z^T (resp - w pi), L = Z^T resp (classes 1..K-1),
  // and the information sum_i w_i (diag pi_i - pi_i pi_i^T) (x) z_i z_i^T as
  // blockdiag_k(V_k^T Z) - V^T Y with Y_i = [pi_ik z_i]_k and V = w (.) Y: three products per block
  // instead of K^2 outer products per row.
  void accumulate_newton_sums(const Data& data, Index begin, const RowMatrix& log_pi, const RowMatrix& resp,
                              Stats& acc) const {
    const Index nb = resp.rows(), K = n_states(), p = n_covariates(), m = n_free_coefficients();
    if (K == 1) return;
    const auto z = data.covariates.middleRows(begin, nb);
    Vector w(nb);
    for (Index i = 0; i < nb; ++i) w[i] = data.weight(begin + i);
    const RowMatrix pi = log_pi.rightCols(K - 1).array().exp().matrix();
    const RowMatrix free_resp = resp.rightCols(K - 1);
    // p × (K-1) column-major views of the class-major vectors.
    Eigen::Map<Matrix> gradient(acc.gradient.data(), p, K - 1), linear(acc.resp_covariates.data(), p, K - 1);
    linear.noalias() += z.transpose() * free_resp;
    gradient.noalias() += z.transpose() * (free_resp - (pi.array().colwise() * w.array()).matrix());
    RowMatrix Y(nb, m);
    for (Index k = 0; k < K - 1; ++k) Y.middleCols(k * p, p) = z.array().colwise() * pi.col(k).array();
    const RowMatrix V = Y.array().colwise() * w.array();
    acc.information.noalias() -= V.transpose() * Y;
    for (Index k = 0; k < K - 1; ++k) acc.information.block(k * p, k * p, p, p).noalias() += V.middleCols(k * p, p).transpose() * z;
  }
};

}  // namespace emkit
