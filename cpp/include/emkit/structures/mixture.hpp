// The Mixture latent structure: i.i.d. hidden states per row with mixing weights, over any
// emission family. The E-step is a log-sum-exp over states per row; the statistics are the
// expected counts per state plus the emission family's own statistics.
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <optional>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "../parallel.hpp"
#include "../types.hpp"
#include "../detail/vector_math.hpp"
#include "parameter_groups.hpp"
#include "seeding.hpp"

namespace emkit {

template <class Emission>
struct MixtureStats {
  Vector resp_sum;            // expected count per state, sum_i w_i r_ik
  double loglik = 0.0;        // sum_i w_i log p(x_i)
  double total_weight = 0.0;  // sum_i w_i
  typename Emission::Stats emission;

  MixtureStats& operator+=(const MixtureStats& other) {
    resp_sum += other.resp_sum;
    loglik += other.loglik;
    total_weight += other.total_weight;
    emission += other.emission;
    return *this;
  }
};

// The rows a mixture is fitted to: the emission family's view of them and the sample weights
// (empty = every row has weight one).
template <class Emission>
struct MixtureData {
  typename Emission::Data emission;
  Vector sample_weight;

  Index n_rows() const { return emission.n_rows(); }
  double weight(Index i) const { return sample_weight.size() ? sample_weight[i] : 1.0; }
};

namespace detail {
// An emission family's BlockCache: what its log_prob of a block keeps for accumulate of the same
// block (see Gaussian::BlockCache); families without one are called without.
template <class Emission, class = void>
struct BlockCacheOf {
  struct type {};
  static constexpr bool exists = false;
};
template <class Emission>
struct BlockCacheOf<Emission, std::void_t<typename Emission::BlockCache>> {
  using type = typename Emission::BlockCache;
  static constexpr bool exists = true;
};

// Whether an emission family's rows are float32 (its Data has single_precision(), as GaussianData):
// the E-step then exponentiates in float32 precision (vmath::exp_nonpositive_single), the
// precision of the log-densities themselves.
template <class Data>
auto single_precision_rows(const Data& data, int) -> decltype(static_cast<bool>(data.single_precision())) {
  return data.single_precision();
}
template <class Data>
bool single_precision_rows(const Data&, long) {
  return false;
}

// One block [begin, end) of a mixture's E-step, shared by Mixture (the same log-weights for every
// row: log_prior_stride 0) and MixtureRegression (log class probabilities per row: stride K).
// resp (nb × K) receives the weighted responsibilities w_i p(z_i = k | x_i); the block's
// log-likelihood, weight, expected counts and emission statistics are added to acc.
template <class Emission, class Data, class Workspace, class Stats>
void mixture_e_step_block(const Emission& emission, const Data& data, const Workspace& ws, Index begin, Index end,
                          bool single, const double* log_prior, Index log_prior_stride, RowMatrix& resp, Stats& acc) {
  const Index nb = end - begin, K = resp.cols();
  Vector shift(nb), log_sum(nb);
  using Cache = BlockCacheOf<Emission>;
  typename Cache::type cache;
  if constexpr (Cache::exists)
    emission.log_prob(data.emission, ws, begin, end, resp, &cache);
  else
    emission.log_prob(data.emission, ws, begin, end, resp);
  // Per row: log p(x_i, k) shifted by its maximum; then one vectorised exp over the block
  // (in float32 precision for float32 rows: values below e^-87 become 0),
  // the row sums s_i, log p(x_i) = shift_i + log s_i, responsibilities e / s_i. In SIMD
  // packets along the row when K is a whole number of them, else plain loops over the K
  // entries of a row (Eigen's per-row expressions cost more than the work when K is small).
  const bool packets = vmath::rows_in_packets(K);
  if (packets && log_prior_stride == 0) {
    vmath::rows::add_and_shift(resp.data(), nb, K, log_prior, shift.data());
  } else {
    for (Index i = 0; i < nb; ++i) {
      double* row = resp.data() + i * K;
      const double* log_w = log_prior + i * log_prior_stride;
      double top = kNegInf;
      for (Index k = 0; k < K; ++k) {
        row[k] += log_w[k];
        top = std::max(top, row[k]);
      }
      for (Index k = 0; k < K; ++k) row[k] -= top;
      shift[i] = top;
    }
  }
  if (single)
    vmath::exp_nonpositive_single(resp.data(), nb * K);
  else
    vmath::exp_in_place(resp.data(), nb * K);
  Vector row_sum(nb);
  if (packets) {
    vmath::rows::sums(resp.data(), nb, K, row_sum.data());
  } else {
    for (Index i = 0; i < nb; ++i) {
      const double* row = resp.data() + i * K;
      double s = 0.0;
      for (Index k = 0; k < K; ++k) s += row[k];
      row_sum[i] = s;
    }
  }
  // A row with a non-finite maximum (every state impossible) gets log p = that maximum and
  // NaN responsibilities, as log-sum-exp would: the driver reports the objective.
  for (Index i = 0; i < nb; ++i) log_sum[i] = std::isfinite(shift[i]) ? row_sum[i] : 1.0;
  vmath::log_of_array(log_sum.data(), log_sum.data(), nb);
  Vector scale(nb);
  for (Index i = 0; i < nb; ++i) {
    const double w = data.weight(begin + i);
    const double log_norm = std::isfinite(shift[i]) ? shift[i] + log_sum[i] : shift[i];
    scale[i] = w / row_sum[i];
    if (w != 0.0) acc.loglik += w * log_norm;
    acc.total_weight += w;
  }
  double* resp_sum = acc.resp_sum.data();
  if (packets) {
    vmath::rows::scale_and_sum_columns(resp.data(), nb, K, scale.data(), resp_sum);
  } else {
    for (Index i = 0; i < nb; ++i) {
      double* row = resp.data() + i * K;
      for (Index k = 0; k < K; ++k) {
        row[k] *= scale[i];
        resp_sum[k] += row[k];
      }
    }
  }
  if constexpr (Cache::exists)
    emission.accumulate(data.emission, ws, begin, end, resp, acc.emission, &cache);
  else
    emission.accumulate(data.emission, ws, begin, end, resp, acc.emission);
}
}  // namespace detail

template <class Emission>
class Mixture {
 public:
  using Stats = MixtureStats<Emission>;
  using Data = MixtureData<Emission>;

