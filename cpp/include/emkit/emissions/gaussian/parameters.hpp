// The Gaussian family's parameters: covariance type, means and covariances, and what is derived
// from them once per change (Cholesky factors, log-determinants, a fingerprint). The kernels
// (log_density.hpp, statistics.hpp, missing.hpp) and the prior read them; only the family
// (gaussian.hpp) changes them.
#pragma once

#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "../../types.hpp"

namespace emkit {

enum class CovarianceType { Full, Tied, Diag, Spherical };

inline CovarianceType parse_covariance_type(const std::string& name) {
  if (name == "full") return CovarianceType::Full;
  if (name == "tied") return CovarianceType::Tied;
  if (name == "diag") return CovarianceType::Diag;
  if (name == "spherical") return CovarianceType::Spherical;
  throw InvalidArgument("covariance_type must be one of 'full', 'tied', 'diag', 'spherical'; got '" +
                        name + "'");
}

inline const char* covariance_type_name(CovarianceType type) {
  switch (type) {
    case CovarianceType::Full: return "full";
    case CovarianceType::Tied: return "tied";
    case CovarianceType::Diag: return "diag";
    default: return "spherical";
  }
}

struct GaussianParameters {
  CovarianceType type;
  RowMatrix means;             // K×d
  // scikit-learn's layout flattened to rows: full K×(d*d), tied 1×(d*d), diag K×d, spherical K×1
  RowMatrix cov;
  std::vector<Matrix> chol;    // full: K, tied: 1 lower factors (none for diag/spherical)
  Vector log_det;              // log|Sigma_k| per state
  std::uint64_t fingerprint = 0;  // hash_parameters(means, cov)

  Index n_states() const { return means.rows(); }
  Index n_features() const { return means.cols(); }
  // Full and tied covariances keep d×d scatters and need the conditionals of missing entries.
  bool uses_full_scatter() const { return type == CovarianceType::Full || type == CovarianceType::Tied; }
  // Distinct covariances: one for tied, one per state otherwise.
  Index n_factors() const { return type == CovarianceType::Tied ? 1 : n_states(); }
  // The covariance (factor) index of state k.
  Index factor(Index k) const { return type == CovarianceType::Tied ? 0 : k; }

  // Covariance matrix of state k (dense d×d).
  Matrix covariance_matrix(Index k) const {
    const Index d = n_features();
    switch (type) {
      case CovarianceType::Full: return unflatten(cov.row(k), d);
      case CovarianceType::Tied: return unflatten(cov.row(0), d);
      case CovarianceType::Diag: return cov.row(k).transpose().asDiagonal();
      default: return Matrix::Identity(d, d) * cov(k, 0);
    }
  }

  // Variances of state k (diag/spherical) as a 1×d row.
  Eigen::Matrix<double, 1, Eigen::Dynamic> variance_row(Index k) const {
    if (type == CovarianceType::Diag) return cov.row(k);
    return Eigen::Matrix<double, 1, Eigen::Dynamic>::Constant(n_features(), cov(k, 0));
  }

  // The common centre c of the statistics and of the E-step: the mean of the means, rounded to
  // float32 (exact for the float32 kernels, and as good a centre for the float64 ones).
  RowVectorXd centre() const {
    const RowVectorXd mean = means.colwise().mean();
    const RowVectorXd rounded = mean.cast<float>().cast<double>();
    return rounded.allFinite() ? rounded : mean;  // means beyond float32's range: only float64 rows
  }

