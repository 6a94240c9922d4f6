// The HMM latent structure: a Markov chain of hidden states along each sequence, over any
// emission family. Parameters: start probabilities π (K), the row-stochastic transition matrix A
// (K×K) and the family's parameters.
//
// E-step per sequence (Rabiner 1989, scaled form): the emission log-likelihoods of its rows, then
// a forward pass with a per-step shift of the log-likelihoods by their maximum (one exp per state
// and step; a 10^4-σ outlier cannot underflow), normalised forward probabilities α̂_t and scale
// factors c_t, log p(x) = Σ_t (log c_t + shift_t); a backward pass β̂_t = A (e_{t+1} ⊙ β̂_{t+1}) /
// c_{t+1} giving the state posteriors γ_t = α̂_t ⊙ β̂_t and, on the fly, the summed transition
// posteriors Σ_t ξ_t = A ⊙ Σ_t α̂_t (e_{t+1} ⊙ β̂_{t+1} / c_{t+1})ᵀ. Memory is O(T·K) per
// sequence, never O(T·K²). Should the scaled pass lose range (a predicted mass below 1e-250, or
// posteriors that no longer sum to one — possible only with near-impossible paths, e.g. states
// made unreachable by structural zeros whose emissions fit the data far better than the
// reachable ones), that sequence is redone exactly in log space (log-sum-exp recursions).
// The recursions themselves (scaled and log-space passes, Viterbi) are hmm/forward_backward.hpp's.
//
// M-step: Dirichlet MAP (ML when every concentration is 1) restricted to the support of the
// current values — a probability that is zero stays zero (structural zeros), and the prior
// applies to the entries on the support. A distribution with no expected counts keeps its
// previous value. Any of "startprob", "transmat", "emission" (and the family's own groups, e.g.
// "means", "covariances") can be held fixed.
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "../parallel.hpp"
#include "../types.hpp"
#include "../detail/vector_math.hpp"
#include "hmm/forward_backward.hpp"
#include "parameter_groups.hpp"
#include "seeding.hpp"

namespace emkit {

// Offsets of the sequences in the concatenated rows: sequence s is [offsets[s], offsets[s+1]).
inline std::vector<Index> sequence_offsets(const std::vector<Index>& lengths, Index n_rows) {
  require(!lengths.empty(), "lengths: expected at least one sequence");
  std::vector<Index> offsets(lengths.size() + 1, 0);
  for (size_t s = 0; s < lengths.size(); ++s) {
    require(lengths[s] > 0, "lengths: expected positive lengths; sequence " + std::to_string(s) + " has length " +
                                std::to_string(lengths[s]));
    offsets[s + 1] = offsets[s] + lengths[s];
  }
  require(offsets.back() == n_rows, "lengths: the lengths sum to " + std::to_string(offsets.back()) +
                                        " but X has " + std::to_string(n_rows) + " rows");
  return offsets;
}

// The sequences an HMM is fitted to: the family's view of all rows (sequences concatenated), the
// sequence offsets and per-sequence sample weights (empty = every sequence has weight one).
template <class Emission>
struct HMMData {
  typename Emission::Data emission;
  std::vector<Index> offsets;
  Vector sample_weight;

  HMMData(typename Emission::Data emission_data, std::vector<Index> sequence_offsets_,
          Vector sample_weight_ = Vector())
      : emission(std::move(emission_data)), offsets(std::move(sequence_offsets_)),
        sample_weight(std::move(sample_weight_)) {
    require(offsets.size() >= 2 && offsets.front() == 0 && offsets.back() == emission.n_rows(),
            "lengths: the sequences must cover the rows of X");
    for (size_t s = 0; s + 1 < offsets.size(); ++s)
      require(offsets[s + 1] > offsets[s], "lengths: sequence " + std::to_string(s) + " is empty");
    if (sample_weight.size()) {
      require(sample_weight.size() == n_sequences(),
              "sample_weight: expected one value per sequence (" + std::to_string(n_sequences()) + ")");
      require(sample_weight.allFinite() && (sample_weight.array() >= 0).all(),
              "sample_weight: expected finite values >= 0");
    }
  }