  // weight_concentration: symmetric Dirichlet prior on the weights (1 = no prior).
  Mixture(Vector weights, Emission emission, double weight_concentration = 1.0)
      : weights_(std::move(weights)), emission_(std::move(emission)), alpha_(weight_concentration) {
    require(weights_.size() == emission_.n_states(),
            "weights: expected " + std::to_string(emission_.n_states()) + " values");
    require(weights_.allFinite() && (weights_.array() >= 0).all() && std::abs(weights_.sum() - 1.0) < 1e-8,
            "weights: expected nonnegative values summing to 1");
    require(std::isfinite(alpha_) && alpha_ >= 1.0, "weight_concentration: expected a value >= 1");
    weights_ /= weights_.sum();
  }

  Index n_states() const { return weights_.size(); }
  const Vector& weights() const { return weights_; }
  // Fixed weights keep their initial values through every M-step.
  void set_fixed_weights(bool fixed) { fixed_weights_ = fixed; }
  bool fixed_weights() const { return fixed_weights_; }
  // Parameter groups held at their current values: "weights", "emission" (the family's M-step is
  // skipped) and the family's own groups (ParameterGroups<Emission>::names(), e.g. the Gaussian
  // family's "means" and "covariances"), as the HMM structure's.
  void set_fixed(const FixedGroups& fixed) {
    std::vector<std::string> known = {"weights", "emission"};
    for (const auto& name : ParameterGroups<Emission>::names()) known.push_back(name);
    for (const auto& name : fixed)
      if (std::find(known.begin(), known.end(), name) == known.end()) {
        std::string list;
        for (const auto& n : known) list += (list.empty() ? "'" : ", '") + n + "'";
        throw InvalidArgument("fixed: unknown parameter group '" + name + "'; expected some of " + list);
      }
    fixed_ = fixed;
    fixed_weights_ = fixed_.count("weights") > 0;
  }
  const FixedGroups& fixed() const { return fixed_; }
  const Emission& emission() const { return emission_; }
  Emission& emission() { return emission_; }
  double weight_concentration() const { return alpha_; }
  bool has_prior() const { return alpha_ != 1.0 || emission_.prior().has_value(); }
  // States that were empty at the last M-step.
  const std::vector<Index>& empty_states() const { return empty_; }

  // Free parameters: groups held fixed are excluded.
  Index n_parameters() const {
    const Index weights = fixed_weights_ ? 0 : n_states() - 1;
    if (fixed_.count("emission")) return weights;
    return weights + ParameterGroups<Emission>::n_free_parameters(emission_, fixed_);
  }

  Stats make_stats() const {
    Stats s;
    s.resp_sum = Vector::Zero(n_states());
    s.emission = emission_.make_stats();
    return s;
  }

