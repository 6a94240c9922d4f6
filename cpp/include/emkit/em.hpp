// The EM driver shared by every model: E-step -> record -> test -> M-step, with a monitor that
// keeps the objective history and flags any decrease (EM never decreases its objective, so a
// decrease beyond round-off is a bug or a numerical failure and is reported, never hidden).
#pragma once

#include <chrono>
#include <cmath>
#include <functional>
#include <type_traits>
#include <utility>
#include <vector>

#include "types.hpp"

namespace emkit {

struct IterationInfo {
  int iteration = 0;        // number of M-steps done so far
  double objective = 0.0;   // log-likelihood (+ log-prior under MAP) of the current parameters
  double loglik = 0.0;
  double change = 0.0;      // change of the per-row average objective from the previous iteration
  double seconds = 0.0;     // time of the iteration that produced the current parameters
};

struct FitOptions {
  int max_iter = 100;
  double tol = 1e-3;  // on the change of the objective per unit of sample weight; 0 = run max_iter
  int n_threads = 0;  // 0 = OpenMP's default
  // The objective's relative round-off: a decrease beyond round_off·(|objective| + total weight)
  // is reported. 1e-10 for float64 kernels; the float32 ones need more (kFloat32RoundOff).
  double round_off = 1e-10;
  // Called after every E-step; returning false stops the fit early.
  std::function<bool(const IterationInfo&)> callback;
};

struct FitResult {
  bool converged = false;
  int n_iter = 0;                 // M-steps done
  std::vector<double> history;    // objective of theta_0, ..., theta_{n_iter}
  std::vector<double> loglik;     // log-likelihood of the same parameters
  std::vector<double> seconds;    // wall time of each iteration (E-step + M-step)
  std::vector<int> decreases;     // iterations whose objective fell below the previous one
  std::vector<std::vector<Index>> empty_states;  // per M-step, states that were empty
  bool stopped_by_callback = false;
};

// Round-off of an objective computed with float32 kernels: about 16 float32 epsilons.
constexpr double kFloat32RoundOff = 2e-6;

// A decrease larger than round_off (relative to the objective's magnitude and the total weight)
// is beyond round-off.
inline bool is_decrease(double previous, double current, double total_weight, double round_off = 1e-10) {
  const double slack = round_off * (std::abs(previous) + total_weight);
  return current < previous - slack;
}

namespace detail {
// Models whose M-step may wait for further passes over the rows (MixtureRegression's line search):
// pending_pass(), line_search(data, n_threads) and m_step of its statistics.
template <class Model, class = void>
struct HasPendingPasses : std::false_type {};
template <class Model>
struct HasPendingPasses<Model, std::void_t<decltype(std::declval<const Model&>().pending_pass())>> : std::true_type {};
}  // namespace detail

// Model concept: Stats e_step(const Data&, int n_threads) with stats.loglik and
// stats.total_weight; void m_step(const Stats&); double log_prior(); empty_states(). A model with
// pending passes gets them over the whole data after its M-step, as a chunked driver would.
template <class Model>
FitResult fit_em(Model& model, const typename Model::Data& data, const FitOptions& options) {
  require(options.max_iter >= 0, "max_iter: expected a value >= 0");
  require(options.tol >= 0 && std::isfinite(options.tol), "tol: expected a finite value >= 0");
  using clock = std::chrono::steady_clock;
  FitResult result;
  double previous = kNegInf;
  auto started = clock::now();
  for (int iter = 0;; ++iter) {
    auto stats = model.e_step(data, options.n_threads);
    require(stats.total_weight > 0, "sample_weight: the total weight must be > 0");
    const double objective = stats.loglik + model.log_prior();
    if (!std::isfinite(objective))
      throw NumericalError("the objective became non-finite at iteration " + std::to_string(iter));
    result.history.push_back(objective);
    result.loglik.push_back(stats.loglik);
    const double change = iter == 0 ? kNegInf : (objective - previous) / stats.total_weight;
    if (iter > 0 && is_decrease(previous, objective, stats.total_weight, options.round_off)) result.decreases.push_back(iter);
    if (iter > 0) {
      const auto now = clock::now();
      result.seconds.push_back(std::chrono::duration<double>(now - started).count());
      started = now;
    }
    if (options.callback) {
      IterationInfo info{iter, objective, stats.loglik, change, result.seconds.empty() ? 0.0 : result.seconds.back()};
      if (!options.callback(info)) {
        result.stopped_by_callback = true;
        break;
      }
    }
    if (iter > 0 && std::abs(change) < options.tol) {
      result.converged = true;
      break;
    }
    if (iter == options.max_iter) break;
    model.m_step(stats);
    if constexpr (detail::HasPendingPasses<Model>::value)
      while (model.pending_pass()) model.m_step(model.line_search(data, options.n_threads));
    result.empty_states.push_back(model.empty_states());
    result.n_iter = iter + 1;
    previous = objective;
  }
  return result;
}

}  // namespace emkit
