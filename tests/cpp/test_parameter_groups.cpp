// A family's ParameterGroups come with the family's own header: a file that includes only a
// structure and a family (not emkit.hpp) must see the family's groups, not the primary template
// (which knows none, and would reject fixed = {"means"} or, worse, silently fit everything).
#include <emkit/emissions/categorical.hpp>
#include <emkit/emissions/gaussian.hpp>
#include <emkit/structures/hmm.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include "check.hpp"

using namespace emkit;

namespace {

bool knows(const std::vector<std::string>& names, const std::string& name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

TEST(gaussian_groups_are_visible_from_the_family_header) {
  CHECK(knows(ParameterGroups<Gaussian>::names(), "means"));
  CHECK(knows(ParameterGroups<Gaussian>::names(), "covariances"));
}

TEST(an_hmm_over_gaussian_accepts_fixed_means) {
  RowMatrix means(2, 1);
  means << 0.0, 3.0;
  const Gaussian g(CovarianceType::Diag, means, RowMatrix::Ones(2, 1), 1e-6);
  const HMM<Gaussian> hmm(Vector::Constant(2, 0.5), RowMatrix::Constant(2, 2, 0.5), g, Vector(), RowMatrix(),
                          {"means"});
  CHECK(hmm.is_fixed("means"));
  // Fixed means are not free parameters: 1 (startprob) + 2 (transmat) + 2 variances.
  CHECK(hmm.n_parameters() == 5);
}

TEST(categorical_groups_are_visible_from_the_family_header) {
  CHECK(knows(ParameterGroups<Categorical>::names(), "emissionprob"));
  RowMatrix probs(2, 2);
  probs << 0.3, 0.7, 0.6, 0.4;
  const HMM<Categorical> hmm(Vector::Constant(2, 0.5), RowMatrix::Constant(2, 2, 0.5), Categorical({2}, probs),
                             Vector(), RowMatrix(), {"emissionprob"});
  CHECK(hmm.n_parameters() == 3);
}

}  // namespace

int main() { return emkit_test::run_all("parameter_groups"); }
