// Helpers shared by the bindings of models with a Gaussian emission family (mixture, HMM): the
// covariance layouts and the prior dict (the monitor's record and the callback: mixture_methods.hpp).
#pragma once

#include <functional>
#include <optional>
#include <vector>

#include "mixture_methods.hpp"

namespace emkit::bindings {

// The Gaussian family's view of X (float32 rows stay float32). X must stay alive while it is used.
inline GaussianData gaussian_data(const RealArray& X, bool allow_unobserved_rows) {
  check_ndim(X, 2, "X");
  if (X.single) return GaussianData(X.floats(), X.shape(0), X.shape(1), allow_unobserved_rows);
  return GaussianData(X.doubles(), X.shape(0), X.shape(1), allow_unobserved_rows);
}

// Gaussian statistics can be added only when computed at the same parameters, and given to an
// M-step only by a model still at those parameters (the fingerprint, which also fixes the shift:
// it is a function of the means; the shift's shape for shapes).
inline void check_same_parameters(const GaussianStats& a, const GaussianStats& b) {
  if (a.scatter.cols() != b.scatter.cols() || a.shift.cols() != b.shift.cols() || a.shift.rows() != b.shift.rows())
    throw InvalidArgument("stats: cannot add statistics of models of different shapes");
  if (a.parameters != b.parameters)
    throw InvalidArgument("stats: cannot add statistics computed at different parameters; compute every "
                          "chunk's e_step with the same model");
}
inline void check_emission_stats(const Gaussian& g, const GaussianStats& s) {
  if (s.shift.cols() != g.n_features() || s.shift.rows() != g.n_states())
    throw InvalidArgument("stats: shapes do not match the model");
  if (s.parameters != g.parameters_fingerprint())
    throw InvalidArgument("stats: computed at other parameters than the model's current ones");
}

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

}  // namespace emkit::bindings