  Index n_rows() const { return emission.n_rows(); }
  Index n_sequences() const { return static_cast<Index>(offsets.size()) - 1; }
  Index begin(Index s) const { return offsets[s]; }
  Index length(Index s) const { return offsets[s + 1] - offsets[s]; }
  double weight(Index s) const { return sample_weight.size() ? sample_weight[s] : 1.0; }
};

// Expected sufficient statistics of an HMM; they merge by addition.
template <class Emission>
struct HMMStats {
  Vector start_counts;          // Σ_s w_s γ_{s,0}
  RowMatrix transition_counts;  // Σ_s w_s Σ_t ξ_{s,t}
  Vector emission_counts;       // Σ_s w_s Σ_t γ_{s,t} over the rows with an observation
  double loglik = 0.0;          // Σ_s w_s log p(x_s)
  double total_weight = 0.0;    // Σ_s w_s T_s: the objective's change is tested per time step
  typename Emission::Stats emission;

  HMMStats& operator+=(const HMMStats& other) {
    start_counts += other.start_counts;
    transition_counts += other.transition_counts;
    emission_counts += other.emission_counts;
    loglik += other.loglik;
    total_weight += other.total_weight;
    emission += other.emission;
    return *this;
  }
};

namespace detail {

// Whether the family's Data can tell rows with nothing observed (they emit log-probability 0 and
// are left out of the emission statistics).
template <class Data, class = void>
struct has_observation_query : std::false_type {};
template <class Data>
struct has_observation_query<Data, std::void_t<decltype(std::declval<const Data&>().has_observation(Index{}))>>
    : std::true_type {};
template <class Data>
bool row_has_observation(const Data& data, Index i) {
  if constexpr (has_observation_query<Data>::value)
    return data.has_observation(i);
  else
    return true;
}

}  // namespace detail

template <class Emission>
class HMM {
 public:
  using Stats = HMMStats<Emission>;
  using Data = HMMData<Emission>;
  using Groups = ParameterGroups<Emission>;

  // startprob_prior (K) and transmat_prior (K×K): Dirichlet concentrations (>= 1; empty = all 1,
  // i.e. maximum likelihood). fixed: parameter groups held fixed while fitting.
  HMM(Vector startprob, RowMatrix transmat, Emission emission, Vector startprob_prior = Vector(),
      RowMatrix transmat_prior = RowMatrix(), const std::vector<std::string>& fixed = {})
      : startprob_(std::move(startprob)), transmat_(std::move(transmat)), emission_(std::move(emission)),
        startprob_prior_(std::move(startprob_prior)), transmat_prior_(std::move(transmat_prior)) {
    const Index K = emission_.n_states();
    const std::string k = std::to_string(K);
    require(startprob_.size() == K, "startprob: expected " + k + " values, got " + std::to_string(startprob_.size()));
    check_distribution(startprob_, "startprob");
    require(transmat_.rows() == K && transmat_.cols() == K, "transmat: expected a (" + k + ", " + k + ") matrix");
    for (Index i = 0; i < K; ++i) {
      Vector row = transmat_.row(i).transpose();
      check_distribution(row, "transmat: row " + std::to_string(i));
      transmat_.row(i) = row.transpose();
    }
    if (startprob_prior_.size() == 0) startprob_prior_ = Vector::Ones(K);
    if (transmat_prior_.size() == 0) transmat_prior_ = RowMatrix::Ones(K, K);
    require(startprob_prior_.size() == K, "startprob_prior: expected " + k + " values");
    require(transmat_prior_.rows() == K && transmat_prior_.cols() == K,
            "transmat_prior: expected a (" + k + ", " + k + ") matrix");
    require(startprob_prior_.allFinite() && (startprob_prior_.array() >= 1.0).all(),
            "startprob_prior: expected Dirichlet concentrations >= 1");
    require(transmat_prior_.allFinite() && (transmat_prior_.array() >= 1.0).all(),
            "transmat_prior: expected Dirichlet concentrations >= 1");
    std::vector<std::string> known = {"startprob", "transmat", "emission"};
    for (const auto& name : Groups::names()) known.push_back(name);
    for (const auto& name : fixed) {
      if (std::find(known.begin(), known.end(), name) == known.end()) {
        std::string list;
        for (const auto& n : known) list += (list.empty() ? "'" : ", '") + n + "'";
        throw InvalidArgument("fixed: unknown parameter group '" + name + "'; expected some of " + list);
      }
      fixed_.insert(name);
    }
  }

