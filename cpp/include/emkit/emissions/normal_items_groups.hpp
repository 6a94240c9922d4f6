// The NormalItems family's parameter groups "means" and "variances", each of which a structure can
// hold fixed, through the family's public interface only. Variances fixed: the mean update does
// not depend on them; restore them after the ordinary M-step. Means fixed: the constrained
// maximiser of the variances is the scatter about the fixed means; the statistics are centred on
// the current means (the shift), so the ordinary M-step with the centred first moment set to zero
// computes exactly that and returns the means bit for bit.
#pragma once

#include "../structures/parameter_groups.hpp"
#include "normal_items.hpp"

namespace emkit {

template <>
struct ParameterGroups<NormalItems> {
  static std::vector<std::string> names() { return {"means", "variances"}; }

  static Index n_free_parameters(const NormalItems& g, const FixedGroups& fixed) {
    return g.n_parameters() - g.means().size() * static_cast<Index>(fixed.count("means") + fixed.count("variances"));
  }

  static std::vector<Index> maximize(NormalItems& g, const NormalItemsStats& stats, const Vector& counts,
                                     double total_weight, const FixedGroups& fixed) {
    const bool fix_means = fixed.count("means") > 0, fix_variances = fixed.count("variances") > 0;
    if (!fix_means && !fix_variances) return g.maximize(stats, counts, total_weight);
    NormalItemsStats pinned = stats;
    if (fix_means) pinned.sum.setZero();
    const RowMatrix variances = g.variances();
    std::vector<Index> empty = g.maximize(pinned, counts, total_weight);
    if (fix_variances) g = NormalItems(g.means(), variances, g.reg_covar());
    return empty;
  }
};

}  // namespace emkit
