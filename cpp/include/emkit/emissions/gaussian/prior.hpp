// The Gaussian family's conjugate prior: its hyperparameters, their validation and the
// normalised log-density of the parameters under it. The M-step that maximises the posterior is
// the family's (Gaussian::maximize in emissions/gaussian.hpp).
#pragma once

#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <cmath>
#include <string>

#include "../../types.hpp"
#include "parameters.hpp"

namespace emkit {

// Conjugate prior (Fraley & Raftery 2007, mclust's priorControl): mean_k | Sigma_k ~
// N(mean, Sigma_k / shrinkage), Sigma_k ~ inverse-Wishart(dof, scale). For diagonal covariances
// each variance has its own one-dimensional inverse-Wishart(dof, scale_j); for spherical ones the
// single variance has inverse-Wishart(dof, scale) with scale a scalar.
struct GaussianPrior {
  Vector mean;
  double shrinkage = 0.01;
  double dof = 0.0;
  Matrix scale;  // full/tied: d×d; diag: d×1; spherical: 1×1
};

inline double log_multigamma(double a, Index p) {
  double value = 0.25 * static_cast<double>(p * (p - 1)) * kLogPi;
  for (Index j = 1; j <= p; ++j) value += std::lgamma(a + 0.5 * static_cast<double>(1 - j));
  return value;
}

// Rejects a prior that does not fit covariances of this type in d dimensions, or is improper
// (the inverse-Wishart needs dof > d - 1 and a positive definite scale).
inline void check_gaussian_prior(const GaussianPrior& pr, CovarianceType type, Index d) {
  const bool full = type == CovarianceType::Full || type == CovarianceType::Tied;
  require(pr.mean.size() == d && pr.mean.allFinite(), "prior['mean']: expected d finite values");
  require(pr.shrinkage > 0 && std::isfinite(pr.shrinkage), "prior['shrinkage']: expected a value > 0");
  const double min_dof = full ? static_cast<double>(d) - 1.0 : 0.0;
  require(pr.dof > min_dof && std::isfinite(pr.dof), "prior['dof']: expected a value > " + std::to_string(min_dof));
  if (full) {
    require(pr.scale.rows() == d && pr.scale.cols() == d, "prior['scale']: expected a (d, d) matrix");
    Eigen::LLT<Matrix> llt(pr.scale);
    require(pr.scale.allFinite() && llt.info() == Eigen::Success && (llt.matrixLLT().diagonal().array() > 0).all(),
            "prior['scale']: expected a symmetric positive definite matrix");
  } else {
    const Index expected = type == CovarianceType::Diag ? d : 1;
    require(pr.scale.rows() == expected && pr.scale.cols() == 1 && (pr.scale.array() > 0).all() &&
                pr.scale.allFinite(),
            "prior['scale']: expected positive values");
  }
}

// log p(means, covariances) under the prior, fully normalised (the objective of a MAP fit adds it).
inline double gaussian_log_prior(const GaussianPrior& pr, const GaussianParameters& p) {
  const Index K = p.n_states(), d = p.n_features();
  const double dd = static_cast<double>(d);
  double total = 0.0;
  // Normal prior on each mean given its covariance.
  for (Index k = 0; k < K; ++k) {
    const Vector dm = p.means.row(k).transpose() - pr.mean;
    double quad;
    if (p.uses_full_scatter()) {
      quad = p.chol[p.factor(k)].triangularView<Eigen::Lower>().solve(dm).squaredNorm();
    } else {
      quad = (dm.array().square() / p.variance_row(k).transpose().array()).sum();
    }
    total += -0.5 * dd * kLog2Pi + 0.5 * dd * std::log(pr.shrinkage) - 0.5 * p.log_det[k] -
             0.5 * pr.shrinkage * quad;
  }
  // Inverse-Wishart prior on the covariances.
  auto log_iw_scalar = [&](double var, double scale) {
    return 0.5 * pr.dof * std::log(scale) - 0.5 * pr.dof * std::log(2.0) - std::lgamma(0.5 * pr.dof) -
           0.5 * (pr.dof + 2.0) * std::log(var) - 0.5 * scale / var;
  };
  switch (p.type) {
    case CovarianceType::Full:
    case CovarianceType::Tied: {
      Eigen::LLT<Matrix> scale_llt(pr.scale);
      const double log_det_scale = 2.0 * scale_llt.matrixLLT().diagonal().array().log().sum();
      for (Index f = 0; f < p.n_factors(); ++f) {
        const Matrix& L = p.chol[f];
        // tr(Lambda Sigma^{-1}) = ||L^{-1} Lambda_chol||_F^2 with Lambda = Lambda_chol Lambda_chol^T.
        const Matrix solved = L.triangularView<Eigen::Lower>().solve(Matrix(scale_llt.matrixL()));
        total += 0.5 * pr.dof * log_det_scale - 0.5 * pr.dof * dd * std::log(2.0) - log_multigamma(0.5 * pr.dof, d) -
                 0.5 * (pr.dof + dd + 1.0) * p.log_det[f] - 0.5 * solved.squaredNorm();
      }
      break;
    }
    case CovarianceType::Diag:
      for (Index k = 0; k < K; ++k)
        for (Index j = 0; j < d; ++j) total += log_iw_scalar(p.cov(k, j), pr.scale(j, 0));
      break;
    case CovarianceType::Spherical:
      for (Index k = 0; k < K; ++k) total += log_iw_scalar(p.cov(k, 0), pr.scale(0, 0));
      break;
  }
  return total;
}

}  // namespace emkit