  Index n_states() const { return startprob_.size(); }
  const Vector& startprob() const { return startprob_; }
  const RowMatrix& transmat() const { return transmat_; }
  const Emission& emission() const { return emission_; }
  Emission& emission() { return emission_; }
  const Vector& startprob_prior() const { return startprob_prior_; }
  const RowMatrix& transmat_prior() const { return transmat_prior_; }
  const FixedGroups& fixed() const { return fixed_; }
  bool is_fixed(const std::string& group) const { return fixed_.count(group) > 0; }
  bool has_prior() const {
    return (startprob_prior_.array() != 1.0).any() || (transmat_prior_.array() != 1.0).any() ||
           emission_.prior().has_value();
  }
  // States whose emission had no expected count at the last M-step (they kept their parameters).
  const std::vector<Index>& empty_states() const { return empty_; }

  // Free parameters: the entries on the support of every distribution not held fixed (minus one
  // per distribution for the sum), plus the family's free parameters.
  Index n_parameters() const {
    Index n = 0;
    if (!is_fixed("startprob")) n += (startprob_.array() > 0.0).count() - 1;
    if (!is_fixed("transmat"))
      for (Index i = 0; i < n_states(); ++i) n += (transmat_.row(i).array() > 0.0).count() - 1;
    if (!is_fixed("emission")) n += Groups::n_free_parameters(emission_, fixed_);
    return n;
  }

  Stats make_stats() const {
    const Index K = n_states();
    Stats s;
    s.start_counts = Vector::Zero(K);
    s.transition_counts = RowMatrix::Zero(K, K);
    s.emission_counts = Vector::Zero(K);
    s.emission = emission_.make_stats();
    return s;
  }

  // E-step over all sequences: the log-likelihood and the expected sufficient statistics.
  Stats e_step(const Data& data, int n_threads) const {
    check_data(data);
    const auto ws = emission_.prepare(data.emission, n_threads);
    const bool emission_free = !is_fixed("emission");
    return reduce_sequences<Stats>(
        data.offsets, n_threads, [&] { return make_stats(); },
        [&](Stats& acc, Index first, Index end, bool solo, int threads) {
          const Index K = n_states();
          RowMatrix lik, post, xi(K, K);
          Vector scale;
          for (Index s = first; s < end; ++s) {
            const double w = data.weight(s);
            const Index begin = data.begin(s), T = data.length(s);
            acc.total_weight += w * static_cast<double>(T);
            if (w == 0.0) continue;
            lik.resize(T, K);
            post.resize(T, K);
            scale.resize(T);
            xi.setZero();
            const double loglik = forward_backward(data, ws, s, threads, lik, post, scale, &xi);
            acc.loglik += w * loglik;
            acc.transition_counts += w * xi;
            post *= w;
            acc.start_counts += post.row(0).transpose();
            for (Index t = 0; t < T; ++t)
              if (!detail::row_has_observation(data.emission, begin + t)) post.row(t).setZero();
            acc.emission_counts += post.colwise().sum().transpose();
            if (emission_free) accumulate_emission(data, ws, begin, post, solo, threads, acc.emission);
          }
        });
  }

