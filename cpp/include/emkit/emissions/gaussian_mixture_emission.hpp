// The Gaussian-mixture emission family (hmmlearn's GMMHMM): state k emits a mixture of M Gaussian
// components, p(x | z = k) = sum_m w_km N(x; mu_km, Sigma_km).
//
// It wraps the Gaussian family, one Gaussian with M components per state, so that the missing-value
// machinery (marginal densities, conditional moments), the priors and the M-step formulas are the
// Gaussian family's own. One Gaussian per state (rather than one with K·M components) makes "tied"
// mean what it means in hmmlearn's GMMHMM: the M components of a state share one covariance.
//
// E-step: the structure hands over the state posteriors gamma_tk (already weighted by the sequence
// weight, zero on rows with nothing observed); the within-state component responsibilities are
// gamma_tk · w_km N_km(x_t) / sum_m' w_km' N_km'(x_t), computed in log space. The component
// statistics are the Gaussian family's (centred on the current component means); the weights'
// statistics are the component counts n_km.
//
// M-step per state k (N_k = sum_m n_km): the Gaussian M-step of the state's components with counts
// n_km and total N_k (so a tied covariance divides by N_k), and the weights' Dirichlet MAP
// w_km ∝ n_km + alpha_km − 1 on the support of the current weights (a zero weight stays zero, as the
// HMM's start and transition probabilities). Policies: without a Gaussian prior, a state with
// N_k < 1e−10 of the emission weight keeps all its parameters (it is reported empty); within a
// state, the Gaussian family's policy (a component with n_km < 1e−10·N_k keeps its mean and
// covariance); weights whose MAP total is 0 keep their previous value.
#pragma once

#include <Eigen/Core>
#include <cmath>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "../structures/parameter_groups.hpp"
#include "gaussian.hpp"

namespace emkit {

// Expected sufficient statistics: the component counts n_km and every state's Gaussian statistics.
struct GaussianMixtureEmissionStats {
  RowMatrix counts;                   // K×M: Σ_t r_tkm
  std::vector<GaussianStats> states;  // K: the statistics of each state's M components

  GaussianMixtureEmissionStats& operator+=(const GaussianMixtureEmissionStats& other) {
    counts += other.counts;
    for (size_t k = 0; k < states.size(); ++k) states[k] += other.states[k];
    return *this;
  }
};

// The family's priors: the Gaussian family's conjugate prior on every component, and Dirichlet
// concentrations on every state's weights (K×M, >= 1; all 1 = none).
struct GaussianMixtureEmissionPrior {
  std::optional<GaussianPrior> gaussian;
  RowMatrix weight_concentration;
};

class GaussianMixtureEmission {
 public:
  using Data = GaussianData;
  using Stats = GaussianMixtureEmissionStats;
  struct Workspace {
    std::vector<Gaussian::Workspace> states;
  };

  static constexpr double kEmptyFraction = 1e-10;

  // weights: K×M; means: (K·M)×d, state k's components in rows [k·M, (k+1)·M); covariances stacked
  // per state in the Gaussian family's layout: full (K·M)×(d·d), tied K×(d·d), diag (K·M)×d,
  // spherical (K·M)×1. weight_concentration: K×M, or empty (no prior on the weights).
  GaussianMixtureEmission(CovarianceType type, RowMatrix weights, const RowMatrix& means,
                          const RowMatrix& covariances, double reg_covar,
                          std::optional<GaussianPrior> prior = std::nullopt,
                          RowMatrix weight_concentration = RowMatrix())
      : weights_(std::move(weights)), weight_concentration_(std::move(weight_concentration)) {
    const Index K = weights_.rows(), M = weights_.cols();
    require(K >= 1 && M >= 1, "weights: expected a non-empty (n_components, n_mix) array");
    require(means.rows() == K * M && means.cols() >= 1,
            "means: expected " + std::to_string(K * M) + " rows (n_components × n_mix)");
    const Index factors = type == CovarianceType::Tied ? 1 : M;
    require(covariances.rows() == K * factors, "covariances: expected " + std::to_string(K * factors) + " rows");
    for (Index k = 0; k < K; ++k) {
      const auto w = weights_.row(k);
      require(w.allFinite() && (w.array() >= 0).all() && std::abs(w.sum() - 1.0) < 1e-8,
              "weights: row " + std::to_string(k) + " must be nonnegative and sum to 1");
    }
    if (weight_concentration_.size() == 0) weight_concentration_ = RowMatrix::Ones(K, M);
    require(weight_concentration_.rows() == K && weight_concentration_.cols() == M,
            "weights_prior: expected a (" + std::to_string(K) + ", " + std::to_string(M) + ") array");
    require(weight_concentration_.allFinite() && (weight_concentration_.array() >= 1.0).all(),
            "weights_prior: expected Dirichlet concentrations >= 1");
    states_.reserve(static_cast<size_t>(K));
    for (Index k = 0; k < K; ++k)
      states_.emplace_back(type, means.middleRows(k * M, M), covariances.middleRows(k * factors, factors), reg_covar,
                           prior);
    update_log_weights();
  }

