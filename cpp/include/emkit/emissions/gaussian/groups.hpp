// The Gaussian family's parameter groups "means" and "covariances", each of which a structure can
// hold fixed, through the family's public interface only.
//
// Covariances fixed: the means' update does not depend on the covariances (ML: the weighted mean;
// MAP: (n x̄ + κ μ0)/(n + κ)), so the ordinary M-step followed by restoring the covariances is the
// constrained maximiser. Means fixed: the constrained maximiser of the covariances is the ordinary
// formula with the scatter taken about the fixed means (ML: W(μ)/n; MAP: (Λ + W(μ) + κ(μ−μ0)(μ−μ0)ᵀ)
// / (n + ν + d + 2) and the tied/diag/spherical analogues): Gaussian::maximize with keep_means.
// The means are then restored bit for bit.
#pragma once

#include "../../structures/parameter_groups.hpp"
#include "../gaussian.hpp"

namespace emkit {

template <>
struct ParameterGroups<Gaussian> {
  static std::vector<std::string> names() { return {"means", "covariances"}; }

  static Index n_free_parameters(const Gaussian& g, const FixedGroups& fixed) {
    const Index mean_parameters = g.n_states() * g.n_features();
    Index n = g.n_parameters();
    if (fixed.count("means")) n -= mean_parameters;
    if (fixed.count("covariances")) n -= g.n_parameters() - mean_parameters;
    return n;
  }

  static std::vector<Index> maximize(Gaussian& g, const GaussianStats& stats, const Vector& counts,
                                     double total_weight, const FixedGroups& fixed) {
    const bool fix_means = fixed.count("means") > 0, fix_covariances = fixed.count("covariances") > 0;
    if (!fix_means && !fix_covariances) return g.maximize(stats, counts, total_weight);
    if (fix_means && fix_covariances) return {};
    const RowMatrix means = g.means(), covariances = g.covariances();
    std::vector<Index> empty;
    if (fix_means) {
      empty = g.maximize(stats, counts, total_weight, /*keep_means=*/true);
      g = Gaussian(g.covariance_type(), means, g.covariances(), g.reg_covar(), g.prior());
    } else {
      empty = g.maximize(stats, counts, total_weight);
      g = Gaussian(g.covariance_type(), g.means(), covariances, g.reg_covar(), g.prior());
    }
    return empty;
  }
};

}  // namespace emkit