  // M-step: Dirichlet MAP of start and transition probabilities on their support, the family's
  // M-step on the emission statistics; groups in fixed() are left unchanged.
  void m_step(const Stats& stats) {
    const Index K = n_states();
    require(stats.start_counts.size() == K && stats.transition_counts.rows() == K &&
                stats.transition_counts.cols() == K && stats.emission_counts.size() == K,
            "stats: number of states does not match the model");
    require(stats.total_weight > 0, "stats: total weight must be > 0");
    Vector startprob = startprob_;
    RowMatrix transmat = transmat_;
    if (!is_fixed("startprob")) startprob = dirichlet_map(startprob_, stats.start_counts, startprob_prior_);
    if (!is_fixed("transmat"))
      for (Index i = 0; i < K; ++i)
        transmat.row(i) = dirichlet_map(transmat_.row(i).transpose(), stats.transition_counts.row(i).transpose(),
                                        transmat_prior_.row(i).transpose())
                              .transpose();
    if (is_fixed("emission"))
      empty_.clear();
    else
      empty_ = Groups::maximize(emission_, stats.emission, stats.emission_counts, stats.emission_counts.sum(), fixed_);
    startprob_ = std::move(startprob);
    transmat_ = std::move(transmat);
  }

  // The family's M-step from given state posteriors (n_rows × K, finite, >= 0; each sequence's
  // rows scaled by its weight, steps with nothing observed left out), as if an E-step had found
  // them; the chain's parameters are untouched, and groups held fixed stay. Seeds the emission
  // parameters, e.g. from a clustering of the time steps, through the family's own M-step.
  void seed_from_posteriors(const Data& data, const MatrixRef& post, int n_threads = 0) {
    check_data(data);
    check_responsibilities(post, data.n_rows(), n_states(), "posteriors");
    if (is_fixed("emission")) return;
    Vector row_weight(data.n_rows());
    for (Index s = 0; s < data.n_sequences(); ++s) row_weight.segment(data.begin(s), data.length(s)).setConstant(data.weight(s));
    auto family = family_statistics(
        emission_, data.emission, post,
        [&](Index i) { return detail::row_has_observation(data.emission, i) ? row_weight[i] : 0.0; }, n_threads);
    require(family.counts.sum() > 0, "posteriors: no weight on any time step with an observation");
    empty_ = Groups::maximize(emission_, family.emission, family.counts, family.counts.sum(), fixed_);
  }

  // log p(parameters): Dirichlet densities (normalised, over each distribution's support) plus the
  // family's log-prior; 0 under maximum likelihood (no prior at all).
  double log_prior() const {
    if (!has_prior()) return 0.0;
    double value = dirichlet_log_density(startprob_, startprob_prior_);
    for (Index i = 0; i < n_states(); ++i)
      value += dirichlet_log_density(transmat_.row(i).transpose(), transmat_prior_.row(i).transpose());
    return value + emission_.log_prior();
  }

  // Log state posteriors log p(z_t = k | x of its sequence) for every row, and log p(x_s) per
  // sequence: Mixture::posterior's convention (log responsibilities, then log-likelihoods).
  void posterior(const Data& data, int n_threads, Eigen::Ref<RowMatrix> log_post, Eigen::Ref<Vector> log_prob) const {
    check_data(data);
    require(log_post.rows() == data.n_rows() && log_post.cols() == n_states(),
            "posterior: expected an (n_rows, K) output");
    require(log_prob.size() == data.n_sequences(), "log_prob: expected one value per sequence");
    const auto ws = emission_.prepare(data.emission, n_threads);
    for_each_sequence(data.offsets, n_threads, [&](Index first, Index end, bool, int threads) {
      RowMatrix lik;
      Vector scale;
      for (Index s = first; s < end; ++s) {
        lik.resize(data.length(s), n_states());
        scale.resize(data.length(s));
        auto rows = log_post.middleRows(data.begin(s), data.length(s));
        log_prob[s] = forward_backward(data, ws, s, threads, lik, rows, scale, nullptr);
        rows = rows.array().log().matrix();  // a posterior of exactly 0 is -inf, as log_resp's
      }
    });
  }