  // Validates and stores the covariances (the means must be set), with their Cholesky factors,
  // log-determinants and the fingerprint. during_fit: a failure is a NumericalError of an M-step
  // (with the remedy) rather than an InvalidArgument.
  void set_covariances(const RowMatrix& new_cov, bool during_fit = false) {
    const Index K = n_states(), d = n_features();
    const std::string where = during_fit ? "after an M-step, " : "";
    const std::string hint = during_fit
                                 ? " (the component collapsed onto too few distinct points; increase reg_covar "
                                   "or use a prior)"
                                 : "";
    switch (type) {
      case CovarianceType::Full:
      case CovarianceType::Tied: {
        const Index F = type == CovarianceType::Tied ? 1 : K;
        require(new_cov.rows() == F && new_cov.cols() == d * d, "covariances: wrong shape");
        chol.assign(static_cast<size_t>(F), Matrix());
        log_det.resize(K);
        for (Index f = 0; f < F; ++f) {
          Matrix sigma = unflatten(new_cov.row(f), d);
          if (!sigma.allFinite() || !sigma.isApprox(sigma.transpose(), 1e-8)) {
            const std::string msg = where + "covariances[" + std::to_string(f) + "] is not a finite symmetric matrix";
            if (during_fit) throw NumericalError(msg + hint);
            throw InvalidArgument(msg);
          }
          Eigen::LLT<Matrix> llt(sigma);
          if (llt.info() != Eigen::Success || !(llt.matrixLLT().diagonal().array() > 0).all()) {
            const std::string msg = where + "covariances[" + std::to_string(f) + "] is not positive definite";
            if (during_fit) throw NumericalError(msg + hint);
            throw InvalidArgument(msg);
          }
          chol[f] = llt.matrixL();
          const double ld = 2.0 * chol[f].diagonal().array().log().sum();
          if (type == CovarianceType::Tied)
            log_det.setConstant(ld);
          else
            log_det[f] = ld;
        }
        break;
      }
      case CovarianceType::Diag:
      case CovarianceType::Spherical: {
        const Index cols = type == CovarianceType::Diag ? d : 1;
        require(new_cov.rows() == K && new_cov.cols() == cols, "covariances: wrong shape");
        if (!new_cov.allFinite() || !(new_cov.array() > 0).all()) {
          const std::string msg = where + "covariances must be finite and > 0";
          if (during_fit) throw NumericalError(msg + hint);
          throw InvalidArgument(msg);
        }
        chol.clear();
        log_det.resize(K);
        for (Index k = 0; k < K; ++k)
          log_det[k] = type == CovarianceType::Diag ? new_cov.row(k).array().log().sum()
                                                    : static_cast<double>(d) * std::log(new_cov(k, 0));
        break;
      }
    }
    cov = new_cov;
    fingerprint = hash_parameters(means, cov);
  }

  // A 64-bit FNV-1a hash of the bytes of the means and covariances: equal for equal parameters,
  // different (but for a 2^-64 chance) after any M-step that moves them.
  static std::uint64_t hash_parameters(const RowMatrix& means, const RowMatrix& cov) {
    std::uint64_t hash = 14695981039346656037ull;
    for (const RowMatrix* m : {&means, &cov}) {
      const auto* bytes = reinterpret_cast<const unsigned char*>(m->data());
      for (size_t b = 0; b < static_cast<size_t>(m->size()) * sizeof(double); ++b) {
        hash ^= bytes[b];
        hash *= 1099511628211ull;
      }
    }
    return hash;
  }

  // A row-major flattened d×d matrix (a row of the full/tied layout) and back.
  static Matrix unflatten(const Eigen::Ref<const Eigen::Matrix<double, 1, Eigen::Dynamic>>& row, Index d) {
    Matrix m(d, d);
    for (Index a = 0; a < d; ++a)
      for (Index b = 0; b < d; ++b) m(a, b) = row[a * d + b];
    return m;
  }
  static Eigen::Matrix<double, 1, Eigen::Dynamic> flatten(const Matrix& m) {
    const Index d = m.rows();
    Eigen::Matrix<double, 1, Eigen::Dynamic> row(d * d);
    for (Index a = 0; a < d; ++a)
      for (Index b = 0; b < d; ++b) row[a * d + b] = m(a, b);
    return row;
  }
};

}  // namespace emkit
