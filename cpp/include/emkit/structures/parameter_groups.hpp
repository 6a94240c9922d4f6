// Parameter groups a structure can hold fixed while fitting. The structure handles its own groups
// (e.g. "startprob", "transmat") and the group "emission" (every parameter of the emission family:
// its M-step is skipped). A family may name finer groups by specialising ParameterGroups for it
// (the Gaussian family: "means", "covariances", in emissions/gaussian/groups.hpp). The
// specialisation must be visible wherever the structure is instantiated, so a family's own header
// brings it (gaussian.hpp includes gaussian/groups.hpp; categorical.hpp defines its own).
#pragma once

#include <set>
#include <string>
#include <vector>

#include "../types.hpp"

namespace emkit {

using FixedGroups = std::set<std::string>;

template <class Emission>
struct ParameterGroups {
  // The family's own groups (besides "emission").
  static std::vector<std::string> names() { return {}; }
  // Free parameters of the family when the groups in `fixed` are held fixed.
  static Index n_free_parameters(const Emission& emission, const FixedGroups&) { return emission.n_parameters(); }
  // The family's M-step holding the groups in `fixed`; returns the empty states.
  static std::vector<Index> maximize(Emission& emission, const typename Emission::Stats& stats,
                                     const Vector& counts, double total_weight, const FixedGroups&) {
    return emission.maximize(stats, counts, total_weight);
  }
};

}  // namespace emkit