  // log p(x_s) per sequence (forward pass only).
  void score(const Data& data, int n_threads, Eigen::Ref<Vector> log_prob) const {
    check_data(data);
    require(log_prob.size() == data.n_sequences(), "log_prob: expected one value per sequence");
    const auto ws = emission_.prepare(data.emission, n_threads);
    for_each_sequence(data.offsets, n_threads, [&](Index first, Index end, bool, int threads) {
      RowMatrix lik, alpha;
      Vector scale;
      for (Index s = first; s < end; ++s) {
        const Index T = data.length(s);
        lik.resize(T, n_states());
        alpha.resize(T, n_states());
        scale.resize(T);
        sequence_log_lik(data, ws, s, threads, lik);
        double value = detail::forward_scaled(startprob_, transmat_, lik, alpha, scale);
        if (std::isnan(value)) {
          sequence_log_lik(data, ws, s, threads, lik);
          value = detail::forward_backward_log(detail::log_of(startprob_), detail::log_of(transmat_), lik, nullptr,
                                               nullptr);
        }
        log_prob[s] = value;
      }
    });
  }

  // Most probable state path of every sequence (Viterbi) and its log-probability per sequence.
  void viterbi(const Data& data, int n_threads, Eigen::Ref<Eigen::VectorXi> states, Eigen::Ref<Vector> log_prob) const {
    check_data(data);
    require(states.size() == data.n_rows(), "states: expected one value per row");
    require(log_prob.size() == data.n_sequences(), "log_prob: expected one value per sequence");
    const auto ws = emission_.prepare(data.emission, n_threads);
    const Vector log_startprob = detail::log_of(startprob_);
    const RowMatrix log_transmat = detail::log_of(transmat_);
    for_each_sequence(data.offsets, n_threads, [&](Index first, Index end, bool, int threads) {
      RowMatrix lik;
      for (Index s = first; s < end; ++s) {
        lik.resize(data.length(s), n_states());
        sequence_log_lik(data, ws, s, threads, lik);
        log_prob[s] = detail::viterbi_log(log_startprob, log_transmat, lik, states.data() + data.begin(s));
      }
    });
  }

  // n time steps of one sequence: states from the chain, rows from the emission family.
  template <class Rng>
  void sample(Index n, Rng& rng, Eigen::Ref<RowMatrix> X, Eigen::Ref<Eigen::VectorXi> states) const {
    std::discrete_distribution<int> start(startprob_.data(), startprob_.data() + startprob_.size());
    std::vector<std::discrete_distribution<int>> next;
    for (Index i = 0; i < n_states(); ++i) {
      const Vector row = transmat_.row(i).transpose();
      next.emplace_back(row.data(), row.data() + row.size());
    }
    Vector row(X.cols());
    int state = 0;
    for (Index t = 0; t < n; ++t) {
      state = t == 0 ? start(rng) : next[static_cast<size_t>(state)](rng);
      states[t] = state;
      emission_.sample(state, rng, row);
      X.row(t) = row.transpose();
    }
  }

 private:
  Vector startprob_;
  RowMatrix transmat_;
  Emission emission_;
  Vector startprob_prior_;
  RowMatrix transmat_prior_;
  FixedGroups fixed_;
  std::vector<Index> empty_;

  static void check_distribution(Vector& p, const std::string& name) {
    require(p.allFinite() && (p.array() >= 0).all(), name + ": expected nonnegative finite probabilities");
    require(std::abs(p.sum() - 1.0) < 1e-8, name + ": expected probabilities summing to 1, got a sum of " +
                                                std::to_string(p.sum()));
    p /= p.sum();
  }

  void check_data(const Data& data) const {
    require(data.n_sequences() >= 1, "lengths: expected at least one sequence");
    require(data.emission.n_rows() == data.n_rows(), "X: the data view does not match the sequences");
  }

