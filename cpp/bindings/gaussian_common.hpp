// Helpers shared by the bindings of models with a Gaussian emission family (mixture, HMM): the
// covariance layouts, the prior dict, the monitor's record and the per-iteration callback.
#pragma once

#include <functional>
#include <optional>
#include <vector>

#include "pybind.hpp"

namespace emkit::bindings {

inline Index covariance_columns(CovarianceType type, Index d) {
  return (type == CovarianceType::Full || type == CovarianceType::Tied) ? d * d
         : type == CovarianceType::Diag                                  ? d
                                                                         : 1;
}

// scikit-learn's layout of the covariances for each covariance type.
inline std::vector<py::ssize_t> covariance_shape(CovarianceType type, Index K, Index d) {
  switch (type) {
    case CovarianceType::Full: return {K, d, d};
    case CovarianceType::Tied: return {d, d};
    case CovarianceType::Diag: return {K, d};
    default: return {K};
  }
}

inline std::optional<GaussianPrior> parse_prior(const py::object& prior, CovarianceType type, Index d) {
  if (prior.is_none()) return std::nullopt;
  const py::dict spec = prior.cast<py::dict>();
  GaussianPrior p;
  p.mean = to_vector(spec["mean"].cast<DoubleArray>(), "prior['mean']");
  p.shrinkage = spec["shrinkage"].cast<double>();
  p.dof = spec["dof"].cast<double>();
  const DoubleArray scale = spec["scale"].cast<DoubleArray>();
  if (type == CovarianceType::Full || type == CovarianceType::Tied)
    p.scale = to_matrix(scale, d, d, "prior['scale']");
  else
    p.scale = to_matrix(scale, type == CovarianceType::Diag ? d : 1, 1, "prior['scale']");
  return p;
}

inline py::dict result_to_dict(const FitResult& r) {
  py::dict out;
  out["converged"] = r.converged;
  out["n_iter"] = r.n_iter;
  out["history"] = r.history;
  out["loglik"] = r.loglik;
  out["seconds"] = r.seconds;
  out["decreases"] = r.decreases;
  out["empty_states"] = r.empty_states;
  out["stopped_by_callback"] = r.stopped_by_callback;
  return out;
}

// The driver's callback, calling a Python function (with the GIL) with a dict per iteration.
inline std::function<bool(const IterationInfo&)> iteration_callback(std::function<bool(py::dict)> callback) {
  return [callback](const IterationInfo& info) {
    py::gil_scoped_acquire acquire;
    py::dict d;
    d["iteration"] = info.iteration;
    d["objective"] = info.objective;
    d["loglik"] = info.loglik;
    d["change"] = info.change;
    d["seconds"] = info.seconds;
    return callback(d);
  };
}

}  // namespace emkit::bindings
