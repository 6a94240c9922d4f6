// The Poisson family's parameter group "rates", which a structure can hold fixed, through the
// family's public interface only: the statistics are centred on the current rates (the shift), so
// the M-step with the centred first moment set to zero returns them bit for bit (and still reports
// the empty states).
#pragma once

#include "../structures/parameter_groups.hpp"
#include "poisson.hpp"

namespace emkit {

template <>
struct ParameterGroups<Poisson> {
  static std::vector<std::string> names() { return {"rates"}; }

  static Index n_free_parameters(const Poisson& p, const FixedGroups& fixed) {
    return fixed.count("rates") ? 0 : p.n_parameters();
  }

  static std::vector<Index> maximize(Poisson& p, const PoissonStats& stats, const Vector& counts, double total_weight,
                                     const FixedGroups& fixed) {
    if (!fixed.count("rates")) return p.maximize(stats, counts, total_weight);
    PoissonStats pinned = stats;
    pinned.sum.setZero();
    return p.maximize(pinned, counts, total_weight);
  }
};

}  // namespace emkit