  // Dirichlet MAP of a categorical distribution on the support of `previous` (zeros stay zero):
  // p_j ∝ counts_j + alpha_j − 1. Without expected counts (a zero total) the previous value stays.
  static Vector dirichlet_map(const Vector& previous, const Vector& counts, const Vector& alpha) {
    Vector p = Vector::Zero(previous.size());
    for (Index j = 0; j < p.size(); ++j)
      if (previous[j] > 0.0) p[j] = counts[j] + (alpha[j] - 1.0);
    const double total = p.sum();
    if (!(total > 0.0) || !std::isfinite(total)) return previous;
    return p / total;
  }

  // log Dirichlet(p | alpha) over the support of p (normalised; a one-point support has density 1).
  static double dirichlet_log_density(const Vector& p, const Vector& alpha) {
    double sum_alpha = 0.0, value = 0.0;
    for (Index j = 0; j < p.size(); ++j) {
      if (!(p[j] > 0.0)) continue;
      sum_alpha += alpha[j];
      value -= std::lgamma(alpha[j]);
      if (alpha[j] != 1.0) value += (alpha[j] - 1.0) * std::log(p[j]);
    }
    return value + std::lgamma(sum_alpha);
  }

  // log p(x_t | k) of sequence s, in fixed blocks of kBlockRows from the sequence's first row
  // (in parallel over the blocks when threads > 1; the values do not depend on it).
  void sequence_log_lik(const Data& data, const typename Emission::Workspace& ws, Index s, int threads,
                        Eigen::Ref<RowMatrix> out) const {
    const Index begin = data.begin(s), T = data.length(s);
    const Index n_blocks = (T + kBlockRows - 1) / kBlockRows;
    parallel_for(n_blocks, threads, [&](Index b) {
      const Index lo = b * kBlockRows, hi = std::min(T, lo + kBlockRows);
      emission_.log_prob(data.emission, ws, begin + lo, begin + hi, out.middleRows(lo, hi - lo));
    });
  }

  // Forward-backward on sequence s: post = γ, xi += Σ_t ξ_t (if given); returns log p(x_s).
  double forward_backward(const Data& data, const typename Emission::Workspace& ws, Index s, int threads,
                          Eigen::Ref<RowMatrix> lik, Eigen::Ref<RowMatrix> post, Eigen::Ref<Vector> scale,
                          RowMatrix* xi) const {
    sequence_log_lik(data, ws, s, threads, lik);
    const double loglik = detail::forward_scaled(startprob_, transmat_, lik, post, scale);
    // backward_scaled adds to xi only when it succeeds.
    if (!std::isnan(loglik) && detail::backward_scaled(transmat_, lik, post, scale, xi)) return loglik;
    // The scaled pass lost range: redo this sequence exactly in log space.
    sequence_log_lik(data, ws, s, threads, lik);
    const double exact = detail::forward_backward_log(detail::log_of(startprob_), detail::log_of(transmat_), lik,
                                                      &post, xi);
    if (!std::isfinite(exact))
      throw NumericalError("sequence " + std::to_string(s) +
                           " has zero likelihood under the current parameters (no state path can produce it)");
    return exact;
  }

  // Adds the rows of one sequence with (weighted) posteriors post to the emission statistics: in
  // blocks of kBlockRows from the sequence's first row; a solo sequence is split into fixed
  // sub-chunks reduced in parallel and merged in order (bit-identical for any thread count).
  void accumulate_emission(const Data& data, const typename Emission::Workspace& ws, Index begin,
                           const RowMatrix& post, bool solo, int threads, typename Emission::Stats& stats) const {
    const Index T = post.rows();
    if (solo) {
      stats += reduce_rows<typename Emission::Stats>(
          T, threads, [&] { return emission_.make_stats(); },
          [&](typename Emission::Stats& acc, Index lo, Index hi) {
            emission_.accumulate(data.emission, ws, begin + lo, begin + hi, post.middleRows(lo, hi - lo), acc);
          });
      return;
    }
    for (Index lo = 0; lo < T; lo += kBlockRows) {
      const Index hi = std::min(T, lo + kBlockRows);
      emission_.accumulate(data.emission, ws, begin + lo, begin + hi, post.middleRows(lo, hi - lo), stats);
    }
  }
};

}  // namespace emkit