  Index n_states() const { return weights_.rows(); }
  Index n_mix() const { return weights_.cols(); }
  Index n_features() const { return states_.front().n_features(); }
  CovarianceType covariance_type() const { return states_.front().covariance_type(); }
  double reg_covar() const { return states_.front().reg_covar(); }
  const RowMatrix& weights() const { return weights_; }
  const RowMatrix& weight_concentration() const { return weight_concentration_; }
  const Gaussian& state(Index k) const { return states_[static_cast<size_t>(k)]; }
  const std::optional<GaussianPrior>& gaussian_prior() const { return states_.front().prior(); }
  bool has_weight_prior() const { return (weight_concentration_.array() != 1.0).any(); }

  // The structure asks whether the family has a prior.
  std::optional<GaussianMixtureEmissionPrior> prior() const {
    if (!gaussian_prior() && !has_weight_prior()) return std::nullopt;
    return GaussianMixtureEmissionPrior{gaussian_prior(), weight_concentration_};
  }

  // Means (K·M)×d and covariances stacked per state (the constructor's layout).
  RowMatrix means() const {
    const Index M = n_mix();
    RowMatrix out(n_states() * M, n_features());
    for (Index k = 0; k < n_states(); ++k) out.middleRows(k * M, M) = state(k).means();
    return out;
  }
  RowMatrix covariances() const {
    const Index rows = state(0).covariances().rows();
    RowMatrix out(n_states() * rows, state(0).covariances().cols());
    for (Index k = 0; k < n_states(); ++k) out.middleRows(k * rows, rows) = state(k).covariances();
    return out;
  }

  // Free weights: the support of each state's weights minus one.
  Index n_weight_parameters() const {
    Index n = 0;
    for (Index k = 0; k < n_states(); ++k) n += (weights_.row(k).array() > 0.0).count() - 1;
    return n;
  }
  Index n_parameters() const {
    Index n = n_weight_parameters();
    for (const auto& g : states_) n += g.n_parameters();
    return n;
  }

  Workspace prepare(const Data& data, int n_threads) const {
    Workspace ws;
    ws.states.reserve(states_.size());
    for (const auto& g : states_) ws.states.push_back(g.prepare(data, n_threads));
    return ws;
  }

  // log p(x_t | z = k) = logsumexp_m(log w_km + log N_km(x_t)); 0 for a row with nothing observed.
  void log_prob(const Data& data, const Workspace& ws, Index begin, Index end, Eigen::Ref<RowMatrix> out) const {
    const Index nb = end - begin, M = n_mix();
    RowMatrix joint(nb, M);
    for (Index k = 0; k < n_states(); ++k) {
      component_log_joint(data, ws, k, begin, end, joint);
      for (Index i = 0; i < nb; ++i) out(i, k) = log_sum_exp(joint.row(i));
    }
    if (data.range_complete(begin, end)) return;
    for (Index i = begin; i < end; ++i)
      if (!data.has_observation(i)) out.row(i - begin).setZero();
  }

  Stats make_stats() const {
    Stats s;
    s.counts = RowMatrix::Zero(n_states(), n_mix());
    s.states.reserve(states_.size());
    for (const auto& g : states_) s.states.push_back(g.make_stats());
    return s;
  }

  // resp: (end−begin)×K state posteriors (weighted; zero on rows with nothing observed).
  void accumulate(const Data& data, const Workspace& ws, Index begin, Index end,
                  const Eigen::Ref<const RowMatrix>& resp, Stats& stats) const {
    const Index nb = end - begin, M = n_mix();
    RowMatrix joint(nb, M), comp(nb, M);
    for (Index k = 0; k < n_states(); ++k) {
      if ((resp.col(k).array() == 0.0).all()) continue;
      component_log_joint(data, ws, k, begin, end, joint);
      for (Index i = 0; i < nb; ++i) {
        const double r = resp(i, k);
        const double total = r == 0.0 ? -std::numeric_limits<double>::infinity() : log_sum_exp(joint.row(i));
        if (!std::isfinite(total)) {
          comp.row(i).setZero();
          continue;
        }
        comp.row(i) = r * (joint.row(i).array() - total).exp();
      }
      stats.counts.row(k) += comp.colwise().sum();
      states_[static_cast<size_t>(k)].accumulate(data, ws.states[static_cast<size_t>(k)], begin, end, comp,
                                                 stats.states[static_cast<size_t>(k)]);
    }
  }

