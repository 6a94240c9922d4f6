// Bindings of the mixed-indicator latent class model (Mixture x Product). X arrives as one float
// array whose columns are ordered [categorical codes | continuous | counts | Gaussian block]; the
// data view splits it into the parts' column groups (product_common.hpp).
#include "product_common.hpp"

namespace emkit::bindings {
namespace {

using Model = Mixture<Product>;
using Stats = Model::Stats;

Model::Data make_data(const Model& model, const DoubleArray& X, Vector sample_weight) {
  return Model::Data{product_data(model.emission(), X), std::move(sample_weight)};
}

Model make_model(const DoubleArray& weights, const py::object& probs, const std::vector<Index>& n_categories,
                 const DoubleArray& means, const DoubleArray& variances, const DoubleArray& rates,
                 const py::object& item_concentration, double weight_concentration, bool fixed_weights,
                 double reg_covar, const py::object& block_means, const py::object& block_covariances,
                 const std::string& block_covariance_type) {
  const Vector w = to_vector(weights, "weights");
  std::optional<Categorical> categorical;
  if (!n_categories.empty()) {
    const auto p = probs.cast<DoubleArray>();
    check_ndim(p, 2, "probs");
    std::optional<double> beta;
    if (!item_concentration.is_none()) beta = item_concentration.cast<double>();
    categorical.emplace(n_categories, to_matrix(p, p.shape(0), p.shape(1), "probs"), beta);
  }
  Model model(w,
              make_product(w.size(), std::move(categorical), means, variances, rates, reg_covar, block_means,
                           block_covariances, block_covariance_type),
              weight_concentration);
  model.set_fixed_weights(fixed_weights);
  return model;
}

}  // namespace

void bind_product(py::module_& m) {
  def_mixture_stats<Model>(m, "MixedLatentClassStats",
                           "Expected sufficient statistics of a mixed-indicator model over a set of rows. They add "
                           "up over chunks computed at the same parameters; picklable.");

  py::class_<Model> model(m, "MixedLatentClassModel",
                          "A latent class model with categorical, continuous (normal), count (Poisson) indicators "
                          "and a Gaussian block (any covariance type, missing entries integrated out) under local "
                          "independence.");
  model.def(py::init(&make_model), py::arg("weights"), py::arg("probs"), py::arg("n_categories"), py::arg("means"),
            py::arg("variances"), py::arg("rates"), py::arg("item_concentration") = py::none(),
            py::arg("weight_concentration") = 1.0, py::arg("fixed_weights") = false, py::arg("reg_covar") = 1e-6,
            py::kw_only(), py::arg("block_means") = py::none(), py::arg("block_covariances") = py::none(),
            py::arg("block_covariance_type") = "full");
  def_product_properties(model, "probs");
  def_mixture_methods<Model, DoubleArray>(model, &make_data, [](const Model& self, const Stats& stats) {
    check_emission_stats(self.emission(), stats.emission);
  });
}

}  // namespace emkit::bindings
