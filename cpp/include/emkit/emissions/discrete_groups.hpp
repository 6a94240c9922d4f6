// Parameter groups of the Product family, each of which a structure (the HMM) can hold fixed,
// through the family's public interface only.
//
// TO MOVE: like ParameterGroups<Gaussian> (emissions/gaussian/groups.hpp) and
// ParameterGroups<Categorical> (emissions/categorical.hpp), this specialisation belongs with its
// family: until emissions/product.hpp brings it, a file that includes product.hpp and a structure
// but not this header (or emkit.hpp) instantiates the structure with the primary template.
//
// Product: "emissionprob" (the categorical part), "means" and "variances" (the normal items),
// "rates" (the Poisson items). The parts have disjoint parameters and additive log-likelihoods, so
// holding one part fixed and maximising the others is the ordinary M-step followed by restoring
// it. Within the normal items, variances fixed: the mean update does not depend on them, restore
// them afterwards. Means fixed: the constrained maximiser of the variances is the scatter about
// the fixed means; the statistics are centred on the current means (the shift), so the ordinary
// M-step with the centred first moment set to zero computes exactly that and returns the means
// bit for bit. Rates fixed: the same zero first moment returns the rates bit for bit.
#pragma once

#include "../structures/parameter_groups.hpp"
#include "categorical.hpp"
#include "product.hpp"

namespace emkit {

template <>
struct ParameterGroups<Product> {
  static std::vector<std::string> names() { return {"emissionprob", "means", "variances", "rates"}; }

  static Index n_free_parameters(const Product& g, const FixedGroups& fixed) {
    Index n = g.n_parameters();
    if (fixed.count("emissionprob") && g.categorical()) n -= g.categorical()->n_parameters();
    if (fixed.count("means")) n -= g.normal().location().size();
    if (fixed.count("variances")) n -= g.normal().location().size();
    if (fixed.count("rates")) n -= g.poisson().location().size();
    return n;
  }

  static std::vector<Index> maximize(Product& g, const ProductStats& stats, const Vector& counts, double total_weight,
                                     const FixedGroups& fixed) {
    const bool fix_probs = fixed.count("emissionprob") > 0, fix_means = fixed.count("means") > 0,
               fix_variances = fixed.count("variances") > 0, fix_rates = fixed.count("rates") > 0;
    if (!fix_probs && !fix_means && !fix_variances && !fix_rates) return g.maximize(stats, counts, total_weight);
    ProductStats pinned = stats;
    if (fix_means) pinned.normal.sum.setZero();
    if (fix_rates) pinned.poisson.sum.setZero();
    const std::optional<Categorical> old_categorical = g.categorical();
    const RowMatrix old_variance = g.normal().variance();
    std::vector<Index> empty = g.maximize(pinned, counts, total_weight);
    if (fix_probs || fix_variances) {
      const IndependentItems& n = g.normal();
      IndependentItems normal = fix_variances ? IndependentItems(n.kind(), n.location(), old_variance, n.reg_covar()) : n;
      g = Product(fix_probs ? old_categorical : g.categorical(), std::move(normal), g.poisson());
    }
    return empty;
  }
};

}  // namespace emkit