  // E-step over all rows: the log-likelihood and the expected sufficient statistics.
  Stats e_step(const Data& data, int n_threads) const {
    const auto ws = emission_.prepare(data.emission, n_threads);
    const Vector log_weights = weights_.array().log().matrix();
    const Index K = n_states();
    const bool single = detail::single_precision_rows(data.emission, 0);
    return reduce_rows<Stats>(
        data.n_rows(), n_threads, [&] { return make_stats(); },
        [&](Stats& acc, Index begin, Index end) {
          RowMatrix resp(end - begin, K);
          detail::mixture_e_step_block(emission_, data, ws, begin, end, single, log_weights.data(), 0, resp, acc);
        });
  }

  // The statistics an E-step would return if the responsibilities were resp (n × K, finite, >= 0;
  // each row scaled by its sample weight): the family's accumulate with them, loglik 0. Seeds a
  // model from an assignment (hard or soft) through the family's own M-step:
  // m_step(stats_from_responsibilities(data, resp)). The weights become resp's column sums over
  // their total.
  Stats stats_from_responsibilities(const Data& data, const MatrixRef& resp, int n_threads = 0) const {
    auto family = family_statistics(emission_, data.emission, resp, [&](Index i) { return data.weight(i); }, n_threads);
    Stats s;
    s.resp_sum = std::move(family.counts);
    s.total_weight = s.resp_sum.sum();
    require(s.total_weight > 0, "resp: expected a positive total (weighted) responsibility");
    s.emission = std::move(family.emission);
    return s;
  }

  // M-step: maximises the expected complete-data log-likelihood (plus log-prior).
  void m_step(const Stats& stats) {
    require(stats.resp_sum.size() == n_states(), "stats: number of states does not match the model");
    require(stats.total_weight > 0, "stats: total weight must be > 0");
    const double K = static_cast<double>(n_states());
    Vector new_weights = (stats.resp_sum.array() + (alpha_ - 1.0)) / (stats.total_weight + K * (alpha_ - 1.0));
    if (fixed_.count("emission"))
      empty_.clear();
    else
      empty_ = ParameterGroups<Emission>::maximize(emission_, stats.emission, stats.resp_sum, stats.total_weight, fixed_);
    if (!fixed_weights_) weights_ = new_weights;
  }

  double log_prior() const {
    double value = emission_.log_prior();
    if (alpha_ != 1.0) {
      const double K = static_cast<double>(n_states());
      value += std::lgamma(K * alpha_) - K * std::lgamma(alpha_) +
               (alpha_ - 1.0) * weights_.array().log().sum();
    } else if (emission_.prior()) {
      value += std::lgamma(static_cast<double>(n_states()));  // flat Dirichlet density
    }
    return value;
  }

  // log p(x_i) per row and the log posterior state probabilities log p(z_i = k | x_i).
  void posterior(const Data& data, int n_threads, Eigen::Ref<RowMatrix> log_resp,
                 Eigen::Ref<Vector> log_prob_row) const {
    const auto ws = emission_.prepare(data.emission, n_threads);
    const Vector log_weights = weights_.array().log().matrix();
    const ChunkPlan plan = plan_chunks(data.n_rows());
    parallel_for(plan.n_chunks, n_threads, [&](Index c) {
      for (Index b = plan.begin(c); b < plan.end(c); b += kBlockRows) {
        const Index e = std::min(plan.end(c), b + kBlockRows);
        auto block = log_resp.middleRows(b, e - b);
        emission_.log_prob(data.emission, ws, b, e, block);
        for (Index i = 0; i < e - b; ++i) {
          block.row(i) += log_weights.transpose();
          const double log_norm = log_sum_exp(block.row(i));
          block.row(i).array() -= log_norm;
          log_prob_row[b + i] = log_norm;
        }
      }
    });
  }

  // n draws: the state of each from the weights, then draw(i, state, rng) for the emission.
  template <class Rng, class Draw>
  void sample(Index n, Rng& rng, Eigen::Ref<Eigen::VectorXi> states, Draw&& draw) const {
    std::discrete_distribution<int> pick(weights_.data(), weights_.data() + weights_.size());
    for (Index i = 0; i < n; ++i) {
      const int k = pick(rng);
      states[i] = k;
      draw(i, k, rng);
    }
  }

 private:
  Vector weights_;
  Emission emission_;
  double alpha_;
  bool fixed_weights_ = false;
  FixedGroups fixed_;
  std::vector<Index> empty_;
};

}  // namespace emkit