  // M-step holding the groups in `fixed` ("weights", "means", "covariances"); returns the states
  // that were empty (they kept their parameters). All-or-nothing: if a state's Gaussian M-step
  // throws, no parameter has changed.
  std::vector<Index> maximize(const Stats& stats, const Vector& resp_sum, double total_weight,
                              const FixedGroups& fixed = {}) {
    (void)resp_sum;
    const Index K = n_states(), M = n_mix();
    require(stats.counts.rows() == K && stats.counts.cols() == M && static_cast<Index>(stats.states.size()) == K,
            "stats: shapes do not match the model");
    std::vector<Index> empty;
    std::vector<Gaussian> updated = states_;
    RowMatrix weights = weights_;
    const bool fix_gaussian = fixed.count("means") && fixed.count("covariances");
    for (Index k = 0; k < K; ++k) {
      const Vector counts = stats.counts.row(k).transpose();
      const double state_total = counts.sum();
      if (!gaussian_prior() && state_total < kEmptyFraction * total_weight) {
        empty.push_back(k);
        continue;
      }
      if (!fix_gaussian)
        ParameterGroups<Gaussian>::maximize(updated[static_cast<size_t>(k)], stats.states[static_cast<size_t>(k)],
                                            counts, state_total, fixed);
      if (!fixed.count("weights")) {
        // Dirichlet MAP on the support of the current weights; a zero total keeps them.
        Vector w = Vector::Zero(M);
        for (Index m = 0; m < M; ++m)
          if (weights_(k, m) > 0.0) w[m] = counts[m] + weight_concentration_(k, m) - 1.0;
        const double total = w.sum();
        if (total > 0.0) weights.row(k) = (w / total).transpose();
      }
    }
    states_ = std::move(updated);
    weights_ = std::move(weights);
    update_log_weights();
    return empty;
  }

  // Dirichlet densities of the weights over their supports (normalised; a flat one contributes
  // lgamma(support size)) plus the Gaussian prior of every component; 0 when the family has none.
  double log_prior() const {
    if (!prior()) return 0.0;
    double total = 0.0;
    for (Index k = 0; k < n_states(); ++k) {
      double alpha_sum = 0.0;
      for (Index m = 0; m < n_mix(); ++m) {
        if (weights_(k, m) <= 0.0) continue;
        const double a = weight_concentration_(k, m);
        alpha_sum += a;
        total -= std::lgamma(a);
        if (a != 1.0) total += (a - 1.0) * std::log(weights_(k, m));
      }
      total += std::lgamma(alpha_sum);
    }
    for (const auto& g : states_) total += g.log_prior();
    return total;
  }

  template <class Rng>
  void sample(Index k, Rng& rng, Eigen::Ref<Vector> out) const {
    const auto w = weights_.row(k);
    std::discrete_distribution<int> pick(w.data(), w.data() + w.size());
    states_[static_cast<size_t>(k)].sample(pick(rng), rng, out);
  }

 private:
  RowMatrix weights_;
  RowMatrix weight_concentration_;
  RowMatrix log_weights_;
  std::vector<Gaussian> states_;

  void update_log_weights() {
    log_weights_.resize(weights_.rows(), weights_.cols());
    for (Index k = 0; k < weights_.rows(); ++k)
      for (Index m = 0; m < weights_.cols(); ++m)
        log_weights_(k, m) = weights_(k, m) > 0.0 ? std::log(weights_(k, m)) : -std::numeric_limits<double>::infinity();
  }

  // joint(i, m) = log w_km + log N_km(x_i) for the rows [begin, end).
  void component_log_joint(const Data& data, const Workspace& ws, Index k, Index begin, Index end,
                           RowMatrix& joint) const {
    states_[static_cast<size_t>(k)].log_prob(data, ws.states[static_cast<size_t>(k)], begin, end, joint);
    for (Index m = 0; m < n_mix(); ++m) {
      if (weights_(k, m) > 0.0)
        joint.col(m).array() += log_weights_(k, m);
      else
        joint.col(m).setConstant(-std::numeric_limits<double>::infinity());
    }
  }

  static double log_sum_exp(const Eigen::Ref<const Eigen::Matrix<double, 1, Eigen::Dynamic>>& v) {
    const double top = v.maxCoeff();
    if (!std::isfinite(top)) return top;
    return top + std::log((v.array() - top).exp().sum());
  }
};

// Groups "weights", "means", "covariances" (each state's Gaussian groups, see gaussian/groups.hpp).
template <>
struct ParameterGroups<GaussianMixtureEmission> {
  static std::vector<std::string> names() { return {"weights", "means", "covariances"}; }

  static Index n_free_parameters(const GaussianMixtureEmission& e, const FixedGroups& fixed) {
    Index n = fixed.count("weights") ? 0 : e.n_weight_parameters();
    for (Index k = 0; k < e.n_states(); ++k) n += ParameterGroups<Gaussian>::n_free_parameters(e.state(k), fixed);
    return n;
  }

  static std::vector<Index> maximize(GaussianMixtureEmission& e, const GaussianMixtureEmissionStats& stats,
                                     const Vector& counts, double total_weight, const FixedGroups& fixed) {
    return e.maximize(stats, counts, total_weight, fixed);
  }
};

}  // namespace emkit
